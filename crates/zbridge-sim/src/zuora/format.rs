//! Date-time literals: parsing what clients send and rendering what Zuora returns.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::clock::to_datetime;

/// Parses an ISO-8601 instant with a `T`, and a `Z` or an offset (`+hh:mm` or `+hhmm`), with
/// optional fractional seconds. Also accepts RFC 3339 with a space. Returns milliseconds.
pub fn parse_iso_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.timestamp_millis());
        }
    }
    None
}

/// Parses `yyyy-mm-dd hh:mm:ss` (no zone) as local time at `offset_minutes` east of UTC.
pub fn parse_naive_at(s: &str, offset_minutes: i32) -> Option<i64> {
    let s = s.trim();
    let naive = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())?;
    Some(naive.and_utc().timestamp_millis() - i64::from(offset_minutes) * 60_000)
}

/// What an Export ZOQL string literal compared with a datetime field means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoqlDateTimeLiteral {
    /// ISO 8601 with `T` and a zone: a real instant (milliseconds).
    Instant(i64),
    /// `yyyy-mm-dd hh:mm:ss`: accepted, but Zuora silently drops the predicate.
    SpaceSeparated,
    /// `yyyy-mm-dd`: midnight in the tenant's zone (milliseconds).
    Date(i64),
    /// Anything else.
    Invalid,
}

/// Classifies an Export ZOQL datetime literal (see zuora-api.md §7.10, "Datetime literal rules").
pub fn classify_zoql_datetime(s: &str, tenant_offset_minutes: i32) -> ZoqlDateTimeLiteral {
    let s = s.trim();
    if s.contains('T') {
        if let Some(ms) = parse_iso_instant(s) {
            return ZoqlDateTimeLiteral::Instant(ms);
        }
        // A `T` without a zone: the tenant's local time.
        return parse_naive_at(s, tenant_offset_minutes)
            .map_or(ZoqlDateTimeLiteral::Invalid, ZoqlDateTimeLiteral::Instant);
    }
    if parse_naive_at(s, 0).is_some() || parse_iso_instant(s).is_some() {
        return ZoqlDateTimeLiteral::SpaceSeparated;
    }
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => ZoqlDateTimeLiteral::Date(
            d.and_hms_opt(0, 0, 0)
                .map_or(0, |n| n.and_utc().timestamp_millis())
                - i64::from(tenant_offset_minutes) * 60_000,
        ),
        Err(_) => ZoqlDateTimeLiteral::Invalid,
    }
}

/// Parses a Data Query `TIMESTAMP '…'` literal: `yyyy-mm-dd hh:mm:ss[.fff] [±hh:mm|UTC|Z]`, or a
/// bare date. Without a zone the tenant's zone applies (Trino's session zone).
pub fn parse_sql_timestamp(s: &str, tenant_offset_minutes: i32) -> Option<i64> {
    let s = s.trim();
    if let Some(rest) = s.strip_suffix(" UTC").or_else(|| s.strip_suffix(" Z")) {
        return parse_naive_at(rest, 0);
    }
    if let Some((head, zone)) = s.rsplit_once(' ')
        && (zone.starts_with('+') || zone.starts_with('-'))
    {
        let compact: String = zone.chars().filter(|c| *c != ':').collect();
        if let Ok(dt) =
            DateTime::parse_from_str(&format!("{head}{compact}"), "%Y-%m-%d %H:%M:%S%.f%z")
        {
            return Some(dt.timestamp_millis());
        }
        return None;
    }
    if let Some(ms) = parse_naive_at(s, tenant_offset_minutes) {
        return Some(ms);
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(
        d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis()
            - i64::from(tenant_offset_minutes) * 60_000,
    )
}

fn offset(minutes: i32) -> FixedOffset {
    FixedOffset::east_opt(minutes * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"))
}

/// `2026-08-04T20:11:15.123Z`.
pub fn iso_utc(ms: i64) -> String {
    to_datetime(ms).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `2026-08-04T20:11:15.123+00:00` (REST and Data Query job timestamps).
pub fn iso_utc_colon(ms: i64) -> String {
    to_datetime(ms)
        .format("%Y-%m-%dT%H:%M:%S%.3f+00:00")
        .to_string()
}

/// `2026-08-04T12:11:15-0800`-style (`colon` = false) or `…-08:00` (`colon` = true), seconds only.
pub fn iso_at(ms: i64, offset_minutes: i32, colon: bool) -> String {
    let mut out = String::with_capacity(25);
    write_iso_at(&mut out, ms, offset_minutes, colon);
    out
}

/// Appends [`iso_at`]'s text. Result files hold millions of these, so the common case is
/// written digit by digit instead of through `strftime`.
pub fn write_iso_at(out: &mut String, ms: i64, offset_minutes: i32, colon: bool) {
    let Some(local) = Civil::at(ms, offset_minutes) else {
        let dt = offset(offset_minutes).from_utc_datetime(&to_datetime(ms).naive_utc());
        let format = if colon {
            "%Y-%m-%dT%H:%M:%S%:z"
        } else {
            "%Y-%m-%dT%H:%M:%S%z"
        };
        out.push_str(&dt.format(format).to_string());
        return;
    };
    local.write_date(out);
    out.push('T');
    local.write_time(out);
    push_offset(out, offset_minutes, colon);
}

/// Data Query timestamp rendering: `2026-08-04 12:11:15.123 -08:00` in the tenant's zone.
pub fn sql_timestamp(ms: i64, offset_minutes: i32) -> String {
    let mut out = String::with_capacity(30);
    write_sql_timestamp(&mut out, ms, offset_minutes);
    out
}

/// Appends [`sql_timestamp`]'s text (see [`write_iso_at`]).
pub fn write_sql_timestamp(out: &mut String, ms: i64, offset_minutes: i32) {
    let Some(local) = Civil::at(ms, offset_minutes) else {
        let dt = offset(offset_minutes).from_utc_datetime(&to_datetime(ms).naive_utc());
        out.push_str(&dt.format("%Y-%m-%d %H:%M:%S%.3f %:z").to_string());
        return;
    };
    local.write_date(out);
    out.push(' ');
    local.write_time(out);
    out.push('.');
    push_padded(out, local.millis, 3);
    out.push(' ');
    push_offset(out, offset_minutes, true);
}

/// Appends `yyyy-mm-dd` of days since the epoch; false (nothing written) outside years 0–9999.
pub fn write_days(out: &mut String, days: i64) -> bool {
    match Civil::at(days.saturating_mul(86_400_000), 0) {
        Some(civil) => {
            civil.write_date(out);
            true
        }
        None => false,
    }
}

/// A local calendar date and time of day, for years 0–9999.
struct Civil {
    date: NaiveDate,
    seconds_of_day: u32,
    millis: u32,
}

impl Civil {
    fn at(ms: i64, offset_minutes: i32) -> Option<Civil> {
        let local = ms.checked_add(i64::from(offset_minutes) * 60_000)?;
        let days = i32::try_from(local.div_euclid(86_400_000)).ok()?;
        let in_day = local.rem_euclid(86_400_000);
        let date = NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)?;
        (0..=9999).contains(&date.year()).then_some(Civil {
            date,
            seconds_of_day: (in_day / 1000) as u32,
            millis: (in_day % 1000) as u32,
        })
    }

    fn write_date(&self, out: &mut String) {
        push_padded(out, self.date.year() as u32, 4);
        out.push('-');
        push_padded(out, self.date.month(), 2);
        out.push('-');
        push_padded(out, self.date.day(), 2);
    }

    fn write_time(&self, out: &mut String) {
        push_padded(out, self.seconds_of_day / 3600, 2);
        out.push(':');
        push_padded(out, self.seconds_of_day / 60 % 60, 2);
        out.push(':');
        push_padded(out, self.seconds_of_day % 60, 2);
    }
}

fn push_offset(out: &mut String, offset_minutes: i32, colon: bool) {
    out.push(if offset_minutes < 0 { '-' } else { '+' });
    let minutes = offset_minutes.unsigned_abs();
    push_padded(out, minutes / 60, 2);
    if colon {
        out.push(':');
    }
    push_padded(out, minutes % 60, 2);
}

/// Appends `value` with at least `width` digits, zero-padded.
pub fn push_padded(out: &mut String, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut v = value;
    let mut n = 0;
    while v > 0 || n < width {
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        n += 1;
    }
    for &d in digits[..n].iter().rev() {
        out.push(char::from(d));
    }
}

/// `2014-09-03 08:20:07` in the tenant's zone (AQuA job `startTime`).
pub fn plain_at(ms: i64, offset_minutes: i32) -> String {
    offset(offset_minutes)
        .from_utc_datetime(&to_datetime(ms).naive_utc())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The current UTC instant, for tests of literal formats.
pub fn utc_now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zoql_literals_follow_the_documented_rules() {
        let t = classify_zoql_datetime("2026-08-01T00:00:00Z", -480);
        assert_eq!(
            t,
            ZoqlDateTimeLiteral::Instant(parse_iso_instant("2026-08-01T00:00:00+00:00").unwrap())
        );
        assert!(matches!(
            classify_zoql_datetime("2008-09-12T05:07:32-05:00", 0),
            ZoqlDateTimeLiteral::Instant(_)
        ));
        assert_eq!(
            classify_zoql_datetime("2026-08-01 00:00:00", 0),
            ZoqlDateTimeLiteral::SpaceSeparated
        );
        assert!(matches!(
            classify_zoql_datetime("2026-08-01", 0),
            ZoqlDateTimeLiteral::Date(_)
        ));
        assert_eq!(
            classify_zoql_datetime("yesterday", 0),
            ZoqlDateTimeLiteral::Invalid
        );
    }

    #[test]
    fn sql_timestamps_need_no_colon_and_accept_zones() {
        let a = parse_sql_timestamp("2018-06-02 18:17:07 -07:00", 0).unwrap();
        let b = parse_iso_instant("2018-06-03T01:17:07Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            parse_sql_timestamp("2018-06-03 01:17:07 UTC", -480),
            Some(b)
        );
        assert_eq!(parse_sql_timestamp("2018-06-02 17:17:07", -480), Some(b));
    }

    #[test]
    fn aqua_utc_offsets_have_no_colon() {
        let ms = parse_iso_instant("2026-08-04T20:11:15Z").unwrap();
        assert_eq!(iso_at(ms, 0, false), "2026-08-04T20:11:15+0000");
        assert_eq!(iso_at(ms, -480, true), "2026-08-04T12:11:15-08:00");
        assert_eq!(sql_timestamp(ms, -480), "2026-08-04 12:11:15.000 -08:00");
    }

    proptest! {
        #[test]
        fn fast_renderings_equal_strftime(ms in -62_000_000_000_000i64..253_000_000_000_000, minutes in -840i32..=840) {
            let dt = offset(minutes).from_utc_datetime(&to_datetime(ms).naive_utc());
            prop_assert_eq!(iso_at(ms, minutes, true), dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string());
            prop_assert_eq!(iso_at(ms, minutes, false), dt.format("%Y-%m-%dT%H:%M:%S%z").to_string());
            prop_assert_eq!(sql_timestamp(ms, minutes), dt.format("%Y-%m-%d %H:%M:%S%.3f %:z").to_string());
            let days = ms.div_euclid(86_400_000);
            let mut out = String::new();
            prop_assert!(write_days(&mut out, days));
            prop_assert_eq!(out, to_datetime(days * 86_400_000).format("%Y-%m-%d").to_string());
        }

        #[test]
        fn rendered_instants_parse_back(ms in 0i64..4_000_000_000_000) {
            let secs = ms / 1000 * 1000;
            prop_assert_eq!(parse_iso_instant(&iso_utc(ms)), Some(ms));
            prop_assert_eq!(parse_iso_instant(&iso_at(secs, -420, false)), Some(secs));
            prop_assert_eq!(parse_sql_timestamp(&sql_timestamp(ms, 330), 0), Some(ms));
        }
    }
}
