//! The license state machine: given a license, the last successful refresh, any definite
//! verdict from the server and the persisted time high-water mark, what state is the
//! license in at `now`?
//!
//! Two rules shape it. A definite answer from the server (revoked, suspended, cancelled)
//! wins at once; a network failure is never such an answer, it only lets the lease run
//! out. And time never runs backwards for deadlines: the effective time is the later of
//! the clock and the high-water mark, so setting the clock back extends nothing.

use crate::license::LicensePayload;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Duration, OffsetDateTime};

/// Backward clock jumps smaller than this are ordinary jitter and not reported.
pub const CLOCK_TOLERANCE: Duration = Duration::minutes(5);

/// Where a device's license stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseState {
    /// No valid license (never activated, or the stored one failed verification).
    Unactivated,
    /// Within the lease: full service.
    Active,
    /// Refresh overdue but within grace: full service, with warnings.
    Stale,
    /// Grace over with no successful refresh: only what the policy keeps.
    Degraded,
    /// The paid term (or trial) is over.
    Expired,
    /// The server revoked the license.
    Revoked,
    /// The server suspended the subscription.
    Suspended,
}

impl LicenseState {
    /// The state's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseState::Unactivated => "unactivated",
            LicenseState::Active => "active",
            LicenseState::Stale => "stale",
            LicenseState::Degraded => "degraded",
            LicenseState::Expired => "expired",
            LicenseState::Revoked => "revoked",
            LicenseState::Suspended => "suspended",
        }
    }

    /// How far from full service the state is; the lease-driven states only ever move
    /// up this scale as time passes (Active 0 → Stale 1 → Degraded 2 → Expired 3).
    pub fn severity(self) -> u8 {
        match self {
            LicenseState::Active => 0,
            LicenseState::Stale => 1,
            LicenseState::Degraded => 2,
            LicenseState::Expired => 3,
            LicenseState::Suspended => 4,
            LicenseState::Revoked => 5,
            LicenseState::Unactivated => 6,
        }
    }

    /// Whether the license's full entitlements apply.
    pub fn is_full_service(self) -> bool {
        matches!(self, LicenseState::Active | LicenseState::Stale)
    }
}

impl fmt::Display for LicenseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A definite answer from the server about a device's subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The license was revoked.
    Revoked,
    /// The subscription is suspended (it may resume).
    Suspended,
    /// The subscription was cancelled.
    Cancelled,
}

/// Everything the state depends on.
#[derive(Clone, Copy, Debug)]
pub struct StateInput<'a> {
    /// The current verified license, if any.
    pub license: Option<&'a LicensePayload>,
    /// The last time a refresh succeeded (the server confirmed this license).
    pub last_refresh: Option<OffsetDateTime>,
    /// A definite verdict from the server, if one was received.
    pub verdict: Option<Verdict>,
    /// The latest time this device has ever observed (persisted).
    pub high_water: Option<OffsetDateTime>,
    /// The device clock now.
    pub now: OffsetDateTime,
}

/// The state and the deadlines that produced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StateReport {
    /// The state.
    pub state: LicenseState,
    /// The time deadlines were measured against: `max(now, high_water)`. Persist it as
    /// the new high-water mark.
    #[serde(with = "time::serde::rfc3339")]
    pub effective_now: OffsetDateTime,
    /// Set when the clock is behind the high-water mark by more than the tolerance.
    pub clock_behind_seconds: Option<i64>,
    /// When a refresh is due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub refresh_due_at: Option<OffsetDateTime>,
    /// When the license degrades without a successful refresh.
    #[serde(with = "time::serde::rfc3339::option")]
    pub degrades_at: Option<OffsetDateTime>,
    /// End of the paid term.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl StateReport {
    /// The next time the state would change if nothing else happened.
    pub fn next_change_at(&self) -> Option<OffsetDateTime> {
        let candidates = match self.state {
            LicenseState::Active => [self.refresh_due_at, self.degrades_at, self.expires_at],
            LicenseState::Stale => [self.degrades_at, self.expires_at, None],
            LicenseState::Degraded => [self.expires_at, None, None],
            _ => [None, None, None],
        };
        candidates
            .into_iter()
            .flatten()
            .filter(|at| *at > self.effective_now)
            .min()
    }
}

/// Evaluates the license state. Pure: same inputs, same answer.
pub fn evaluate(input: &StateInput<'_>) -> StateReport {
    let effective_now = match input.high_water {
        Some(mark) if mark > input.now => mark,
        _ => input.now,
    };
    let clock_behind_seconds = input
        .high_water
        .map(|mark| mark - input.now)
        .filter(|behind| *behind > CLOCK_TOLERANCE)
        .map(|behind| behind.whole_seconds());

    let Some(license) = input.license else {
        return StateReport {
            state: LicenseState::Unactivated,
            effective_now,
            clock_behind_seconds,
            refresh_due_at: None,
            degrades_at: None,
            expires_at: None,
        };
    };

    // The lease runs from the later of issue and the last confirmed refresh. A refresh
    // time from the future (a clock that was ahead, then corrected) cannot stretch it
    // past what the effective time allows.
    let anchor = match input.last_refresh {
        Some(refresh) if refresh > license.issued_at => refresh.min(effective_now),
        _ => license.issued_at,
    };
    let refresh_due_at = crate::time_after(anchor, license.refresh_interval());
    let degrades_at = crate::time_after(anchor, license.grace_period());
    let expires_at = license.expires_at;

    let state = match input.verdict {
        Some(Verdict::Revoked) => LicenseState::Revoked,
        Some(Verdict::Suspended) => LicenseState::Suspended,
        Some(Verdict::Cancelled) => LicenseState::Expired,
        None if effective_now >= expires_at => LicenseState::Expired,
        None if effective_now >= degrades_at => LicenseState::Degraded,
        None if effective_now >= refresh_due_at => LicenseState::Stale,
        None => LicenseState::Active,
    };
    StateReport {
        state,
        effective_now,
        clock_behind_seconds,
        refresh_due_at: Some(refresh_due_at),
        degrades_at: Some(degrades_at),
        expires_at: Some(expires_at),
    }
}
