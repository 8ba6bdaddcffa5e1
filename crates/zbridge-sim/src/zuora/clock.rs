//! The tenant's virtual clock.
//!
//! "Now" starts at a fixed instant (so generated data is deterministic), then moves with real time
//! plus every explicit advance made through `/sim/clock/advance`. Token expiry, incremental
//! windows, file purges and the 30-day retention of soft-deleted rows all read this clock.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// A clock that starts at a fixed instant and can be pushed forward.
#[derive(Debug)]
pub struct VirtualClock {
    start: Millis,
    real_start: Instant,
    advanced_ms: Mutex<i64>,
}

impl VirtualClock {
    /// A clock whose "now" is `start` at the moment of creation.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            start: start.timestamp_millis(),
            real_start: Instant::now(),
            advanced_ms: Mutex::new(0),
        }
    }

    /// The instant the clock started at (the seeded data's "now").
    pub fn start_ms(&self) -> Millis {
        self.start
    }

    /// The tenant's current time in milliseconds.
    pub fn now_ms(&self) -> Millis {
        let real = i64::try_from(self.real_start.elapsed().as_millis()).unwrap_or(i64::MAX / 2);
        self.start + real + *self.advanced_ms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tenant's current time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.now_ms())
            .single()
            .unwrap_or_default()
    }

    /// Moves the clock forward by `seconds` (negative values are ignored: time never goes back).
    pub fn advance(&self, seconds: i64) {
        if seconds > 0 {
            *self.advanced_ms.lock().unwrap_or_else(|e| e.into_inner()) +=
                seconds.saturating_mul(1000);
        }
    }
}

/// Converts milliseconds to a UTC date-time (clamped to the epoch on overflow).
pub fn to_datetime(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now_forward_and_never_back() {
        let clock = VirtualClock::new(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
        let before = clock.now_ms();
        clock.advance(3600);
        assert!(clock.now_ms() >= before + 3_600_000);
        let after = clock.now_ms();
        clock.advance(-100);
        assert!(clock.now_ms() >= after);
    }
}
