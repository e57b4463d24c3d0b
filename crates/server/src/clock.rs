//! The server's one source of "now": every `received_at` the server stamps and every
//! instant a service records (an artifact published, a key revoked, an erasure) is
//! read from the [`Clock`] in [`crate::state::Settings`], so tests can set and advance
//! time ([`TestClock`]) and check answers that depend on it (`?at=` time travel,
//! approval expiry, retention) without sleeping.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::OffsetDateTime;

/// A source of the current instant.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, µs since the Unix epoch (UTC).
    fn now_micros(&self) -> i64;
}

/// The system's real-time clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        evident_core::time::unix_micros(OffsetDateTime::now_utc())
    }
}

/// A clock that stands still until a test sets or advances it. Shared through an
/// `Arc`, so a test keeps a handle on the clock it gave the app.
#[derive(Debug)]
pub struct TestClock {
    micros: AtomicI64,
}

impl TestClock {
    /// A clock standing at `rfc3339` (e.g. `"2026-11-23T14:00:00Z"`).
    ///
    /// # Panics
    /// If `rfc3339` is not an RFC 3339 time (a test's own mistake).
    pub fn at(rfc3339: &str) -> Arc<Self> {
        let t = evident_core::time::parse_rfc3339(rfc3339).expect("an RFC 3339 time");
        Arc::new(Self {
            micros: AtomicI64::new(evident_core::time::unix_micros(t)),
        })
    }

    /// Moves the clock to `micros` (µs since the epoch).
    pub fn set_micros(&self, micros: i64) {
        self.micros.store(micros, Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let by = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.micros.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_micros(&self) -> i64 {
        self.micros.load(Ordering::SeqCst)
    }
}

/// `micros` as the server writes times: RFC 3339, UTC, microseconds, `Z`.
pub fn format_micros(micros: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    evident_core::time::format_utc_micros(t)
}

impl crate::state::App {
    /// Now, by the app's clock: `(received_at text, µs)`.
    pub fn now(&self) -> (String, i64) {
        let micros = self.settings.clock.now_micros();
        (format_micros(micros), micros)
    }

    /// Now, by the app's clock, µs since the epoch.
    pub fn now_micros(&self) -> i64 {
        self.settings.clock.now_micros()
    }
}
