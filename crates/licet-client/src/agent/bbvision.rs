//! What BrinkByte's web app (bbVision) reads from `/api/v1/billing/…` besides the
//! license: its `SubscriptionInfo`, `GrowthPackInfo` and `UsageSummary` models, field
//! for field. Money is in the currency's major unit, as bbVision shows it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/v1/billing/subscription/{tenant_id}` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionInfo {
    /// The license the device holds (a device knows its license, not the server's
    /// subscription record).
    pub subscription_id: String,
    /// The tenant the license names.
    pub tenant_id: String,
    /// `trial` or `base`.
    pub plan: String,
    /// `active`, `expired` or `cancelled`.
    pub status: String,
    /// Cameras registered on the device (the base license is priced per camera).
    pub cameras_licensed: u64,
    /// The growth packs of the license.
    pub growth_packs: Vec<SubscribedPack>,
    /// Always `monthly`.
    pub billing_cycle: String,
    /// The first day of next month (UTC), when the month is invoiced.
    pub next_billing_date: String,
    /// The catalog's monthly list prices for what the device holds.
    pub total_monthly_cost: f64,
}

/// A growth pack of the subscription.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubscribedPack {
    /// Add-on id.
    pub pack_id: String,
    /// Its name in the catalog.
    pub pack_name: String,
    /// When the license granting it began (the trial's start, or its issue).
    pub enabled_at: String,
    /// Monthly list price for the quantity held.
    pub price_monthly: f64,
}

/// `GET /api/v1/billing/growth-packs/available` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AvailablePacks {
    /// Every growth pack of the product's catalog.
    pub packs: Vec<GrowthPackInfo>,
}

/// A growth pack of the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GrowthPackInfo {
    /// Add-on id.
    pub pack_id: String,
    /// Name.
    pub pack_name: String,
    /// What it is, for people.
    pub description: String,
    /// `analytics`, `intelligence`, `data` or `integration`.
    pub category: String,
    /// Monthly list price of one unit (0 when priced per contract).
    pub price_monthly: f64,
    /// The features it grants.
    pub features: Vec<String>,
    /// Whether the license holds it.
    pub is_enabled: bool,
}

/// `GET /api/v1/billing/usage/{tenant_id}` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BillingUsage {
    /// The tenant the license names.
    pub tenant_id: String,
    /// First day counted (UTC, `YYYY-MM-DD`).
    pub period_start: String,
    /// Last day counted.
    pub period_end: String,
    /// `api_call` recorded on this device.
    pub api_calls: u64,
    /// `llm_tokens` recorded.
    pub llm_tokens_used: u64,
    /// `storage_gb_days` recorded.
    pub storage_gb_days: u64,
    /// `sms_sent` recorded.
    pub sms_sent: u64,
    /// `agent_execution` recorded.
    pub agent_executions: u64,
}
