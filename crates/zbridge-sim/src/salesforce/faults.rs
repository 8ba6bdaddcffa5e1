//! Fault profiles: named misbehaviours that a test, the demo or a benchmark can switch on.

use std::fmt;
use std::str::FromStr;

/// The faults that can be injected. Several can be combined (`"row-lock,slow-jobs"`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultProfile {
    /// A share of records (about one in five) fail with `UNABLE_TO_LOCK_ROW` on their first
    /// write attempt and succeed when retried.
    pub row_lock: bool,
    /// Every REST and Bulk call answers 503 `SERVER_UNAVAILABLE` (org maintenance).
    pub maintenance: bool,
    /// Bulk jobs take seconds instead of milliseconds to process.
    pub slow_jobs: bool,
    /// Bulk jobs fail halfway: state `Failed`, an `errorMessage`, and the rest unprocessed.
    pub job_fails: bool,
    /// The daily API allocation is used up: every counted call gets 403 `REQUEST_LIMIT_EXCEEDED`.
    pub request_limit: bool,
    /// The org's data storage is full: creates fail with `STORAGE_LIMIT_EXCEEDED`.
    pub storage_limit: bool,
    /// Every refresh token is revoked: refresh answers `invalid_grant`.
    pub revoked_refresh_token: bool,
    /// Bulk API disabled for the org: creating a job fails with `FeatureNotEnabled`.
    pub bulk_disabled: bool,
}

/// The valid names, in the order they are listed in errors and docs.
pub const FAULT_NAMES: &[&str] = &[
    "none",
    "row-lock",
    "maintenance",
    "slow-jobs",
    "job-fails",
    "request-limit",
    "storage-limit",
    "revoked-refresh-token",
    "bulk-disabled",
];

/// A fault profile name that is not one of [`FAULT_NAMES`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown Salesforce fault profile {name:?}; valid names: {}", FAULT_NAMES.join(", "))]
pub struct UnknownFault {
    pub name: String,
}

impl FromStr for FaultProfile {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut p = FaultProfile::default();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "none" => {}
                "row-lock" => p.row_lock = true,
                "maintenance" => p.maintenance = true,
                "slow-jobs" => p.slow_jobs = true,
                "job-fails" => p.job_fails = true,
                "request-limit" => p.request_limit = true,
                "storage-limit" => p.storage_limit = true,
                "revoked-refresh-token" => p.revoked_refresh_token = true,
                "bulk-disabled" => p.bulk_disabled = true,
                other => {
                    return Err(UnknownFault {
                        name: other.to_string(),
                    });
                }
            }
        }
        Ok(p)
    }
}

impl fmt::Display for FaultProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = [
            (self.row_lock, "row-lock"),
            (self.maintenance, "maintenance"),
            (self.slow_jobs, "slow-jobs"),
            (self.job_fails, "job-fails"),
            (self.request_limit, "request-limit"),
            (self.storage_limit, "storage-limit"),
            (self.revoked_refresh_token, "revoked-refresh-token"),
            (self.bulk_disabled, "bulk-disabled"),
        ];
        let on: Vec<&str> = flags.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
        if on.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&on.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_combinations_and_round_trips() {
        let p: FaultProfile = "row-lock, slow-jobs".parse().unwrap();
        assert!(p.row_lock && p.slow_jobs && !p.maintenance);
        assert_eq!(p.to_string(), "row-lock,slow-jobs");
        assert_eq!(
            "none".parse::<FaultProfile>().unwrap(),
            FaultProfile::default()
        );
    }

    #[test]
    fn unknown_name_lists_valid_names() {
        let err = "row-locks".parse::<FaultProfile>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("row-locks") && msg.contains("maintenance"));
    }
}
