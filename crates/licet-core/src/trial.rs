//! Per-camera trials: a camera on a trial license gets the trial's length from its first
//! registration on the device, and that start never moves; no camera's trial outlives
//! the license's (a camera added on day 80 of a 90-day trial has 10 days).
//!
//! The agent persists the first registration time; this module only says what a given
//! start means at a given time. A camera removed and registered again keeps its start,
//! which is how "the trial restarts on reboot" is ruled out by construction.

use crate::license::TrialInfo;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

/// How a camera runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraMode {
    /// Covered by a paid license.
    Licensed,
    /// On its trial, which has not ended.
    Trial,
    /// Its trial is over.
    TrialExpired,
}

impl CameraMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CameraMode::Licensed => "licensed",
            CameraMode::Trial => "trial",
            CameraMode::TrialExpired => "trial_expired",
        }
    }
}

/// A camera's trial at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CameraTrial {
    /// The mode.
    pub mode: CameraMode,
    /// End of the camera's trial (on a trial license).
    pub expires_at: Option<OffsetDateTime>,
    /// Whole days left (0 once over): 79 with 79.5 days left.
    pub days_remaining: Option<i64>,
    /// Whole hours left beyond the whole days (0 to 23), as BrinkByte's camera listing
    /// shows "79 days, 12 hours".
    pub hours_remaining: Option<i64>,
}

/// Whole days left in `left`, counting a started day as a day: 90 on the first day of a
/// 90-day trial, 1 on its last, 0 once over (as people count "days remaining").
pub fn days_left(left: Duration) -> i64 {
    const DAY: i128 = 86_400_000_000_000;
    let nanos = left.whole_nanoseconds().max(0);
    i64::try_from((nanos + DAY - 1) / DAY).unwrap_or(i64::MAX)
}

/// The trial of a camera first registered at `first_registered_at`, under a license
/// with `trial` (none for a paid license), at `now`.
pub fn camera_trial(
    trial: Option<&TrialInfo>,
    first_registered_at: OffsetDateTime,
    now: OffsetDateTime,
) -> CameraTrial {
    let Some(trial) = trial else {
        return CameraTrial {
            mode: CameraMode::Licensed,
            expires_at: None,
            days_remaining: None,
            hours_remaining: None,
        };
    };
    let expires_at = crate::time_after(first_registered_at, Duration::days(trial.days.into()))
        .min(trial.ends_at);
    let left = (expires_at - now).max(Duration::ZERO);
    let hours = left.whole_hours();
    CameraTrial {
        mode: if now >= expires_at {
            CameraMode::TrialExpired
        } else {
            CameraMode::Trial
        },
        expires_at: Some(expires_at),
        days_remaining: Some(hours / 24),
        hours_remaining: Some(hours % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn trial() -> TrialInfo {
        TrialInfo {
            days: 90,
            started_at: datetime!(2026-01-01 0:00 UTC),
            ends_at: datetime!(2026-04-01 0:00 UTC),
        }
    }

    #[test]
    fn a_camera_trial_runs_from_its_first_registration() {
        let first = datetime!(2026-01-01 0:00 UTC);
        let t = camera_trial(Some(&trial()), first, datetime!(2026-01-11 12:00 UTC));
        assert_eq!(t.mode, CameraMode::Trial);
        assert_eq!(t.expires_at, Some(datetime!(2026-04-01 0:00 UTC)));
        assert_eq!(t.days_remaining, Some(79), "79.5 days left");
        assert_eq!(t.hours_remaining, Some(12), "and 12 hours");
    }

    #[test]
    fn a_camera_trial_never_outlives_the_license_trial() {
        // Added on day 80 of the license's 90-day trial: 10 days, not 90.
        let day_80 = datetime!(2026-01-01 0:00 UTC) + Duration::days(80);
        let t = camera_trial(Some(&trial()), day_80, day_80);
        assert_eq!(t.expires_at, Some(datetime!(2026-04-01 0:00 UTC)));
        assert_eq!((t.days_remaining, t.hours_remaining), (Some(10), Some(0)));
        let day_91 = datetime!(2026-01-01 0:00 UTC) + Duration::days(91);
        let t = camera_trial(Some(&trial()), day_80, day_91);
        assert_eq!(t.mode, CameraMode::TrialExpired);
        assert_eq!((t.days_remaining, t.hours_remaining), (Some(0), Some(0)));
    }

    #[test]
    fn days_left_counts_a_started_day() {
        assert_eq!(days_left(Duration::days(90)), 90);
        assert_eq!(days_left(Duration::days(90) - Duration::seconds(1)), 90);
        assert_eq!(days_left(Duration::seconds(1)), 1);
        assert_eq!(days_left(Duration::ZERO), 0);
        assert_eq!(days_left(-Duration::days(3)), 0);
    }

    #[test]
    fn a_camera_trial_ends_and_stays_ended() {
        let first = datetime!(2026-02-01 0:00 UTC);
        let t = camera_trial(Some(&trial()), first, datetime!(2026-05-02 0:00 UTC));
        assert_eq!(t.mode, CameraMode::TrialExpired);
        assert_eq!(t.days_remaining, Some(0));
    }

    #[test]
    fn cameras_under_a_paid_license_are_licensed() {
        let t = camera_trial(
            None,
            datetime!(2026-02-01 0:00 UTC),
            datetime!(2030-01-01 0:00 UTC),
        );
        assert_eq!(t.mode, CameraMode::Licensed);
        assert_eq!(t.expires_at, None);
    }
}
