//! The local API's contract: shapes, bad input, OFREP semantics, the products'
//! compatibility routes, the local API token, the status page and metrics.

use crate::support::{Device, LocalApi, START, offline_agent, signing_key, trial};
use licet_core::resolve::Subscription;
use licet_host::clock::ManualClock;
use std::sync::Arc;
use time::Duration;

fn standard() -> Subscription {
    Subscription::plan("standard")
}

#[tokio::test]
async fn unknown_features_and_malformed_requests_get_clear_answers() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("bad-input");
    let agent = offline_agent(&device, "gate-control", standard(), clock, |_| {});
    let api = LocalApi::start(agent).await;

    let (status, body) = api
        .post("/v1/check", serde_json::json!({"feature": "teleport"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["allowed"], false);
    assert_eq!(body["reason"], "not_in_catalog");

    let response = api
        .http
        .post(format!("{}/v1/check", api.base))
        .header("content-type", "application/json")
        .body("{\"feature\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request", "{body}");

    let (status, body) = api
        .post(
            "/v1/check",
            serde_json::json!({"feature": "x", "colour": 1}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{body}"
    );

    let (status, body) = api
        .post(
            "/v1/components/check",
            serde_json::json!({"kind": "gizmo", "type": "webhook"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("processor, sink or output")
    );

    let (status, body) = api
        .post("/v1/cameras", serde_json::json!({"camera_id": ""}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = api
        .post(
            "/v1/cameras",
            serde_json::json!({"camera_id": "x".repeat(201)}),
        )
        .await;
    assert_eq!(status, 400);

    let response = api
        .http
        .delete(format!("{}/v1/cameras/never-registered", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);

    let (status, body) = api.post("/v1/sync", serde_json::json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_activated");
    api.stop().await;
}

#[tokio::test]
async fn licenses_from_another_key_another_device_or_an_older_sequence_are_refused() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("import-box");
    let agent = offline_agent(
        &device,
        "gate-control",
        standard(),
        clock.clone(),
        |config| {
            config.api_token = Some("local-secret".to_owned().into());
        },
    );
    let before = agent.current().license.clone().unwrap();
    let catalog_path = crate::support::repo().join("examples/catalogs/gate-control.toml");
    let catalog = licet_core::catalog::Catalog::from_toml(
        &std::fs::read_to_string(catalog_path).unwrap(),
        "gate-control",
    )
    .unwrap();
    let issue = |key: &ed25519_dalek::SigningKey, fingerprint: &str, sequence: u64| {
        licet_core::license::issue(
            &licet_core::license::IssueRequest {
                catalog: &catalog,
                subscription: &Subscription::plan("enterprise"),
                license_id: licet_core::ids::LicenseId::new("lic_other"),
                subscription_id: None,
                tenant: licet_core::ids::TenantId::new("acme"),
                device: licet_core::ids::DeviceId::new("device-1"),
                fingerprint,
                issued_at: START,
                term_ends_at: None,
                trial_started_at: None,
                sequence,
                grace: None,
                refresh: None,
            },
            key,
        )
        .unwrap()
        .armored
    };
    let (key, _) = signing_key();
    let other_vendor = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let fingerprint = agent.fingerprint().value.clone();
    let api = LocalApi::start(agent.clone()).await;
    let post = |body: String| {
        let http = api.http.clone();
        let url = format!("{}/v1/license", api.base);
        async move {
            let response = http
                .post(url)
                .bearer_auth("local-secret")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };

    let (status, body) = post(issue(&other_vendor, &fingerprint, 5)).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not certified by a trusted root"),
        "{body}"
    );
    let (status, body) = post(issue(&key, "another-machine", 5)).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another device"),
        "{body}"
    );
    let (status, body) = post(issue(&key, &fingerprint, 0)).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("older"),
        "{body}"
    );
    let (status, body) = post("hello".into()).await;
    assert_eq!(status, 400, "{body}");

    // The license in use is untouched.
    assert_eq!(agent.current().license.as_ref(), Some(&before));
    assert_eq!(before.plan.as_str(), "standard");

    // A newer one from the trusted key replaces it.
    let (status, body) = post(issue(&key, &fingerprint, 2)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["plan"], "enterprise");
    api.stop().await;
}

#[tokio::test]
async fn ofrep_reasons_follow_the_state_and_bulk_answers_carry_an_etag() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("ofrep-box");
    let agent = offline_agent(&device, "gate-control", standard(), clock.clone(), |_| {});
    let api = LocalApi::start(agent.clone()).await;

    let (status, flag) = api
        .post(
            "/ofrep/v1/evaluate/flags/vehicle.color",
            serde_json::json!({"context": {"targetingKey": "gate-1"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(flag["value"], true);
    assert_eq!(flag["reason"], "STATIC");
    assert_eq!(flag["variant"], "on");
    let (_, limit) = api
        .post(
            "/ofrep/v1/evaluate/flags/max_cameras",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(limit["value"], 2, "Standard: two cameras");
    let (status, missing) = api
        .post("/ofrep/v1/evaluate/flags/teleport", serde_json::json!({}))
        .await;
    assert_eq!(status, 404);
    assert_eq!(missing["errorCode"], "FLAG_NOT_FOUND");
    assert_eq!(missing["key"], "teleport");
    let (status, bad) = api
        .post(
            "/ofrep/v1/evaluate/flags/vehicle.color",
            serde_json::json!({"context": 3}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(bad["errorCode"], "INVALID_CONTEXT");

    let bulk = api
        .http
        .post(format!("{}/ofrep/v1/evaluate/flags", api.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(bulk.status().as_u16(), 200);
    let etag = bulk.headers()["etag"].to_str().unwrap().to_owned();
    let body: serde_json::Value = bulk.json().await.unwrap();
    assert!(body["flags"].as_array().unwrap().len() >= 10);
    let again = api
        .http
        .post(format!("{}/ofrep/v1/evaluate/flags", api.base))
        .header("if-none-match", &etag)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);

    // Past the refresh time the answers are STALE; past the grace the policy disables.
    clock.advance(Duration::hours(2));
    let (_, stale) = api
        .post(
            "/ofrep/v1/evaluate/flags/vehicle.color",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(stale["reason"], "STALE", "{stale}");
    assert_eq!(stale["value"], true);
    let changed = api
        .http
        .post(format!("{}/ofrep/v1/evaluate/flags", api.base))
        .header("if-none-match", &etag)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status().as_u16(), 200, "a new state is a new ETag");
    clock.advance(Duration::hours(72));
    let (_, off) = api
        .post(
            "/ofrep/v1/evaluate/flags/vehicle.color",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(off["reason"], "DISABLED", "{off}");
    assert_eq!(off["value"], false);
    assert_eq!(off["metadata"]["licet_reason"], "license_degraded");
    api.stop().await;
}

#[tokio::test]
async fn foxsight_and_brinkbyte_applications_get_their_own_shapes() {
    let clock = Arc::new(ManualClock::new(START));
    let fox = Device::new("foxsight-box");
    let agent = offline_agent(
        &fox,
        "foxsight-vms",
        Subscription::plan("professional"),
        clock.clone(),
        |_| {},
    );
    let api = LocalApi::start(agent).await;
    let (_, status) = api.get("/api/license/status").await;
    assert_eq!(status["valid"], true, "{status}");
    assert_eq!(status["status"], "active");
    assert_eq!(status["tier"], "professional");
    assert_eq!(status["offlineMode"], false);
    assert!(status["features"].as_array().is_some());
    assert!(status.get("expiresAt").is_some());
    assert!(status.get("maxCameras").is_some());
    let (_, check) = api
        .post(
            "/api/license/feature/check",
            serde_json::json!({"featureKey": "teleport"}),
        )
        .await;
    assert_eq!(
        check,
        serde_json::json!({"featureKey": "teleport", "available": false})
    );
    let (_, validate) = api
        .post("/api/license/validate", serde_json::json!({}))
        .await;
    assert_eq!(validate["valid"], true);
    let (code, health) = api.get("/health").await;
    assert_eq!(code, 200);
    assert_eq!(health["status"], "healthy");
    let (_, heartbeat) = api
        .post("/api/license/heartbeat", serde_json::json!({}))
        .await;
    assert_eq!(
        heartbeat["success"], false,
        "air-gapped: nowhere to send it: {heartbeat}"
    );
    api.stop().await;

    let brink = Device::new("brinkbyte-edge");
    let agent = offline_agent(
        &brink,
        "brinkbyte-vision",
        trial("base"),
        clock.clone(),
        |_| {},
    );
    let api = LocalApi::start(agent).await;
    let (_, status) = api.get("/api/v1/license/status").await;
    assert_eq!(status["valid"], true, "{status}");
    assert_eq!(status["is_trial"], true);
    for camera in ["cam-a", "cam-b", "cam-c"] {
        let (code, validation) = api
            .post(
                &format!("/api/v1/license/validate/{camera}"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(code, 200);
        assert_eq!(validation["camera_id"], camera);
        if camera == "cam-c" {
            assert_eq!(
                validation["valid"], false,
                "third camera on a 2-camera trial: {validation}"
            );
            assert!(
                validation["reason"]
                    .as_str()
                    .unwrap()
                    .contains("camera limit")
            );
        } else {
            assert_eq!(validation["valid"], true, "{validation}");
            assert_eq!(validation["mode"], "trial");
        }
    }
    let (_, entitlements) = api.get("/api/v1/entitlements").await;
    let objects = entitlements
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["feature"] == "detection.objects")
        .unwrap();
    assert_eq!(objects["enabled"], true);
    let (_, usage) = api.get("/api/v1/usage/summary").await;
    let api_calls = usage["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["feature"] == "api_calls")
        .unwrap();
    assert_eq!(api_calls["period"], "2026-11");
    api.stop().await;
}

#[tokio::test]
async fn quota_checks_consume_the_period_allowance_and_report_what_remains() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("quota-box");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        Subscription::plan("base"),
        clock.clone(),
        |_| {},
    );
    agent.set_quota_used("api_calls", 49_990).unwrap();
    let api = LocalApi::start(agent).await;
    let (_, first) = api
        .post(
            "/v1/check",
            serde_json::json!({"feature": "api_calls", "amount": 10}),
        )
        .await;
    assert_eq!(first["allowed"], true, "{first}");
    assert_eq!(first["remaining"], 0);
    let (_, over) = api
        .post(
            "/v1/check",
            serde_json::json!({"feature": "api_calls", "amount": 1}),
        )
        .await;
    let (_, usage) = api.get("/v1/usage/summary").await;
    let used = usage["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["feature"] == "api_calls")
        .unwrap()["used"]
        .as_u64()
        .unwrap();
    if over["allowed"] == true {
        assert_eq!(over["reason"], "overage_billed");
        assert_eq!(over["overage"], 1);
        assert_eq!(used, 50_001);
    } else {
        assert_eq!(over["reason"], "quota_exhausted");
        assert_eq!(used, 50_000, "a refused use is not counted");
    }
    api.stop().await;
}

#[tokio::test]
async fn a_configured_token_is_required_and_a_non_loopback_listener_needs_one() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("token-box");
    let agent = offline_agent(&device, "gate-control", standard(), clock.clone(), |c| {
        c.api_token = Some("s3cret-token".to_owned().into());
    });
    let api = LocalApi::start(agent).await;
    let (status, body) = api
        .post("/v1/check", serde_json::json!({"feature": "vehicle.color"}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let response = api
        .http
        .post(format!("{}/v1/check", api.base))
        .bearer_auth("s3cret-token")
        .json(&serde_json::json!({"feature": "vehicle.color"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (status, _) = api.get("/health").await;
    assert_eq!(status, 200, "health stays open for probes");
    api.stop().await;

    let exposed = Device::new("exposed-box");
    let mut config = exposed.config(None);
    config.listen = "0.0.0.0:8471".parse().unwrap();
    let error = licet_agent::Agent::open(config, clock)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("api_token"), "{error}");
}

#[tokio::test]
async fn the_status_page_shows_state_trial_bar_cameras_and_metrics_count_checks() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("page-box");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        trial("base"),
        clock.clone(),
        |_| {},
    );
    agent
        .register_camera("entrance", Some("Entrance <main>"))
        .unwrap();
    let api = LocalApi::start(agent).await;
    let page = api
        .http
        .get(&api.base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("class=\"state ok\">active<"), "{page}");
    assert!(
        page.contains("id=\"trial-bar\" class=\"fill ok\""),
        "{page}"
    );
    assert!(page.contains("90 of 90 days left"), "{page}");
    assert!(page.contains("entrance"));

    clock.advance(Duration::days(85));
    let page = api
        .http
        .get(&api.base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"trial-bar\" class=\"fill amber\""),
        "under 7 days the bar is amber: {page}"
    );
    assert!(page.contains("5 of 90 days left"), "{page}");

    api.post("/v1/check", serde_json::json!({"feature": "teleport"}))
        .await;
    let metrics = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("licet_agent_checks_total 1"), "{metrics}");
    // Latency per route template (the camera id is not a label).
    assert!(
        metrics.contains(
            r#"licet_agent_http_request_duration_seconds_count{method="POST",route="/v1/check",status="2xx"} 1"#
        ),
        "{metrics}"
    );
    let answer = api
        .http
        .get(format!("{}/v1/status", api.base))
        .header("x-request-id", "agent-trace-7")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "agent-trace-7");
    assert!(
        metrics.contains("licet_agent_checks_denied_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("licet_agent_cameras 1"), "{metrics}");
    // 85 days with no refresh: past the 72 h grace of the imported license.
    assert!(
        metrics.contains("licet_agent_state{state=\"degraded\"} 1"),
        "{metrics}"
    );
    api.stop().await;
}

#[tokio::test]
async fn a_license_imported_by_another_process_is_picked_up_by_the_running_agent() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("reload-box");
    let running = offline_agent(&device, "gate-control", standard(), clock.clone(), |_| {});
    let api = LocalApi::start(running.clone()).await;

    // `licet agent import-license` opens the same data directory in another process.
    let other = offline_agent(&device, "gate-control", standard(), clock.clone(), |_| {});
    let renewed = crate::support::license_for(
        &other,
        "gate-control",
        &Subscription::plan("professional"),
        2,
        START,
    );
    other
        .import_license(&renewed, licet_agent::DeviceIdentity::Same)
        .unwrap();

    // The running agent's ticker re-reads the stored license (called here directly).
    running.reload().unwrap();
    let (_, status) = api.get("/v1/status").await;
    assert_eq!(status["plan"], "professional", "{status}");
    assert_eq!(status["sequence"], 2);
    api.stop().await;
}

/// The document is the router: every operation `/openapi.json` lists reaches its
/// handler (an unknown path reaches the fallback, which proves the probe can tell),
/// and a JSON array where an object belongs is refused.
#[tokio::test]
async fn every_documented_operation_is_served() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("openapi");
    let agent = offline_agent(&device, "gate-control", standard(), clock, |_| {});
    let api = LocalApi::start(agent).await;
    let (status, document) = api.get("/openapi.json").await;
    assert_eq!(status, 200);
    let fallback = |answer: &serde_json::Value| {
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no such route"))
    };
    let mut probed = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let url = format!(
                "{}{}",
                api.base,
                path.replace("{camera_id}", "cam-x")
                    .replace("{key}", "alerts.email")
            );
            let response = api
                .http
                .request(method.to_uppercase().parse().unwrap(), url)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let answer: serde_json::Value = response.json().await.unwrap_or_default();
            assert!(
                status != 405 && !fallback(&answer),
                "{method} {path} is documented but not served: {status} {answer}"
            );
            probed += 1;
        }
    }
    assert!(probed >= 30, "{probed} operations");
    let (status, answer) = api.get("/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert!(fallback(&answer), "{answer}");

    let (status, answer) = api
        .post("/v1/check", serde_json::json!(["alerts.email"]))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must be a JSON object"),
        "{answer}"
    );
    api.stop().await;
}
