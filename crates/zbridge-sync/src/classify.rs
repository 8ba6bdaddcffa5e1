//! Failure classes: each Salesforce per-record error gets a DACO-style code (zuora360-sync.md
//! §9) and a retry class (lessons.md L68): `retryable` failures are read again by the next
//! run; `needs_fix` failures wait until the source record changes.

use zbridge_salesforce::RecordError;

/// Retried by the next run.
pub const RETRYABLE: &str = "retryable";
/// Retried only when the record changes in Zuora.
pub const NEEDS_FIX: &str = "needs_fix";

/// The DACO code and retry class of a Salesforce error.
pub fn classify(error: &RecordError) -> (&'static str, &'static str) {
    let message = error.message.to_ascii_lowercase();
    match error.status_code.as_str() {
        "UNABLE_TO_LOCK_ROW" => ("DACO-10", RETRYABLE),
        "REQUEST_LIMIT_EXCEEDED" | "TOTAL_REQUESTS_LIMIT_EXCEEDED" => ("DACO-06", RETRYABLE),
        "STORAGE_LIMIT_EXCEEDED" => ("DACO-06", NEEDS_FIX),
        "SERVER_UNAVAILABLE" => ("DACO-07", RETRYABLE),
        "REQUEST_RUNNING_TOO_LONG" | "TIMEOUT" => ("DACO-11", RETRYABLE),
        "STRING_TOO_LONG" => ("DACO-12", NEEDS_FIX),
        "ENTITY_IS_DELETED" => ("DACO-03", RETRYABLE),
        "INVALID_FIELD" if message.contains("foreign key external id") => ("DACO-05", RETRYABLE),
        "INVALID_CROSS_REFERENCE_KEY" => ("DACO-05", RETRYABLE),
        "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY" => ("DACO-01", NEEDS_FIX),
        "INVALID_FIELD" | "INVALID_FIELD_FOR_INSERT_UPDATE" | "INSUFFICIENT_ACCESS_OR_READONLY" => {
            ("DACO-903303", NEEDS_FIX)
        }
        "DUPLICATE_VALUE"
        | "DUPLICATE_EXTERNAL_ID"
        | "MISSING_ARGUMENT"
        | "REQUIRED_FIELD_MISSING"
        | "INVALID_TYPE_ON_FIELD_IN_RECORD"
        | "NUMBER_OUTSIDE_VALID_RANGE"
        | "INVALID_EMAIL_ADDRESS"
        | "FIELD_INTEGRITY_EXCEPTION"
        | "MALFORMED_ID"
        | "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY" => ("DACO-01", NEEDS_FIX),
        "CANNOT_EXECUTE_FLOW_TRIGGER" => ("DACO-98", RETRYABLE),
        _ => ("DACO-99", RETRYABLE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(code: &str, message: &str) -> RecordError {
        RecordError {
            status_code: code.into(),
            message: message.into(),
            fields: vec![],
        }
    }

    #[test]
    fn classes_follow_the_connector() {
        assert_eq!(
            classify(&e("UNABLE_TO_LOCK_ROW", "")),
            ("DACO-10", RETRYABLE)
        );
        assert_eq!(classify(&e("STRING_TOO_LONG", "")), ("DACO-12", NEEDS_FIX));
        assert_eq!(
            classify(&e("INVALID_FIELD", "Foreign key external ID: x not found")),
            ("DACO-05", RETRYABLE)
        );
        assert_eq!(classify(&e("INVALID_FIELD", "No such column")).1, NEEDS_FIX);
        assert_eq!(
            classify(&e("INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", "")),
            ("DACO-01", NEEDS_FIX)
        );
        assert_eq!(classify(&e("WHATEVER", "")), ("DACO-99", RETRYABLE));
    }
}
