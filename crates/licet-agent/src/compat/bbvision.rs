//! bbVision's billing pages beyond the license: the subscription, the growth packs the
//! product sells, and the period's usage, answered by the device from its license, its
//! product's signed catalog, its cameras and the usage it recorded. The tenant in the
//! path is bbVision's placeholder; the device serves the one tenant its license names.

use super::asked_tenant;
use crate::agent::Current;
use crate::api::ApiState;
use crate::error::{ApiError, Id, Query};
use axum::Json;
use axum::extract::State;
use licet_client::agent::bbvision::{
    AvailablePacks, BillingUsage, GrowthPackInfo, SubscribedPack, SubscriptionInfo,
};
use licet_client::wire::ErrorBody;
use licet_core::catalog::{Catalog, Interval, PriceBasis};
use licet_core::state::LicenseState;

/// The monthly list price (minor units) of `quantity` of an add-on, or of the plan
/// when `addon` is `None`, for `cameras` cameras.
fn monthly(catalog: &Catalog, plan: &str, addon: Option<&str>, quantity: u64, cameras: u64) -> i64 {
    catalog
        .spec()
        .prices
        .iter()
        .filter(|p| p.interval == Some(Interval::Month))
        .filter(|p| match addon {
            Some(addon) => p.addon.as_ref().is_some_and(|a| a.as_str() == addon),
            None => p.addon.is_none() && p.plan.as_ref().is_some_and(|p| p.as_str() == plan),
        })
        .map(|p| {
            let units = match p.per {
                Some(PriceBasis::Camera) if addon.is_some() => quantity.min(cameras),
                Some(PriceBasis::Camera) => cameras,
                Some(PriceBasis::Seat) => quantity.saturating_sub(p.included_quantity),
                Some(PriceBasis::Unit) => quantity,
                Some(PriceBasis::Device | PriceBasis::Tenant) | None => 1,
            };
            p.amount
                .saturating_mul(i64::try_from(units).unwrap_or(i64::MAX))
        })
        .fold(0i64, i64::saturating_add)
}

fn major(minor: i64) -> f64 {
    minor as f64 / 100.0
}

/// bbVision's pack categories, by what a pack's features are about.
fn category(features: &[String]) -> &'static str {
    let about = |prefix: &str| features.iter().any(|f| f.starts_with(prefix));
    if about("intelligence.") {
        "intelligence"
    } else if about("analytics.") || about("industry.") {
        "analytics"
    } else if about("storage.") || about("export.") {
        "data"
    } else {
        "integration"
    }
}

/// The signed catalog of the licensed product, when the device holds it.
fn catalog_of(
    s: &ApiState,
    current: &Current,
) -> Option<std::sync::Arc<licet_core::product_document::SignedCatalog>> {
    let signed = s.agent.signed_catalog()?;
    let fits = current
        .license
        .as_ref()
        .is_none_or(|l| &l.product == signed.catalog().product());
    fits.then_some(signed)
}

/// bbVision `GET /api/v1/billing/subscription/{tenant_id}` (its `SubscriptionInfo`).
#[utoipa::path(get, path = "/api/v1/billing/subscription/{tenant_id}", tag = "compatibility", params(("tenant_id" = String, Path)), responses((status = 200, body = SubscriptionInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn bbvision_subscription(
    State(s): State<ApiState>,
    Id(tenant_id): Id<String>,
) -> Result<Json<SubscriptionInfo>, ApiError> {
    asked_tenant(&tenant_id)?;
    let current = s.agent.current();
    let Some(license) = current.license.as_ref() else {
        return Err(ApiError::NotFound(
            "this device has no license, so no subscription: activate it first".into(),
        ));
    };
    let cameras = u64::try_from(s.agent.cameras()?.len()).unwrap_or(u64::MAX);
    let catalog = catalog_of(&s, &current);
    let plan = license.plan.as_str();
    let enabled_at = licet_core::time_text(
        license
            .trial
            .as_ref()
            .map_or(license.issued_at, |t| t.started_at),
    );
    let growth_packs: Vec<SubscribedPack> = license
        .addons
        .iter()
        .map(|addon| {
            let id = addon.id.as_str();
            let (name, price) = catalog.as_ref().map_or((id.to_owned(), 0), |c| {
                let name = c
                    .catalog()
                    .spec()
                    .addons
                    .get(id)
                    .map_or_else(|| id.to_owned(), |a| a.name.clone());
                (
                    name,
                    monthly(c.catalog(), plan, Some(id), addon.quantity, cameras),
                )
            });
            SubscribedPack {
                pack_id: id.to_owned(),
                pack_name: name,
                enabled_at: enabled_at.clone(),
                price_monthly: major(price),
            }
        })
        .collect();
    let base = catalog
        .as_ref()
        .map_or(0, |c| monthly(c.catalog(), plan, None, 1, cameras));
    let packs: i64 = license
        .addons
        .iter()
        .map(|a| {
            catalog.as_ref().map_or(0, |c| {
                monthly(c.catalog(), plan, Some(a.id.as_str()), a.quantity, cameras)
            })
        })
        .fold(0, i64::saturating_add);
    let now = current.report.effective_now;
    let next_month = if now.month() == time::Month::December {
        time::Date::from_calendar_date(now.year() + 1, time::Month::January, 1)
    } else {
        time::Date::from_calendar_date(now.year(), now.month().next(), 1)
    }
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(SubscriptionInfo {
        // The server's subscription id, which the license carries; a license issued
        // offline without one is named by its own id.
        subscription_id: license
            .subscription
            .clone()
            .unwrap_or_else(|| license.license_id.to_string()),
        tenant_id: license.tenant.to_string(),
        plan: if license.trial.is_some() {
            "trial"
        } else {
            "base"
        }
        .to_owned(),
        status: match current.report.state {
            LicenseState::Expired => "expired",
            LicenseState::Revoked | LicenseState::Suspended => "cancelled",
            _ => "active",
        }
        .to_owned(),
        cameras_licensed: cameras,
        growth_packs,
        billing_cycle: "monthly".to_owned(),
        next_billing_date: next_month.to_string(),
        total_monthly_cost: major(base.saturating_add(packs)),
    }))
}

/// bbVision `GET /api/v1/billing/growth-packs/available`: every pack the product sells
/// (from its signed catalog), and whether the license holds it.
#[utoipa::path(get, path = "/api/v1/billing/growth-packs/available", tag = "compatibility", responses((status = 200, body = AvailablePacks), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn bbvision_available_packs(State(s): State<ApiState>) -> Json<AvailablePacks> {
    let current = s.agent.current();
    let Some(signed) = catalog_of(&s, &current) else {
        return Json(AvailablePacks { packs: Vec::new() });
    };
    let catalog = signed.catalog();
    let plan = current
        .license
        .as_ref()
        .map_or("", |l| l.plan.as_str())
        .to_owned();
    let packs = catalog
        .spec()
        .addons
        .iter()
        .map(|(id, addon)| {
            let features: Vec<String> = addon.features.iter().map(ToString::to_string).collect();
            GrowthPackInfo {
                pack_id: id.to_string(),
                pack_name: addon.name.clone(),
                description: if features.is_empty() {
                    addon.name.clone()
                } else {
                    format!("{}: {}", addon.name, features.join(", "))
                },
                category: category(&features).to_owned(),
                price_monthly: major(monthly(catalog, &plan, Some(id.as_str()), 1, 1)),
                is_enabled: current
                    .license
                    .as_ref()
                    .is_some_and(|l| l.addons.iter().any(|a| &a.id == id)),
                features,
            }
        })
        .collect();
    Json(AvailablePacks { packs })
}

/// `?start=&end=` of bbVision's usage request (`YYYY-MM-DD`, or a time whose date counts).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct UsagePeriod {
    /// First day (default: the first of this month).
    pub start: Option<String>,
    /// Last day (default: today).
    pub end: Option<String>,
}

fn day(text: &str, name: &str) -> Result<time::Date, ApiError> {
    let date = text.get(..10).unwrap_or(text);
    time::Date::parse(date, &time::format_description::well_known::Iso8601::DATE).map_err(|_| {
        ApiError::InvalidRequest(format!("`{name}` {text:?} is not a date; give YYYY-MM-DD"))
    })
}

/// bbVision `GET /api/v1/billing/usage/{tenant_id}`: the usage this device recorded in
/// the period, by meter (kept per day after upload; the server's invoice is the bill).
#[utoipa::path(get, path = "/api/v1/billing/usage/{tenant_id}", tag = "compatibility", params(("tenant_id" = String, Path), UsagePeriod), responses((status = 200, body = BillingUsage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn bbvision_usage(
    State(s): State<ApiState>,
    Id(tenant_id): Id<String>,
    Query(period): Query<UsagePeriod>,
) -> Result<Json<BillingUsage>, ApiError> {
    asked_tenant(&tenant_id)?;
    let current = s.agent.current();
    let today = current.report.effective_now.date();
    let start = match &period.start {
        Some(text) => day(text, "start")?,
        None => today
            .replace_day(1)
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    };
    let end = match &period.end {
        Some(text) => day(text, "end")?,
        None => today,
    };
    if end < start {
        return Err(ApiError::InvalidRequest(format!(
            "`end` {end} is before `start` {start}"
        )));
    }
    let totals = s.agent.usage_days(start, end)?;
    let total = |kind: &str| totals.get(kind).copied().unwrap_or(0);
    Ok(Json(BillingUsage {
        tenant_id: current
            .license
            .as_ref()
            .map_or(tenant_id, |l| l.tenant.to_string()),
        period_start: start.to_string(),
        period_end: end.to_string(),
        api_calls: total("api_call"),
        llm_tokens_used: total("llm_tokens"),
        storage_gb_days: total("storage_gb_days"),
        sms_sent: total("sms_sent"),
        agent_executions: total("agent_execution"),
    }))
}
