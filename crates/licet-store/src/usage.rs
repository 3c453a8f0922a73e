//! What both backends share about usage queries: the SQL condition that selects events
//! by the invoice that claimed them, and reading back the text keys that SQL groups by
//! (`YYYY-MM-DDTHH`, `YYYY-MM-DD`, `YYYY-MM`, all UTC).

use crate::error::StoreError;
use crate::model::{Booking, Window};
use time::{Date, Month, OffsetDateTime, Time};

/// Whose usage a device upload is: every row of the batch carries these.
pub(crate) struct UsageOwner<'a> {
    pub tenant: &'a str,
    pub subscription: &'a str,
    pub device: &'a str,
}

/// The UTC day of a time as `YYYY-MM-DD`: the key of the usage counters.
pub(crate) fn day_key(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}",
        at.year(),
        u8::from(at.month()),
        at.day()
    )
}

/// The UTC hour of a time as `YYYY-MM-DDTHH`: the key of the usage rollups.
pub(crate) fn hour_key(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{}T{:02}", day_key(at), at.hour())
}

/// The key of the first hour that starts at or after `at`: `hour >= hour_key(from)
/// AND hour < hour_ceiling_key(to)` covers `[from, to)` widened to whole hours.
pub(crate) fn hour_ceiling_key(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let on_the_hour = at.minute() == 0 && at.second() == 0 && at.nanosecond() == 0;
    if on_the_hour {
        hour_key(at)
    } else {
        hour_key(at + time::Duration::hours(1))
    }
}

/// The UTC month of a time: (year, month).
pub(crate) fn month_of(at: OffsetDateTime) -> (i32, u8) {
    let at = at.to_offset(time::UtcOffset::UTC);
    (at.year(), u8::from(at.month()))
}

/// What stored usage adds to the hourly rollups: accepted events summed per
/// subscription, meter, hour, device and camera (`""` for none), with their cost and
/// their number. Saturating, like every sum over usage.
#[derive(Default)]
pub(crate) struct RollupMoves(std::collections::BTreeMap<RollupKey, RollupSums>);

/// A rollup row's key: (subscription, meter, hour, device, camera).
pub(crate) type RollupKey = (String, String, String, String, String);

/// What a rollup row adds up: (quantity, cost in minor units, events).
pub(crate) type RollupSums = (i64, i64, i64);

/// One event as the rollups see it.
pub(crate) struct RolledUp<'a> {
    pub subscription: &'a str,
    pub meter: &'a str,
    pub device: Option<&'a str>,
    pub camera: Option<&'a str>,
    pub quantity: u64,
    pub cost_minor: Option<i64>,
    pub occurred_at: OffsetDateTime,
}

impl RollupMoves {
    /// Adds one stored, accepted event.
    pub(crate) fn add(&mut self, event: &RolledUp<'_>) {
        let slot = self
            .0
            .entry((
                event.subscription.to_owned(),
                event.meter.to_owned(),
                hour_key(event.occurred_at),
                event.device.unwrap_or_default().to_owned(),
                event.camera.unwrap_or_default().to_owned(),
            ))
            .or_insert((0, 0, 0));
        slot.0 = slot
            .0
            .saturating_add(i64::try_from(event.quantity).unwrap_or(i64::MAX));
        slot.1 = slot.1.saturating_add(event.cost_minor.unwrap_or(0));
        slot.2 = slot.2.saturating_add(1);
    }

    /// Each rollup row to move: ((subscription, meter, hour, device, camera),
    /// (quantity, cost, events)).
    pub(crate) fn into_moves(self) -> impl Iterator<Item = (RollupKey, RollupSums)> {
        self.0.into_iter()
    }
}

/// What stored usage adds to the counters: accepted events summed per subscription,
/// meter and day. `camera_day` is counted per distinct camera when rated, not summed,
/// so it has no counter.
#[derive(Default)]
pub(crate) struct CounterMoves(std::collections::BTreeMap<(String, String, String, i16), i64>);

/// How many rows each counter total is split over: the devices of one subscription
/// upload at once, and one row would make every upload wait on the previous one's
/// commit.
const SHARDS: u64 = 16;

/// The counter shard of a writer (a device id, an event id): stable, spread evenly.
pub(crate) fn shard_of(key: &str) -> i16 {
    // FNV-1a: a fixed function, so a key always lands on the same shard.
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    i16::try_from(hash % SHARDS).unwrap_or(0)
}

impl CounterMoves {
    /// Adds one stored event.
    pub(crate) fn add(
        &mut self,
        subscription: &str,
        meter: &str,
        quantity: u64,
        occurred_at: OffsetDateTime,
        rejected: bool,
        shard: i16,
    ) {
        if rejected || meter == "camera_day" || licet_core::rating::pack_day_addon(meter).is_some()
        {
            return;
        }
        let quantity = i64::try_from(quantity).unwrap_or(i64::MAX);
        let slot = self
            .0
            .entry((
                subscription.to_owned(),
                meter.to_owned(),
                day_key(occurred_at),
                shard,
            ))
            .or_insert(0);
        *slot = slot.saturating_add(quantity);
    }

    /// Each counter row to move: ((subscription, meter, day, shard), quantity).
    pub(crate) fn into_moves(self) -> impl Iterator<Item = ((String, String, String, i16), i64)> {
        self.0.into_iter()
    }
}

/// The condition on `invoiced_in` for `booking`, with `placeholder` standing for its
/// period (bound by the caller when the second value is `Some`).
/// (The rollups' `invoiced_in` is `''` while unclaimed.)
pub(crate) fn booking_condition(booking: &Booking, placeholder: &str) -> (String, Option<String>) {
    match booking {
        Booking::Any => ("TRUE".into(), None),
        Booking::Unclaimed => ("invoiced_in = ''".into(), None),
        Booking::ClaimedBefore(period) => (
            format!("(invoiced_in <> '' AND invoiced_in < {placeholder})"),
            Some(period.clone()),
        ),
        Booking::ClaimedIn(period) => {
            (format!("invoiced_in = {placeholder}"), Some(period.clone()))
        }
        Booking::ClaimedThrough(period) => (
            format!("(invoiced_in <> '' AND invoiced_in <= {placeholder})"),
            Some(period.clone()),
        ),
    }
}

/// How many leading characters of a UTC RFC 3339 time name the window's bucket.
pub(crate) fn key_length(window: Window) -> usize {
    match window {
        Window::Hour => 13,
        Window::Day => 10,
        Window::Month => 7,
    }
}

fn corrupt(key: &str) -> StoreError {
    StoreError::Corrupt(format!("usage bucket {key:?}"))
}

fn date(key: &str) -> Result<Date, StoreError> {
    let number = |range: std::ops::Range<usize>| -> Result<u32, StoreError> {
        key.get(range)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| corrupt(key))
    };
    let year = i32::try_from(number(0..4)?).map_err(|_| corrupt(key))?;
    let month = u8::try_from(number(5..7)?)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| corrupt(key))?;
    let day = if key.len() >= 10 {
        u8::try_from(number(8..10)?).map_err(|_| corrupt(key))?
    } else {
        1
    };
    Date::from_calendar_date(year, month, day).map_err(|_| corrupt(key))
}

/// The start of the bucket a key names.
pub(crate) fn bucket_start(key: &str) -> Result<OffsetDateTime, StoreError> {
    let day = date(key)?;
    let hour = if key.len() >= 13 {
        key.get(11..13)
            .and_then(|h| h.parse::<u8>().ok())
            .ok_or_else(|| corrupt(key))?
    } else {
        0
    };
    let time = Time::from_hms(hour, 0, 0).map_err(|_| corrupt(key))?;
    Ok(day.with_time(time).assume_utc())
}

/// Which day of a range starting at `from` a `YYYY-MM-DD` key is (0 for the first).
pub(crate) fn day_index(from: OffsetDateTime, key: &str) -> Result<usize, StoreError> {
    let days = (date(key)? - from.date()).whole_days();
    usize::try_from(days).map_err(|_| corrupt(key))
}

/// Spreads per-day camera counts over a range's days.
pub(crate) fn cameras_per_day(
    from: OffsetDateTime,
    to: OffsetDateTime,
    counts: Vec<(String, i64)>,
) -> Result<Vec<u32>, StoreError> {
    let days = usize::try_from((to.date() - from.date()).whole_days().max(0)).unwrap_or(0);
    let mut per_day = vec![0u32; days];
    for (key, count) in counts {
        let index = day_index(from, &key)?;
        if let Some(slot) = per_day.get_mut(index) {
            *slot = u32::try_from(count).unwrap_or(u32::MAX);
        }
    }
    Ok(per_day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn counter_shards_are_stable_and_spread() {
        assert_eq!(shard_of("dev_a"), shard_of("dev_a"));
        let shards: std::collections::BTreeSet<i16> =
            (0..200).map(|n| shard_of(&format!("dev_{n}"))).collect();
        assert_eq!(shards.len(), 16, "{shards:?}");
        assert!(shards.iter().all(|s| (0..16).contains(s)));
    }

    #[test]
    fn hour_keys_cover_a_range_widened_to_whole_hours() {
        assert_eq!(
            hour_key(datetime!(2026-11-02 09:59:59.9 UTC)),
            "2026-11-02T09"
        );
        assert_eq!(
            hour_key(datetime!(2026-11-02 10:30 +01:00)),
            "2026-11-02T09"
        );
        assert_eq!(
            hour_ceiling_key(datetime!(2026-11-02 10:00 UTC)),
            "2026-11-02T10"
        );
        assert_eq!(
            hour_ceiling_key(datetime!(2026-11-02 10:00:01 UTC)),
            "2026-11-02T11"
        );
        assert_eq!(
            hour_ceiling_key(datetime!(2026-12-31 23:30 UTC)),
            "2027-01-01T00"
        );
        assert_eq!(month_of(datetime!(2026-12-01 00:30 +01:00)), (2026, 11));
    }

    #[test]
    fn keys_name_their_bucket_start() {
        assert_eq!(
            bucket_start("2026-11-02T09").unwrap(),
            datetime!(2026-11-02 09:00 UTC)
        );
        assert_eq!(
            bucket_start("2026-11-02").unwrap(),
            datetime!(2026-11-02 00:00 UTC)
        );
        assert_eq!(
            bucket_start("2026-11").unwrap(),
            datetime!(2026-11-01 00:00 UTC)
        );
        assert!(bucket_start("2026-13").is_err());
        assert_eq!(
            day_index(datetime!(2026-11-01 00:00 UTC), "2026-11-30").unwrap(),
            29
        );
    }
}
