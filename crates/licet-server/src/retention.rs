//! Retention of the usage detail: every six hours (and once at start), the detail of
//! months older than `usage_detail_months` is dropped. Every replica runs it; the store
//! serialises them and a second run finds nothing to drop.

use crate::state::AppState;
use time::{Date, Month, OffsetDateTime, Time};

/// How often retention runs.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// The first instant kept when `months` months are kept at `now` (the current month
/// counts as one); `None` when everything is kept.
pub fn keep_from(now: OffsetDateTime, months: u32) -> Option<OffsetDateTime> {
    if months == 0 {
        return None;
    }
    let now = now.to_offset(time::UtcOffset::UTC);
    let index =
        i64::from(now.year()) * 12 + i64::from(u8::from(now.month())) - 1 - i64::from(months - 1);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    Some(first.with_time(Time::MIDNIGHT).assume_utc())
}

/// Runs retention until aborted.
pub fn spawn(state: AppState, months: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            ticks.tick().await;
            let Some(before) = keep_from(state.clock.now(), months) else {
                continue;
            };
            match state.store.drop_usage_detail(before).await {
                Ok(months) if months.is_empty() => {}
                Ok(months) => tracing::info!(?months, "dropped the usage detail of old months"),
                Err(error) => tracing::warn!(%error, "usage retention failed; retrying later"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_current_month_counts_as_one() {
        let now = datetime!(2026-12-02 18:00 UTC);
        assert_eq!(keep_from(now, 0), None);
        assert_eq!(keep_from(now, 1), Some(datetime!(2026-12-01 00:00 UTC)));
        assert_eq!(keep_from(now, 13), Some(datetime!(2025-12-01 00:00 UTC)));
        assert_eq!(keep_from(now, 12), Some(datetime!(2026-01-01 00:00 UTC)));
        assert_eq!(
            keep_from(datetime!(2026-01-01 00:30 +01:00), 2),
            Some(datetime!(2025-11-01 00:00 UTC)),
            "months are UTC"
        );
    }
}
