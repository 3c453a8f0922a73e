//! The resolved entitlements a license carries: every feature of the catalog with its
//! value, the licensed modules with what the planner needs to know about them, class
//! rules, the component map and the degradation policy.
//!
//! These are plain data so that they serialize into the signed license unchanged; the
//! fast, state-dependent view used for checks is [`crate::snapshot::Snapshot`].

use crate::amount::Amount;
use crate::catalog::{ComponentKind, FeatureKind, ModuleSpec, Overage, Period};
use crate::ids::{AddonId, FeatureKey, ModuleId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Everything a subscription entitles one device to, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entitlements {
    /// Every feature of the catalog (so a check can tell "not licensed" from "unknown").
    pub features: BTreeMap<FeatureKey, Grant>,
    /// Licensed modules, dependencies included.
    pub modules: BTreeMap<ModuleId, ModuleSpec>,
    /// Which object classes detections may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassRules>,
    /// Component types and the feature each needs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<ComponentKind, BTreeMap<String, FeatureKey>>,
    /// Devices the subscription may activate.
    pub max_devices: u32,
    /// The product's usage meters, so the device refuses usage it could never bill
    /// (absent from licenses issued before meters were carried: nothing is refused).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meters: BTreeMap<String, MeterGrant>,
    /// Add-ons bought per camera (growth packs): how many cameras each covers, and the
    /// features only it grants. A check for a camera allows those features only on
    /// the cameras the pack is assigned to (absent from licenses issued before packs
    /// were assigned per camera: their features then apply device-wide).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub camera_packs: BTreeMap<AddonId, CameraPack>,
    /// The catalog's other names of features (see `CatalogSpec::aliases`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, FeatureKey>,
}

/// A growth pack priced per camera.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraPack {
    /// Cameras bought: the pack may be assigned to this many at once.
    pub cameras: u64,
    /// The features the pack grants that nothing device-wide grants too.
    pub features: BTreeSet<FeatureKey>,
}

impl Entitlements {
    /// The per-camera packs that grant `feature`; empty when it is not a per-camera
    /// feature (granted device-wide, or by no pack).
    pub fn packs_granting<'a>(&'a self, feature: &'a str) -> impl Iterator<Item = &'a AddonId> {
        self.camera_packs
            .iter()
            .filter(move |(_, pack)| pack.features.iter().any(|f| f.as_str() == feature))
            .map(|(id, _)| id)
    }
}

/// A usage meter as the device needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterGrant {
    /// What one unit counts.
    pub unit: String,
    /// The quota feature this meter consumes: a check that spends that quota is this
    /// meter's usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<FeatureKey>,
    /// Billed at the cost each event reports (`cost_minor`), which it must then carry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_cost: bool,
}

/// One feature's resolved value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Grant {
    /// A boolean feature.
    Boolean {
        /// Whether the subscription grants it.
        granted: bool,
        /// Always available, license or not.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        core: bool,
        /// For per-unit add-ons: how many cameras/seats the feature covers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quantity: Option<u64>,
    },
    /// A maximum count; `0` means the feature is disabled.
    Limit {
        /// The bound.
        max: Amount,
        /// What is counted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    /// An allowance per period.
    Quota {
        /// How much may be used per period.
        allowance: Amount,
        /// The period.
        period: Period,
        /// What one unit counts.
        unit: String,
        /// What happens past the allowance.
        overage: Overage,
    },
    /// A configuration value.
    Config {
        /// The value.
        value: serde_json::Value,
    },
}

impl Grant {
    /// The feature's kind.
    pub fn kind(&self) -> FeatureKind {
        match self {
            Grant::Boolean { .. } => FeatureKind::Boolean,
            Grant::Limit { .. } => FeatureKind::Limit,
            Grant::Quota { .. } => FeatureKind::Quota,
            Grant::Config { .. } => FeatureKind::Config,
        }
    }
}

/// Object-class rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassRules {
    /// Classes detections may use.
    pub allowed: BTreeSet<String>,
    /// Classes used when a filter leaves none of the requested ones (the trial rule).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defaults: Vec<String>,
}

/// What stays on in each non-active state, resolved against the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DegradationPolicy {
    /// Refresh overdue, within grace.
    pub stale: StatePolicy,
    /// Grace over.
    pub degraded: StatePolicy,
    /// Term over.
    pub expired: StatePolicy,
    /// Revoked by the server.
    pub revoked: StatePolicy,
    /// Subscription suspended.
    pub suspended: StatePolicy,
    /// No valid license.
    pub unlicensed: StatePolicy,
}

/// What one state keeps. Core features are always kept and not listed here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatePolicy {
    /// Keep everything the license grants.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_licensed: bool,
    /// Features kept.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub features: BTreeSet<FeatureKey>,
    /// Modules kept.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub modules: BTreeSet<ModuleId>,
    /// Caps on limits.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<FeatureKey, Amount>,
}
