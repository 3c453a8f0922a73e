//! Invoices: gathering a month's quantities from the store and rating them with the
//! core's `rate`. An invoice is per subscription and calendar month (UTC).
//!
//! Issuing a month claims, in one store transaction, every event of the subscription
//! that occurred before the month's end and no invoice has claimed yet. Events that
//! arrive later for a claimed month stay unclaimed until the next invoice, which shows
//! them as late usage: the earlier month rated with them, minus the month as it was
//! invoiced (cumulative rounding makes the two parts add up to the whole). So no event
//! is lost and none is billed twice, however late it arrives.

use crate::error::ApiError;
use crate::issuance::bought;
use crate::state::AppState;
use licet_client::wire::{InvoiceLineView, InvoiceView, LateUsageView};
use licet_core::catalog::Catalog;
use licet_core::ids::MeterId;
use licet_core::rating::{self, BillingMonth, Invoice, InvoiceLine, MeterUsage, RatingInput};
use licet_store::{Booking, Subscription};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Parses a `YYYY-MM` period from a request.
pub fn parse_period(text: &str) -> Result<BillingMonth, ApiError> {
    BillingMonth::parse(text).ok_or_else(|| {
        ApiError::InvalidRequest(format!(
            "`period` {text:?} is not a month; write it as YYYY-MM, e.g. 2026-11"
        ))
    })
}

/// A month's bounds, or an error for a month past the calendar.
pub fn bounds(month: BillingMonth) -> Result<(OffsetDateTime, OffsetDateTime), ApiError> {
    month
        .bounds()
        .ok_or_else(|| ApiError::InvalidRequest(format!("`period` {month} is out of range")))
}

/// Rates one month of a subscription, counting the usage `booking` selects.
async fn rate_month(
    state: &AppState,
    catalog: &Catalog,
    subscription: &Subscription,
    month: BillingMonth,
    booking: &Booking,
) -> Result<Invoice, ApiError> {
    let (from, to) = bounds(month)?;
    let quantities = state
        .store
        .rating_quantities(&subscription.id, from, to, booking)
        .await?;
    let devices = state
        .store
        .count_devices_active(&subscription.id, from, to)
        .await?;
    let usage: BTreeMap<MeterId, MeterUsage> = quantities
        .meters
        .iter()
        .map(|(meter, &(quantity, cost))| {
            (
                MeterId::new(meter),
                MeterUsage {
                    quantity,
                    pass_through_minor: cost,
                },
            )
        })
        .collect();
    let bought = bought(subscription);
    rating::rate(&RatingInput {
        catalog,
        subscription: &bought,
        month,
        subscribed_on: subscription.created_at.date(),
        cameras_per_day: &quantities.cameras_per_day,
        assigned_per_day: &quantities.assigned_per_day,
        devices,
        // No catalog sells a plan by the seat; add-on seats are the add-on's quantity.
        seats: 0,
        usage: &usage,
    })
    .map_err(|e| ApiError::internal(format!("rating {} for {month}: {e}", subscription.id)))
}

fn line_view(line: InvoiceLine) -> InvoiceLineView {
    InvoiceLineView {
        price_id: line.price_id,
        description: line.description,
        quantity: line.quantity,
        unit: line.unit,
        unit_amount: line.unit_amount,
        amount: line.amount,
        detail: line.detail,
    }
}

/// A subscription's invoice for `month`: issued (counting what that invoice claimed)
/// when `issued_at` is given, else a preview (counting what no invoice has claimed).
pub async fn invoice(
    state: &AppState,
    subscription: &Subscription,
    month: BillingMonth,
    issued_at: Option<OffsetDateTime>,
) -> Result<InvoiceView, ApiError> {
    let catalog = state.catalog(&subscription.product).await?;
    let period = month.to_string();
    let (own, late, invoiced_before) = match issued_at {
        Some(_) => (
            Booking::ClaimedThrough(period.clone()),
            Booking::ClaimedIn(period.clone()),
            Booking::ClaimedBefore(period.clone()),
        ),
        None => (
            Booking::Any,
            Booking::Unclaimed,
            Booking::ClaimedBefore(period.clone()),
        ),
    };
    let regular = rate_month(state, &catalog, subscription, month, &own).await?;
    let (start, _) = bounds(month)?;
    let mut late_usage = Vec::new();
    if let Some(earliest) = state
        .store
        .earliest_usage(&subscription.id, start, &late)
        .await?
    {
        let mut earlier = BillingMonth::containing(earliest);
        while earlier < month {
            let with_late = match issued_at {
                Some(_) => own.clone(),
                None => Booking::Any,
            };
            let after = rate_month(state, &catalog, subscription, earlier, &with_late).await?;
            let before =
                rate_month(state, &catalog, subscription, earlier, &invoiced_before).await?;
            let lines = rating::late_adjustment(&before, &after);
            if !lines.is_empty() {
                late_usage.push(LateUsageView {
                    period: earlier.to_string(),
                    lines: lines.into_iter().map(line_view).collect(),
                });
            }
            earlier = earlier.next();
        }
    }
    let total = regular.total
        + late_usage
            .iter()
            .flat_map(|l| &l.lines)
            .map(|l| l.amount)
            .sum::<i64>();
    Ok(InvoiceView {
        subscription_id: subscription.id.to_string(),
        product_id: subscription.product.to_string(),
        period,
        status: if issued_at.is_some() {
            "issued"
        } else {
            "preview"
        }
        .into(),
        issued_at: issued_at.map(licet_core::time_text),
        lines: regular.lines.into_iter().map(line_view).collect(),
        late_usage,
        currency: catalog.spec().currency.clone(),
        total,
    })
}
