//! Fault injection: named profiles of rules, each firing by probability or on a deterministic
//! schedule for the endpoints it names.
//!
//! Endpoint names are stable and documented in ZUORA.md: `oauth.token`, `describe.list`,
//! `describe.object`, `dq.submit`, `dq.get`, `dq.list`, `dq.cancel`, `dq.file`, `aqua.submit`,
//! `aqua.get`, `aqua.delete`, `aqua.last`, `aqua.file`, `actions.<operation>`, and for jobs
//! `job.dq` and `job.aqua`. A rule's `endpoint` is an exact name, a prefix ending in `*`
//! (`aqua.*`), a suffix starting with `*` (`*.file`), or `*` for all.

use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this status instead of calling the endpoint; several statuses rotate.
    /// 429 carries `Retry-After`; 504 is a gateway timeout page.
    Status {
        /// Statuses used in turn.
        statuses: Vec<u16>,
    },
    /// Revoke the presented token and answer 401.
    RevokeToken,
    /// Send part of a file body, then reset the connection.
    ResetBody,
    /// Send a file body slowly (small chunks with pauses).
    SlowBody,
    /// Serve a file cut short in the middle of a row, with a matching `Content-Length`.
    TruncateFile,
    /// Answer a file download with 404, as for a purged file.
    PurgedFile,
    /// Answer a file download with 403 `max-object-size` (result over 2,047 MB).
    FileTooLarge,
    /// Fail a job (Data Query `failed`, AQuA `failed`).
    JobFail,
    /// Abort an AQuA job with a transient batch message (Data Query: `failed`).
    JobAbort,
    /// Keep a job running for a few extra seconds.
    SlowJob {
        /// Extra running time.
        millis: u64,
    },
}

impl FaultKind {
    fn phase(&self) -> Phase {
        match self {
            FaultKind::Status { .. } | FaultKind::RevokeToken => Phase::Request,
            FaultKind::ResetBody
            | FaultKind::SlowBody
            | FaultKind::TruncateFile
            | FaultKind::PurgedFile
            | FaultKind::FileTooLarge => Phase::Body,
            FaultKind::JobFail | FaultKind::JobAbort | FaultKind::SlowJob { .. } => Phase::Job,
        }
    }
}

/// When a rule fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// Each matching call independently, with this probability (seeded, so reproducible).
    Probability {
        /// 0.0–1.0.
        p: f64,
    },
    /// Every n-th matching call (n, 2n, 3n…).
    Every {
        /// n ≥ 1.
        n: u64,
    },
    /// Exactly these matching calls (1-based).
    Calls {
        /// Call numbers.
        calls: Vec<u64>,
    },
    /// Every matching call.
    Always,
}

/// One rule of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Endpoint pattern (see the module docs).
    pub endpoint: String,
    /// What happens.
    pub fault: FaultKind,
    /// When.
    pub trigger: Trigger,
}

/// A named set of rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultProfile {
    /// Profile name.
    pub name: String,
    /// Rules, checked in order; the first that fires wins.
    pub rules: Vec<FaultRule>,
}

/// An unknown profile name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault profile '{given}'; valid profiles: {}", PROFILE_NAMES.join(", "))]
pub struct UnknownProfile {
    /// What was asked for.
    pub given: String,
}

/// Names accepted by [`FaultProfile::from_str`].
pub const PROFILE_NAMES: &[&str] = &[
    "none",
    "rate-limit",
    "server-errors",
    "gateway-timeout",
    "connection-reset",
    "slow-body",
    "truncated-file",
    "purged-file",
    "file-too-large",
    "job-failure",
    "job-abort",
    "slow-jobs",
    "revoked-token",
    "chaos",
];

fn rule(endpoint: &str, fault: FaultKind, trigger: Trigger) -> FaultRule {
    FaultRule {
        endpoint: endpoint.into(),
        fault,
        trigger,
    }
}

impl FaultProfile {
    /// No faults.
    pub fn none() -> Self {
        FaultProfile {
            name: "none".into(),
            rules: Vec::new(),
        }
    }
}

impl Default for FaultProfile {
    fn default() -> Self {
        Self::none()
    }
}

impl FromStr for FaultProfile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use FaultKind as F;
        use Trigger as T;
        let rules = match s {
            "none" => vec![],
            // Every third API call is throttled (the token endpoint included: it is rate limited too).
            "rate-limit" => vec![rule(
                "*",
                F::Status {
                    statuses: vec![429],
                },
                T::Every { n: 3 },
            )],
            "server-errors" => vec![rule(
                "*",
                F::Status {
                    statuses: vec![500, 502, 503],
                },
                T::Every { n: 3 },
            )],
            "gateway-timeout" => vec![rule(
                "*",
                F::Status {
                    statuses: vec![504],
                },
                T::Every { n: 4 },
            )],
            "connection-reset" => vec![rule("*.file", F::ResetBody, T::Every { n: 2 })],
            "slow-body" => vec![rule("*.file", F::SlowBody, T::Always)],
            "truncated-file" => vec![rule("*.file", F::TruncateFile, T::Every { n: 2 })],
            "purged-file" => vec![rule("aqua.file", F::PurgedFile, T::Always)],
            "file-too-large" => vec![rule("aqua.file", F::FileTooLarge, T::Always)],
            "job-failure" => vec![rule("job.*", F::JobFail, T::Every { n: 2 })],
            "job-abort" => vec![rule("job.*", F::JobAbort, T::Every { n: 2 })],
            "slow-jobs" => vec![rule("job.*", F::SlowJob { millis: 3000 }, T::Always)],
            "revoked-token" => vec![rule("*", F::RevokeToken, T::Every { n: 5 })],
            "chaos" => vec![
                rule(
                    "*",
                    F::Status {
                        statuses: vec![429, 500, 502, 503, 504],
                    },
                    T::Probability { p: 0.05 },
                ),
                rule("*", F::RevokeToken, T::Probability { p: 0.02 }),
                rule("*.file", F::ResetBody, T::Probability { p: 0.05 }),
                rule("*.file", F::TruncateFile, T::Probability { p: 0.05 }),
                rule("job.*", F::JobAbort, T::Probability { p: 0.05 }),
            ],
            other => {
                return Err(UnknownProfile {
                    given: other.into(),
                });
            }
        };
        Ok(FaultProfile {
            name: s.into(),
            rules,
        })
    }
}

/// Where in a call's life a fault applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the endpoint runs.
    Request,
    /// While a file body is served.
    Body,
    /// While a job runs.
    Job,
}

fn matches(pattern: &str, endpoint: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return endpoint.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return endpoint.ends_with(suffix);
    }
    pattern == endpoint
}

/// The active profile with its per-rule call counters.
#[derive(Debug)]
pub struct FaultEngine {
    profile: FaultProfile,
    calls: Vec<u64>,
    rng: ChaCha8Rng,
    seed: u64,
}

impl FaultEngine {
    /// An engine running `profile`, with probabilities drawn from `seed`.
    pub fn new(profile: FaultProfile, seed: u64) -> Self {
        let calls = vec![0; profile.rules.len()];
        FaultEngine {
            profile,
            calls,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xFA17),
            seed,
        }
    }

    /// The active profile.
    pub fn profile(&self) -> &FaultProfile {
        &self.profile
    }

    /// Switches profile and restarts the schedules.
    pub fn set(&mut self, profile: FaultProfile) {
        *self = FaultEngine::new(profile, self.seed);
    }

    /// The fault to apply to this call of `endpoint` in `phase`, if any.
    pub fn check(&mut self, endpoint: &str, phase: Phase) -> Option<FaultKind> {
        if endpoint.starts_with("sim.") {
            return None;
        }
        let mut fired = None;
        for (i, r) in self.profile.rules.iter().enumerate() {
            if r.fault.phase() != phase || !matches(&r.endpoint, endpoint) {
                continue;
            }
            // The token endpoint never carries a token to revoke.
            if r.fault == FaultKind::RevokeToken && endpoint == "oauth.token" {
                continue;
            }
            self.calls[i] += 1;
            let n = self.calls[i];
            let fire = match &r.trigger {
                Trigger::Probability { p } => self.rng.random_bool(p.clamp(0.0, 1.0)),
                Trigger::Every { n: every } => *every > 0 && n.is_multiple_of(*every),
                Trigger::Calls { calls } => calls.contains(&n),
                Trigger::Always => true,
            };
            if fire && fired.is_none() {
                fired = Some(match &r.fault {
                    FaultKind::Status { statuses } if !statuses.is_empty() => {
                        let turn = (n / match &r.trigger {
                            Trigger::Every { n: e } if *e > 0 => *e,
                            _ => 1,
                        })
                        .saturating_sub(1) as usize;
                        FaultKind::Status {
                            statuses: vec![statuses[turn % statuses.len()]],
                        }
                    }
                    other => other.clone(),
                });
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_unknown_names_list_the_valid_ones() {
        for n in PROFILE_NAMES {
            assert_eq!(n.parse::<FaultProfile>().unwrap().name, *n);
        }
        let e = "bogus".parse::<FaultProfile>().unwrap_err().to_string();
        assert!(e.contains("rate-limit") && e.contains("chaos"), "{e}");
    }

    #[test]
    fn schedules_are_deterministic_and_statuses_rotate() {
        let mut f = FaultEngine::new("server-errors".parse().unwrap(), 1);
        let got: Vec<Option<u16>> = (0..9)
            .map(|_| match f.check("dq.get", Phase::Request) {
                Some(FaultKind::Status { statuses }) => Some(statuses[0]),
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            [
                None,
                None,
                Some(500),
                None,
                None,
                Some(502),
                None,
                None,
                Some(503)
            ]
        );
        assert_eq!(f.check("dq.get", Phase::Body), None);
    }

    #[test]
    fn patterns_match_prefixes_and_suffixes() {
        assert!(matches("*.file", "aqua.file"));
        assert!(matches("job.*", "job.dq"));
        assert!(!matches("aqua.file", "dq.file"));
    }
}
