//! Rating: a subscription's quantities for one calendar month → invoice lines, in
//! integer minor units. Pure: the server gathers the quantities (camera-days from
//! registrations, devices, seats, metered usage) and passes them in.
//!
//! Two rules make the totals checkable by hand and stable under re-rating:
//!
//! - **Cumulative rounding.** A prorated or stepped charge is defined on the running
//!   total of its quantity: `charge(q)`. The charge for a slice of the month from `a` to
//!   `b` units is `charge(b) − charge(a)`, so however a month is split (mid-month
//!   previews, late usage booked on the next invoice), the slices add up to exactly
//!   `charge(total)`: no cent is gained or lost to rounding.
//! - **Quantities, not events.** Rating sees sums; replaying usage that was already
//!   counted cannot change an invoice because deduplication happens before the sums.
//!
//! What is charged: plan and add-on prices per camera (prorated by camera-days over the
//! days of the month), per device and per tenant (per month), per seat beyond the
//! included ones, per unit of an add-on's quantity; one-time prices in the month of
//! subscription and yearly ones in its anniversary month; metered usage beyond the
//! quota's allowance per `per_units` started units; pass-through amounts as reported.
//! A trial pays nothing for its plan.

use crate::amount::Amount;
use crate::catalog::{Catalog, Interval, PriceBasis, PriceSpec};
use crate::entitlements::Grant;
use crate::ids::MeterId;
use crate::resolve::{ResolveError, Subscription};
use serde::Serialize;
use std::collections::BTreeMap;
use time::{Date, Month, OffsetDateTime};

/// A calendar month (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct BillingMonth {
    /// Year.
    pub year: i32,
    /// Month.
    pub month: Month,
}

impl BillingMonth {
    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Option<BillingMonth> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let year: i32 = year.parse().ok()?;
        let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
        Some(BillingMonth { year, month })
    }

    /// Days in the month.
    pub fn days(self) -> u8 {
        self.month.length(self.year)
    }

    /// The month's first day.
    pub fn first_day(self) -> Option<Date> {
        Date::from_calendar_date(self.year, self.month, 1).ok()
    }

    /// The month containing `at` (UTC).
    pub fn containing(at: OffsetDateTime) -> BillingMonth {
        let at = at.to_offset(time::UtcOffset::UTC);
        BillingMonth {
            year: at.year(),
            month: at.month(),
        }
    }

    /// The month after this one.
    pub fn next(self) -> BillingMonth {
        match self.month {
            Month::December => BillingMonth {
                year: self.year + 1,
                month: Month::January,
            },
            month => BillingMonth {
                year: self.year,
                month: month.next(),
            },
        }
    }

    /// The month's start and end, `[start, end)`, in UTC.
    pub fn bounds(self) -> Option<(OffsetDateTime, OffsetDateTime)> {
        let start = self.first_day()?.midnight().assume_utc();
        let end = self.next().first_day()?.midnight().assume_utc();
        Some((start, end))
    }
}

impl std::fmt::Display for BillingMonth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, u8::from(self.month))
    }
}

/// Metered usage of one meter in the month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MeterUsage {
    /// Units used.
    pub quantity: u64,
    /// For pass-through meters: the cost the events reported, in minor units.
    pub pass_through_minor: i64,
}

/// The meter of the camera-days a per-camera growth pack is assigned: one
/// `camera_day.<addon>` event per camera holding the pack per UTC day, recorded by the
/// agent, counted per distinct camera like `camera_day`.
pub const PACK_DAY_PREFIX: &str = "camera_day.";

/// The pack camera-day meter of `addon`.
pub fn pack_day_meter(addon: &str) -> String {
    format!("{PACK_DAY_PREFIX}{addon}")
}

/// The add-on a pack camera-day meter counts, if `meter` is one.
pub fn pack_day_addon(meter: &str) -> Option<&str> {
    meter
        .strip_prefix(PACK_DAY_PREFIX)
        .filter(|addon| !addon.is_empty())
}

/// Everything a month's invoice depends on.
#[derive(Clone, Debug)]
pub struct RatingInput<'a> {
    /// The product's catalog.
    pub catalog: &'a Catalog,
    /// What was bought.
    pub subscription: &'a Subscription,
    /// The month.
    pub month: BillingMonth,
    /// When the subscription started (one-time and yearly prices follow it).
    pub subscribed_on: Date,
    /// Active cameras per day of the month (index 0 is the 1st; missing days count 0).
    pub cameras_per_day: &'a [u32],
    /// For a per-camera add-on whose devices assign it to cameras: the cameras holding
    /// it per day (index 0 is the 1st). An add-on missing here was not assigned to any
    /// camera this month; it applies device-wide, and bills the cameras it can cover.
    pub assigned_per_day: &'a BTreeMap<String, Vec<u32>>,
    /// Devices active in the month.
    pub devices: u64,
    /// Seats for plan prices sold per seat (an add-on's seats are its quantity).
    pub seats: u64,
    /// Metered usage per meter.
    pub usage: &'a BTreeMap<MeterId, MeterUsage>,
}

/// One invoice line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvoiceLine {
    /// The catalog price.
    pub price_id: String,
    /// For people.
    pub description: String,
    /// The quantity charged (camera-days, devices, seats, units, started blocks…).
    pub quantity: u64,
    /// What one unit of `quantity` is.
    pub unit: String,
    /// The price per unit in minor units (per month for prorated camera prices).
    pub unit_amount: i64,
    /// The line's amount in minor units.
    pub amount: i64,
    /// How the quantity and amount were reached, for a finance team checking by hand.
    pub detail: String,
}

/// A month's invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Invoice {
    /// The month.
    pub month: String,
    /// The lines, in catalog order.
    pub lines: Vec<InvoiceLine>,
    /// The sum of the lines, in minor units.
    pub total: i64,
}

/// Why a month cannot be rated.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    /// The subscription does not fit the catalog.
    #[error("{0}")]
    Resolve(#[from] ResolveError),
    /// More days of camera counts than the month has.
    #[error("{given} days of camera counts for {month}, which has {days}")]
    TooManyDays {
        /// The month.
        month: String,
        /// Days given.
        given: usize,
        /// Days in the month.
        days: u8,
    },
    /// An amount does not fit in 64 bits.
    #[error("the invoice amount for {0} overflows")]
    Overflow(String),
}

/// `amount × numerator / denominator`, rounded down, in 128-bit arithmetic.
fn prorate(amount: i64, numerator: u64, denominator: u64) -> Option<i64> {
    if denominator == 0 {
        return Some(0);
    }
    let value = i128::from(amount) * i128::from(numerator) / i128::from(denominator);
    i64::try_from(value).ok()
}

/// The cumulative charge for a prorated camera price: `charge(camera_days)`.
pub fn camera_charge(amount_per_month: i64, camera_days: u64, days_in_month: u8) -> Option<i64> {
    prorate(amount_per_month, camera_days, u64::from(days_in_month))
}

/// The cumulative overage charge for `used` units against `allowance`: every started
/// block of `per_units` beyond the allowance costs `amount`.
pub fn overage_charge(amount: i64, used: u64, allowance: Amount, per_units: u64) -> Option<i64> {
    let over = match allowance {
        Amount::Unlimited => 0,
        Amount::Finite(allowed) => used.saturating_sub(allowed),
    };
    let blocks = over.div_ceil(per_units.max(1));
    i64::try_from(i128::from(amount) * i128::from(blocks)).ok()
}

/// The number of started overage blocks, for the invoice line's quantity.
fn overage_blocks(used: u64, allowance: Amount, per_units: u64) -> (u64, u64) {
    let over = match allowance {
        Amount::Unlimited => 0,
        Amount::Finite(allowed) => used.saturating_sub(allowed),
    };
    (over, over.div_ceil(per_units.max(1)))
}

fn applies(price: &PriceSpec, subscription: &Subscription) -> Option<u64> {
    if let Some(plan) = &price.plan {
        return (plan == &subscription.plan && !subscription.trial).then_some(1);
    }
    if let Some(addon) = &price.addon {
        return subscription
            .addons
            .iter()
            .find(|a| &a.id == addon)
            .map(|a| a.quantity.max(1));
    }
    None
}

/// Rates one month.
pub fn rate(input: &RatingInput<'_>) -> Result<Invoice, RatingError> {
    let days = input.month.days();
    let longest = input
        .assigned_per_day
        .values()
        .map(Vec::len)
        .chain([input.cameras_per_day.len()])
        .max()
        .unwrap_or(0);
    if longest > usize::from(days) {
        return Err(RatingError::TooManyDays {
            month: input.month.to_string(),
            given: longest,
            days,
        });
    }
    let resolution = input.catalog.resolve(input.subscription)?;
    let camera_days: u64 = input.cameras_per_day.iter().map(|&c| u64::from(c)).sum();
    let subscribed_this_month = input.subscribed_on.year() == input.month.year
        && input.subscribed_on.month() == input.month.month;
    let anniversary_month = input.subscribed_on.month() == input.month.month
        && input.subscribed_on.year() <= input.month.year;

    let mut lines = Vec::new();
    for price in &input.catalog.spec().prices {
        let overflow = || RatingError::Overflow(price.id.clone());
        let line = |quantity: u64, unit: &str, amount: i64, detail: String| InvoiceLine {
            price_id: price.id.clone(),
            description: price.description.clone(),
            quantity,
            unit: unit.to_owned(),
            unit_amount: price.amount,
            amount,
            detail,
        };
        if let Some(meter) = &price.meter {
            let usage = input.usage.get(meter).copied().unwrap_or_default();
            if price.pass_through {
                if usage.quantity > 0 || usage.pass_through_minor != 0 {
                    lines.push(InvoiceLine {
                        unit_amount: 0,
                        ..line(
                            usage.quantity,
                            &meter.to_string(),
                            usage.pass_through_minor,
                            format!("{} units at the reported cost", usage.quantity),
                        )
                    });
                }
                continue;
            }
            let allowance = input
                .catalog
                .spec()
                .meters
                .get(meter)
                .and_then(|m| m.quota.as_ref())
                .and_then(|q| resolution.entitlements.features.get(q))
                .map(|grant| match grant {
                    Grant::Quota { allowance, .. } => *allowance,
                    _ => Amount::Finite(0),
                })
                .unwrap_or(Amount::Finite(0));
            let per_units = price.per_units.unwrap_or(1);
            let (over, blocks) = overage_blocks(usage.quantity, allowance, per_units);
            if blocks > 0 {
                let amount = overage_charge(price.amount, usage.quantity, allowance, per_units)
                    .ok_or_else(overflow)?;
                let allowed = match allowance {
                    Amount::Finite(n) => n.to_string(),
                    Amount::Unlimited => "unlimited".into(),
                };
                lines.push(line(
                    blocks,
                    &format!("{per_units} units"),
                    amount,
                    format!(
                        "{} used − {allowed} included = {over} over; {blocks} started blocks of {per_units} × {}",
                        usage.quantity, price.amount
                    ),
                ));
            }
            continue;
        }
        let Some(quantity) = applies(price, input.subscription) else {
            continue;
        };
        match price.interval {
            Some(Interval::Once) if !subscribed_this_month => continue,
            Some(Interval::Year) if !anniversary_month => continue,
            _ => {}
        }
        match price.per {
            Some(PriceBasis::Camera) => {
                // An add-on's quantity is the number of cameras it covers: the
                // camera-days it was assigned, or, never assigned to a camera (it
                // then applies device-wide), the cameras it could cover each day.
                let covered: u64 = match &price.addon {
                    Some(addon) => input
                        .assigned_per_day
                        .get(addon.as_str())
                        .map_or(input.cameras_per_day, Vec::as_slice)
                        .iter()
                        .map(|&c| u64::from(c).min(quantity))
                        .sum(),
                    None => camera_days,
                };
                if covered == 0 {
                    continue;
                }
                let amount = camera_charge(price.amount, covered, days).ok_or_else(overflow)?;
                lines.push(line(
                    covered,
                    "camera-days",
                    amount,
                    format!(
                        "{covered} camera-days / {days} days × {} per camera-month",
                        price.amount
                    ),
                ));
            }
            Some(PriceBasis::Device) => {
                if input.devices == 0 {
                    continue;
                }
                let amount = prorate(price.amount, input.devices, 1).ok_or_else(overflow)?;
                lines.push(line(
                    input.devices,
                    "devices",
                    amount,
                    format!("{} devices × {}", input.devices, price.amount),
                ));
            }
            Some(PriceBasis::Seat) => {
                // An add-on sold by the seat carries its seat count as its quantity.
                let seats = if price.addon.is_some() {
                    quantity
                } else {
                    input.seats
                };
                let extra = seats.saturating_sub(price.included_quantity);
                if extra == 0 {
                    continue;
                }
                let amount = prorate(price.amount, extra, 1).ok_or_else(overflow)?;
                lines.push(line(
                    extra,
                    "seats",
                    amount,
                    format!(
                        "{seats} seats − {} included = {extra} × {}",
                        price.included_quantity, price.amount
                    ),
                ));
            }
            Some(PriceBasis::Unit) => {
                let amount = prorate(price.amount, quantity, 1).ok_or_else(overflow)?;
                lines.push(line(
                    quantity,
                    "units",
                    amount,
                    format!("{quantity} × {}", price.amount),
                ));
            }
            Some(PriceBasis::Tenant) | None => {
                lines.push(line(
                    1,
                    "tenant",
                    price.amount,
                    format!("1 × {}", price.amount),
                ));
            }
        }
    }
    let total = lines
        .iter()
        .try_fold(0i64, |sum, l| sum.checked_add(l.amount))
        .ok_or_else(|| RatingError::Overflow("the total".into()))?;
    Ok(Invoice {
        month: input.month.to_string(),
        lines,
        total,
    })
}

/// What usage that arrived late adds to a month already invoiced: `after` (the month
/// rated with the late usage) minus `before` (as invoiced), line by line. Lines whose
/// quantity and amount did not change are left out; by cumulative rounding the
/// adjustments and the original invoice add up to exactly `after`.
pub fn late_adjustment(before: &Invoice, after: &Invoice) -> Vec<InvoiceLine> {
    let mut lines = Vec::new();
    for line in &after.lines {
        let earlier = before.lines.iter().find(|l| l.price_id == line.price_id);
        let (quantity, amount) = earlier.map_or((0, 0), |e| (e.quantity, e.amount));
        if line.quantity == quantity && line.amount == amount {
            continue;
        }
        lines.push(InvoiceLine {
            quantity: line.quantity.saturating_sub(quantity),
            amount: line.amount - amount,
            detail: format!(
                "late usage for {}: {} (was {} {}, {}), now {}",
                after.month, line.detail, quantity, line.unit, amount, line.amount
            ),
            ..line.clone()
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_know_their_length() {
        let november = BillingMonth::parse("2026-11").unwrap();
        assert_eq!(november.days(), 30);
        assert_eq!(november.to_string(), "2026-11");
        assert_eq!(BillingMonth::parse("2028-02").unwrap().days(), 29);
        assert_eq!(BillingMonth::parse("2026-13"), None);
        assert_eq!(BillingMonth::parse("26-11"), None);
    }

    #[test]
    fn overage_counts_started_blocks() {
        assert_eq!(
            overage_charge(5, 61_000, Amount::Finite(50_000), 1000),
            Some(55)
        );
        assert_eq!(
            overage_charge(5, 50_001, Amount::Finite(50_000), 1000),
            Some(5)
        );
        assert_eq!(
            overage_charge(5, 50_000, Amount::Finite(50_000), 1000),
            Some(0)
        );
        assert_eq!(
            overage_charge(5, 9_999_999, Amount::Unlimited, 1000),
            Some(0)
        );
    }
}
