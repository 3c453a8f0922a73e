//! The entitlement snapshot: a license's entitlements with the current state's
//! degradation policy already applied, laid out for constant-time checks.
//!
//! A snapshot is immutable. Whoever owns one (the agent, the server) builds a new one
//! when the license or the state changes and swaps it in atomically; a check is then a
//! single hash lookup with no allocation, which is what makes "may I?" cheap enough to
//! ask per frame.

use crate::amount::Amount;
use crate::catalog::{Catalog, ComponentKind, ModuleSpec, Overage};
use crate::entitlements::{ClassRules, DegradationPolicy, Entitlements, Grant, StatePolicy};
use crate::ids::ModuleId;
use crate::license::LicensePayload;
use crate::planning::{DeviceFacts, ModulePlan, plan_modules};
use crate::state::LicenseState;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Why a check answered as it did. The wire names (snake_case) are stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A core feature: always available.
    Core,
    /// Granted by the license.
    Licensed,
    /// Kept on by the degradation policy of the current state.
    KeptByPolicy,
    /// In the catalog, but not granted by this license (or its limit is 0).
    NotLicensed,
    /// Not in the catalog at all.
    NotInCatalog,
    /// There is no valid license on this device.
    NotActivated,
    /// Granted, but off because the grace period is over.
    LicenseDegraded,
    /// Granted, but off because the term or trial is over.
    LicenseExpired,
    /// Granted, but off because the server revoked the license.
    LicenseRevoked,
    /// Granted, but off because the subscription is suspended.
    LicenseSuspended,
    /// The requested count fits the limit.
    WithinLimit,
    /// The requested count exceeds the limit.
    LimitReached,
    /// The requested amount fits the quota.
    WithinQuota,
    /// The quota is used up and the catalog refuses overage.
    QuotaExhausted,
    /// The quota is used up; the use is allowed and billed as overage.
    OverageBilled,
    /// The feature exists but is of another kind than the check asked about.
    WrongKind,
}

impl Reason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Core => "core",
            Reason::Licensed => "licensed",
            Reason::KeptByPolicy => "kept_by_policy",
            Reason::NotLicensed => "not_licensed",
            Reason::NotInCatalog => "not_in_catalog",
            Reason::NotActivated => "not_activated",
            Reason::LicenseDegraded => "license_degraded",
            Reason::LicenseExpired => "license_expired",
            Reason::LicenseRevoked => "license_revoked",
            Reason::LicenseSuspended => "license_suspended",
            Reason::WithinLimit => "within_limit",
            Reason::LimitReached => "limit_reached",
            Reason::WithinQuota => "within_quota",
            Reason::QuotaExhausted => "quota_exhausted",
            Reason::OverageBilled => "overage_billed",
            Reason::WrongKind => "wrong_kind",
        }
    }

    fn for_state(state: LicenseState) -> Reason {
        match state {
            LicenseState::Unactivated => Reason::NotActivated,
            LicenseState::Degraded => Reason::LicenseDegraded,
            LicenseState::Expired => Reason::LicenseExpired,
            LicenseState::Revoked => Reason::LicenseRevoked,
            LicenseState::Suspended => Reason::LicenseSuspended,
            LicenseState::Active | LicenseState::Stale => Reason::Licensed,
        }
    }
}

/// A feature's value as a check reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A boolean feature: whether it is on.
    Bool(bool),
    /// A limit or a quota allowance.
    Amount(Amount),
    /// A configuration value.
    Config(serde_json::Value),
}

/// One feature, ready to answer checks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureStatus {
    /// Whether the feature is usable now.
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
    /// Its value in the current state.
    pub value: Value,
    /// `boolean`, `limit`, `quota` or `config`.
    pub kind: crate::catalog::FeatureKind,
    /// For quotas: what happens past the allowance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overage: Option<Overage>,
    /// For per-unit add-on features: how many cameras/seats are covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    /// For quotas: the period the allowance is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<crate::catalog::Period>,
    /// For limits and quotas: what is counted (`cameras`, `calls`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// The answer to a check.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Decision<'a> {
    /// May the caller go ahead?
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
    /// The feature's value, when it is in the catalog.
    pub value: Option<&'a Value>,
}

/// The answer to a quota check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct QuotaDecision {
    /// May the caller use the amount?
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
    /// The period's allowance.
    pub allowance: Amount,
    /// What remains after this use (0 when over).
    pub remaining: Amount,
    /// How much of this use is beyond the allowance (billed when overage is allowed).
    pub overage: u64,
}

/// The result of filtering object classes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassFilter {
    /// Classes the caller may use.
    pub allowed: Vec<String>,
    /// Requested classes that were refused.
    pub denied: Vec<String>,
    /// True when none of the requested classes was allowed and the defaults were used.
    pub defaulted: bool,
}

/// Entitlements in effect for one state, ready for checks.
#[derive(Clone, Debug)]
pub struct Snapshot {
    state: LicenseState,
    features: HashMap<Box<str>, FeatureStatus>,
    /// `None`: the product does not restrict classes. `Some` with an empty set: nothing
    /// is allowed in this state.
    classes: Option<ClassRules>,
    components: [HashMap<Box<str>, Box<str>>; 3],
    modules: BTreeMap<ModuleId, ModuleSpec>,
    /// Other names of features; looked up only when a key is not a feature, so a
    /// check by the feature's own key costs nothing more.
    aliases: HashMap<Box<str>, Box<str>>,
}

impl Snapshot {
    /// The snapshot of a verified license's payload in `state`.
    pub fn from_license(payload: &LicensePayload, state: LicenseState) -> Snapshot {
        Snapshot::build(&payload.entitlements, &payload.degradation, state)
    }

    /// The snapshot of a device with no valid license: core features and what the
    /// catalog's `unlicensed` policy keeps.
    pub fn unlicensed(catalog: &Catalog) -> Snapshot {
        let (entitlements, policy) = catalog.unlicensed();
        Snapshot::build(&entitlements, &policy, LicenseState::Unactivated)
    }

    /// A snapshot with no catalog and no license: nothing is allowed.
    pub fn empty() -> Snapshot {
        Snapshot {
            state: LicenseState::Unactivated,
            features: HashMap::new(),
            classes: Some(ClassRules {
                allowed: BTreeSet::new(),
                defaults: Vec::new(),
            }),
            components: Default::default(),
            modules: BTreeMap::new(),
            aliases: HashMap::new(),
        }
    }

    /// Applies `state`'s policy to `entitlements`.
    pub fn build(
        entitlements: &Entitlements,
        policy: &DegradationPolicy,
        state: LicenseState,
    ) -> Snapshot {
        let rule: Option<&StatePolicy> = match state {
            LicenseState::Active => None,
            LicenseState::Stale => Some(&policy.stale),
            LicenseState::Degraded => Some(&policy.degraded),
            LicenseState::Expired => Some(&policy.expired),
            LicenseState::Revoked => Some(&policy.revoked),
            LicenseState::Suspended => Some(&policy.suspended),
            LicenseState::Unactivated => Some(&policy.unlicensed),
        };
        let full = rule.is_none_or(|r| r.keep_licensed);
        let cut = Reason::for_state(state);
        let unlicensed = state == LicenseState::Unactivated;

        let features = entitlements
            .features
            .iter()
            .map(|(key, grant)| {
                let kept = rule.is_some_and(|r| r.features.contains(key));
                let status = feature_status(
                    grant,
                    full,
                    kept,
                    unlicensed,
                    cut,
                    rule.and_then(|r| r.limits.get(key)).copied(),
                );
                (Box::from(key.as_str()), status)
            })
            .collect();

        let classes = match &entitlements.classes {
            None => None,
            Some(rules) if full => Some(rules.clone()),
            Some(_) => Some(ClassRules {
                allowed: BTreeSet::new(),
                defaults: Vec::new(),
            }),
        };

        let mut components: [HashMap<Box<str>, Box<str>>; 3] = Default::default();
        for (index, kind) in ComponentKind::ALL.iter().enumerate() {
            if let Some(types) = entitlements.components.get(kind) {
                components[index] = types
                    .iter()
                    .map(|(name, feature)| (Box::from(name.as_str()), Box::from(feature.as_str())))
                    .collect();
            }
        }

        let modules = if full {
            entitlements.modules.clone()
        } else {
            let kept: BTreeSet<&ModuleId> =
                rule.map(|r| r.modules.iter().collect()).unwrap_or_default();
            keep_with_dependencies(&entitlements.modules, &kept)
        };

        let aliases = entitlements
            .aliases
            .iter()
            .map(|(alias, feature)| (Box::from(alias.as_str()), Box::from(feature.as_str())))
            .collect();

        Snapshot {
            state,
            features,
            classes,
            components,
            modules,
            aliases,
        }
    }

    /// A feature's status by its key or by one of the catalog's aliases for it.
    fn status(&self, key: &str) -> Option<&FeatureStatus> {
        self.features.get(key).or_else(|| {
            self.aliases
                .get(key)
                .and_then(|feature| self.features.get(&**feature))
        })
    }

    /// The state this snapshot was built for.
    pub fn state(&self) -> LicenseState {
        self.state
    }

    /// Every feature and its status (for listings; checks should use [`Snapshot::check`]).
    pub fn features(&self) -> impl Iterator<Item = (&str, &FeatureStatus)> {
        self.features.iter().map(|(k, v)| (&**k, v))
    }

    /// One feature's status (by its key or an alias).
    pub fn feature(&self, key: &str) -> Option<&FeatureStatus> {
        self.status(key)
    }

    /// May the feature be used? For limits and quotas: is it non-zero?
    pub fn check(&self, key: &str) -> Decision<'_> {
        match self.status(key) {
            Some(status) => Decision {
                allowed: status.allowed,
                reason: status.reason,
                value: Some(&status.value),
            },
            None => Decision {
                allowed: false,
                reason: Reason::NotInCatalog,
                value: None,
            },
        }
    }

    /// May the count of a limited thing reach `requested` (e.g. camera number N+1)?
    pub fn check_limit(&self, key: &str, requested: u64) -> Decision<'_> {
        let Some(status) = self.status(key) else {
            return Decision {
                allowed: false,
                reason: Reason::NotInCatalog,
                value: None,
            };
        };
        let value = Some(&status.value);
        let Value::Amount(max) = status.value else {
            return Decision {
                allowed: false,
                reason: Reason::WrongKind,
                value,
            };
        };
        if status.kind != crate::catalog::FeatureKind::Limit {
            return Decision {
                allowed: false,
                reason: Reason::WrongKind,
                value,
            };
        }
        if max.admits(requested) {
            Decision {
                allowed: true,
                reason: Reason::WithinLimit,
                value,
            }
        } else if !status.allowed && status.reason != Reason::NotLicensed {
            // Cut by the state's policy: say so rather than "limit reached".
            Decision {
                allowed: false,
                reason: status.reason,
                value,
            }
        } else {
            Decision {
                allowed: false,
                reason: Reason::LimitReached,
                value,
            }
        }
    }

    /// May `amount` more be used of a quota of which `used` is already used this period?
    pub fn check_quota(&self, key: &str, used: u64, amount: u64) -> QuotaDecision {
        let refused = |reason| QuotaDecision {
            allowed: false,
            reason,
            allowance: Amount::Finite(0),
            remaining: Amount::Finite(0),
            overage: 0,
        };
        let Some(status) = self.status(key) else {
            return refused(Reason::NotInCatalog);
        };
        let (Value::Amount(allowance), crate::catalog::FeatureKind::Quota) =
            (&status.value, status.kind)
        else {
            return refused(Reason::WrongKind);
        };
        let allowance = *allowance;
        let total = used.saturating_add(amount);
        if allowance.admits(total) {
            return QuotaDecision {
                allowed: true,
                reason: Reason::WithinQuota,
                allowance,
                remaining: allowance.remaining_after(total),
                overage: 0,
            };
        }
        let over = match allowance {
            Amount::Finite(max) => total - max.max(used).min(total),
            Amount::Unlimited => 0,
        };
        let billable = status.allowed && status.overage == Some(Overage::Allow);
        QuotaDecision {
            allowed: billable,
            reason: if billable {
                Reason::OverageBilled
            } else if !status.allowed && status.reason != Reason::NotLicensed {
                status.reason
            } else {
                Reason::QuotaExhausted
            },
            allowance,
            remaining: Amount::Finite(0),
            overage: if billable { over } else { 0 },
        }
    }

    /// Filters requested object classes. Allowed classes are kept; if none is left and
    /// the plan has default classes (the trial rule), the defaults are used instead.
    pub fn filter_classes<S: AsRef<str>>(&self, requested: &[S]) -> ClassFilter {
        let Some(rules) = &self.classes else {
            return ClassFilter {
                allowed: requested.iter().map(|c| c.as_ref().to_owned()).collect(),
                denied: Vec::new(),
                defaulted: false,
            };
        };
        let mut allowed = Vec::new();
        let mut denied = Vec::new();
        for class in requested {
            let class = class.as_ref();
            let list = if rules.allowed.contains(class) {
                &mut allowed
            } else {
                &mut denied
            };
            if !list.iter().any(|c: &String| c == class) {
                list.push(class.to_owned());
            }
        }
        let defaulted = allowed.is_empty() && !rules.defaults.is_empty();
        if defaulted {
            allowed = rules.defaults.clone();
        }
        ClassFilter {
            allowed,
            denied,
            defaulted,
        }
    }

    /// May a pipeline component of this kind and type be used?
    pub fn check_component(&self, kind: ComponentKind, component: &str) -> Decision<'_> {
        let index = match kind {
            ComponentKind::Processor => 0,
            ComponentKind::Sink => 1,
            ComponentKind::Output => 2,
        };
        match self.components[index].get(component) {
            Some(feature) => self.check(feature),
            None => Decision {
                allowed: false,
                reason: Reason::NotInCatalog,
                value: None,
            },
        }
    }

    /// Modules that may run in this state, with their specs.
    pub fn modules(&self) -> &BTreeMap<ModuleId, ModuleSpec> {
        &self.modules
    }

    /// The module plan for this state on a device.
    pub fn plan(&self, device: &DeviceFacts<'_>) -> ModulePlan {
        let wanted: BTreeSet<ModuleId> = self.modules.keys().cloned().collect();
        plan_modules(&self.modules, &wanted, device)
    }
}

fn feature_status(
    grant: &Grant,
    full: bool,
    kept: bool,
    unlicensed: bool,
    cut: Reason,
    cap: Option<Amount>,
) -> FeatureStatus {
    use crate::catalog::FeatureKind;
    match grant {
        Grant::Boolean {
            granted,
            core,
            quantity,
        } => {
            let (allowed, reason) = if *core {
                (true, Reason::Core)
            } else if kept && (*granted || unlicensed) {
                (
                    true,
                    if full {
                        Reason::Licensed
                    } else {
                        Reason::KeptByPolicy
                    },
                )
            } else if !granted {
                (
                    false,
                    if unlicensed {
                        Reason::NotActivated
                    } else {
                        Reason::NotLicensed
                    },
                )
            } else if full {
                (true, Reason::Licensed)
            } else {
                (false, cut)
            };
            FeatureStatus {
                allowed,
                reason,
                value: Value::Bool(allowed),
                kind: FeatureKind::Boolean,
                overage: None,
                quantity: *quantity,
                period: None,
                unit: None,
            }
        }
        Grant::Limit { max, unit } => {
            // Limits size what is kept on (cameras, users), so a degraded state keeps the
            // licensed limit unless its policy caps it; with no license at all only the
            // policy's limits apply.
            let licensed = *max;
            let max = match (unlicensed, cap) {
                (true, cap) => cap.unwrap_or(Amount::Finite(0)),
                (false, Some(cap)) if !full || kept => licensed.min(cap),
                (false, _) => licensed,
            };
            let allowed = max.is_positive();
            let reason = if allowed {
                if unlicensed {
                    Reason::KeptByPolicy
                } else {
                    Reason::Licensed
                }
            } else if unlicensed {
                Reason::NotActivated
            } else if licensed.is_positive() {
                // The license allows some, the state's policy allows none.
                cut
            } else {
                Reason::NotLicensed
            };
            FeatureStatus {
                allowed,
                reason,
                value: Value::Amount(max),
                kind: FeatureKind::Limit,
                overage: None,
                quantity: None,
                period: None,
                unit: unit.clone(),
            }
        }
        Grant::Quota {
            allowance,
            overage,
            period,
            unit,
        } => {
            // Quotas are paid consumption: off unless the state keeps them.
            let (allowance, reason) = if full || kept {
                let reason = if allowance.is_positive() {
                    if full {
                        Reason::Licensed
                    } else {
                        Reason::KeptByPolicy
                    }
                } else {
                    Reason::NotLicensed
                };
                (*allowance, reason)
            } else {
                (
                    Amount::Finite(0),
                    if unlicensed {
                        Reason::NotActivated
                    } else {
                        cut
                    },
                )
            };
            FeatureStatus {
                allowed: allowance.is_positive(),
                reason,
                value: Value::Amount(allowance),
                kind: FeatureKind::Quota,
                overage: Some(*overage),
                quantity: None,
                period: Some(*period),
                unit: Some(unit.clone()),
            }
        }
        Grant::Config { value } => FeatureStatus {
            allowed: true,
            reason: if unlicensed {
                Reason::Core
            } else {
                Reason::Licensed
            },
            value: Value::Config(value.clone()),
            kind: FeatureKind::Config,
            overage: None,
            quantity: None,
            period: None,
            unit: None,
        },
    }
}

fn keep_with_dependencies(
    modules: &BTreeMap<ModuleId, ModuleSpec>,
    kept: &BTreeSet<&ModuleId>,
) -> BTreeMap<ModuleId, ModuleSpec> {
    let mut out = BTreeMap::new();
    let mut pending: Vec<&ModuleId> = kept.iter().copied().collect();
    while let Some(id) = pending.pop() {
        if out.contains_key(id) {
            continue;
        }
        if let Some(spec) = modules.get(id) {
            out.insert(id.clone(), spec.clone());
            pending.extend(spec.depends.iter());
        }
    }
    out
}
