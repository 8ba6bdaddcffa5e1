//! Datetime parsing and the literal formats of each Zuora service (lessons.md §5, L27–L32).
//!
//! Everything is converted to UTC on the way in, and every outgoing format is computed from UTC,
//! never from the host's local zone:
//!
//! | Use | Format | Function |
//! |---|---|---|
//! | storage, JSON, CSV output | `2026-08-04T10:11:15Z` (RFC 3339, fraction only when non-zero) | [`to_rfc3339`] |
//! | Data Query (Trino) literal | `TIMESTAMP '2026-08-04 10:11:15 +00:00'` (L28) | [`data_query_literal`] |
//! | Export ZOQL literal | `'2026-08-04T10:11:15Z'`, whole seconds only (L27, L31) | [`export_zoql_literal`] |
//! | AQuA `incrementalTime` | `2026-08-04 03:11:15` in US/Pacific or UTC (L29) | [`incremental_time`] |

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    SecondsFormat, Timelike, Utc, Weekday,
};

/// A datetime or date that could not be parsed or formatted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text does not follow any accepted form.
    #[error("invalid {what} '{input}' at column {column}: expected {expected}")]
    Invalid {
        /// `datetime` or `date`.
        what: &'static str,
        /// The input, shortened if long.
        input: String,
        /// 1-based character column where parsing stopped.
        column: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// The text is well formed but names no real instant (31 February, hour 25, …).
    #[error("invalid {what} '{input}': {reason}")]
    OutOfRange {
        /// `datetime` or `date`.
        what: &'static str,
        /// The input, shortened if long.
        input: String,
        /// Which part is out of range.
        reason: &'static str,
    },
    /// A datetime without an offset was given where no default offset applies.
    #[error("datetime '{0}' has no UTC offset; add Z or an offset such as +00:00")]
    MissingOffset(String),
    /// Export ZOQL compares at whole seconds, so a literal must not carry a fraction (L31).
    #[error("Export ZOQL datetime literals must be whole seconds, got {0}")]
    SubSecond(String),
}

/// The zone in which AQuA reads `incrementalTime`: Pacific for US data centers, UTC for EU (L29).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrementalTimeZone {
    /// US/Pacific (America/Los_Angeles), with daylight saving time.
    UsPacific,
    /// UTC.
    Utc,
}

impl From<crate::tenant::Region> for IncrementalTimeZone {
    fn from(region: crate::tenant::Region) -> Self {
        match region {
            crate::tenant::Region::US => IncrementalTimeZone::UsPacific,
            crate::tenant::Region::EU => IncrementalTimeZone::Utc,
        }
    }
}

/// Parses a Zuora datetime leniently into UTC (L30).
///
/// Accepted: `YYYY-MM-DD`, then `T`, `t` or a space, then `HH:MM`, optional `:SS`, optional
/// `.fraction` (1 to 9 digits), then an optional offset: `Z`, `+HH:MM`, `+HHMM` or `+HH`
/// (also `-`), optionally after one space (`2018-06-02 18:17:07 -07:00`, Trino's form). A date
/// alone means midnight. Text without an offset is read in `default_offset`, and is an error when
/// that is `None`: guessing a zone is how earlier connectors produced full scans (L28).
pub fn parse_datetime(
    text: &str,
    default_offset: Option<FixedOffset>,
) -> Result<DateTime<Utc>, TimeError> {
    parse_datetime_as_written(text, default_offset).map(|t| t.with_timezone(&Utc))
}

/// Like [`parse_datetime`], keeping the offset the text was written in (or `default_offset`).
pub fn parse_datetime_as_written(
    text: &str,
    default_offset: Option<FixedOffset>,
) -> Result<DateTime<FixedOffset>, TimeError> {
    let mut cursor = Cursor::new(text, "datetime");
    let date = cursor.date()?;
    let time = if cursor.at_end() {
        NaiveTime::MIN
    } else {
        cursor.expect_one_of(&['T', 't', ' '], "'T' or a space after the date")?;
        cursor.time()?
    };
    let offset = cursor.offset()?;
    cursor.finish("end of text after the offset")?;
    let offset = match offset.or(default_offset) {
        Some(offset) => offset,
        None => return Err(TimeError::MissingOffset(shorten(text))),
    };
    let local = NaiveDateTime::new(date, time);
    Ok(DateTime::<FixedOffset>::from_naive_utc_and_offset(
        local - offset,
        offset,
    ))
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Result<NaiveDate, TimeError> {
    let mut cursor = Cursor::new(text, "date");
    let date = cursor.date()?;
    cursor.finish("end of text after YYYY-MM-DD")?;
    Ok(date)
}

/// The storage form: RFC 3339 in UTC with `Z`, with a fraction only when it is non-zero.
pub fn to_rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The `YYYY-MM-DD HH:MM:SS[.fff] +00:00` text inside a Data Query `TIMESTAMP` literal.
pub fn data_query_timestamp_text(instant: DateTime<Utc>) -> String {
    format!(
        "{} +00:00",
        instant.naive_utc().format("%Y-%m-%d %H:%M:%S%.f")
    )
}

/// A Data Query (Trino) timestamp literal with an explicit `+00:00` offset (L28), for example
/// `TIMESTAMP '2026-08-01 00:00:00 +00:00'`. A fraction is written only when non-zero.
pub fn data_query_literal(instant: DateTime<Utc>) -> String {
    format!("TIMESTAMP '{}'", data_query_timestamp_text(instant))
}

/// An Export ZOQL datetime literal, quoted: `'2026-08-01T00:00:00Z'` (L27). Never
/// space-separated, because Zuora silently drops a predicate with a space-separated literal.
/// Fails on a fractional second: ZOQL compares whole seconds (L31), so the caller must decide how
/// to round (see [`truncate_to_second`]).
pub fn export_zoql_literal(instant: DateTime<Utc>) -> Result<String, TimeError> {
    if instant.nanosecond() != 0 {
        return Err(TimeError::SubSecond(to_rfc3339(instant)));
    }
    Ok(format!("'{}'", instant.format("%Y-%m-%dT%H:%M:%SZ")))
}

/// Drops the fraction of a second: window boundaries are whole seconds (L31).
pub fn truncate_to_second(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.with_nanosecond(0).unwrap_or(instant)
}

/// The AQuA `incrementalTime` text `YYYY-MM-DD HH:MM:SS` in the given zone, truncated to the
/// second (L29).
///
/// In US/Pacific the hour repeated when daylight saving time ends (01:00–01:59 on the first
/// Sunday of November) is ambiguous in this format, which carries no offset; the Pacific
/// reading Zuora applies there is undocumented. Stateful AQuA is opt-in only (L40).
pub fn incremental_time(instant: DateTime<Utc>, zone: IncrementalTimeZone) -> String {
    let offset = match zone {
        IncrementalTimeZone::UsPacific => us_pacific_offset(instant),
        IncrementalTimeZone::Utc => Utc.fix(),
    };
    truncate_to_second(instant)
        .with_timezone(&offset)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The UTC offset of US/Pacific at an instant: −07:00 during daylight saving time, else −08:00.
///
/// Rules (no tz database needed): since 2007 DST runs from the second Sunday of March at
/// 02:00 PST (10:00 UTC) to the first Sunday of November at 02:00 PDT (09:00 UTC); 1987–2006
/// from the first Sunday of April to the last Sunday of October; earlier years are approximated
/// with the 1976–1986 rule (last Sunday of April to last Sunday of October).
pub fn us_pacific_offset(instant: DateTime<Utc>) -> FixedOffset {
    const PST: i32 = -8 * 3600;
    const PDT: i32 = -7 * 3600;
    let year = instant.year();
    let (start_day, end_day) = dst_days(year);
    // Both transitions happen at 02:00 local wall time.
    let start = start_day.and_time(two_am()) - Duration::seconds(PST.into());
    let end = end_day.and_time(two_am()) - Duration::seconds(PDT.into());
    let utc = instant.naive_utc();
    let seconds = if utc >= start && utc < end { PDT } else { PST };
    FixedOffset::east_opt(seconds).unwrap_or(Utc.fix())
}

fn two_am() -> NaiveTime {
    NaiveTime::from_hms_opt(2, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// The local dates on which DST starts and ends in the given year.
fn dst_days(year: i32) -> (NaiveDate, NaiveDate) {
    if year >= 2007 {
        (nth_sunday(year, 3, 2), nth_sunday(year, 11, 1))
    } else if year >= 1987 {
        (nth_sunday(year, 4, 1), last_sunday(year, 10))
    } else {
        (last_sunday(year, 4), last_sunday(year, 10))
    }
}

fn nth_sunday(year: i32, month: u32, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n).unwrap_or(NaiveDate::MIN)
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let fifth = NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, 5);
    fifth.unwrap_or_else(|| nth_sunday(year, month, 4))
}

fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

/// A small hand-written scanner, so that errors can say where and what was expected.
struct Cursor<'a> {
    text: &'a str,
    chars: Vec<char>,
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str, what: &'static str) -> Self {
        Cursor {
            text,
            chars: text.chars().collect(),
            pos: 0,
            what,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn error(&self, expected: &'static str) -> TimeError {
        TimeError::Invalid {
            what: self.what,
            input: shorten(self.text),
            column: self.pos + 1,
            expected,
        }
    }

    fn out_of_range(&self, reason: &'static str) -> TimeError {
        TimeError::OutOfRange {
            what: self.what,
            input: shorten(self.text),
            reason,
        }
    }

    fn finish(&self, expected: &'static str) -> Result<(), TimeError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn expect(&mut self, c: char, expected: &'static str) -> Result<(), TimeError> {
        self.expect_one_of(&[c], expected).map(|_| ())
    }

    fn expect_one_of(
        &mut self,
        options: &[char],
        expected: &'static str,
    ) -> Result<char, TimeError> {
        match self.peek() {
            Some(c) if options.contains(&c) => {
                self.pos += 1;
                Ok(c)
            }
            _ => Err(self.error(expected)),
        }
    }

    fn digits(&mut self, count: usize, expected: &'static str) -> Result<u32, TimeError> {
        let mut value = 0u32;
        for _ in 0..count {
            match self.peek().and_then(|c| c.to_digit(10)) {
                Some(d) => {
                    value = value * 10 + d;
                    self.pos += 1;
                }
                None => return Err(self.error(expected)),
            }
        }
        Ok(value)
    }

    fn date(&mut self) -> Result<NaiveDate, TimeError> {
        let year = self.digits(4, "a 4-digit year (YYYY-MM-DD)")?;
        self.expect('-', "'-' after the year")?;
        let month = self.digits(2, "a 2-digit month")?;
        self.expect('-', "'-' after the month")?;
        let day = self.digits(2, "a 2-digit day")?;
        let year = i32::try_from(year).map_err(|_| self.out_of_range("year"))?;
        NaiveDate::from_ymd_opt(year, month, day)
            .ok_or_else(|| self.out_of_range("no such day in that month"))
    }

    fn time(&mut self) -> Result<NaiveTime, TimeError> {
        let hour = self.digits(2, "a 2-digit hour")?;
        self.expect(':', "':' after the hour")?;
        let minute = self.digits(2, "2-digit minutes")?;
        let mut second = 0;
        let mut nanos = 0;
        if self.peek() == Some(':') {
            self.pos += 1;
            second = self.digits(2, "2-digit seconds")?;
            if self.peek() == Some('.') {
                self.pos += 1;
                nanos = self.fraction()?;
            }
        }
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
            .filter(|_| second < 60)
            .ok_or_else(|| self.out_of_range("hour, minute or second out of range"))
    }

    fn fraction(&mut self) -> Result<u32, TimeError> {
        let mut nanos = 0u32;
        let mut count = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            if count == 9 {
                return Err(self.error("at most 9 fraction digits"));
            }
            nanos = nanos * 10 + d;
            count += 1;
            self.pos += 1;
        }
        if count == 0 {
            return Err(self.error("fraction digits after '.'"));
        }
        Ok(nanos * 10u32.pow(9 - count))
    }

    /// `Z`, `+HH:MM`, `+HHMM`, `+HH`, optionally after one space; `None` when the text ends.
    fn offset(&mut self) -> Result<Option<FixedOffset>, TimeError> {
        if self.at_end() {
            return Ok(None);
        }
        if self.peek() == Some(' ') {
            self.pos += 1;
        }
        let sign =
            match self.expect_one_of(&['Z', 'z', '+', '-'], "Z or an offset such as +00:00")? {
                'Z' | 'z' => return Ok(FixedOffset::east_opt(0)),
                '-' => -1,
                _ => 1,
            };
        let hours = self.digits(2, "2-digit offset hours")?;
        let minutes = match self.peek() {
            Some(':') => {
                self.pos += 1;
                self.digits(2, "2-digit offset minutes")?
            }
            Some(c) if c.is_ascii_digit() => self.digits(2, "2-digit offset minutes")?,
            _ => 0,
        };
        if hours > 23 || minutes > 59 {
            return Err(self.out_of_range("offset out of range"));
        }
        let seconds = sign * i32::try_from(hours * 3600 + minutes * 60).unwrap_or(0);
        Ok(FixedOffset::east_opt(seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn lenient_forms_all_reach_utc() {
        let expected = utc(2026, 8, 4, 10, 11, 15);
        for text in [
            "2026-08-04T20:11:15+1000",
            "2026-08-04T20:11:15+10:00",
            "2026-08-04T20:11:15+10",
            "2026-08-04 20:11:15 +10:00",
            "2026-08-04 20:11:15+1000",
            "2026-08-04T10:11:15Z",
            "2026-08-04t10:11:15z",
            "2026-08-04T03:11:15-07:00",
            "2026-08-04T03:11:15.000-0700",
        ] {
            assert_eq!(parse_datetime(text, None).unwrap(), expected, "{text}");
        }
        assert_eq!(
            parse_datetime("2026-08-04T10:11Z", None).unwrap(),
            utc(2026, 8, 4, 10, 11, 0)
        );
    }

    #[test]
    fn fractions_are_kept_to_the_nanosecond() {
        let parsed = parse_datetime("2026-08-04T10:11:15.123+00:00", None).unwrap();
        assert_eq!(parsed.nanosecond(), 123_000_000);
        let parsed = parse_datetime("2026-08-04T10:11:15.123456789Z", None).unwrap();
        assert_eq!(parsed.nanosecond(), 123_456_789);
        assert!(parse_datetime("2026-08-04T10:11:15.1234567891Z", None).is_err());
    }

    #[test]
    fn naive_values_need_an_explicit_default_offset() {
        let err = parse_datetime("2026-08-04 10:11:15", None).unwrap_err();
        assert!(matches!(err, TimeError::MissingOffset(_)));
        let plus2 = FixedOffset::east_opt(2 * 3600);
        assert_eq!(
            parse_datetime("2026-08-04 12:11:15", plus2).unwrap(),
            utc(2026, 8, 4, 10, 11, 15)
        );
        assert_eq!(
            parse_datetime("2026-08-04", FixedOffset::east_opt(0)).unwrap(),
            utc(2026, 8, 4, 0, 0, 0)
        );
        // An explicit offset wins over the default.
        assert_eq!(
            parse_datetime("2026-08-04T10:11:15Z", plus2).unwrap(),
            utc(2026, 8, 4, 10, 11, 15)
        );
    }

    #[test]
    fn errors_point_at_the_column() {
        let err = parse_datetime("2026-08-04X10:11:15Z", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid datetime '2026-08-04X10:11:15Z' at column 11: expected 'T' or a space after the date"
        );
        let err = parse_datetime("2026-02-30T10:11:15Z", None).unwrap_err();
        assert!(err.to_string().contains("no such day"), "{err}");
        let err = parse_datetime("2026-08-04T24:00:00Z", None).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
        let err = parse_datetime("2026-08-04T10:11:15Zjunk", None).unwrap_err();
        assert!(err.to_string().contains("column 21"), "{err}");
        let err = parse_datetime("26-08-04", None).unwrap_err();
        assert!(err.to_string().contains("4-digit year"), "{err}");
        assert!(parse_datetime("2026-08-04T10:11:15+2500", None).is_err());
        assert!(parse_date("2026-08-04T00:00:00Z").is_err());
        assert_eq!(
            parse_date("2026-08-04").unwrap(),
            NaiveDate::from_ymd_opt(2026, 8, 4).unwrap()
        );
    }

    #[test]
    fn literal_formats_are_pinned() {
        let t = utc(2026, 8, 1, 0, 0, 0);
        assert_eq!(
            data_query_literal(t),
            "TIMESTAMP '2026-08-01 00:00:00 +00:00'"
        );
        assert_eq!(export_zoql_literal(t).unwrap(), "'2026-08-01T00:00:00Z'");
        assert_eq!(to_rfc3339(t), "2026-08-01T00:00:00Z");
        let with_ms = t + Duration::milliseconds(250);
        assert_eq!(
            data_query_literal(with_ms),
            "TIMESTAMP '2026-08-01 00:00:00.250 +00:00'"
        );
        assert_eq!(to_rfc3339(with_ms), "2026-08-01T00:00:00.250Z");
        assert!(matches!(
            export_zoql_literal(with_ms),
            Err(TimeError::SubSecond(_))
        ));
        assert_eq!(truncate_to_second(with_ms), t);
        assert_eq!(
            incremental_time(t, IncrementalTimeZone::Utc),
            "2026-08-01 00:00:00"
        );
        assert_eq!(
            incremental_time(with_ms, IncrementalTimeZone::UsPacific),
            "2026-07-31 17:00:00"
        );
    }

    #[test]
    fn pacific_dst_edges_2026() {
        let pacific = |t| incremental_time(t, IncrementalTimeZone::UsPacific);
        // DST starts on the second Sunday of March (8 March 2026) at 02:00 PST = 10:00 UTC.
        assert_eq!(pacific(utc(2026, 3, 8, 9, 59, 59)), "2026-03-08 01:59:59");
        assert_eq!(pacific(utc(2026, 3, 8, 10, 0, 0)), "2026-03-08 03:00:00");
        // The first Sunday of March is not the change day.
        assert_eq!(pacific(utc(2026, 3, 1, 12, 0, 0)), "2026-03-01 04:00:00");
        // DST ends on the first Sunday of November (1 November 2026) at 02:00 PDT = 09:00 UTC.
        assert_eq!(pacific(utc(2026, 11, 1, 8, 59, 59)), "2026-11-01 01:59:59");
        assert_eq!(pacific(utc(2026, 11, 1, 9, 0, 0)), "2026-11-01 01:00:00");
        assert_eq!(pacific(utc(2026, 7, 1, 12, 0, 0)), "2026-07-01 05:00:00");
        assert_eq!(pacific(utc(2026, 12, 31, 12, 0, 0)), "2026-12-31 04:00:00");
        // New Year in UTC is still the old year in Pacific.
        assert_eq!(pacific(utc(2027, 1, 1, 3, 0, 0)), "2026-12-31 19:00:00");
    }

    #[test]
    fn zone_follows_the_tenant_region() {
        use crate::tenant::Region;
        assert_eq!(
            IncrementalTimeZone::from(Region::US),
            IncrementalTimeZone::UsPacific
        );
        assert_eq!(
            IncrementalTimeZone::from(Region::EU),
            IncrementalTimeZone::Utc
        );
    }

    #[test]
    fn pacific_rules_before_2007() {
        let offset = |t| us_pacific_offset(t).local_minus_utc() / 3600;
        // 2006: first Sunday of April (2 April) to last Sunday of October (29 October).
        assert_eq!(offset(utc(2006, 4, 2, 9, 59, 59)), -8);
        assert_eq!(offset(utc(2006, 4, 2, 10, 0, 0)), -7);
        assert_eq!(offset(utc(2006, 10, 29, 8, 59, 59)), -7);
        assert_eq!(offset(utc(2006, 10, 29, 9, 0, 0)), -8);
        // In 2006 mid-March was still standard time, unlike 2007.
        assert_eq!(offset(utc(2006, 3, 20, 12, 0, 0)), -8);
        assert_eq!(offset(utc(2007, 3, 20, 12, 0, 0)), -7);
    }

    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        // 1990-01-01 .. 2100-01-01, with nanoseconds.
        (631_152_000i64..4_102_444_800, 0u32..1_000_000_000)
            .prop_map(|(s, n)| Utc.timestamp_opt(s, n).unwrap())
    }

    proptest! {
        #[test]
        fn rfc3339_round_trips(t in instant()) {
            prop_assert_eq!(parse_datetime(&to_rfc3339(t), None).unwrap(), t);
        }

        #[test]
        fn data_query_text_round_trips(t in instant()) {
            prop_assert_eq!(parse_datetime(&data_query_timestamp_text(t), None).unwrap(), t);
            let literal = data_query_literal(t);
            prop_assert!(literal.starts_with("TIMESTAMP '") && literal.ends_with(" +00:00'"));
        }

        #[test]
        fn export_zoql_round_trips_whole_seconds(t in instant()) {
            let whole = truncate_to_second(t);
            let literal = export_zoql_literal(whole).unwrap();
            prop_assert!(!literal.contains(' '), "space in {}", literal);
            prop_assert!(literal.ends_with("Z'"));
            let inner = literal.trim_matches('\'');
            prop_assert_eq!(parse_datetime(inner, None).unwrap(), whole);
        }

        #[test]
        fn compact_offsets_round_trip(t in instant(), minutes in -14 * 60i32..=14 * 60) {
            let offset = FixedOffset::east_opt(minutes * 60).unwrap();
            let text = t.with_timezone(&offset).format("%Y-%m-%dT%H:%M:%S%.f%z").to_string();
            prop_assert_eq!(parse_datetime(&text, None).unwrap(), t);
            let text = t.with_timezone(&offset).format("%Y-%m-%d %H:%M:%S%.f %:z").to_string();
            prop_assert_eq!(parse_datetime(&text, None).unwrap(), t);
        }

        #[test]
        fn incremental_time_reads_back(t in instant()) {
            let offset = us_pacific_offset(t);
            let hours = offset.local_minus_utc() / 3600;
            prop_assert!(hours == -7 || hours == -8);
            let text = incremental_time(t, IncrementalTimeZone::UsPacific);
            prop_assert_eq!(parse_datetime(&text, Some(offset)).unwrap(), truncate_to_second(t));
            let text = incremental_time(t, IncrementalTimeZone::Utc);
            prop_assert_eq!(parse_datetime(&text, FixedOffset::east_opt(0)).unwrap(), truncate_to_second(t));
        }

        #[test]
        fn parser_never_panics(text in "\\PC{0,40}") {
            let _ = parse_datetime(&text, FixedOffset::east_opt(0));
        }
    }
}
