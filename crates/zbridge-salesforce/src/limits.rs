//! API usage from `Sforce-Limit-Info` (salesforce-api.md §11) and the budget that stops work
//! before a set share of the daily allocation is used.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Result, SalesforceError};

/// `used/max` of the daily API requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ApiUsage {
    /// Requests used in the rolling 24 hours.
    pub used: u64,
    /// The allocation.
    pub max: u64,
}

/// Reads the `api-usage=used/max` pair of a `Sforce-Limit-Info` header, ignoring other keys
/// (`per-app-api-usage=17/250(appName=x)`, `api-bursts=1/750`).
pub fn parse_limit_info(header: &str) -> Option<ApiUsage> {
    header.split(';').find_map(|part| {
        let (key, value) = part.trim().split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("api-usage") {
            return None;
        }
        let value = value.split('(').next()?.trim();
        let (used, max) = value.split_once('/')?;
        Some(ApiUsage {
            used: used.trim().parse().ok()?,
            max: max.trim().parse().ok()?,
        })
    })
}

/// The latest API usage seen, shared by every call of a client, and the budget.
#[derive(Debug)]
pub struct LimitTracker {
    used: AtomicU64,
    max: AtomicU64,
    budget_percent: u32,
}

impl LimitTracker {
    /// A tracker that stops work once `budget_percent` of the allocation is used (100 lets
    /// the run go until Salesforce itself refuses).
    pub fn new(budget_percent: u32) -> Self {
        LimitTracker {
            used: AtomicU64::new(0),
            max: AtomicU64::new(0),
            budget_percent: budget_percent.clamp(1, 100),
        }
    }

    /// Records the usage from a response header.
    pub fn observe(&self, header: &str) {
        if let Some(usage) = parse_limit_info(header) {
            self.used.store(usage.used, Ordering::Relaxed);
            self.max.store(usage.max, Ordering::Relaxed);
        }
    }

    /// The latest usage seen, if any.
    pub fn usage(&self) -> Option<ApiUsage> {
        let max = self.max.load(Ordering::Relaxed);
        (max > 0).then(|| ApiUsage {
            used: self.used.load(Ordering::Relaxed),
            max,
        })
    }

    /// Fails with [`SalesforceError::BudgetExhausted`] when one more request would cross the
    /// budget.
    pub fn check(&self) -> Result<()> {
        let Some(usage) = self.usage() else {
            return Ok(());
        };
        let allowed = usage.max.saturating_mul(u64::from(self.budget_percent)) / 100;
        if usage.used >= allowed {
            return Err(SalesforceError::BudgetExhausted {
                used: usage.used,
                max: usage.max,
                allowed,
                percent: self.budget_percent,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_header_forms() {
        assert_eq!(
            parse_limit_info("api-usage=10018/100000"),
            Some(ApiUsage {
                used: 10018,
                max: 100000
            })
        );
        assert_eq!(
            parse_limit_info(
                "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)"
            ),
            Some(ApiUsage {
                used: 25,
                max: 5000
            })
        );
        assert_eq!(
            parse_limit_info(
                "per-app-api-usage=17/250(appName=x); api-usage=3/9; api-bursts=1/750"
            ),
            Some(ApiUsage { used: 3, max: 9 })
        );
        assert_eq!(parse_limit_info("api-bursts=1/750"), None);
        assert_eq!(parse_limit_info("api-usage=x/9"), None);
    }

    #[test]
    fn budget_stops_before_the_share() {
        let t = LimitTracker::new(80);
        assert!(t.check().is_ok(), "no usage seen yet");
        t.observe("api-usage=79/100");
        assert!(t.check().is_ok());
        t.observe("api-usage=80/100");
        let err = t.check().unwrap_err().to_string();
        assert!(err.contains("80 of 100") && err.contains("80%"), "{err}");
    }
}
