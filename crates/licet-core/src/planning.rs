//! Module planning: which licensed modules a device should run, in what order, which are
//! refused and why, the compose profiles and services to start and the memory they need.
//!
//! The planner sees only module specs and device facts; it does not decide what is
//! licensed (that is resolution's job) and it does not start anything (the agent runs a
//! configured command with the plan).

use crate::catalog::ModuleSpec;
use crate::ids::ModuleId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What the planner knows about the device.
#[derive(Clone, Copy, Debug)]
pub struct DeviceFacts<'a> {
    /// Cameras registered on the device.
    pub cameras: u32,
    /// The device's memory in MiB, if known.
    pub ram_mb: Option<u64>,
    /// Configuration keys set on the device.
    pub config_keys: &'a BTreeSet<String>,
}

/// The plan for one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModulePlan {
    /// Modules to run, every dependency before its dependents.
    pub enabled: Vec<PlannedModule>,
    /// Modules that cannot run, with the reason.
    pub refused: Vec<RefusedModule>,
    /// docker compose profiles to activate, in start order, without repeats.
    pub compose_profiles: Vec<String>,
    /// docker compose services, in start order, without repeats.
    pub compose_services: Vec<String>,
    /// Memory the enabled modules need, in MiB.
    pub ram_mb_total: u64,
    /// GPU memory the enabled modules need, in MiB.
    pub gpu_mb_total: u64,
    /// The device's memory, if known.
    pub device_ram_mb: Option<u64>,
    /// Whether the enabled modules fit in the device's memory, if known.
    pub fits_in_memory: Option<bool>,
}

/// One module to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedModule {
    /// The module.
    pub id: ModuleId,
    /// Memory it needs (MiB).
    pub ram_mb: u64,
    /// GPU memory it needs (MiB).
    pub gpu_mb: u64,
    /// Its compose profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_profile: Option<String>,
    /// Its compose service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_service: Option<String>,
    /// Its model file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_file: Option<String>,
}

/// One module that cannot run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedModule {
    /// The module.
    pub id: ModuleId,
    /// Why.
    #[serde(flatten)]
    pub reason: Refusal,
}

/// Why a module cannot run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// A module it depends on is not available or was itself refused.
    MissingDependency {
        /// The dependency.
        dependency: ModuleId,
    },
    /// Too few cameras on the device.
    TooFewCameras {
        /// The module's minimum.
        min_cameras: u32,
        /// Cameras on the device.
        cameras: u32,
    },
    /// Required configuration keys are not set.
    MissingConfig {
        /// The keys that are missing.
        keys: Vec<String>,
    },
    /// The module is not among the licensed modules.
    NotLicensed,
}

impl Refusal {
    /// A sentence for humans.
    pub fn message(&self) -> String {
        match self {
            Refusal::MissingDependency { dependency } => {
                format!("depends on {dependency}, which is not available")
            }
            Refusal::TooFewCameras {
                min_cameras,
                cameras,
            } => format!("needs at least {min_cameras} cameras, the device has {cameras}"),
            Refusal::MissingConfig { keys } => {
                format!("missing required config: {}", keys.join(", "))
            }
            Refusal::NotLicensed => "not licensed".to_owned(),
        }
    }
}

/// Plans `wanted` modules (with their dependencies, which must be in `specs`).
pub fn plan_modules(
    specs: &BTreeMap<ModuleId, ModuleSpec>,
    wanted: &BTreeSet<ModuleId>,
    device: &DeviceFacts<'_>,
) -> ModulePlan {
    let mut refused: Vec<RefusedModule> = Vec::new();
    // The closure of what is wanted, restricted to what is known.
    let mut members: BTreeSet<&ModuleId> = BTreeSet::new();
    let mut pending: Vec<&ModuleId> = wanted.iter().collect();
    while let Some(id) = pending.pop() {
        match specs.get_key_value(id) {
            Some((known, spec)) => {
                if members.insert(known) {
                    pending.extend(spec.depends.iter());
                }
            }
            None => {
                if !refused.iter().any(|r| &r.id == id) {
                    refused.push(RefusedModule {
                        id: id.clone(),
                        reason: Refusal::NotLicensed,
                    });
                }
            }
        }
    }

    let order = dependency_order(specs, &members);
    let mut available: BTreeSet<&ModuleId> = BTreeSet::new();
    let mut enabled = Vec::new();
    for id in order {
        let Some(spec) = specs.get(id) else { continue };
        let reason = if let Some(dependency) = spec.depends.iter().find(|d| !available.contains(d))
        {
            Some(Refusal::MissingDependency {
                dependency: dependency.clone(),
            })
        } else if device.cameras < spec.min_cameras {
            Some(Refusal::TooFewCameras {
                min_cameras: spec.min_cameras,
                cameras: device.cameras,
            })
        } else {
            let missing: Vec<String> = spec
                .requires_config
                .iter()
                .filter(|key| !device.config_keys.contains(*key))
                .cloned()
                .collect();
            (!missing.is_empty()).then_some(Refusal::MissingConfig { keys: missing })
        };
        match reason {
            Some(reason) => refused.push(RefusedModule {
                id: id.clone(),
                reason,
            }),
            None => {
                available.insert(id);
                enabled.push(PlannedModule {
                    id: id.clone(),
                    ram_mb: spec.ram_mb,
                    gpu_mb: spec.gpu_mb,
                    compose_profile: spec.compose_profile.clone(),
                    compose_service: spec.compose_service.clone(),
                    model_file: spec.model_file.clone(),
                });
            }
        }
    }

    let mut compose_profiles: Vec<String> = Vec::new();
    let mut compose_services: Vec<String> = Vec::new();
    for module in &enabled {
        for (value, list) in [
            (&module.compose_profile, &mut compose_profiles),
            (&module.compose_service, &mut compose_services),
        ] {
            if let Some(value) = value {
                if !list.contains(value) {
                    list.push(value.clone());
                }
            }
        }
    }
    let ram_mb_total = enabled.iter().map(|m| m.ram_mb).sum();
    let gpu_mb_total = enabled.iter().map(|m| m.gpu_mb).sum();
    refused.sort_by(|a, b| a.id.cmp(&b.id));
    ModulePlan {
        enabled,
        refused,
        compose_profiles,
        compose_services,
        ram_mb_total,
        gpu_mb_total,
        device_ram_mb: device.ram_mb,
        fits_in_memory: device.ram_mb.map(|ram| ram_mb_total <= ram),
    }
}

/// Kahn's algorithm over the members, choosing the alphabetically first ready module
/// each time so the order is stable. Validated catalogs have no cycles; any module left
/// over (a cycle in hand-made input) is appended and then refused for its dependency.
fn dependency_order<'a>(
    specs: &'a BTreeMap<ModuleId, ModuleSpec>,
    members: &BTreeSet<&'a ModuleId>,
) -> Vec<&'a ModuleId> {
    let mut remaining: BTreeMap<&ModuleId, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<&ModuleId, Vec<&ModuleId>> = BTreeMap::new();
    for &id in members {
        let deps: Vec<&ModuleId> = specs
            .get(id)
            .map(|spec| {
                spec.depends
                    .iter()
                    .filter(|d| members.contains(d))
                    .collect()
            })
            .unwrap_or_default();
        remaining.insert(id, deps.len());
        for dep in deps {
            dependents.entry(dep).or_default().push(id);
        }
    }
    let mut ready: BTreeSet<&ModuleId> = remaining
        .iter()
        .filter(|(_, count)| **count == 0)
        .map(|(id, _)| *id)
        .collect();
    let mut order = Vec::with_capacity(members.len());
    while let Some(&next) = ready.iter().next() {
        ready.remove(next);
        remaining.remove(next);
        if let Some((id, _)) = specs.get_key_value(next) {
            order.push(id);
        }
        for dependent in dependents.get(next).map(Vec::as_slice).unwrap_or_default() {
            if let Some(count) = remaining.get_mut(dependent) {
                *count -= 1;
                if *count == 0 {
                    ready.insert(dependent);
                }
            }
        }
    }
    for id in remaining.keys() {
        if let Some((key, _)) = specs.get_key_value(*id) {
            order.push(key);
        }
    }
    order
}
