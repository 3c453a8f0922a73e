//! The core's conformance suite answered through a live agent's HTTP API: every case's
//! license is issued, imported into a fresh agent whose persisted state is set as the
//! case says, and the check is asked over HTTP. The answers must equal the case's.

use crate::support::{Device, LocalApi, repo, signing_key};
use licet_core::catalog::Catalog;
use licet_core::conformance::{Case, CaseFile, Check, Expect};
use licet_core::ids::{DeviceId, LicenseId, TenantId};
use licet_core::license::{self, IssueRequest};
use licet_host::clock::ManualClock;
use std::sync::Arc;

fn catalog(name: &str) -> (Catalog, std::path::PathBuf) {
    let path = repo().join(format!("examples/catalogs/{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    (Catalog::from_toml(&text, name).unwrap(), path)
}

async fn observe(case: &Case) -> Expect {
    let (catalog, _) = catalog(&case.catalog);
    let (key, public) = signing_key();
    let device = Device::new(&format!("conformance-{}", case.name.len()));
    let mut config = device.config(None);
    config.trusted_keys = vec![public];
    config.catalog = Some(device.signed_catalog(&case.catalog));
    if let Check::Plan {
        device_ram_mb,
        config_keys,
        ..
    } = &case.check
    {
        config.device_ram_mb = *device_ram_mb;
        config.config_keys = config_keys.clone();
    }
    let clock = Arc::new(ManualClock::new(case.issued_at));
    let agent = device.open(config, clock.clone());
    if let Some(subscription) = &case.subscription {
        let signed = license::issue(
            &IssueRequest {
                catalog: &catalog,
                subscription,
                license_id: LicenseId::new("lic_conformance"),
                subscription_id: None,
                tenant: TenantId::new("tenant-conformance"),
                device: DeviceId::new("device-conformance"),
                fingerprint: &agent.fingerprint().value,
                issued_at: case.issued_at,
                term_ends_at: None,
                trial_started_at: None,
                sequence: 1,
                grace: None,
                refresh: None,
            },
            &key,
        )
        .unwrap();
        agent
            .import_license(&signed.armored, licet_agent::DeviceIdentity::Same)
            .unwrap();
    }
    clock.set(case.now);
    agent
        .set_state_inputs(case.last_refresh, case.verdict, case.high_water)
        .unwrap();
    if let Check::Quota { feature, used, .. } = &case.check {
        agent.set_quota_used(feature, *used).unwrap();
    }

    let api = LocalApi::start(agent).await;
    let (_, status) = api.get("/v1/status").await;
    let mut observed = Expect {
        state: serde_json::from_value(status["state"].clone()).ok(),
        clock_behind: Some(!status["clock_behind_seconds"].is_null()),
        ..Expect::default()
    };
    let decision = |observed: &mut Expect, answer: &serde_json::Value| {
        observed.allowed = answer["allowed"].as_bool();
        observed.reason = answer["reason"].as_str().map(str::to_owned);
        observed.value = Some(answer["value"].clone()).filter(|v| !v.is_null());
    };
    match &case.check {
        Check::State => {}
        Check::Feature { feature } => {
            let (_, answer) = api
                .post("/v1/check", serde_json::json!({"feature": feature}))
                .await;
            decision(&mut observed, &answer);
        }
        Check::Limit { feature, requested } => {
            let (_, answer) = api
                .post(
                    "/v1/check",
                    serde_json::json!({"feature": feature, "amount": requested}),
                )
                .await;
            decision(&mut observed, &answer);
        }
        Check::Quota {
            feature, amount, ..
        } => {
            let (_, answer) = api
                .post(
                    "/v1/check",
                    serde_json::json!({"feature": feature, "amount": amount}),
                )
                .await;
            decision(&mut observed, &answer);
            observed.remaining = serde_json::from_value(answer["remaining"].clone()).ok();
            observed.overage = answer["overage"].as_u64();
        }
        Check::Classes { classes } => {
            let (_, answer) = api
                .post(
                    "/v1/classes/filter",
                    serde_json::json!({"classes": classes}),
                )
                .await;
            observed.classes_allowed = serde_json::from_value(answer["allowed"].clone()).ok();
            observed.classes_denied = serde_json::from_value(answer["denied"].clone()).ok();
            observed.defaulted = answer["defaulted"].as_bool();
        }
        Check::Component { kind, component } => {
            let (_, answer) = api
                .post(
                    "/v1/components/check",
                    serde_json::json!({"kind": kind.as_str(), "type": component}),
                )
                .await;
            observed.allowed = answer["allowed"].as_bool();
            observed.reason = answer["reason"].as_str().map(str::to_owned);
        }
        Check::Plan { cameras, .. } => {
            let (_, plan) = api.get(&format!("/v1/plan?cameras={cameras}")).await;
            observed.enabled = Some(
                plan["enabled"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["id"].as_str().unwrap().to_owned())
                    .collect(),
            );
            observed.refused = Some(
                plan["refused"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| {
                        (
                            m["id"].as_str().unwrap().to_owned(),
                            m["reason"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect(),
            );
            observed.compose_profiles =
                serde_json::from_value(plan["compose_profiles"].clone()).ok();
            observed.compose_services =
                serde_json::from_value(plan["compose_services"].clone()).ok();
            observed.ram_mb_total = plan["ram_mb_total"].as_u64();
        }
    }
    api.stop().await;
    observed
}

#[tokio::test]
async fn every_conformance_case_is_answered_the_same_through_the_agent() {
    let dir = repo().join("crates/licet-core/tests/conformance");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for file in files {
        let cases: CaseFile =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for case in &cases.cases {
            count += 1;
            let observed = observe(case).await;
            let mismatches = case.expect.mismatches(&observed);
            if !mismatches.is_empty() {
                failures.push(format!(
                    "{}: {}: {}",
                    file.display(),
                    case.name,
                    mismatches.join("; ")
                ));
            }
        }
    }
    assert!(count >= 100, "the suite has {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
