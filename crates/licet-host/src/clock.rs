//! The one place Licet reads the wall clock.
//!
//! `clippy.toml` forbids `SystemTime::now` and `OffsetDateTime::now_utc` everywhere else,
//! so every deadline is computed from a time that was passed in, and tests control time
//! by passing another [`Clock`].

use std::sync::Mutex;
use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time in UTC.
    fn now(&self) -> OffsetDateTime;

    /// Time elapsed since an arbitrary fixed origin, from a clock that never runs
    /// backwards and is not changed by setting the wall clock. The agent uses it to keep
    /// its time high-water mark moving while the wall clock is set back.
    fn monotonic(&self) -> std::time::Duration;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The single sanctioned read of the wall clock.
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[allow(clippy::disallowed_methods)] // The single sanctioned read of the monotonic clock.
    fn monotonic(&self) -> std::time::Duration {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        ORIGIN.get_or_init(std::time::Instant::now).elapsed()
    }
}

/// A clock that only moves when told to, for tests and simulations.
///
/// Its monotonic time is the sum of every forward move: setting the time backwards
/// leaves it where it is, as a real device's monotonic clock would.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<(OffsetDateTime, std::time::Duration)>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: OffsetDateTime) -> ManualClock {
        ManualClock {
            now: Mutex::new((now, std::time::Duration::ZERO)),
        }
    }

    /// Sets the time (forwards or backwards, as a misbehaving device clock might).
    pub fn set(&self, now: OffsetDateTime) {
        let mut guard = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let forward = now - guard.0;
        if forward.is_positive() {
            guard.1 += std::time::Duration::try_from(forward).unwrap_or_default();
        }
        guard.0 = now;
    }

    /// Moves the time by `by`.
    pub fn advance(&self, by: time::Duration) {
        let mut guard = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.0 += by;
        if by.is_positive() {
            guard.1 += std::time::Duration::try_from(by).unwrap_or_default();
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0
    }

    fn monotonic(&self) -> std::time::Duration {
        self.now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .1
    }
}
