//! The conformance suite's case format, and the in-process way to answer a case.
//!
//! A case is: an example catalog, a subscription (or none: no license), the times and
//! server verdict that decide the license state, one check, and the expected answer.
//! The core answers cases directly ([`answer`]); the agent's and server's tests answer
//! the same cases through their HTTP APIs and compare with [`Expect::mismatches`], so
//! every front end is held to the same rules. The file format is documented in
//! `crates/licet-core/tests/conformance/README.md`.

use crate::amount::Amount;
use crate::catalog::{Catalog, ComponentKind};
use crate::ids::{DeviceId, LicenseId, TenantId};
use crate::license::{self, Expectations, IssueRequest};
use crate::planning::DeviceFacts;
use crate::resolve::Subscription;
use crate::signing::Keyring;
use crate::snapshot::Snapshot;
use crate::state::{self, LicenseState, StateInput, Verdict};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// The fingerprint every conformance license is bound to.
pub const FINGERPRINT: &str = "conformance-device-fingerprint";

/// One file of cases.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// What the file covers.
    pub description: String,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// A sentence naming the rule under test.
    pub name: String,
    /// The product document's statement (or the product's own code) the rule encodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The example catalog, by file stem (`examples/catalogs/<catalog>.toml`).
    pub catalog: String,
    /// What was bought; `null` means the device has no license.
    pub subscription: Option<Subscription>,
    /// When the license was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// When the check happens (the device clock).
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// The last successful refresh, if later than issue.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_refresh: Option<OffsetDateTime>,
    /// A definite verdict from the server.
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// The persisted time high-water mark.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub high_water: Option<OffsetDateTime>,
    /// The check.
    pub check: Check,
    /// The expected answer; only the fields given are compared.
    pub expect: Expect,
}

/// The check a case performs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// Only the license state.
    State,
    /// May a feature be used?
    Feature {
        /// The feature key.
        feature: String,
    },
    /// May a limited count reach `requested`?
    Limit {
        /// The limit feature.
        feature: String,
        /// The count asked for (e.g. camera number N+1).
        requested: u64,
    },
    /// May `amount` more of a quota be used when `used` is already used?
    Quota {
        /// The quota feature.
        feature: String,
        /// Already used this period.
        used: u64,
        /// To be used now.
        amount: u64,
    },
    /// Filter object classes.
    Classes {
        /// The requested classes.
        classes: Vec<String>,
    },
    /// May a pipeline component be used?
    Component {
        /// `processor`, `sink` or `output`.
        kind: ComponentKind,
        /// The component type.
        component: String,
    },
    /// The module plan.
    Plan {
        /// Cameras on the device.
        #[serde(default)]
        cameras: u32,
        /// The device's memory.
        #[serde(default)]
        device_ram_mb: Option<u64>,
        /// Config keys set on the device.
        #[serde(default)]
        config_keys: Vec<String>,
    },
}

/// An answer: what a case expects, or what a front end observed. Every field is
/// optional; [`Expect::mismatches`] compares only the fields the expectation sets.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The license state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<LicenseState>,
    /// Allowed or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    /// The reason's wire name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The feature's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// Quota remaining after the use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<Amount>,
    /// Quota overage billed for the use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overage: Option<u64>,
    /// Classes allowed by a filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes_allowed: Option<Vec<String>>,
    /// Classes denied by a filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes_denied: Option<Vec<String>>,
    /// Whether a filter fell back to the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaulted: Option<bool>,
    /// Enabled modules, in start order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<Vec<String>>,
    /// Refused modules and the refusal's reason name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<BTreeMap<String, String>>,
    /// Compose profiles, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_profiles: Option<Vec<String>>,
    /// Compose services (containers), in start order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_services: Option<Vec<String>>,
    /// Memory the enabled modules need, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram_mb_total: Option<u64>,
    /// Whether a backwards clock was detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_behind: Option<bool>,
}

impl Expect {
    /// Every field this expectation sets that `observed` answers differently.
    pub fn mismatches(&self, observed: &Expect) -> Vec<String> {
        let mut out = Vec::new();
        fn compare<T: PartialEq + std::fmt::Debug>(
            out: &mut Vec<String>,
            name: &str,
            want: &Option<T>,
            got: &Option<T>,
        ) {
            if let Some(want) = want {
                if got.as_ref() != Some(want) {
                    out.push(format!("{name}: expected {want:?}, got {got:?}"));
                }
            }
        }
        compare(&mut out, "state", &self.state, &observed.state);
        compare(&mut out, "allowed", &self.allowed, &observed.allowed);
        compare(&mut out, "reason", &self.reason, &observed.reason);
        compare(&mut out, "value", &self.value, &observed.value);
        compare(&mut out, "remaining", &self.remaining, &observed.remaining);
        compare(&mut out, "overage", &self.overage, &observed.overage);
        compare(
            &mut out,
            "classes_allowed",
            &self.classes_allowed,
            &observed.classes_allowed,
        );
        compare(
            &mut out,
            "classes_denied",
            &self.classes_denied,
            &observed.classes_denied,
        );
        compare(&mut out, "defaulted", &self.defaulted, &observed.defaulted);
        compare(&mut out, "enabled", &self.enabled, &observed.enabled);
        compare(&mut out, "refused", &self.refused, &observed.refused);
        compare(
            &mut out,
            "compose_profiles",
            &self.compose_profiles,
            &observed.compose_profiles,
        );
        compare(
            &mut out,
            "compose_services",
            &self.compose_services,
            &observed.compose_services,
        );
        compare(
            &mut out,
            "ram_mb_total",
            &self.ram_mb_total,
            &observed.ram_mb_total,
        );
        compare(
            &mut out,
            "clock_behind",
            &self.clock_behind,
            &observed.clock_behind,
        );
        out
    }
}

/// Why a case could not be answered at all.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The license could not be issued (the subscription does not fit the catalog).
    #[error("cannot issue the case's license: {0}")]
    Issue(#[from] license::IssueError),
    /// The freshly issued license did not verify.
    #[error("the case's license did not verify: {0}")]
    Verify(#[from] license::LicenseError),
}

/// Answers a case in process: issue and verify the license, evaluate the state, build
/// the snapshot and run the check. `key` signs the case's license.
pub fn answer(case: &Case, catalog: &Catalog, key: &SigningKey) -> Result<Expect, CaseError> {
    let verified = match &case.subscription {
        None => None,
        Some(subscription) => {
            let signed = license::issue(
                &IssueRequest {
                    catalog,
                    subscription,
                    license_id: LicenseId::new("lic_conformance"),
                    subscription_id: None,
                    tenant: TenantId::new("tenant-conformance"),
                    device: DeviceId::new("device-conformance"),
                    fingerprint: FINGERPRINT,
                    issued_at: case.issued_at,
                    term_ends_at: None,
                    trial_started_at: None,
                    sequence: 1,
                    grace: None,
                    refresh: None,
                },
                key,
            )?;
            let mut keyring = Keyring::new();
            keyring.add(key.verifying_key());
            Some(license::verify(
                &keyring,
                &signed.armored,
                &Expectations {
                    fingerprint: Some(FINGERPRINT),
                    now: Some(case.issued_at),
                    min_sequence: None,
                },
            )?)
        }
    };
    let payload = verified.as_ref().map(|v| v.payload());
    let report = state::evaluate(&StateInput {
        license: payload,
        last_refresh: case.last_refresh,
        verdict: case.verdict,
        high_water: case.high_water,
        now: case.now,
    });
    let snapshot = match payload {
        Some(payload) => Snapshot::from_license(payload, report.state),
        None => Snapshot::unlicensed(catalog),
    };
    let mut observed = Expect {
        state: Some(report.state),
        clock_behind: Some(report.clock_behind_seconds.is_some()),
        ..Expect::default()
    };
    run_check(&snapshot, &case.check, &mut observed);
    Ok(observed)
}

/// Runs one check against a snapshot and records the answer.
pub fn run_check(snapshot: &Snapshot, check: &Check, observed: &mut Expect) {
    let decision = |d: crate::snapshot::Decision<'_>, observed: &mut Expect| {
        observed.allowed = Some(d.allowed);
        observed.reason = Some(d.reason.as_str().to_owned());
        observed.value = d.value.and_then(|v| serde_json::to_value(v).ok());
    };
    match check {
        Check::State => {}
        Check::Feature { feature } => decision(snapshot.check(feature), observed),
        Check::Limit { feature, requested } => {
            decision(snapshot.check_limit(feature, *requested), observed)
        }
        Check::Component { kind, component } => {
            decision(snapshot.check_component(*kind, component), observed)
        }
        Check::Quota {
            feature,
            used,
            amount,
        } => {
            let q = snapshot.check_quota(feature, *used, *amount);
            observed.allowed = Some(q.allowed);
            observed.reason = Some(q.reason.as_str().to_owned());
            observed.remaining = Some(q.remaining);
            observed.overage = Some(q.overage);
            observed.value = serde_json::to_value(q.allowance).ok();
        }
        Check::Classes { classes } => {
            let filter = snapshot.filter_classes(classes);
            observed.classes_allowed = Some(filter.allowed);
            observed.classes_denied = Some(filter.denied);
            observed.defaulted = Some(filter.defaulted);
        }
        Check::Plan {
            cameras,
            device_ram_mb,
            config_keys,
        } => {
            let keys: BTreeSet<String> = config_keys.iter().cloned().collect();
            let plan = snapshot.plan(&DeviceFacts {
                cameras: *cameras,
                ram_mb: *device_ram_mb,
                config_keys: &keys,
            });
            observed.enabled = Some(plan.enabled.iter().map(|m| m.id.to_string()).collect());
            observed.refused = Some(
                plan.refused
                    .iter()
                    .map(|r| {
                        let reason = serde_json::to_value(&r.reason)
                            .ok()
                            .and_then(|v| {
                                v.get("reason").and_then(|r| r.as_str()).map(str::to_owned)
                            })
                            .unwrap_or_default();
                        (r.id.to_string(), reason)
                    })
                    .collect(),
            );
            observed.compose_profiles = Some(plan.compose_profiles);
            observed.compose_services = Some(plan.compose_services);
            observed.ram_mb_total = Some(plan.ram_mb_total);
        }
    }
}
