//! The time windows of a catalog's features: a quota's period, a rate limit's window,
//! and what happens when a quota is used up.

use serde::{Deserialize, Serialize};

/// A quota's period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// A UTC day.
    Day,
    /// A calendar month (UTC).
    Month,
    /// A calendar year (UTC).
    Year,
}

impl Period {
    /// The period containing `at` (UTC), as a key: `2026-11-23`, `2026-11` or `2026`.
    /// Quota counters are kept per key, so a new period starts from zero by itself.
    pub fn key(self, at: time::OffsetDateTime) -> String {
        let at = at.to_offset(time::UtcOffset::UTC);
        match self {
            Period::Day => format!(
                "{:04}-{:02}-{:02}",
                at.year(),
                u8::from(at.month()),
                at.day()
            ),
            Period::Month => format!("{:04}-{:02}", at.year(), u8::from(at.month())),
            Period::Year => format!("{:04}", at.year()),
        }
    }

    /// The period containing `at` (UTC), as `[start, end)`; `None` past the calendar.
    pub fn bounds(
        self,
        at: time::OffsetDateTime,
    ) -> Option<(time::OffsetDateTime, time::OffsetDateTime)> {
        let at = at.to_offset(time::UtcOffset::UTC);
        let start = match self {
            Period::Day => at.date(),
            Period::Month => at.date().replace_day(1).ok()?,
            Period::Year => {
                time::Date::from_calendar_date(at.year(), time::Month::January, 1).ok()?
            }
        };
        let end = match self {
            Period::Day => start.next_day()?,
            Period::Month => {
                let (year, month) = match start.month() {
                    time::Month::December => (start.year() + 1, time::Month::January),
                    month => (start.year(), month.next()),
                };
                time::Date::from_calendar_date(year, month, 1).ok()?
            }
            Period::Year => {
                time::Date::from_calendar_date(start.year() + 1, time::Month::January, 1).ok()?
            }
        };
        Some((start.midnight().assume_utc(), end.midnight().assume_utc()))
    }
}

/// The window of a rate limit: a limit whose value is requests per window, enforced per
/// subject (an API key of the product) by the server's rate-limit decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateWindow {
    /// Per second.
    Second,
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
    /// Per UTC day.
    Day,
}

impl RateWindow {
    /// The window's length in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            RateWindow::Second => 1,
            RateWindow::Minute => 60,
            RateWindow::Hour => 3600,
            RateWindow::Day => 86_400,
        }
    }
}

/// What happens when a quota is used up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overage {
    /// Further use is refused until the next period.
    #[default]
    Refuse,
    /// Further use is allowed and billed as overage.
    Allow,
}
