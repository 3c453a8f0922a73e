//! Resolving a subscription (plan, add-ons, trial, explicit modules) against a catalog
//! into the [`Entitlements`] a license carries.
//!
//! The order of precedence is fixed and documented here so that every product behaves
//! alike: plan chain root-first (a child tier overrides its parent's values) → explicit
//! module list (replaces the tiers' modules) → trial overrides → add-ons (features and
//! modules added, limits and quotas multiplied by quantity and added) → module
//! dependency closure → features provided by modules → core features.

use crate::amount::{Amount, LimitValue};
use crate::catalog::{
    Catalog, FeatureKind, FeatureSpec, LeaseSpec, Overage, Period, StatePolicySpec,
};
use crate::entitlements::{
    CameraPack, ClassRules, DegradationPolicy, Entitlements, Grant, MeterGrant, StatePolicy,
};
use crate::ids::{AddonId, FeatureKey, ModuleId, PlanId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What a customer bought, in catalog terms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subscription {
    /// The plan (tier).
    pub plan: PlanId,
    /// Add-ons with quantities.
    #[serde(default)]
    pub addons: Vec<AddonGrant>,
    /// Taken as the plan's trial.
    #[serde(default)]
    pub trial: bool,
    /// An explicit module list, replacing the modules the tiers enable.
    #[serde(default)]
    pub modules: Option<Vec<ModuleId>>,
}

impl Subscription {
    /// A plain subscription to one plan.
    pub fn plan(plan: impl Into<String>) -> Subscription {
        Subscription {
            plan: PlanId::new(plan),
            addons: Vec::new(),
            trial: false,
            modules: None,
        }
    }
}

/// One add-on and how many of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddonGrant {
    /// The add-on.
    pub id: AddonId,
    /// How many (cameras covered, seats, …).
    pub quantity: u64,
}

/// Why a subscription does not fit its catalog.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The plan is not in the catalog.
    #[error("unknown plan {plan:?}; the catalog has: {known}")]
    UnknownPlan {
        /// The plan asked for.
        plan: String,
        /// The plans the catalog has.
        known: String,
    },
    /// The add-on is not in the catalog.
    #[error("unknown add-on {addon:?}; the catalog has: {known}")]
    UnknownAddon {
        /// The add-on asked for.
        addon: String,
        /// The add-ons the catalog has.
        known: String,
    },
    /// The add-on cannot be bought with this plan.
    #[error("add-on {addon:?} is not available on plan {plan:?} (only on: {allowed})")]
    AddonNotForPlan {
        /// The add-on.
        addon: String,
        /// The plan.
        plan: String,
        /// The plans it can be added to.
        allowed: String,
    },
    /// The quantity is not allowed for the add-on.
    #[error("add-on {addon:?} cannot be bought {quantity} times: {why}")]
    BadQuantity {
        /// The add-on.
        addon: String,
        /// The quantity asked for.
        quantity: u64,
        /// What is allowed.
        why: String,
    },
    /// The same add-on was listed twice.
    #[error("add-on {addon:?} is listed twice; give one entry with the total quantity")]
    DuplicateAddon {
        /// The add-on.
        addon: String,
    },
    /// A trial was asked for a plan that offers none.
    #[error(
        "plan {plan:?} has no trial; remove the trial flag or pick a plan with [plans.<id>.trial]"
    )]
    NoTrial {
        /// The plan.
        plan: String,
    },
    /// An explicit module is not in the catalog.
    #[error("unknown module {module:?} in the explicit module list")]
    UnknownModule {
        /// The module.
        module: String,
    },
}

/// A subscription resolved against its catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    /// What the license will grant (shared: every license of the subscription carries
    /// the same, so an issuer may keep one resolution for many documents).
    pub entitlements: Arc<Entitlements>,
    /// What stays on in each degraded state.
    pub degradation: Arc<DegradationPolicy>,
    /// The lease and default term that apply to this plan.
    pub lease: LeaseSpec,
    /// The trial length in days, when taken as a trial.
    pub trial_days: Option<u32>,
}

impl Catalog {
    /// Resolves `subscription` into entitlements. Pure and deterministic.
    pub fn resolve(&self, subscription: &Subscription) -> Result<Resolution, ResolveError> {
        let spec = self.spec();
        let plan_id = subscription.plan.as_str();
        if self.plan(plan_id).is_none() {
            return Err(ResolveError::UnknownPlan {
                plan: plan_id.to_owned(),
                known: join(spec.plans.keys().map(PlanId::as_str)),
            });
        }
        let chain = self.plan_chain(plan_id);
        let mut acc = Accumulator::new();
        let mut class_set: Option<&str> = None;
        let mut default_classes: &[String] = &[];
        let mut max_devices = 1;
        let mut lease = spec.lease;
        let mut trial = None;
        for (_, plan) in &chain {
            acc.apply_plan(plan.grants());
            if let Some(set) = &plan.classes {
                class_set = Some(set);
            }
            if !plan.default_classes.is_empty() {
                default_classes = &plan.default_classes;
            }
            if let Some(devices) = plan.max_devices {
                max_devices = devices;
            }
            if let Some(over) = plan.lease {
                lease.refresh_hours = over.refresh_hours.unwrap_or(lease.refresh_hours);
                lease.grace_hours = over.grace_hours.unwrap_or(lease.grace_hours);
                lease.term_days = over.term_days.unwrap_or(lease.term_days);
            }
            if plan.trial.is_some() {
                trial = plan.trial.as_ref();
            }
        }

        if let Some(modules) = &subscription.modules {
            for module in modules {
                if !spec.modules.contains_key(module.as_str()) {
                    return Err(ResolveError::UnknownModule {
                        module: module.to_string(),
                    });
                }
            }
            acc.modules = modules.iter().cloned().collect();
        }

        let mut trial_days = None;
        let mut extra_classes: BTreeSet<String> = BTreeSet::new();
        if subscription.trial {
            let Some(trial) = trial else {
                return Err(ResolveError::NoTrial {
                    plan: plan_id.to_owned(),
                });
            };
            trial_days = Some(trial.days);
            acc.set_amounts(&trial.limits, Target::Limits);
            acc.set_amounts(&trial.quotas, Target::Quotas);
            if let Some(set) = &trial.classes {
                class_set = Some(set);
            }
            if !trial.default_classes.is_empty() {
                default_classes = &trial.default_classes;
            }
            for feature in &trial.without {
                acc.features.remove(feature);
                acc.removed.insert(feature.clone());
            }
            for module in &trial.without_modules {
                acc.modules.remove(module);
            }
        }

        let ancestors: BTreeSet<&str> = chain.iter().map(|(id, _)| id.as_str()).collect();
        // Packs bought per camera grant their features camera by camera; what the plan
        // or a device-wide add-on grants stays device-wide.
        let mut device_wide: BTreeSet<FeatureKey> = acc.features.keys().cloned().collect();
        let mut per_camera = Vec::new();
        let mut seen_addons = BTreeSet::new();
        for grant in &subscription.addons {
            let addon_id = grant.id.as_str();
            let Some(addon) = spec.addons.get(addon_id) else {
                return Err(ResolveError::UnknownAddon {
                    addon: addon_id.to_owned(),
                    known: join(spec.addons.keys().map(AddonId::as_str)),
                });
            };
            if !seen_addons.insert(addon_id) {
                return Err(ResolveError::DuplicateAddon {
                    addon: addon_id.to_owned(),
                });
            }
            if !addon.plans.is_empty()
                && !addon.plans.iter().any(|p| ancestors.contains(p.as_str()))
            {
                return Err(ResolveError::AddonNotForPlan {
                    addon: addon_id.to_owned(),
                    plan: plan_id.to_owned(),
                    allowed: join(addon.plans.iter().map(PlanId::as_str)),
                });
            }
            let minimum = addon.min_quantity.unwrap_or(1);
            if grant.quantity < minimum {
                return Err(ResolveError::BadQuantity {
                    addon: addon_id.to_owned(),
                    quantity: grant.quantity,
                    why: format!("the minimum is {minimum}"),
                });
            }
            if grant.quantity > 1 && !addon.stackable {
                return Err(ResolveError::BadQuantity {
                    addon: addon_id.to_owned(),
                    quantity: grant.quantity,
                    why: "it is not stackable; the quantity must be 1".into(),
                });
            }
            acc.apply_addon(addon.grants(), grant.quantity, addon.stackable);
            if addon.quantity_unit.as_deref() == Some("camera") {
                per_camera.push((grant.id.clone(), grant.quantity, &addon.features));
            } else {
                device_wide.extend(addon.features.iter().cloned());
            }
            if let Some(set) = addon
                .classes
                .as_deref()
                .and_then(|s| spec.class_sets.get(s))
            {
                extra_classes.extend(set.classes.iter().cloned());
            }
        }

        let modules = close_modules(self, &acc.modules);
        for module in modules.keys() {
            if let Some(module_spec) = spec.modules.get(module.as_str()) {
                for feature in &module_spec.provides {
                    if !acc.removed.contains(feature) {
                        acc.features.entry(feature.clone()).or_insert(None);
                    }
                }
            }
        }

        let classes = class_set
            .and_then(|set| spec.class_sets.get(set))
            .map(|set| {
                let mut allowed: BTreeSet<String> = set.classes.iter().cloned().collect();
                allowed.extend(extra_classes.iter().cloned());
                ClassRules {
                    allowed,
                    defaults: default_classes.to_vec(),
                }
            });

        let features = spec
            .features
            .iter()
            .map(|(key, feature)| (key.clone(), acc.grant(key, feature)))
            .collect();
        // Features a licensed module provides are device-wide too.
        for module in modules.keys() {
            if let Some(module_spec) = spec.modules.get(module.as_str()) {
                device_wide.extend(module_spec.provides.iter().cloned());
            }
        }
        let camera_packs = per_camera
            .into_iter()
            .map(|(id, cameras, granted)| {
                let features = granted
                    .iter()
                    .filter(|f| !device_wide.contains(*f))
                    .cloned()
                    .collect();
                (id, CameraPack { cameras, features })
            })
            .collect();

        Ok(Resolution {
            entitlements: Arc::new(Entitlements {
                features,
                modules,
                classes,
                components: spec.components.clone(),
                max_devices,
                meters: self.meter_grants(),
                camera_packs,
                aliases: spec.aliases.clone(),
            }),
            degradation: Arc::new(self.degradation_policy()),
            lease,
            trial_days,
        })
    }

    /// The product's meters as a license carries them.
    pub fn meter_grants(&self) -> BTreeMap<String, MeterGrant> {
        let spec = self.spec();
        spec.meters
            .iter()
            .map(|(id, meter)| {
                let at_cost = spec
                    .prices
                    .iter()
                    .any(|p| p.pass_through && p.meter.as_ref() == Some(id));
                (
                    id.to_string(),
                    MeterGrant {
                        unit: meter.unit.clone(),
                        quota: meter.quota.clone(),
                        at_cost,
                    },
                )
            })
            .collect()
    }

    /// The entitlements of a device with no valid license: nothing granted, so only
    /// core features and what the `unlicensed` policy keeps are on.
    pub fn unlicensed(&self) -> (Entitlements, DegradationPolicy) {
        let spec = self.spec();
        let nothing = Accumulator::new();
        let features = spec
            .features
            .iter()
            .map(|(key, feature)| (key.clone(), nothing.grant(key, feature)))
            .collect();
        let modules = spec
            .degradation
            .unlicensed
            .as_ref()
            .map(|policy| {
                let wanted: BTreeSet<ModuleId> = policy.modules.iter().cloned().collect();
                close_modules(self, &wanted)
            })
            .unwrap_or_default();
        (
            Entitlements {
                features,
                modules,
                classes: None,
                components: spec.components.clone(),
                max_devices: 1,
                meters: self.meter_grants(),
                camera_packs: BTreeMap::new(),
                aliases: spec.aliases.clone(),
            },
            self.degradation_policy(),
        )
    }

    /// The catalog's degradation policy with defaults filled in: `stale` keeps what is
    /// licensed; every other state keeps core features only unless the catalog says more.
    pub fn degradation_policy(&self) -> DegradationPolicy {
        let spec = &self.spec().degradation;
        let resolve = |policy: &Option<StatePolicySpec>, keep_by_default: bool| match policy {
            None => StatePolicy {
                keep_licensed: keep_by_default,
                ..StatePolicy::default()
            },
            Some(policy) => StatePolicy {
                keep_licensed: policy.keep_licensed,
                features: policy.features.iter().cloned().collect(),
                modules: policy.modules.iter().cloned().collect(),
                limits: policy
                    .limits
                    .iter()
                    .filter_map(|(key, value)| value.amount().map(|a| (key.clone(), a)))
                    .collect(),
            },
        };
        DegradationPolicy {
            stale: resolve(&spec.stale, true),
            degraded: resolve(&spec.degraded, false),
            expired: resolve(&spec.expired, false),
            revoked: resolve(&spec.revoked, false),
            suspended: resolve(&spec.suspended, false),
            unlicensed: resolve(&spec.unlicensed, false),
        }
    }
}

/// The dependency closure of `wanted`, with each module's spec.
fn close_modules(
    catalog: &Catalog,
    wanted: &BTreeSet<ModuleId>,
) -> BTreeMap<ModuleId, crate::catalog::ModuleSpec> {
    let modules = &catalog.spec().modules;
    let mut closed = BTreeMap::new();
    let mut pending: Vec<&ModuleId> = wanted.iter().collect();
    while let Some(id) = pending.pop() {
        if closed.contains_key(id) {
            continue;
        }
        if let Some(module) = modules.get(id.as_str()) {
            closed.insert(id.clone(), module.clone());
            pending.extend(module.depends.iter());
        }
    }
    closed
}

enum Target {
    Limits,
    Quotas,
}

/// Accumulates grants in precedence order.
struct Accumulator {
    /// Boolean features on, with the add-on quantity that covers them, if any.
    features: BTreeMap<FeatureKey, Option<u64>>,
    /// Features a trial removed; modules must not bring them back.
    removed: BTreeSet<FeatureKey>,
    limits: BTreeMap<FeatureKey, Amount>,
    quotas: BTreeMap<FeatureKey, Amount>,
    config: BTreeMap<FeatureKey, serde_json::Value>,
    modules: BTreeSet<ModuleId>,
}

impl Accumulator {
    fn new() -> Self {
        Accumulator {
            features: BTreeMap::new(),
            removed: BTreeSet::new(),
            limits: BTreeMap::new(),
            quotas: BTreeMap::new(),
            config: BTreeMap::new(),
            modules: BTreeSet::new(),
        }
    }

    fn apply_plan(&mut self, grants: crate::catalog::GrantsRef<'_>) {
        for feature in grants.features {
            self.features.insert(feature.clone(), None);
        }
        self.set_amounts(grants.limits, Target::Limits);
        self.set_amounts(grants.quotas, Target::Quotas);
        for (key, value) in grants.config {
            self.config.insert(key.clone(), value.clone());
        }
        self.modules.extend(grants.modules.iter().cloned());
    }

    fn set_amounts(&mut self, values: &BTreeMap<FeatureKey, LimitValue>, target: Target) {
        let map = match target {
            Target::Limits => &mut self.limits,
            Target::Quotas => &mut self.quotas,
        };
        for (key, value) in values {
            if let Some(amount) = value.amount() {
                map.insert(key.clone(), amount);
            }
        }
    }

    fn apply_addon(
        &mut self,
        grants: crate::catalog::GrantsRef<'_>,
        quantity: u64,
        per_unit: bool,
    ) {
        for feature in grants.features {
            let covered = per_unit.then_some(quantity);
            self.features.insert(feature.clone(), covered);
            self.removed.remove(feature);
        }
        for (values, map) in [
            (grants.limits, &mut self.limits),
            (grants.quotas, &mut self.quotas),
        ] {
            for (key, value) in values {
                if let Some(amount) = value.amount() {
                    let base = map.get(key).copied().unwrap_or(Amount::Finite(0));
                    map.insert(key.clone(), base.plus(amount.times(quantity)));
                }
            }
        }
        for (key, value) in grants.config {
            self.config.insert(key.clone(), value.clone());
        }
        self.modules.extend(grants.modules.iter().cloned());
    }

    fn grant(&self, key: &FeatureKey, feature: &FeatureSpec) -> Grant {
        match feature.kind {
            FeatureKind::Boolean => Grant::Boolean {
                granted: self.features.contains_key(key),
                core: feature.core,
                quantity: self.features.get(key).copied().flatten(),
            },
            FeatureKind::Limit => Grant::Limit {
                max: self
                    .limits
                    .get(key)
                    .copied()
                    .unwrap_or_else(|| default_amount(feature)),
                unit: feature.unit.clone(),
            },
            FeatureKind::Quota => Grant::Quota {
                allowance: self.quotas.get(key).copied().unwrap_or(Amount::Finite(0)),
                period: feature.period.unwrap_or(Period::Month),
                unit: feature.unit.clone().unwrap_or_default(),
                overage: feature.overage.unwrap_or(Overage::Refuse),
            },
            FeatureKind::Config => Grant::Config {
                value: self
                    .config
                    .get(key)
                    .cloned()
                    .or_else(|| feature.default.clone())
                    .unwrap_or(serde_json::Value::Null),
            },
        }
    }
}

fn default_amount(feature: &FeatureSpec) -> Amount {
    match &feature.default {
        Some(serde_json::Value::Number(n)) => n.as_u64().map_or(Amount::Finite(0), Amount::Finite),
        Some(serde_json::Value::String(s)) if s == "unlimited" => Amount::Unlimited,
        _ => Amount::Finite(0),
    }
}

fn join<'s>(items: impl Iterator<Item = &'s str>) -> String {
    let items: Vec<&str> = items.collect();
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}
