//! Type conversion of one Zuora value for one Salesforce field, with a clear per-record error
//! when it does not fit (zuora360-sync.md §2 dates, §5 CrmId, §9 DACO-12).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use zbridge_core::sfid::SalesforceId;

use crate::catalog::{FieldMap, FieldType};

/// Why a value cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// DACO-style code.
    pub code: &'static str,
    /// The status code shown with it.
    pub status_code: &'static str,
    /// What is wrong, naming the field and value.
    pub message: String,
    /// The Salesforce field.
    pub field: String,
}

fn earliest() -> NaiveDate {
    NaiveDate::from_ymd_opt(1700, 1, 1).unwrap_or_default()
}

fn latest() -> NaiveDate {
    NaiveDate::from_ymd_opt(4000, 12, 31).unwrap_or_default()
}

fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

/// Validates a CrmId: a 15- or 18-character Account id (`001…`) with a valid checksum,
/// returned in its 18-character form.
pub fn crm_id(text: &str) -> Result<String, String> {
    let id = SalesforceId::parse(text.trim()).map_err(|e| e.to_string())?;
    if id.key_prefix() != "001" {
        return Err(format!(
            "it is a {} id, not an Account id (001…)",
            id.key_prefix()
        ));
    }
    Ok(id.to18().to_string())
}

/// Converts `raw` (Zuora's text form of the value; `None` is null) for `field`.
pub fn convert(field: &FieldMap, raw: Option<&str>) -> Result<serde_json::Value, FieldError> {
    let err = |code: &'static str, status: &'static str, what: String| FieldError {
        code,
        status_code: status,
        message: format!("{}: {what}", field.to),
        field: field.to.clone(),
    };
    let text = match raw {
        None => return Ok(serde_json::Value::Null),
        Some(t)
            if t.is_empty()
                && field.kind != FieldType::Text
                && field.kind != FieldType::Textarea =>
        {
            return Ok(serde_json::Value::Null);
        }
        Some(t) => t,
    };
    let bad = |kind: &str| {
        err(
            "DACO-01",
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            format!("'{}' is not a valid {kind}", shorten(text)),
        )
    };
    Ok(match field.kind {
        FieldType::Text | FieldType::Textarea | FieldType::Ref => {
            let len = text.chars().count();
            if len > field.max_len() {
                return Err(err(
                    "DACO-12",
                    "STRING_TOO_LONG",
                    format!(
                        "{len} characters, longer than the field's {}",
                        field.max_len()
                    ),
                ));
            }
            if text.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::Value::String(text.to_string())
            }
        }
        FieldType::Number => {
            let d: rust_decimal::Decimal = text.trim().parse().map_err(|_| bad("number"))?;
            let f: f64 = d.to_string().parse().map_err(|_| bad("number"))?;
            serde_json::Number::from_f64(f)
                .map(serde_json::Value::Number)
                .ok_or_else(|| bad("number"))?
        }
        FieldType::Integer => serde_json::Value::from(
            text.trim()
                .parse::<i64>()
                .map_err(|_| bad("whole number"))?,
        ),
        FieldType::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => serde_json::Value::Bool(true),
            "false" | "0" => serde_json::Value::Bool(false),
            _ => return Err(bad("checkbox value")),
        },
        FieldType::Date => {
            let t = text.trim();
            let day = NaiveDate::parse_from_str(t.get(..10).unwrap_or(t), "%Y-%m-%d")
                .ok()
                .or_else(|| {
                    DateTime::parse_from_rfc3339(t)
                        .ok()
                        .map(|d| d.with_timezone(&Utc).date_naive())
                })
                .ok_or_else(|| bad("date"))?;
            if day < earliest() || day > latest() {
                return Err(err(
                    "DACO-01",
                    "INVALID_DATE",
                    format!("{day} is outside Salesforce's range 1700-01-01 … 4000-12-31"),
                ));
            }
            serde_json::Value::String(day.format("%Y-%m-%d").to_string())
        }
        FieldType::Datetime => {
            let at = DateTime::parse_from_rfc3339(text.trim())
                .map_err(|_| bad("date and time"))?
                .with_timezone(&Utc);
            if at.date_naive() < earliest() || at.date_naive() > latest() {
                return Err(err(
                    "DACO-01",
                    "INVALID_DATE",
                    format!("{at} is outside Salesforce's range 1700 … 4000"),
                ));
            }
            serde_json::Value::String(at.to_rfc3339_opts(SecondsFormat::Millis, true))
        }
        FieldType::CrmId => match crm_id(text) {
            Ok(id) => serde_json::Value::String(id),
            Err(why) => {
                return Err(err(
                    "DACO-02",
                    "INVALID_CRM_ID",
                    format!(
                        "Missing CRM ID: '{}' is not a valid CRM Account ID ({why})",
                        shorten(text)
                    ),
                ));
            }
        },
    })
}

/// The text of a converted value in a Bulk CSV (`#N/A` clears a field).
pub fn csv_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "#N/A".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: FieldType, max: Option<usize>) -> FieldMap {
        FieldMap {
            to: "F__c".into(),
            from: "X".into(),
            kind,
            max,
        }
    }

    #[test]
    fn a_datetime_becomes_the_tenants_day_on_both_sides_of_midnight() {
        use serde_json::json;
        let date = field(FieldType::Date, None);
        // 23:30 in California is already the next day in UTC: the tenant's day wins.
        for (written, day) in [
            ("2026-11-02T23:30:00-08:00", "2026-11-02"),
            ("2026-11-02T23:59:59.999-08:00", "2026-11-02"),
            ("2026-11-03T00:00:00-08:00", "2026-11-03"),
            ("2026-11-03T00:30:00-08:00", "2026-11-03"),
            ("2026-11-03T07:30:00Z", "2026-11-03"),
            ("2026-11-03T00:30:00+10:00", "2026-11-03"),
        ] {
            assert_eq!(
                convert(&date, Some(written)).unwrap(),
                json!(day),
                "{written}"
            );
        }
        // The instant itself is written in UTC.
        assert_eq!(
            convert(
                &field(FieldType::Datetime, None),
                Some("2026-11-02T23:30:00-08:00")
            )
            .unwrap(),
            json!("2026-11-03T07:30:00.000Z")
        );
    }

    #[test]
    fn values_convert_by_type() {
        use serde_json::json;
        assert_eq!(
            convert(&field(FieldType::Number, None), Some("12.500000")).unwrap(),
            json!(12.5)
        );
        assert_eq!(
            convert(&field(FieldType::Bool, None), Some("true")).unwrap(),
            json!(true)
        );
        assert_eq!(
            convert(&field(FieldType::Date, None), Some("2026-01-02")).unwrap(),
            json!("2026-01-02")
        );
        assert_eq!(
            convert(
                &field(FieldType::Date, None),
                Some("2026-01-02T23:30:00-05:00")
            )
            .unwrap(),
            json!("2026-01-02"),
            "a date column filled from a datetime keeps the calendar date"
        );
        assert_eq!(
            convert(
                &field(FieldType::Datetime, None),
                Some("2026-01-02T03:04:05.120+01:00")
            )
            .unwrap(),
            json!("2026-01-02T02:04:05.120Z")
        );
        assert_eq!(
            convert(&field(FieldType::Number, None), None).unwrap(),
            json!(null)
        );
        assert_eq!(
            convert(&field(FieldType::Number, None), Some("")).unwrap(),
            json!(null)
        );
        assert_eq!(
            convert(&field(FieldType::Text, None), Some("")).unwrap(),
            json!(null)
        );
    }

    #[test]
    fn values_that_do_not_fit_say_why() {
        let e = convert(&field(FieldType::Text, Some(3)), Some("abcd")).unwrap_err();
        assert_eq!((e.code, e.status_code), ("DACO-12", "STRING_TOO_LONG"));
        let e = convert(&field(FieldType::Date, None), Some("1600-01-01")).unwrap_err();
        assert!(e.message.contains("range"), "{}", e.message);
        let e = convert(&field(FieldType::Number, None), Some("ten")).unwrap_err();
        assert!(e.message.contains("'ten'"));
        assert!(convert(&field(FieldType::Bool, None), Some("maybe")).is_err());
    }

    #[test]
    fn crm_ids_are_checked_and_normalised() {
        let id18 = "001000000000001AAA";
        let id15 = &id18[..15];
        assert_eq!(crm_id(id15).unwrap(), id18);
        assert_eq!(crm_id(id18).unwrap(), id18);
        let e = convert(&field(FieldType::CrmId, None), Some("001BOGUS")).unwrap_err();
        assert_eq!(e.code, "DACO-02");
        assert!(
            crm_id("005000000000001AAA")
                .unwrap_err()
                .contains("Account")
        );
    }

    #[test]
    fn csv_cells() {
        assert_eq!(csv_text(&serde_json::json!(null)), "#N/A");
        assert_eq!(csv_text(&serde_json::json!(1.5)), "1.5");
        assert_eq!(csv_text(&serde_json::json!("a")), "a");
    }
}
