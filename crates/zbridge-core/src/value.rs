//! Typed record values.
//!
//! Money stays exact: decimals are [`rust_decimal::Decimal`] from the text of the result file to
//! the JSON written out, never `f64`. Serialising a [`Value`] with `serde_json` writes a decimal
//! as a JSON number with exactly its digits (`100.500000`); serialising into a
//! `serde_json::Value` tree, which holds `f64`, is the one lossy path and is best avoided for
//! decimals.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::schema::ValueKind;
use crate::time;

/// One value of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// true / false.
    Bool(bool),
    /// A 64-bit integer.
    Integer(i64),
    /// An exact decimal, scale preserved (`100.50` stays `100.50`).
    Decimal(Decimal),
    /// Text, possibly empty.
    Text(String),
    /// A calendar date.
    Date(NaiveDate),
    /// An instant, with the UTC offset it was written in (Zuora writes the tenant's time
    /// zone). It equals the same instant at any offset, and is written out in UTC; the offset
    /// tells the tenant's calendar day ([`Value::local_date`]).
    DateTime(DateTime<FixedOffset>),
}

/// A raw value that does not read as its column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read '{raw}' as {kind}: {reason}")]
pub struct ValueError {
    /// The raw text, shortened to 64 characters.
    pub raw: String,
    /// The kind it was read as.
    pub kind: ValueKind,
    /// Why it failed.
    pub reason: String,
}

/// How raw strings from a result file are read (L36).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawOptions {
    /// The `nullReplacement` text the export was asked to write for nulls. When set, exactly
    /// this text is null for every type, and `""` is an empty text.
    pub null_sentinel: Option<String>,
    /// The offset of datetimes written without one. `None` makes such values an error.
    pub naive_offset: Option<FixedOffset>,
}

impl Value {
    /// A datetime value at an instant given in UTC.
    pub fn datetime(instant: DateTime<Utc>) -> Value {
        Value::DateTime(instant.fixed_offset())
    }

    /// The calendar day of a date, or of a datetime at the offset it was written in (the
    /// tenant's day, not UTC's: an invoice posted at 17:00 in California is posted that day).
    pub fn local_date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(*d),
            Value::DateTime(t) => Some(t.date_naive()),
            _ => None,
        }
    }

    /// The kind of the value, `None` for [`Value::Null`].
    pub fn kind(&self) -> Option<ValueKind> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => ValueKind::Boolean,
            Value::Integer(_) => ValueKind::Integer,
            Value::Decimal(_) => ValueKind::Decimal,
            Value::Text(_) => ValueKind::Text,
            Value::Date(_) => ValueKind::Date,
            Value::DateTime(_) => ValueKind::DateTime,
        })
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Reads a raw string from a result file (CSV cell, or a JSON string) as a value of the
    /// given kind.
    ///
    /// Null versus empty (L36): the configured sentinel is null for every kind; `""` is null for
    /// every kind except text, where it stays `""` (AQuA writes nulls as `""`, so text columns
    /// need a sentinel when the difference matters). Booleans accept `true`/`false` in any case
    /// and `1`/`0` (the Numeric format of AQuA deleted columns); decimals also accept exponents
    /// (`1.5E-7`, as Trino prints doubles); datetimes accept every form of
    /// [`time::parse_datetime`].
    pub fn parse_raw(
        raw: &str,
        kind: ValueKind,
        options: &RawOptions,
    ) -> Result<Value, ValueError> {
        if options.null_sentinel.as_deref() == Some(raw) {
            return Ok(Value::Null);
        }
        if raw.is_empty() && kind != ValueKind::Text {
            return Ok(Value::Null);
        }
        let fail = |reason: String| ValueError {
            raw: shorten(raw),
            kind,
            reason,
        };
        match kind {
            ValueKind::Text => Ok(Value::Text(raw.to_owned())),
            ValueKind::Boolean => parse_bool(raw)
                .map(Value::Bool)
                .ok_or_else(|| fail("expected true or false".into())),
            ValueKind::Integer => raw
                .trim()
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|e| fail(e.to_string())),
            ValueKind::Decimal => parse_decimal(raw.trim()).map(Value::Decimal).map_err(fail),
            ValueKind::Date => time::parse_date(raw.trim())
                .map(Value::Date)
                .map_err(|e| fail(e.to_string())),
            ValueKind::DateTime => {
                time::parse_datetime_as_written(raw.trim(), options.naive_offset)
                    .map(Value::DateTime)
                    .map_err(|e| fail(e.to_string()))
            }
        }
    }
}

/// `true`/`false` in any case, or `1`/`0`.
pub(crate) fn parse_bool(raw: &str) -> Option<bool> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("true") || raw == "1" {
        Some(true)
    } else if raw.eq_ignore_ascii_case("false") || raw == "0" {
        Some(false)
    } else {
        None
    }
}

/// An exact decimal from plain (`-12.50`) or scientific (`1.5E-7`) text.
pub(crate) fn parse_decimal(raw: &str) -> Result<Decimal, String> {
    let parsed = if raw.contains(['e', 'E']) {
        Decimal::from_scientific(raw)
    } else {
        Decimal::from_str(raw)
    };
    parsed.map_err(|e| e.to_string())
}

fn shorten(raw: &str) -> String {
    const MAX: usize = 64;
    if raw.chars().count() <= MAX {
        raw.to_owned()
    } else {
        raw.chars().take(MAX).chain(std::iter::once('…')).collect()
    }
}

/// The text form, as written to CSV: null is empty, datetimes are RFC 3339 UTC
/// (`2026-08-04T10:11:15Z`), dates `YYYY-MM-DD`, decimals with their scale.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::Text(t) => f.write_str(t),
            Value::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Value::DateTime(t) => f.write_str(&time::to_rfc3339(t.with_timezone(&Utc))),
        }
    }
}

/// JSON form: null, true/false, integers and decimals as numbers (decimals exactly, through
/// `serde_json`'s raw values), text, dates and datetimes as strings in their [`fmt::Display`]
/// form.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_none(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Integer(i) => serializer.serialize_i64(*i),
            Value::Decimal(d) => serde_json::value::RawValue::from_string(d.to_string())
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
            Value::Text(t) => serializer.serialize_str(t),
            Value::Date(_) | Value::DateTime(_) => serializer.collect_str(self),
        }
    }
}

/// Reads untyped JSON: null, booleans, integers (beyond `i64` as decimals), other numbers as
/// decimals of their shortest printed form, and strings as text. Dates and datetimes arrive as
/// text; use [`Value::parse_raw`] with the column's kind for typed reading.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, a boolean, a number or a string")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Integer)
            .unwrap_or_else(|_| Value::Decimal(Decimal::from(v))))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // The shortest text that reads back as the same f64 is what the writer meant.
        parse_decimal(&v.to_string())
            .map(Value::Decimal)
            .map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn read(raw: &str, kind: ValueKind) -> Result<Value, ValueError> {
        Value::parse_raw(raw, kind, &RawOptions::default())
    }

    #[test]
    fn empty_is_null_except_for_text() {
        for kind in [
            ValueKind::Boolean,
            ValueKind::Integer,
            ValueKind::Decimal,
            ValueKind::Date,
            ValueKind::DateTime,
        ] {
            assert_eq!(read("", kind).unwrap(), Value::Null, "{kind}");
        }
        assert_eq!(
            read("", ValueKind::Text).unwrap(),
            Value::Text(String::new())
        );
    }

    #[test]
    fn a_sentinel_makes_text_nulls_distinct() {
        let options = RawOptions {
            null_sentinel: Some("\\N".into()),
            naive_offset: None,
        };
        let read = |raw, kind| Value::parse_raw(raw, kind, &options).unwrap();
        assert_eq!(read("\\N", ValueKind::Text), Value::Null);
        assert_eq!(read("", ValueKind::Text), Value::Text(String::new()));
        assert_eq!(read("\\N", ValueKind::Integer), Value::Null);
        assert_eq!(read("", ValueKind::Integer), Value::Null);
    }

    #[test]
    fn typed_reading() {
        assert_eq!(read("TRUE", ValueKind::Boolean).unwrap(), Value::Bool(true));
        assert_eq!(read("0", ValueKind::Boolean).unwrap(), Value::Bool(false));
        assert_eq!(
            read("-42", ValueKind::Integer).unwrap(),
            Value::Integer(-42)
        );
        assert_eq!(
            read("100.500000", ValueKind::Decimal).unwrap(),
            Value::Decimal(dec("100.500000"))
        );
        assert_eq!(
            read("1.5E-7", ValueKind::Decimal).unwrap(),
            Value::Decimal(dec("0.00000015"))
        );
        assert_eq!(
            read("2026-08-04", ValueKind::Date).unwrap(),
            Value::Date(NaiveDate::from_ymd_opt(2026, 8, 4).unwrap())
        );
        assert_eq!(
            read("2026-08-04T20:11:15+1000", ValueKind::DateTime).unwrap(),
            Value::datetime(Utc.with_ymd_and_hms(2026, 8, 4, 10, 11, 15).unwrap())
        );
        assert_eq!(
            read(" x ", ValueKind::Text).unwrap(),
            Value::Text(" x ".into())
        );
    }

    #[test]
    fn bad_values_say_what_and_why() {
        let err = read("12.5", ValueKind::Integer).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read '12.5' as integer: "),
            "{err}"
        );
        let err = read("yes", ValueKind::Boolean).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read 'yes' as boolean: expected true or false"
        );
        let err = read("2026-08-04 10:00:00", ValueKind::DateTime).unwrap_err();
        assert!(err.to_string().contains("no UTC offset"), "{err}");
        assert!(read("NaN", ValueKind::Decimal).is_err());
    }

    #[test]
    fn display_and_json_forms() {
        let t = Utc.with_ymd_and_hms(2026, 8, 4, 10, 11, 15).unwrap();
        let values = vec![
            Value::Null,
            Value::Bool(true),
            Value::Integer(7),
            Value::Decimal(dec("100.500000")),
            Value::Decimal(dec("12345678901234567890.123456")),
            Value::Text("a \"q\"".into()),
            Value::Date(NaiveDate::from_ymd_opt(2026, 8, 4).unwrap()),
            Value::datetime(t),
        ];
        let shown: Vec<String> = values.iter().map(Value::to_string).collect();
        assert_eq!(
            shown,
            [
                "",
                "true",
                "7",
                "100.500000",
                "12345678901234567890.123456",
                "a \"q\"",
                "2026-08-04",
                "2026-08-04T10:11:15Z"
            ]
        );
        assert_eq!(
            serde_json::to_string(&values).unwrap(),
            r#"[null,true,7,100.500000,12345678901234567890.123456,"a \"q\"","2026-08-04","2026-08-04T10:11:15Z"]"#
        );
    }

    #[test]
    fn untyped_json_reads_back() {
        let values: Vec<Value> =
            serde_json::from_str(r#"[null,true,7,100.5,18446744073709551615,"x"]"#).unwrap();
        assert_eq!(
            values,
            [
                Value::Null,
                Value::Bool(true),
                Value::Integer(7),
                Value::Decimal(dec("100.5")),
                Value::Decimal(dec("18446744073709551615")),
                Value::Text("x".into())
            ]
        );
    }

    proptest! {
        #[test]
        fn decimals_survive_text_and_json_exactly(mantissa in any::<i64>(), scale in 0u32..=18) {
            let d = Decimal::new(mantissa, scale);
            let value = Value::Decimal(d);
            let back = read(&value.to_string(), ValueKind::Decimal).unwrap();
            prop_assert_eq!(back.to_string(), value.to_string());
            let json = serde_json::to_string(&value).unwrap();
            prop_assert_eq!(json, d.to_string());
        }

        #[test]
        fn display_reads_back_as_the_same_value(secs in 0i64..4_102_444_800, n in 0u32..1_000_000_000, i in any::<i64>(), b in any::<bool>()) {
            let t = Utc.timestamp_opt(secs, n).unwrap();
            for (value, kind) in [
                (Value::datetime(t), ValueKind::DateTime),
                (Value::Date(t.date_naive()), ValueKind::Date),
                (Value::Integer(i), ValueKind::Integer),
                (Value::Bool(b), ValueKind::Boolean),
            ] {
                prop_assert_eq!(read(&value.to_string(), kind).unwrap(), value);
            }
        }
    }
}
