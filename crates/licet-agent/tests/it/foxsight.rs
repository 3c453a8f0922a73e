//! Foxsight's local license API on the agent, replayed as Foxsight's web UI and API
//! gateway call it: the request bodies its client sends and every field its response
//! models (`LicenseStatusResponse`, `LicenseActivationResponse`,
//! `LicenseValidationResponse`, `FeatureCheckResponse`, `HeartbeatResponse`,
//! `HealthCheckResponse`) declare, with their types: optional fields are left out or
//! typed, never `null` where the model says `int` or `bool`.

use crate::support::{Database, Device, LocalApi, START, TestServer, wait_for_state};
use licet_core::state::LicenseState;
use licet_host::clock::ManualClock;
use serde_json::{Value, json};
use std::sync::Arc;
use time::Duration;

async fn advance(clock: &ManualClock, by: Duration) {
    clock.advance(by);
    tokio::time::advance(std::time::Duration::try_from(by).unwrap()).await;
}

/// An optional field of a Foxsight model: absent, or of the named JSON type.
fn optional(body: &Value, field: &str, is: fn(&Value) -> bool) {
    if let Some(value) = body.get(field) {
        assert!(is(value), "`{field}` has the wrong type in {body}");
    }
}

/// The types `LicenseStatusResponse` declares.
fn status_typed(status: &Value) {
    assert!(status["hasLicense"].is_boolean(), "{status}");
    assert!(status["status"].is_string(), "{status}");
    for field in [
        "licenseKey",
        "tier",
        "expiresAt",
        "gracePeriodExpires",
        "lastValidated",
        "message",
        "reason",
    ] {
        optional(status, field, Value::is_string);
    }
    optional(status, "maxCameras", Value::is_u64);
    optional(status, "maxUsers", Value::is_u64);
    optional(status, "inGracePeriod", Value::is_boolean);
}

/// The types `LicenseValidationResponse` declares.
fn validation_typed(validation: &Value) {
    assert!(validation["valid"].is_boolean(), "{validation}");
    optional(validation, "license", Value::is_object);
    optional(validation, "inGracePeriod", Value::is_boolean);
    for field in ["validUntil", "gracePeriodExpires", "reason", "message"] {
        optional(validation, field, Value::is_string);
    }
}

/// The two replays one at a time: each stops its server and starts it again on the
/// same port, and a port one frees must not be the other's meanwhile.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(start_paused = true)]
async fn foxsight_ui_activates_reads_status_validates_and_sees_the_grace_period() {
    let _turn = ONE_AT_A_TIME.lock().await;
    foxsight_ui(Database::sqlite()).await;
}

#[tokio::test(start_paused = true)]
async fn foxsight_ui_against_a_server_on_postgresql() {
    let _turn = ONE_AT_A_TIME.lock().await;
    if let Some(database) = Database::postgres() {
        foxsight_ui(database).await;
    }
}

async fn foxsight_ui(database: Database) {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_on(&database, clock.clone(), 0, server_dir.path().to_path_buf());
    let port = server.port();
    let subscription = server
        .subscription("foxsight-vms", "professional", false)
        .await;
    let key = subscription.license_key.clone().unwrap();
    let device = Device::new("foxsight-server-1");
    let agent = device.open(device.config(Some(&server.base)), clock.clone());
    let api = LocalApi::start(agent.clone()).await;

    // Health, as the container's health check and the UI's footer read it.
    let (code, health) = api.get("/health").await;
    assert_eq!(code, 200);
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["service"], "licet-agent");
    assert!(health["version"].as_str().is_some_and(|v| !v.is_empty()));
    assert!(health["hardwareId"].as_str().is_some_and(|v| v.len() == 64));
    assert!(health.get("installationId").is_none(), "not activated yet");

    // No license yet.
    let (code, status) = api.get("/api/license/status").await;
    assert_eq!(code, 200);
    status_typed(&status);
    assert_eq!(status["hasLicense"], false, "{status}");
    assert_eq!(status["status"], "no_license");
    assert_eq!(status["message"], "No license activated");
    assert!(status.get("licenseKey").is_none() && status.get("tier").is_none());
    let (_, validation) = api.post("/api/license/validate", json!({})).await;
    validation_typed(&validation);
    assert_eq!(validation["valid"], false);
    assert_eq!(validation["reason"], "no_license");

    // A wrong key: 400 with FastAPI's `detail`, which the UI shows.
    let (code, refused) = api
        .post(
            "/api/license/activate",
            json!({"licenseKey": "FXSGHT-0000-0000-0000"}),
        )
        .await;
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{refused}"
    );
    assert_eq!(refused["detail"], refused["error"]["message"]);
    assert!(refused["error"]["code"].is_string());
    let (code, empty) = api
        .post("/api/license/activate", json!({"licenseKey": "  "}))
        .await;
    assert_eq!(code, 400, "{empty}");
    assert!(empty["detail"].as_str().unwrap().contains("licenseKey"));
    let response = api
        .http
        .post(format!("{}/api/license/activate", api.base))
        .body("licenseKey=FXSGHT")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let malformed: Value = response.json().await.unwrap();
    assert!(malformed["detail"].is_string(), "{malformed}");
    let (_, status) = api.get("/api/license/status").await;
    assert_eq!(
        status["hasLicense"], false,
        "a refused key installs nothing"
    );

    // The right key.
    let (code, activated) = api
        .post("/api/license/activate", json!({"licenseKey": key}))
        .await;
    assert_eq!(code, 200, "{activated}");
    assert_eq!(activated["success"], true);
    assert_eq!(activated["message"], "License activated successfully");
    let license = &activated["license"];
    let hint = license["licenseKey"].as_str().unwrap();
    assert_eq!(hint.chars().count(), key.chars().count());
    assert!(hint.ends_with(&key[key.len() - 4..]) && hint.starts_with("****"));
    assert_eq!(license["tier"], "professional");
    assert_eq!(license["status"], "active");
    assert!(license["expiresAt"].is_string(), "{license}");
    assert_eq!(license["maxCameras"], 64);
    assert_eq!(license["maxUsers"], 25);
    let enabled: Vec<&str> = license["enabledFeatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(enabled.contains(&"module.map_view") && enabled.contains(&"module.live_view"));
    assert!(!enabled.contains(&"module.analytics_advanced"));

    let (_, status) = api.get("/api/license/status").await;
    status_typed(&status);
    assert_eq!(status["hasLicense"], true, "{status}");
    assert_eq!(status["status"], "active");
    assert_eq!(status["licenseKey"], hint);
    assert_eq!(status["tier"], "professional");
    assert_eq!(status["expiresAt"], license["expiresAt"]);
    assert_eq!(
        (status["maxCameras"].as_u64(), status["maxUsers"].as_u64()),
        (Some(64), Some(25))
    );
    assert_eq!(status["inGracePeriod"], false);
    assert!(status.get("gracePeriodExpires").is_none());
    assert!(status["lastValidated"].is_string(), "{status}");
    assert!(status.get("reason").is_none() && status.get("message").is_none());
    assert_eq!(status["offlineMode"], false);

    let (_, validation) = api.post("/api/license/validate", json!({})).await;
    validation_typed(&validation);
    assert_eq!(validation["valid"], true, "{validation}");
    assert_eq!(validation["inGracePeriod"], false);
    assert_eq!(validation["license"]["tier"], "professional");
    assert!(validation["validUntil"].is_string());

    for (feature, available) in [
        ("module.map_view", true),
        ("module.live_view", true),
        ("module.analytics_advanced", false),
    ] {
        let (code, check) = api
            .post("/api/license/feature/check", json!({"featureKey": feature}))
            .await;
        assert_eq!(code, 200);
        assert_eq!(
            check,
            json!({"featureKey": feature, "available": available})
        );
    }
    let (_, heartbeat) = api.post("/api/license/heartbeat", json!({})).await;
    assert_eq!(heartbeat["success"], true, "{heartbeat}");
    assert!(heartbeat["message"].is_string());
    let (_, health) = api.get("/health").await;
    assert!(health["installationId"].is_string(), "{health}");

    // The uplink goes away: past the 4-hour refresh the license is in its grace
    // (Foxsight's `inGracePeriod`), and the device says it is offline. A sync first, so
    // that no refresh is still in flight when the server stops (its answer, read after
    // the clock moved, would restart the lease then).
    let (code, _) = api.post("/v1/sync", json!({})).await;
    assert_eq!(code, 200);
    server.stop();
    advance(&clock, Duration::hours(5)).await;
    let _ = api.post("/v1/sync", json!({})).await;
    wait_for_state(&agent, LicenseState::Stale).await;
    let (_, status) = api.get("/api/license/status").await;
    status_typed(&status);
    assert_eq!(status["status"], "active", "{status}");
    assert_eq!(status["inGracePeriod"], true);
    assert!(status["gracePeriodExpires"].is_string(), "{status}");
    assert_eq!(status["offlineMode"], true);
    let (_, validation) = api.post("/api/license/validate", json!({})).await;
    validation_typed(&validation);
    assert_eq!(validation["valid"], true);
    assert_eq!(validation["inGracePeriod"], true);
    assert_eq!(
        validation["gracePeriodExpires"],
        status["gracePeriodExpires"]
    );

    // Past the 72-hour grace: invalid, for Foxsight's own reason, still offline.
    advance(&clock, Duration::hours(72)).await;
    wait_for_state(&agent, LicenseState::Degraded).await;
    let (_, status) = api.get("/api/license/status").await;
    status_typed(&status);
    assert_eq!(status["hasLicense"], true, "{status}");
    assert_eq!(status["status"], "invalid");
    assert_eq!(status["reason"], "grace_period_expired");
    assert!(status["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(status["licenseKey"], hint);
    assert_eq!(
        status["offlineMode"], true,
        "degraded while offline: {status}"
    );
    let (_, validation) = api.post("/api/license/validate", json!({})).await;
    validation_typed(&validation);
    assert_eq!(validation["valid"], false);
    assert_eq!(validation["reason"], "grace_period_expired");
    assert!(validation.get("license").is_none());
    let (_, core) = api
        .post(
            "/api/license/feature/check",
            json!({"featureKey": "module.live_view"}),
        )
        .await;
    assert_eq!(core["available"], true, "core modules stay on: {core}");
    let (_, licensed) = api
        .post(
            "/api/license/feature/check",
            json!({"featureKey": "module.map_view"}),
        )
        .await;
    assert_eq!(licensed["available"], false, "{licensed}");

    // Back online: the next refresh lifts it.
    let _server = TestServer::start_on(
        &database,
        clock.clone(),
        port,
        server_dir.path().to_path_buf(),
    );
    let (code, _) = api.post("/v1/sync", json!({})).await;
    assert_eq!(code, 200);
    let (_, status) = api.get("/api/license/status").await;
    assert_eq!(
        (&status["status"], &status["offlineMode"]),
        (&json!("active"), &json!(false)),
        "{status}"
    );
    api.stop().await;
}
