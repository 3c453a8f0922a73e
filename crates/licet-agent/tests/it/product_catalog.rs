//! The product's signed catalog on the device: core features before any license (from
//! the server at first contact, kept for when it is unreachable), safe mode when the
//! license is refused, and no catalog the vendor did not sign.

use crate::support::{Device, LocalApi, START, TestServer, signing_key, wait_for_state};
use licet_core::state::LicenseState;
use licet_host::clock::ManualClock;
use serde_json::{Value, json};
use std::sync::Arc;

async fn available(api: &LocalApi, feature: &str) -> bool {
    let (code, body) = api
        .post("/api/license/feature/check", json!({"featureKey": feature}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["featureKey"], feature);
    body["available"].as_bool().unwrap()
}

/// Waits (in real time, at most a minute) until the agent holds a signed catalog.
#[allow(clippy::disallowed_methods)] // A watchdog in real time, not a deadline of the product.
async fn wait_for_catalog(agent: &licet_agent::Agent, version: Option<&str>) {
    let started = std::time::Instant::now();
    let mut changes = agent.changes();
    loop {
        if let Some(held) = agent.signed_catalog() {
            if version.is_none_or(|v| held.catalog().version() == v) {
                return;
            }
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no signed catalog arrived"
        );
        tokio::select! {
            _ = changes.changed() => {}
            () = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_any_license_foxsight_core_features_come_from_the_products_signed_catalog() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let device = Device::new("foxsight-core-1");
    // The shipped settings plus the product: no license key, no catalog file.
    let mut config = device.config(Some(&server.base));
    config.product = Some("foxsight-vms".into());
    let agent = device.open(config.clone(), clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_catalog(&agent, None).await;
    let (_, status) = api.get("/api/license/status").await;
    assert_eq!(status["hasLicense"], false, "{status}");
    for core in [
        "module.camera_management",
        "module.live_view",
        "module.recording_basic",
        "module.playback",
        "module.user_management",
    ] {
        assert!(available(&api, core).await, "{core} is a core feature");
    }
    for licensed in ["module.map_view", "module.analytics_advanced"] {
        assert!(
            !available(&api, licensed).await,
            "{licensed} needs a license"
        );
    }
    api.stop().await;
    server.stop();

    // The server is gone: the kept catalog still applies at the next start.
    let restarted = device.open(config, clock.clone());
    assert!(restarted.signed_catalog().is_some());
    let api = LocalApi::start(restarted.clone()).await;
    assert!(available(&api, "module.live_view").await);
    assert!(!available(&api, "module.map_view").await);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_controller_whose_license_is_refused_plans_safe_mode() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server
        .subscription("gate-control", "enterprise", false)
        .await;
    let device = Device::new("gate-safe-1");
    // No product setting: the license names it, and the agent fetches its catalog.
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config.clone(), clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, LicenseState::Active).await;
    let version = agent.current().license.clone().unwrap().catalog_version;
    wait_for_catalog(&agent, Some(&version)).await;
    let (_, plan) = api.get("/v1/plan").await;
    assert!(
        enabled(&plan).contains(&"vehicle.make".to_owned()),
        "{plan}"
    );
    api.stop().await;
    server.stop();

    // Someone edits the stored license: it is refused at the next start, and the
    // controller keeps detecting (the catalog's unlicensed policy), nothing more.
    let db = rusqlite::Connection::open(device.data_dir().join("agent.db")).unwrap();
    db.execute(
        "UPDATE license SET armored = replace(armored, 'Signature: ', 'Signature: AAAA')",
        [],
    )
    .unwrap();
    drop(db);
    let restarted = device.open(config, clock.clone());
    assert_eq!(restarted.current().report.state, LicenseState::Unactivated);
    let api = LocalApi::start(restarted.clone()).await;
    let (_, plan) = api.get("/v1/plan").await;
    let modules = enabled(&plan);
    assert_eq!(
        modules,
        ["core.detection"],
        "safe mode is detection only: {plan}"
    );
    let (_, check) = api
        .post("/v1/check", json!({"feature": "core.detection"}))
        .await;
    assert_eq!(check["allowed"], true, "{check}");
    let (_, check) = api
        .post("/v1/check", json!({"feature": "gate.control"}))
        .await;
    assert_eq!(
        check["allowed"], false,
        "the gate does not open in safe mode: {check}"
    );
    let (_, check) = api
        .post("/v1/check", json!({"feature": "vehicle.make"}))
        .await;
    assert_eq!(check["allowed"], false, "{check}");
    api.stop().await;
}

fn enabled(plan: &Value) -> Vec<String> {
    plan["enabled"]
        .as_array()
        .unwrap_or_else(|| panic!("{plan}"))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_catalog_the_vendor_did_not_sign_is_refused() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("gate-unsigned");
    // A plain catalog file, as the device owner would write one with every module.
    let mut config = device.config(None);
    config.catalog = Some(crate::support::repo().join("examples/catalogs/gate-control.toml"));
    let error = licet_agent::Agent::open(config.clone(), clock.clone())
        .err()
        .expect("an unsigned catalog is refused");
    let message = format!("{error:#}");
    assert!(message.contains("was refused"), "{message}");
    assert!(
        message.contains("-----BEGIN LICET CATALOG-----"),
        "{message}"
    );

    // Signed, but by a key the device does not trust.
    let text =
        std::fs::read_to_string(crate::support::repo().join("examples/catalogs/gate-control.toml"))
            .unwrap();
    let catalog = licet_core::catalog::Catalog::from_toml(&text, "gate-control").unwrap();
    let forged = licet_core::product_document::seal_catalog(
        &text,
        &catalog,
        START,
        &ed25519_dalek::SigningKey::from_bytes(&[67; 32]),
    )
    .unwrap();
    let path = device.dir.path().join("forged.catalog");
    std::fs::write(&path, forged).unwrap();
    config.catalog = Some(path);
    let error = licet_agent::Agent::open(config.clone(), clock.clone())
        .err()
        .expect("a catalog from an untrusted key is refused");
    assert!(
        format!("{error:#}").contains("not certified by a trusted root"),
        "{error:#}"
    );

    // A catalog the device trusts, but for another product than it runs.
    let (_, public) = signing_key();
    config.trusted_keys = vec![public];
    config.catalog = Some(device.signed_catalog("foxsight-vms"));
    config.product = Some("gate-control".into());
    let error = licet_agent::Agent::open(config.clone(), clock.clone())
        .err()
        .expect("a catalog of another product is refused");
    assert!(
        format!("{error:#}").contains("is for product foxsight-vms"),
        "{error:#}"
    );
    config.catalog = Some(device.signed_catalog("gate-control"));
    let agent = licet_agent::Agent::open(config, clock.clone()).unwrap();
    assert!(agent.entitlements().allows("core.detection"));
    assert!(!agent.entitlements().allows("vehicle.make"));
}
