//! Zuora's clock, as its answers tell it: the `Date` header every HTTP response carries
//! (RFC 9110 §6.6.1).
//!
//! Incremental windows (`UpdatedDate < until`) must end at a time on Zuora's clock, because
//! Zuora stamps `UpdatedDate`. A window ended on the host's clock loses, for good, every
//! change made in the gap whenever the host runs ahead of Zuora: the next window starts past
//! them. So [`zuora_time`] asks Zuora, and the host's clock only measures how much time went
//! by since the last answer.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use zbridge_core::ZuoraService;

use crate::client::{Call, ZuoraClient};
use crate::error::ZuoraError;

/// A skew between the host and Zuora at least this large is worth a warning: windows follow
/// Zuora's clock whatever the skew, but a host clock this far off breaks other things (token
/// expiry, logs that cannot be matched with Zuora's, schedules read by people).
pub const SKEW_WARNING: chrono::Duration = chrono::Duration::seconds(60);

/// Zuora's time at one moment, and how far the host's clock was from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZuoraTime {
    /// Zuora's "now": never later than Zuora's own clock (the header is whole seconds,
    /// rounded down), so a window ended here never reaches past what Zuora has stamped.
    pub now: DateTime<Utc>,
    /// The host's clock minus Zuora's (positive: the host is ahead); `None` when Zuora sent
    /// no usable `Date` header and `now` is the host's clock.
    pub skew: Option<chrono::Duration>,
}

impl ZuoraTime {
    /// A sentence for the run's history or stderr when the skew is worth knowing, or `None`.
    pub fn warning(&self) -> Option<String> {
        let Some(skew) = self.skew else {
            return Some(
                "Zuora's answers carried no Date header, so windows end on this machine's clock; \
                 a clock ahead of Zuora's would skip changes"
                    .into(),
            );
        };
        if skew.abs() < SKEW_WARNING {
            return None;
        }
        let (secs, way) = if skew > chrono::Duration::zero() {
            (skew.num_seconds(), "ahead of")
        } else {
            (-skew.num_seconds(), "behind")
        };
        Some(format!(
            "this machine's clock is {secs} s {way} Zuora's; windows follow Zuora's clock, so no \
             change is lost, but set this machine's time right (NTP)"
        ))
    }
}

/// The last `Date` header seen, with the host's clocks at that moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    zuora: DateTime<Utc>,
    host: DateTime<Utc>,
    at: Instant,
}

/// What a client's responses said about Zuora's clock (shared by its clones).
#[derive(Debug, Default)]
pub(crate) struct ClockSamples {
    last: Mutex<Option<Sample>>,
}

impl ClockSamples {
    /// Keeps the `Date` header of a response, if it has a valid one.
    pub(crate) fn record(&self, headers: &HeaderMap) {
        let Some(zuora) = header_date(headers) else {
            return;
        };
        let sample = Sample {
            zuora,
            host: Utc::now(),
            at: Instant::now(),
        };
        if let Ok(mut last) = self.last.lock() {
            *last = Some(sample);
        }
    }

    /// Zuora's time now, from the last sample and the time gone by since (the monotonic
    /// clock, which no NTP step moves).
    pub(crate) fn latest(&self) -> Option<ZuoraTime> {
        let sample = (*self.last.lock().ok()?)?;
        let elapsed = chrono::Duration::from_std(sample.at.elapsed()).unwrap_or_default();
        Some(ZuoraTime {
            now: sample.zuora + elapsed,
            skew: Some(sample.host - sample.zuora),
        })
    }
}

/// Parses an HTTP date (`Thu, 03 Dec 2026 18:00:00 GMT`, RFC 9110's IMF-fixdate).
pub fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The cheap authenticated GET of a service (the connection Test's call).
pub(crate) fn probe_path(service: ZuoraService) -> &'static str {
    match service {
        ZuoraService::AQuADataExport => "/v1/describe",
        ZuoraService::DataQuery => "/query/jobs?pageSize=1",
    }
}

/// Asks Zuora for its time with one cheap call. Without a `Date` header in the answer, the
/// host's clock stands in and [`ZuoraTime::skew`] is `None`.
pub async fn zuora_time(client: &ZuoraClient) -> Result<ZuoraTime, ZuoraError> {
    let path = probe_path(client.connection().service);
    let response = client.send(Call::get(path)).await?;
    let host_clock = ZuoraTime {
        now: Utc::now(),
        skew: None,
    };
    Ok(match header_date(&response.headers) {
        Some(_) => client.clock().unwrap_or(host_clock),
        None => host_clock,
    })
}

fn header_date(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn http_dates_parse_as_utc() {
        assert_eq!(
            parse_http_date("Thu, 03 Dec 2026 18:00:01 GMT"),
            Utc.with_ymd_and_hms(2026, 12, 3, 18, 0, 1).single()
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date(""), None);
    }

    #[test]
    fn a_sample_tells_zuoras_time_and_the_skew() {
        let samples = ClockSamples::default();
        assert!(samples.latest().is_none());
        let behind = Utc::now() - chrono::Duration::hours(1);
        let mut headers = HeaderMap::new();
        let text = behind.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        headers.insert(reqwest::header::DATE, text.parse().unwrap());
        samples.record(&headers);
        let time = samples.latest().unwrap();
        let skew = time.skew.unwrap();
        assert!((skew - chrono::Duration::hours(1)).abs() < chrono::Duration::seconds(3));
        assert!((time.now - behind).abs() < chrono::Duration::seconds(3));
        assert!(time.warning().unwrap().contains("ahead of Zuora's"));
    }

    #[test]
    fn small_skews_need_no_warning_and_a_missing_header_does() {
        let close = ZuoraTime {
            now: Utc::now(),
            skew: Some(chrono::Duration::seconds(5)),
        };
        assert_eq!(close.warning(), None);
        let behind = ZuoraTime {
            now: Utc::now(),
            skew: Some(chrono::Duration::seconds(-3600)),
        };
        assert!(behind.warning().unwrap().contains("3600 s behind"));
        let unknown = ZuoraTime {
            now: Utc::now(),
            skew: None,
        };
        assert!(unknown.warning().unwrap().contains("no Date header"));
    }
}
