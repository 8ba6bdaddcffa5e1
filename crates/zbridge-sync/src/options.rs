//! A sync profile's options, kept as JSON in the profile and edited by `zbridge sync profile`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::ObjectOverride;
use crate::error::SyncError;

/// The subscription statuses Zuora reports (the `Status` of a Subscription, as the export and
/// describe APIs spell them). A profile may sync any of them; the Zuora 360 default is
/// Active, PendingActivation, PendingAcceptance and Cancelled.
pub const SUBSCRIPTION_STATUSES: &[&str] = &[
    "Active",
    "PendingActivation",
    "PendingAcceptance",
    "Cancelled",
    "Suspended",
    "Expired",
    "Draft",
];

/// Options of a sync profile. Every field has a default, so `{}` is a valid profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncOptions {
    /// Catalog objects to sync; every object when empty.
    pub objects: Vec<String>,
    /// Subscription statuses synced, each one of [`SUBSCRIPTION_STATUSES`] (Zuora 360: Active,
    /// Pending, Cancelled; Pending covers PendingActivation and PendingAcceptance).
    pub subscription_statuses: Vec<String>,
    /// Below this many changed rows of an object, load through sObject Collections; at or
    /// above it, through Bulk API 2.0.
    pub bulk_threshold: usize,
    /// Rows per Bulk job (Zuora's Turbo Sync default: 9,000).
    pub bulk_batch_size: usize,
    /// Rows read from the spool and written per step (bounds memory).
    pub batch_size: usize,
    /// Seconds behind "now" where an incremental window ends (Zuora's index is eventually
    /// consistent, lessons.md L45).
    pub lag_secs: i64,
    /// Schedule interval in seconds, when scheduled.
    pub schedule_secs: Option<i64>,
    /// Changes to the default mapping, per catalog object.
    pub mapping_overrides: BTreeMap<String, ObjectOverride>,
    /// The Salesforce credential profile's name, when it differs from the sync profile's.
    pub credentials: Option<String>,
    /// Leave billing accounts without a CrmId out silently instead of recording each as a
    /// DACO-02 needs-a-fix failure (for tenants where many accounts are not in Salesforce).
    pub skip_accounts_without_crm_id: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            objects: Vec::new(),
            subscription_statuses: vec![
                "Active".into(),
                "PendingActivation".into(),
                "PendingAcceptance".into(),
                "Cancelled".into(),
            ],
            bulk_threshold: 2_000,
            bulk_batch_size: 9_000,
            batch_size: 2_000,
            lag_secs: 300,
            schedule_secs: None,
            mapping_overrides: BTreeMap::new(),
            credentials: None,
            skip_accounts_without_crm_id: false,
        }
    }
}

impl SyncOptions {
    /// Reads options from a profile's JSON (`null` means defaults), checking every rule.
    pub fn from_json(value: &serde_json::Value) -> Result<SyncOptions, SyncError> {
        let options = SyncOptions::read_json(value)?;
        options.validate()?;
        Ok(options)
    }

    /// Reads options without checking the rules, so that a profile saved before a rule was
    /// added can still be shown and corrected (run [`SyncOptions::validate`] before saving).
    pub fn read_json(value: &serde_json::Value) -> Result<SyncOptions, SyncError> {
        if value.is_null() {
            return Ok(SyncOptions::default());
        }
        serde_json::from_value(value.clone()).map_err(|e| SyncError::Options(e.to_string()))
    }

    /// The JSON kept in the profile.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Checks the numbers and lists.
    pub fn validate(&self) -> Result<(), SyncError> {
        let bad = |m: &str| Err(SyncError::Options(m.to_string()));
        if self.bulk_threshold == 0 || self.batch_size == 0 || self.bulk_batch_size == 0 {
            return bad("bulk_threshold, batch_size and bulk_batch_size must be at least 1");
        }
        if self.bulk_batch_size > 150_000_000 / 1_000 {
            return bad("bulk_batch_size is too large");
        }
        if !(0..=7 * 86_400).contains(&self.lag_secs) {
            return bad("lag_secs must be between 0 and 604800");
        }
        if let Some(s) = self.schedule_secs
            && !(60..=MAX_INTERVAL_SECS).contains(&s)
        {
            return bad("the schedule interval must be from a minute to a year");
        }
        if self.subscription_statuses.is_empty() {
            return bad("at least one subscription status must be synced");
        }
        for status in &self.subscription_statuses {
            check_status(status)?;
        }
        crate::catalog::Catalog::with_overrides(&self.mapping_overrides)?.select(&self.objects)?;
        Ok(())
    }
}

/// Refuses a status Zuora never reports (rows are compared with it exactly, so a misspelt
/// status would silently sync nothing), suggesting the spelling probably meant.
fn check_status(status: &str) -> Result<(), SyncError> {
    if SUBSCRIPTION_STATUSES.contains(&status) {
        return Ok(());
    }
    let squashed = status.replace([' ', '_', '-'], "");
    let hint = match SUBSCRIPTION_STATUSES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(&squashed))
    {
        Some(meant) => format!("did you mean {meant}? "),
        None => String::new(),
    };
    Err(SyncError::Options(format!(
        "subscription_statuses: '{status}' is not a Zuora subscription status; {hint}use {}",
        SUBSCRIPTION_STATUSES.join(", ")
    )))
}

/// The longest schedule interval: a year (and no arithmetic on it can overflow).
const MAX_INTERVAL_SECS: i64 = 366 * 86_400;

/// Parses an interval from a minute to a year: `30m`, `2h`, `daily`, `90s`, `1d`.
pub fn parse_interval(text: &str) -> Result<i64, SyncError> {
    let t = text.trim().to_ascii_lowercase();
    let secs = match t.as_str() {
        "daily" => Some(86_400),
        "hourly" => Some(3_600),
        _ => {
            let (digits, unit) =
                t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
            let n: Option<i64> = digits.parse().ok();
            let mult = match unit {
                "s" => Some(1),
                "m" | "min" => Some(60),
                "h" => Some(3_600),
                "d" => Some(86_400),
                _ => None,
            };
            n.zip(mult).and_then(|(n, m)| n.checked_mul(m))
        }
    };
    match secs {
        Some(s) if (60..=MAX_INTERVAL_SECS).contains(&s) => Ok(s),
        _ => Err(SyncError::Options(format!(
            "'{text}' is not an interval from a minute to a year (e.g. 30m, 2h, daily)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_are_valid() {
        let o = SyncOptions::from_json(&serde_json::Value::Null).unwrap();
        assert_eq!(o.bulk_threshold, 2_000);
        assert_eq!(SyncOptions::from_json(&o.to_json()).unwrap(), o);
        assert_eq!(SyncOptions::from_json(&serde_json::json!({})).unwrap(), o);
    }

    #[test]
    fn bad_options_are_refused() {
        for bad in [
            serde_json::json!({"lag_secs": -1}),
            serde_json::json!({"bulk_threshold": 0}),
            serde_json::json!({"objects": ["Nope"]}),
            serde_json::json!({"subscription_statuses": []}),
            serde_json::json!({"typo": 1}),
        ] {
            assert!(SyncOptions::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subscription_statuses_must_be_zuora_statuses() {
        let ok = serde_json::json!({"subscription_statuses": SUBSCRIPTION_STATUSES});
        assert!(SyncOptions::from_json(&ok).is_ok());
        let err = SyncOptions::from_json(
            &serde_json::json!({"subscription_statuses": ["Active", "Bogus"]}),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "sync profile options: subscription_statuses: 'Bogus' is not a Zuora subscription status; use Active, PendingActivation, PendingAcceptance, Cancelled, Suspended, Expired, Draft"
        );
        for near in ["Pending Activation", "active", "pending_acceptance"] {
            let err = SyncOptions::from_json(&serde_json::json!({"subscription_statuses": [near]}))
                .unwrap_err()
                .to_string();
            assert!(err.contains("did you mean"), "{near}: {err}");
        }
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("30m").unwrap(), 1_800);
        assert_eq!(parse_interval("2h").unwrap(), 7_200);
        assert_eq!(parse_interval("daily").unwrap(), 86_400);
        assert!(parse_interval("10s").is_err());
        assert!(parse_interval("soon").is_err());
        // 4611686018427387905 × 60 wraps to 60 in i64: refused, not "every minute".
        assert!(parse_interval("4611686018427387905m").is_err());
        assert!(parse_interval("99999999999999999999m").is_err());
        assert!(parse_interval("367d").is_err());
        assert_eq!(parse_interval("366d").unwrap(), 366 * 86_400);
    }
}
