//! Checking incoming usage against the catalog, whichever route it came by (agents,
//! CloudEvents, BrinkByte's batch), and finding the subscription a back-end's event
//! bills. A refusal is a sentence naming what was wrong, reported per event; it never
//! refuses the rest of the batch. Storage and deduplication are the store's.

use crate::error::ApiError;
use crate::state::AppState;
use licet_core::amount::{MAX_WIRE_INTEGER, wire_quantity, wire_signed};
use licet_core::catalog::Catalog;
use licet_core::ids::{MeterId, TenantId};
use licet_store::{Subscription, SubscriptionStatus};
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The meter the agent records by itself, one per camera and UTC day.
pub const CAMERA_DAY: &str = "camera_day";

/// How far ahead of the server's clock an event's time may be.
const FUTURE_SLACK: time::Duration = time::Duration::hours(24);

/// A checked event's measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// Units.
    pub quantity: u64,
    /// When it happened, UTC.
    pub occurred_at: OffsetDateTime,
    /// For a pass-through meter, the reported cost in minor units.
    pub cost_minor: Option<i64>,
}

/// What an event says, as sent.
pub struct Incoming<'a> {
    /// The meter named.
    pub meter: &'a str,
    /// The quantity, as sent.
    pub quantity: &'a serde_json::Value,
    /// The time, as sent; the receive time when absent.
    pub time: Option<&'a str>,
    /// The cost, as sent.
    pub cost_minor: Option<&'a serde_json::Value>,
    /// The attributes, as sent.
    pub attributes: Option<&'a serde_json::Value>,
}

/// Whether `meter` is one the agent records by itself in `catalog`: `camera_day`, or
/// `camera_day.<addon>` for one of its add-ons (the cameras a growth pack is assigned).
fn agent_recorded(catalog: &Catalog, meter: &str) -> bool {
    meter == CAMERA_DAY
        || licet_core::rating::pack_day_addon(meter).is_some_and(|addon| {
            catalog
                .spec()
                .addons
                .contains_key(&licet_core::ids::AddonId::new(addon))
        })
}

/// Checks one event against the catalog that bills it.
pub fn check(
    catalog: &Catalog,
    event: &Incoming<'_>,
    now: OffsetDateTime,
) -> Result<Measured, String> {
    let meter = MeterId::new(event.meter);
    let known = catalog.spec().meters.contains_key(&meter);
    if !known && !agent_recorded(catalog, event.meter) {
        let names: Vec<String> = catalog
            .spec()
            .meters
            .keys()
            .map(ToString::to_string)
            .collect();
        return Err(format!(
            "unknown meter {:?}: the {} catalog meters {}",
            event.meter,
            catalog.product(),
            names.join(", ")
        ));
    }
    let quantity = wire_quantity(event.quantity)?;
    let occurred_at = match event.time {
        None => now,
        Some(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| format!("time {text:?} is not RFC 3339 ({e})"))?
            .to_offset(time::UtcOffset::UTC),
    };
    if occurred_at - now > FUTURE_SLACK {
        return Err(format!(
            "time {} is more than 24 h ahead of the server's clock",
            licet_core::time_text(occurred_at)
        ));
    }
    if event.attributes.is_some_and(|a| !a.is_object()) {
        return Err("attributes must be an object".into());
    }
    let pass_through = catalog
        .spec()
        .prices
        .iter()
        .any(|p| p.pass_through && p.meter.as_ref() == Some(&meter));
    let cost_minor = match event.cost_minor {
        None if pass_through => {
            return Err(format!(
                "{} is billed at cost: give its cost in minor units as `cost_minor`",
                event.meter
            ));
        }
        None => None,
        Some(cost) => Some(wire_signed(cost).map_err(|e| format!("cost_minor {e} (minor units)"))?),
    };
    Ok(Measured {
        quantity,
        occurred_at,
        cost_minor,
    })
}

/// How old an event may be when it arrives: two months. Older usage would land on an
/// invoice more than a month after its own, and the usage detail of a month may be
/// gone by then (see retention); the agent keeps usage until the server takes it, and a
/// device offline for longer than its license's grace could not have used it anyway.
pub const LATE_EVENT_WINDOW: time::Duration = time::Duration::days(62);

/// Refuses an event dated before the UTC day its subscription began (nothing could
/// have been used under it then; the day itself counts whole, as a camera-day is dated
/// at the start of its day) or older than [`LATE_EVENT_WINDOW`].
pub fn within_term(
    subscription: &Subscription,
    occurred_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), String> {
    let first_day = subscription
        .created_at
        .to_offset(time::UtcOffset::UTC)
        .replace_time(time::Time::MIDNIGHT);
    if occurred_at < first_day {
        return Err(format!(
            "time {} is before subscription {} began ({}): usage before it is not billed under it",
            licet_core::time_text(occurred_at),
            subscription.id,
            licet_core::time_text(subscription.created_at)
        ));
    }
    if now - occurred_at > LATE_EVENT_WINDOW {
        return Err(format!(
            "time {} is more than {} days before the server's clock: usage is accepted up to {} days late",
            licet_core::time_text(occurred_at),
            LATE_EVENT_WINDOW.whole_days(),
            LATE_EVENT_WINDOW.whole_days()
        ));
    }
    Ok(())
}

/// Refuses a whole batch with 400 when any event carries a number out of range (a
/// quantity that is negative, fractional or above 2^53 − 1, or such a cost): that is a
/// broken client or an attack, not one bad event among good ones. Quantities that are
/// not numbers at all are refused per event, by [`check`].
pub fn refuse_out_of_range<'a>(
    numbers: impl IntoIterator<Item = (usize, &'static str, Option<&'a serde_json::Value>)>,
) -> Result<(), ApiError> {
    for (index, field, value) in numbers {
        let Some(value @ serde_json::Value::Number(_)) = value else {
            continue;
        };
        let fits = if field == "quantity" {
            wire_quantity(value).is_ok()
        } else {
            wire_signed(value).is_ok()
        };
        if !fits {
            return Err(ApiError::InvalidRequest(format!(
                "event {index}: `{field}` {value} is out of range: quantities are whole numbers \
                 from 0 to {MAX_WIRE_INTEGER}, costs from -{MAX_WIRE_INTEGER} to {MAX_WIRE_INTEGER}; \
                 nothing in this batch was stored"
            )));
        }
    }
    Ok(())
}

/// A tenant's subscriptions with their catalogs, for routing back-end events to the
/// subscription whose catalog has the meter.
pub struct Billing {
    subscriptions: Vec<(Subscription, Arc<Catalog>)>,
}

impl Billing {
    /// Loads the tenant's subscriptions that are not cancelled.
    pub async fn load(state: &AppState, tenant: &TenantId) -> Result<Billing, ApiError> {
        let mut subscriptions = Vec::new();
        for subscription in state.store.list_subscriptions(tenant).await? {
            if subscription.status == SubscriptionStatus::Cancelled {
                continue;
            }
            let catalog = state.catalog(&subscription.product).await?;
            subscriptions.push((subscription, catalog));
        }
        Ok(Billing { subscriptions })
    }

    /// The subscription billing `meter`, or why there is none (or more than one and
    /// `chosen` does not say which).
    pub fn route(
        &self,
        meter: &str,
        chosen: Option<&str>,
    ) -> Result<(&Subscription, &Catalog), String> {
        let id = MeterId::new(meter);
        let mut candidates: Vec<_> = self
            .subscriptions
            .iter()
            .filter(|(s, c)| {
                chosen.is_none_or(|chosen| s.id.as_str() == chosen)
                    && (agent_recorded(c, meter) || c.spec().meters.contains_key(&id))
            })
            .collect();
        // Of several, the one active subscription takes it (the others are suspended):
        // only several active ones are really ambiguous.
        if candidates.len() > 1 {
            let active: Vec<_> = candidates
                .iter()
                .copied()
                .filter(|(s, _)| s.status == SubscriptionStatus::Active)
                .collect();
            if active.len() == 1 {
                candidates = active;
            }
        }
        match candidates.as_slice() {
            [(subscription, catalog)] => Ok((subscription, catalog)),
            [] if chosen.is_some() => Err(format!(
                "subscription {:?} is not this tenant's active subscription metering {meter:?}",
                chosen.unwrap_or_default()
            )),
            [] => {
                let products: Vec<String> = self
                    .subscriptions
                    .iter()
                    .map(|(s, _)| s.product.to_string())
                    .collect();
                Err(format!(
                    "unknown meter {meter:?}: no active subscription of this tenant meters it (products: {})",
                    if products.is_empty() {
                        "none".into()
                    } else {
                        products.join(", ")
                    }
                ))
            }
            several => Err(format!(
                "meter {meter:?} is in several subscriptions ({}); name one as the subscription",
                several
                    .iter()
                    .map(|(s, _)| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}
