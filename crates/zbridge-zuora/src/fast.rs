//! Fast paths for the dates and datetimes of result files, which an export reads and writes
//! once per cell: parsing on bytes without allocating, and writing without `strftime`.
//!
//! They accept exactly the grammar of `zbridge_core::time` (`YYYY-MM-DD`, then `T`, `t` or a
//! space, `HH:MM[:SS[.fraction]]`, then `Z`, `z` or an offset `±HH[[:]MM]`, optionally after one
//! space) and write exactly what `Value`'s `Display` writes; anything else (an error, a year
//! past 9999) returns `None` and the caller uses `zbridge_core`, so the results never differ.
//! The property tests below hold them to that.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

/// Reads fixed-width digits from a byte cursor.
struct Bytes<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Bytes<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    fn digits(&mut self, count: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..count {
            let b = self.peek().filter(u8::is_ascii_digit)?;
            value = value * 10 + u32::from(b - b'0');
            self.pos += 1;
        }
        Some(value)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn date(&mut self) -> Option<NaiveDate> {
        let year = self.digits(4)?;
        self.eat(b'-')?;
        let month = self.digits(2)?;
        self.eat(b'-')?;
        let day = self.digits(2)?;
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
    }

    fn time(&mut self) -> Option<NaiveTime> {
        let hour = self.digits(2)?;
        self.eat(b':')?;
        let minute = self.digits(2)?;
        let (mut second, mut nanos) = (0, 0);
        if self.eat(b':').is_some() {
            second = self.digits(2)?;
            if self.eat(b'.').is_some() {
                nanos = self.fraction()?;
            }
        }
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).filter(|_| second < 60)
    }

    fn fraction(&mut self) -> Option<u32> {
        let (mut nanos, mut count) = (0u32, 0u32);
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            if count == 9 {
                return None;
            }
            nanos = nanos * 10 + u32::from(b - b'0');
            count += 1;
            self.pos += 1;
        }
        (count > 0).then(|| nanos * 10u32.pow(9 - count))
    }

    /// `None` when the offset is malformed; `Some(None)` when the text ended without one.
    fn offset(&mut self) -> Option<Option<FixedOffset>> {
        if self.at_end() {
            return Some(None);
        }
        if self.peek() == Some(b' ') {
            self.pos += 1;
        }
        let sign = match self.peek()? {
            b'Z' | b'z' => {
                self.pos += 1;
                return Some(FixedOffset::east_opt(0));
            }
            b'-' => -1,
            b'+' => 1,
            _ => return None,
        };
        self.pos += 1;
        let hours = self.digits(2)?;
        let minutes = match self.peek() {
            Some(b':') => {
                self.pos += 1;
                self.digits(2)?
            }
            Some(b) if b.is_ascii_digit() => self.digits(2)?,
            _ => 0,
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        let seconds = sign * i32::try_from(hours * 3600 + minutes * 60).ok()?;
        Some(FixedOffset::east_opt(seconds))
    }
}

/// A `YYYY-MM-DD` date (already trimmed), or `None` to let `zbridge_core` decide.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let mut cursor = Bytes {
        text: text.as_bytes(),
        pos: 0,
    };
    let date = cursor.date()?;
    cursor.at_end().then_some(date)
}

/// A datetime (already trimmed) at the offset it was written in, or `None` to let
/// `zbridge_core` decide.
pub fn parse_datetime(
    text: &str,
    default_offset: Option<FixedOffset>,
) -> Option<DateTime<FixedOffset>> {
    let mut cursor = Bytes {
        text: text.as_bytes(),
        pos: 0,
    };
    let date = cursor.date()?;
    let time = if cursor.at_end() {
        NaiveTime::MIN
    } else {
        match cursor.peek()? {
            b'T' | b't' | b' ' => cursor.pos += 1,
            _ => return None,
        }
        cursor.time()?
    };
    let offset = cursor.offset()?.or(default_offset)?;
    if !cursor.at_end() {
        return None;
    }
    let local = NaiveDateTime::new(date, time);
    Some(DateTime::from_naive_utc_and_offset(local - offset, offset))
}

fn push_digits(out: &mut String, value: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut v = value;
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    buf[..width].iter().for_each(|&b| out.push(char::from(b)));
}

/// Appends `YYYY-MM-DD`; false (nothing written) for years outside 0–9999.
pub fn write_date(date: NaiveDate, out: &mut String) -> bool {
    let Ok(year) = u32::try_from(date.year()) else {
        return false;
    };
    if year > 9999 {
        return false;
    }
    push_digits(out, year, 4);
    out.push('-');
    push_digits(out, date.month(), 2);
    out.push('-');
    push_digits(out, date.day(), 2);
    true
}

/// Appends the RFC 3339 UTC form with a fraction only when non-zero (3, 6 or 9 digits), as
/// `to_rfc3339_opts(SecondsFormat::AutoSi, true)`; false (nothing written) for years outside
/// 0–9999 and leap seconds.
pub fn write_datetime(instant: DateTime<Utc>, out: &mut String) -> bool {
    let nanos = instant.nanosecond();
    if nanos >= 1_000_000_000 || !write_date(instant.date_naive(), out) {
        return false;
    }
    out.push('T');
    push_digits(out, instant.hour(), 2);
    out.push(':');
    push_digits(out, instant.minute(), 2);
    out.push(':');
    push_digits(out, instant.second(), 2);
    if nanos != 0 {
        out.push('.');
        if nanos.is_multiple_of(1_000_000) {
            push_digits(out, nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            push_digits(out, nanos / 1_000, 6);
        } else {
            push_digits(out, nanos, 9);
        }
    }
    out.push('Z');
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use zbridge_core::time;
    use zbridge_core::value::Value;

    fn datetime_text() -> impl Strategy<Value = String> {
        let date = (1900u32..2200, 1u32..13, 1u32..32)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"));
        let sep = prop::sample::select(vec!["T", "t", " "]);
        let time = (
            0u32..26,
            0u32..61,
            prop::option::of((0u32..61, prop::option::of("[0-9]{1,10}"))),
        )
            .prop_map(|(h, m, s)| match s {
                None => format!("{h:02}:{m:02}"),
                Some((s, None)) => format!("{h:02}:{m:02}:{s:02}"),
                Some((s, Some(f))) => format!("{h:02}:{m:02}:{s:02}.{f}"),
            });
        let offset = prop::sample::select(vec![
            "", "Z", "z", "+00:00", "-08:00", " -08:00", "+0530", "-07", " +10", "+24:00", "x", " ",
        ]);
        (date, prop::option::of((sep, time)), offset).prop_map(|(d, t, o)| match t {
            Some((sep, t)) => format!("{d}{sep}{t}{o}"),
            None => format!("{d}{o}"),
        })
    }

    proptest! {
        #[test]
        fn datetimes_parse_as_zbridge_core_parses_them(
            text in datetime_text(),
            naive in prop::option::of(-720i32..=840),
        ) {
            let default = naive.and_then(|m| FixedOffset::east_opt(m * 60));
            if let Some(fast) = parse_datetime(&text, default) {
                prop_assert_eq!(Ok(fast), time::parse_datetime_as_written(&text, default).map_err(|e| e.to_string()));
            }
        }

        #[test]
        fn dates_parse_as_zbridge_core_parses_them(y in 0u32..10000, m in 0u32..14, d in 0u32..33, tail in "|x| ") {
            let text = format!("{y:04}-{m:02}-{d:02}{tail}");
            let core = time::parse_date(&text).ok();
            prop_assert_eq!(parse_date(&text), core);
        }

        #[test]
        fn written_forms_equal_display(secs in -62_135_596_800i64..253_402_300_799, nanos in prop::sample::select(vec![0u32, 1, 120_000_000, 123_456_000, 999_999_999, 5_000])) {
            let instant = DateTime::from_timestamp(secs, nanos).unwrap();
            let mut out = String::new();
            prop_assert!(write_datetime(instant, &mut out));
            prop_assert_eq!(&out, &Value::datetime(instant).to_string());
            out.clear();
            prop_assert!(write_date(instant.date_naive(), &mut out));
            prop_assert_eq!(&out, &Value::Date(instant.date_naive()).to_string());
        }
    }

    #[test]
    fn the_forms_zuora_writes_take_the_fast_path() {
        let offset = FixedOffset::east_opt(0);
        for text in [
            "2026-08-04T12:11:15-08:00",
            "2026-08-04T20:11:15+0000",
            "2026-08-04 12:11:15.123 -08:00",
        ] {
            assert!(parse_datetime(text, offset).is_some(), "{text}");
        }
        assert!(parse_date("2026-08-04").is_some());
        assert!(parse_date("2026-02-30").is_none());
    }
}
