//! What to do with a response: accept it, retry it (and when), or fail.
//!
//! The rules follow Zuora's error-handling guide:
//!
//! - network errors, 429 and 500/502/503/504 are retried with exponential backoff and full
//!   jitter (base 1 s, cap 60 s), bounded by a number of attempts and a total time;
//! - `Retry-After` (seconds or an HTTP date) is honoured, else `ratelimit-reset`;
//! - 400, 403, 404 and 409 are never retried;
//! - a 401 is retried once, after a new token;
//! - an HTTP 200 whose body reports an error is an error, retried only for the v1 categories
//!   50 (locking), 61 (temporary), 70 (limit) and 99 (integration).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::Value;

/// How a request is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: u32,
    /// The first backoff step.
    pub base: Duration,
    /// The longest single wait.
    pub cap: Duration,
    /// The longest total time spent on one request, waits included.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_elapsed: Duration::from_secs(900),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first retry): a uniformly random
    /// duration up to `min(cap, base * 2^retry)` ("full jitter"), so that many clients that
    /// failed together do not retry together.
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.min(30)))
            .min(self.cap);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.random_range(0..=millis))
    }

    /// The wait before retry number `retry`, or `None` when the policy says stop. A server's
    /// own wait (`Retry-After`) wins over the backoff, but never beyond the total budget.
    pub fn next_wait(
        &self,
        retry: u32,
        elapsed: Duration,
        server_wait: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let wait = server_wait.unwrap_or_else(|| self.backoff(retry, rng));
        (elapsed.saturating_add(wait) <= self.max_elapsed).then_some(wait)
    }
}

/// What the status code alone says about a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 2xx: look at the body before trusting it.
    Success,
    /// 401: renew the token once and replay.
    Unauthorized,
    /// 429, 500, 502, 503, 504: wait and retry.
    Transient,
    /// Anything else: fail without retrying.
    Permanent,
}

/// Classifies an HTTP status.
pub fn classify_status(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        401 => StatusClass::Unauthorized,
        429 | 500 | 502 | 503 | 504 => StatusClass::Transient,
        _ => StatusClass::Permanent,
    }
}

/// The server's requested wait: `Retry-After` in seconds or as an HTTP date, else — for a 429
/// only — `ratelimit-reset` in seconds (Zuora sends the rate-limit headers on every response,
/// where they describe the window, not a wait). `get` looks a header up case-insensitively.
pub fn server_wait<'a>(
    status: u16,
    get: impl Fn(&str) -> Option<&'a str>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if let Some(value) = get("retry-after") {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(date) = DateTime::parse_from_rfc2822(value) {
            let wait = date.with_timezone(&Utc) - now;
            return Some(wait.to_std().unwrap_or(Duration::ZERO));
        }
    }
    if status != 429 {
        return None;
    }
    get("ratelimit-reset")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// An error that Zuora reported inside a successful (HTTP 2xx) response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Zuora reported an error{}: {message}", code.as_ref().map(|c| format!(" {c}")).unwrap_or_default())]
pub struct BodyError {
    /// The error code, when the body gave one.
    pub code: Option<String>,
    /// The message, or the raw body when there was none.
    pub message: String,
    /// Whether the v1 category says the call may succeed if repeated.
    pub retryable: bool,
}

/// Finds an error reported with HTTP 200 (zuora-api.md §4.3): `success: false`,
/// `status: "error"`, an `errorCode` key, or — with `expect_id` for an AQuA submit — a message
/// with a missing or null `id`.
pub fn body_error(body: &Value, expect_id: bool) -> Option<BodyError> {
    let object = body.as_object()?;
    let failed = object.get("success").and_then(Value::as_bool) == Some(false)
        || object.get("Success").and_then(Value::as_bool) == Some(false)
        || object.get("status").and_then(Value::as_str) == Some("error")
        || object.contains_key("errorCode");
    let message = object
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty());
    let missing_id = expect_id && object.get("id").is_none_or(Value::is_null);
    let rejected_submit = missing_id && message.is_some();
    if !(failed || rejected_submit) {
        return None;
    }
    let (code, reason) = first_reason(object);
    let code = code.or_else(|| {
        object
            .get("errorCode")
            .or(object.get("code"))
            .map(value_text)
    });
    let message = reason
        .or(message.map(str::to_string))
        .unwrap_or_else(|| body.to_string());
    let retryable = code.as_deref().is_some_and(is_retryable_code);
    Some(BodyError {
        code,
        message,
        retryable,
    })
}

fn first_reason(object: &serde_json::Map<String, Value>) -> (Option<String>, Option<String>) {
    let reason = object
        .get("reasons")
        .or_else(|| object.get("Errors"))
        .and_then(Value::as_array)
        .and_then(|list| list.first());
    let code = reason
        .and_then(|r| r.get("code").or_else(|| r.get("Code")))
        .map(value_text);
    let message = reason
        .and_then(|r| r.get("message").or_else(|| r.get("Message")))
        .and_then(Value::as_str)
        .map(str::to_string);
    (code, message)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether an error code says "try again": the v1 categories 50, 61, 70 and 99 (the last two
/// digits of an 8-digit code), and the AQuA codes for storage, database, internal and
/// concurrency trouble.
pub fn is_retryable_code(code: &str) -> bool {
    let code = code.trim();
    if matches!(code, "90006" | "90008" | "90010" | "90022" | "90028") {
        return true;
    }
    code.len() == 8
        && code.bytes().all(|b| b.is_ascii_digit())
        && matches!(&code[6..], "50" | "61" | "70" | "99")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    #[test]
    fn statuses_are_classified_as_zuora_documents() {
        assert_eq!(classify_status(200), StatusClass::Success);
        assert_eq!(classify_status(401), StatusClass::Unauthorized);
        for transient in [429, 500, 502, 503, 504] {
            assert_eq!(
                classify_status(transient),
                StatusClass::Transient,
                "{transient}"
            );
        }
        for permanent in [400, 403, 404, 409, 415, 501] {
            assert_eq!(
                classify_status(permanent),
                StatusClass::Permanent,
                "{permanent}"
            );
        }
    }

    #[test]
    fn retry_after_wins_and_dates_are_understood() {
        let now = DateTime::parse_from_rfc3339("2026-08-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let headers = |name: &str| match name {
            "retry-after" => Some("7"),
            "ratelimit-reset" => Some("600"),
            _ => None,
        };
        assert_eq!(server_wait(429, headers, now), Some(Duration::from_secs(7)));
        let dated = |name: &str| (name == "retry-after").then_some("Sat, 01 Aug 2026 00:00:30 GMT");
        assert_eq!(server_wait(503, dated, now), Some(Duration::from_secs(30)));
        let reset_only = |name: &str| (name == "ratelimit-reset").then_some("600");
        assert_eq!(
            server_wait(429, reset_only, now),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            server_wait(500, reset_only, now),
            None,
            "rate-limit windows are no wait"
        );
        assert_eq!(server_wait(429, |_| None, now), None);
    }

    #[test]
    fn the_policy_stops_after_its_attempts_or_its_time() {
        let policy = RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::default()
        };
        let mut rng = rng();
        assert!(
            policy
                .next_wait(0, Duration::ZERO, None, &mut rng)
                .is_some()
        );
        assert!(
            policy
                .next_wait(1, Duration::ZERO, None, &mut rng)
                .is_some()
        );
        assert!(
            policy
                .next_wait(2, Duration::ZERO, None, &mut rng)
                .is_none()
        );
        let wait = Some(Duration::from_secs(600));
        assert_eq!(
            policy.next_wait(0, Duration::from_secs(200), wait, &mut rng),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            policy.next_wait(0, Duration::from_secs(400), wait, &mut rng),
            None,
            "beyond the total budget"
        );
    }

    #[test]
    fn errors_sent_with_http_200_are_found() {
        let v1 = json!({"success": false, "processId": "CBCFED6580B4E076",
            "reasons": [{"code": 53100320, "message": "'termType' value should be one of: TERMED, EVERGREEN"}]});
        let err = body_error(&v1, false).unwrap();
        assert_eq!(err.code.as_deref(), Some("53100320"));
        assert!(!err.retryable);
        assert_eq!(
            err.to_string(),
            "Zuora reported an error 53100320: 'termType' value should be one of: TERMED, EVERGREEN"
        );

        let aqua_syntax =
            json!({"status": "error", "errorCode": "90005", "message": "There is a syntax error"});
        assert_eq!(
            body_error(&aqua_syntax, true).unwrap().code.as_deref(),
            Some("90005")
        );
        let aqua_json =
            json!({"success": false, "code": 50000090, "message": "format json is not supported"});
        assert_eq!(
            body_error(&aqua_json, true).unwrap().code.as_deref(),
            Some("50000090")
        );
        let aqua_null_id = json!({"id": null, "message": "There is a syntax error in one of the queries in the AQuA input"});
        assert!(body_error(&aqua_null_id, true).is_some());
        assert!(
            body_error(&aqua_null_id, false).is_none(),
            "only an AQuA submit must carry an id"
        );
        let concurrency = json!({"errorCode": "90028", "message": "concurrency limit"});
        assert!(body_error(&concurrency, true).unwrap().retryable);
        let locked = json!({"success": false, "reasons": [{"code": 50000050, "message": "lock"}]});
        assert!(body_error(&locked, false).unwrap().retryable);
        let actions =
            json!({"Success": false, "Errors": [{"Code": "INVALID_VALUE", "Message": "bad"}]});
        assert_eq!(body_error(&actions, false).unwrap().message, "bad");

        let ok_job =
            json!({"id": "8ad08f06909293cd01909613f23549e4", "status": "submitted", "batches": []});
        assert!(body_error(&ok_job, true).is_none());
        let ok_v1 = json!({"success": true});
        assert!(body_error(&ok_v1, false).is_none());
        assert!(body_error(&json!([{"Success": true}]), false).is_none());
    }

    #[test]
    fn retryable_codes_follow_the_categories() {
        assert!(is_retryable_code("53100350"));
        assert!(is_retryable_code("53100361"));
        assert!(is_retryable_code("53100370"));
        assert!(is_retryable_code("53100399"));
        assert!(!is_retryable_code("53100320"));
        assert!(!is_retryable_code("90005"));
        assert!(!is_retryable_code("not a code"));
    }

    proptest::proptest! {
        #[test]
        fn backoff_never_exceeds_its_ceiling(retry in 0u32..64, seed in proptest::prelude::any::<u64>()) {
            let policy = RetryPolicy::default();
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let wait = policy.backoff(retry, &mut rng);
            let ceiling = policy.base.saturating_mul(2u32.saturating_pow(retry.min(30))).min(policy.cap);
            proptest::prop_assert!(wait <= ceiling);
        }
    }
}
