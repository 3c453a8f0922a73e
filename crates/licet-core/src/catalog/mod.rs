//! The catalog: one product's features, modules, plans, add-ons, prices and degradation
//! policy, as written by the vendor in TOML.
//!
//! This module owns the file format and its validation. A [`Catalog`] value exists only
//! after every rule in [`validate`] passed, so the rest of the core can index into it
//! without re-checking references. Resolving a subscription into entitlements lives in
//! [`crate::resolve`]; pricing usage lives with rating.

mod validate;
mod windows;

pub use validate::{CatalogErrors, Problem};
pub use windows::{Overage, Period, RateWindow};

use crate::amount::LimitValue;
use crate::ids::{AddonId, FeatureKey, MeterId, ModuleId, PlanId, ProductId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The catalog file format version this build understands.
pub const SCHEMA_VERSION: u32 = 1;

/// A validated catalog. Construct with [`Catalog::from_toml`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Catalog {
    spec: CatalogSpec,
}

impl Catalog {
    /// Parses and validates a catalog. `source` names the file in every problem reported.
    ///
    /// All problems are collected and returned together, so a vendor fixes a catalog in
    /// one pass instead of one error per run.
    pub fn from_toml(text: &str, source: &str) -> Result<Catalog, CatalogErrors> {
        validate::load(text, source).map(|spec| Catalog { spec })
    }

    /// The catalog as written.
    pub fn spec(&self) -> &CatalogSpec {
        &self.spec
    }

    /// The product this catalog describes.
    pub fn product(&self) -> &ProductId {
        &self.spec.product
    }

    /// The catalog's version string; a license names the version it was issued from.
    pub fn version(&self) -> &str {
        &self.spec.version
    }

    /// A plan by id.
    pub fn plan(&self, id: &str) -> Option<&PlanSpec> {
        self.spec.plans.get(id)
    }

    /// The chain of plans from the root ancestor down to `id` (cumulative tiers).
    ///
    /// Validation guarantees that `extends` names a known plan and has no cycle.
    pub fn plan_chain(&self, id: &str) -> Vec<(&PlanId, &PlanSpec)> {
        let mut chain = Vec::new();
        let mut next = self.spec.plans.get_key_value(id);
        while let Some((plan_id, plan)) = next {
            if chain.iter().any(|(seen, _)| *seen == plan_id) {
                break;
            }
            chain.push((plan_id, plan));
            next = plan
                .extends
                .as_ref()
                .and_then(|parent| self.spec.plans.get_key_value(parent.as_str()));
        }
        chain.reverse();
        chain
    }
}

/// The whole catalog file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogSpec {
    /// File format version; must be [`SCHEMA_VERSION`].
    pub schema: u32,
    /// The product id, e.g. `gate-control`.
    pub product: ProductId,
    /// Human name of the product.
    pub name: String,
    /// The catalog's version (any non-empty string, e.g. `2026.11.1`).
    pub version: String,
    /// ISO 4217 currency code for every price in the file.
    pub currency: String,
    /// Default lease and term for every plan.
    #[serde(default)]
    pub lease: LeaseSpec,
    /// Every feature the product knows, by key.
    #[serde(default)]
    pub features: BTreeMap<FeatureKey, FeatureSpec>,
    /// Deployable modules.
    #[serde(default)]
    pub modules: BTreeMap<ModuleId, ModuleSpec>,
    /// Plans (tiers).
    #[serde(default)]
    pub plans: BTreeMap<PlanId, PlanSpec>,
    /// Add-ons and growth packs.
    #[serde(default)]
    pub addons: BTreeMap<AddonId, AddonSpec>,
    /// Named sets of object classes.
    #[serde(default)]
    pub class_sets: BTreeMap<String, ClassSetSpec>,
    /// Component types (per kind) and the feature each needs.
    #[serde(default)]
    pub components: BTreeMap<ComponentKind, BTreeMap<String, FeatureKey>>,
    /// Usage meters (event types) accepted for this product.
    #[serde(default)]
    pub meters: BTreeMap<MeterId, MeterSpec>,
    /// Prices; each names exactly one plan, add-on or meter.
    #[serde(default)]
    pub prices: Vec<PriceSpec>,
    /// What stays on in each license state short of fully active.
    #[serde(default)]
    pub degradation: DegradationSpec,
    /// Other names of features, as a product's own code asks for them (BrinkByte's
    /// `outputs.sms` is `alerts.sms`): a check by an alias answers for its feature.
    #[serde(default)]
    pub aliases: BTreeMap<String, FeatureKey>,
}

/// The kind of a feature, which decides the shape of its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// On or off.
    Boolean,
    /// A maximum count (cameras, users, retention days).
    Limit,
    /// An allowance consumed over a period (API calls per month).
    Quota,
    /// A configuration value carried in the license.
    Config,
}

/// One feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Boolean, limit, quota or config.
    pub kind: FeatureKind,
    /// Always available, with or without a license.
    #[serde(default)]
    pub core: bool,
    /// What the feature is, for humans.
    #[serde(default)]
    pub description: String,
    /// Unit of a limit or quota (`cameras`, `calls`, `tokens`).
    #[serde(default)]
    pub unit: Option<String>,
    /// Period of a quota.
    #[serde(default)]
    pub period: Option<Period>,
    /// What happens past a quota's allowance.
    #[serde(default)]
    pub overage: Option<Overage>,
    /// For a limit that is a rate (requests per window): the window. The server's
    /// rate-limit decisions enforce it per subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateWindow>,
    /// Value of a limit when no plan sets it (default 0), or of a config feature.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
}

/// One deployable module.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleSpec {
    /// What the module does, for humans.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Modules that must run first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends: Vec<ModuleId>,
    /// Resident memory the module needs, in MiB.
    #[serde(default)]
    pub ram_mb: u64,
    /// GPU memory the module needs, in MiB.
    #[serde(default)]
    pub gpu_mb: u64,
    /// Fewest cameras on the device for the module to make sense.
    #[serde(default)]
    pub min_cameras: u32,
    /// Configuration keys that must be set on the device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires_config: Vec<String>,
    /// Model file the module loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_file: Option<String>,
    /// docker compose profile that starts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_profile: Option<String>,
    /// docker compose service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_service: Option<String>,
    /// Features that become available when the module is enabled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provides: Vec<FeatureKey>,
}

/// Lease and term defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseSpec {
    /// Hours after issue at which the agent should refresh.
    #[serde(default = "LeaseSpec::default_refresh_hours")]
    pub refresh_hours: u32,
    /// Hours after the last successful refresh before the license degrades.
    #[serde(default = "LeaseSpec::default_grace_hours")]
    pub grace_hours: u32,
    /// Length of a paid term in days when the issuer does not say otherwise.
    #[serde(default = "LeaseSpec::default_term_days")]
    pub term_days: u32,
}

impl LeaseSpec {
    fn default_refresh_hours() -> u32 {
        1
    }
    fn default_grace_hours() -> u32 {
        72
    }
    fn default_term_days() -> u32 {
        365
    }
}

impl Default for LeaseSpec {
    fn default() -> Self {
        LeaseSpec {
            refresh_hours: Self::default_refresh_hours(),
            grace_hours: Self::default_grace_hours(),
            term_days: Self::default_term_days(),
        }
    }
}

/// Overrides of the lease for one plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseOverride {
    /// See [`LeaseSpec::refresh_hours`].
    #[serde(default)]
    pub refresh_hours: Option<u32>,
    /// See [`LeaseSpec::grace_hours`].
    #[serde(default)]
    pub grace_hours: Option<u32>,
    /// See [`LeaseSpec::term_days`].
    #[serde(default)]
    pub term_days: Option<u32>,
}

/// The entitlements a plan or add-on grants, borrowed from either, so both resolve alike.
#[derive(Clone, Copy, Debug)]
pub struct GrantsRef<'a> {
    /// Boolean features turned on.
    pub features: &'a [FeatureKey],
    /// Limit values.
    pub limits: &'a BTreeMap<FeatureKey, LimitValue>,
    /// Quota allowances.
    pub quotas: &'a BTreeMap<FeatureKey, LimitValue>,
    /// Config values.
    pub config: &'a BTreeMap<FeatureKey, serde_json::Value>,
    /// Modules enabled.
    pub modules: &'a [ModuleId],
}

/// One plan (tier).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanSpec {
    /// Human name.
    #[serde(default)]
    pub name: String,
    /// The plan this one builds on; its grants are inherited and may be overridden.
    #[serde(default)]
    pub extends: Option<PlanId>,
    /// Boolean features turned on.
    #[serde(default)]
    pub features: Vec<FeatureKey>,
    /// Limit values.
    #[serde(default)]
    pub limits: BTreeMap<FeatureKey, LimitValue>,
    /// Quota allowances per period.
    #[serde(default)]
    pub quotas: BTreeMap<FeatureKey, LimitValue>,
    /// Config values.
    #[serde(default)]
    pub config: BTreeMap<FeatureKey, serde_json::Value>,
    /// Modules enabled.
    #[serde(default)]
    pub modules: Vec<ModuleId>,
    /// The class set detections may use.
    #[serde(default)]
    pub classes: Option<String>,
    /// Classes used when a filter leaves none of the requested ones.
    #[serde(default)]
    pub default_classes: Vec<String>,
    /// Devices one subscription may activate (default 1, inherited).
    #[serde(default)]
    pub max_devices: Option<u32>,
    /// Lease overrides (inherited).
    #[serde(default)]
    pub lease: Option<LeaseOverride>,
    /// Trial settings, if this plan can be taken as a trial.
    #[serde(default)]
    pub trial: Option<TrialSpec>,
}

impl PlanSpec {
    /// What this plan itself grants (without its ancestors).
    pub fn grants(&self) -> GrantsRef<'_> {
        GrantsRef {
            features: &self.features,
            limits: &self.limits,
            quotas: &self.quotas,
            config: &self.config,
            modules: &self.modules,
        }
    }
}

/// How a trial of a plan differs from the plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrialSpec {
    /// Length of the trial in days.
    pub days: u32,
    /// Limits replacing the plan's during the trial.
    #[serde(default)]
    pub limits: BTreeMap<FeatureKey, LimitValue>,
    /// Quotas replacing the plan's during the trial.
    #[serde(default)]
    pub quotas: BTreeMap<FeatureKey, LimitValue>,
    /// Class set replacing the plan's during the trial.
    #[serde(default)]
    pub classes: Option<String>,
    /// Default classes during the trial.
    #[serde(default)]
    pub default_classes: Vec<String>,
    /// Features the plan grants that the trial does not.
    #[serde(default)]
    pub without: Vec<FeatureKey>,
    /// Modules the plan enables that the trial does not.
    #[serde(default)]
    pub without_modules: Vec<ModuleId>,
}

/// One add-on or growth pack.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AddonSpec {
    /// Human name.
    #[serde(default)]
    pub name: String,
    /// Boolean features turned on.
    #[serde(default)]
    pub features: Vec<FeatureKey>,
    /// Limit values, multiplied by the quantity and added to the plan's.
    #[serde(default)]
    pub limits: BTreeMap<FeatureKey, LimitValue>,
    /// Quota allowances per period, multiplied by the quantity and added to the plan's.
    #[serde(default)]
    pub quotas: BTreeMap<FeatureKey, LimitValue>,
    /// Config values.
    #[serde(default)]
    pub config: BTreeMap<FeatureKey, serde_json::Value>,
    /// Modules enabled.
    #[serde(default)]
    pub modules: Vec<ModuleId>,
    /// Plans it can be added to (empty: any plan). Descendants of a listed plan qualify.
    #[serde(default)]
    pub plans: Vec<PlanId>,
    /// Whether more than one can be bought.
    #[serde(default)]
    pub stackable: bool,
    /// Smallest quantity that can be bought (e.g. 5 seats).
    #[serde(default)]
    pub min_quantity: Option<u64>,
    /// What one unit of quantity counts (`camera`, `seat`, `device`).
    #[serde(default)]
    pub quantity_unit: Option<String>,
    /// Classes added to the plan's class set.
    #[serde(default)]
    pub classes: Option<String>,
}

impl AddonSpec {
    /// What one unit of this add-on grants.
    pub fn grants(&self) -> GrantsRef<'_> {
        GrantsRef {
            features: &self.features,
            limits: &self.limits,
            quotas: &self.quotas,
            config: &self.config,
            modules: &self.modules,
        }
    }
}

/// A named set of object classes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassSetSpec {
    /// What the set is for.
    #[serde(default)]
    pub description: String,
    /// The class names.
    pub classes: Vec<String>,
}

/// The kinds of pipeline component that can be gated by a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// Analytics stages (line zones, heatmaps).
    Processor,
    /// Where results are stored (database, file).
    Sink,
    /// Where alerts go (SMS, email, webhook).
    Output,
}

impl ComponentKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ComponentKind; 3] = [
        ComponentKind::Processor,
        ComponentKind::Sink,
        ComponentKind::Output,
    ];

    /// Parses `processor`, `sink` or `output`.
    pub fn parse(text: &str) -> Option<ComponentKind> {
        match text {
            "processor" => Some(ComponentKind::Processor),
            "sink" => Some(ComponentKind::Sink),
            "output" => Some(ComponentKind::Output),
            _ => None,
        }
    }

    /// The kind as written in catalogs and requests.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Processor => "processor",
            ComponentKind::Sink => "sink",
            ComponentKind::Output => "output",
        }
    }
}

/// A usage meter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterSpec {
    /// The unit one event's quantity counts.
    pub unit: String,
    /// The quota feature this meter consumes, if any.
    #[serde(default)]
    pub quota: Option<FeatureKey>,
    /// What is counted, for humans.
    #[serde(default)]
    pub description: String,
}

/// What a recurring price is counted per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceBasis {
    /// Per active camera, prorated by camera-days.
    Camera,
    /// Per device.
    Device,
    /// Once per tenant.
    Tenant,
    /// Per seat beyond the included ones.
    Seat,
    /// Per unit of an add-on's quantity (e.g. per VMS connector).
    Unit,
}

/// How often a fixed price is charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Every calendar month.
    Month,
    /// Every year.
    Year,
    /// Once, when first subscribed.
    Once,
}

/// One price. Amounts are integers in the currency's minor unit (cents): never floats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceSpec {
    /// Stable id, used as the invoice line's id.
    pub id: String,
    /// Invoice line text.
    #[serde(default)]
    pub description: String,
    /// The plan this price is for.
    #[serde(default)]
    pub plan: Option<PlanId>,
    /// The add-on this price is for.
    #[serde(default)]
    pub addon: Option<AddonId>,
    /// The meter this price is for.
    #[serde(default)]
    pub meter: Option<MeterId>,
    /// What a plan/add-on price counts.
    #[serde(default)]
    pub per: Option<PriceBasis>,
    /// How often a plan/add-on price is charged.
    #[serde(default)]
    pub interval: Option<Interval>,
    /// Price in minor units (per unit of `per`, or per `per_units` of overage).
    #[serde(default)]
    pub amount: i64,
    /// Units of `per` included for free (e.g. 5 seats).
    #[serde(default)]
    pub included_quantity: u64,
    /// Overage is charged `amount` per this many units beyond the allowance.
    #[serde(default)]
    pub per_units: Option<u64>,
    /// The event carries its own cost, billed as is.
    #[serde(default)]
    pub pass_through: bool,
}

/// What stays on in each license state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DegradationSpec {
    /// Refresh overdue, within grace. Default: everything licensed stays.
    #[serde(default)]
    pub stale: Option<StatePolicySpec>,
    /// Grace over. Default: core features only.
    #[serde(default)]
    pub degraded: Option<StatePolicySpec>,
    /// Term over. Default: core features only.
    #[serde(default)]
    pub expired: Option<StatePolicySpec>,
    /// The server revoked the license. Default: core features only.
    #[serde(default)]
    pub revoked: Option<StatePolicySpec>,
    /// The subscription is suspended. Default: core features only.
    #[serde(default)]
    pub suspended: Option<StatePolicySpec>,
    /// No valid license at all (never activated, or the stored one failed verification).
    #[serde(default)]
    pub unlicensed: Option<StatePolicySpec>,
}

/// What one state keeps. Core features are always kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatePolicySpec {
    /// Keep everything the license grants.
    #[serde(default)]
    pub keep_licensed: bool,
    /// Features kept beyond the core ones (if the license grants them, or in `unlicensed`).
    #[serde(default)]
    pub features: Vec<FeatureKey>,
    /// Modules kept running.
    #[serde(default)]
    pub modules: Vec<ModuleId>,
    /// Caps on limits in this state (and the limits used with no license).
    #[serde(default)]
    pub limits: BTreeMap<FeatureKey, LimitValue>,
}
