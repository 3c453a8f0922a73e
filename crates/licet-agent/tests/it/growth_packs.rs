//! Growth packs priced per camera: Advanced Analytics bought for 1 of 3 cameras is on
//! the camera it is assigned to and on no other, cannot be assigned to a second camera,
//! moves when the tenant moves it, and the invoice bills the one camera bought.

use crate::support::{Device, LocalApi, START, TestServer, wait_for_state};
use licet_agent::Agent;
use licet_client::wire::{AddonQuantity, SubscriptionCreate, SubscriptionView, TenantView};
use licet_core::state::LicenseState;
use licet_host::clock::ManualClock;
use serde_json::{Value, json};
use std::sync::Arc;

async fn check(api: &LocalApi, feature: &str, camera: &str) -> Value {
    let (code, answer) = api
        .post(
            "/v1/check",
            json!({"feature": feature, "camera_id": camera}),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    answer
}

async fn assign(api: &LocalApi, camera: &str, packs: Value) -> (u16, Value) {
    let response = api
        .http
        .put(format!("{}/v1/cameras/{camera}/growth-packs", api.base))
        .json(&json!({ "growth_packs": packs }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// A BrinkByte base subscription with Advanced Analytics for `cameras` cameras, and an
/// agent activated with its key, its local API started.
async fn advanced_analytics_box(
    server: &TestServer,
    clock: &Arc<ManualClock>,
    tenant_name: &str,
    cameras: u64,
    device_name: &str,
) -> (TenantView, SubscriptionView, Agent, LocalApi) {
    let tenant = server.admin.create_tenant(tenant_name).await.unwrap();
    let subscription = server
        .admin
        .create_subscription(
            &tenant.id,
            &SubscriptionCreate {
                product_id: "brinkbyte-vision".into(),
                plan: "base".into(),
                addons: vec![AddonQuantity {
                    id: "advanced_analytics".into(),
                    quantity: cameras,
                }],
                trial: false,
                modules: None,
                term_days: None,
            },
        )
        .await
        .unwrap();
    let device = Device::new(device_name);
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config, clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, LicenseState::Active).await;
    (tenant, subscription, agent, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advanced_analytics_for_one_of_three_cameras_is_on_that_camera_only() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let (tenant, _, agent, api) =
        advanced_analytics_box(&server, &clock, "Harbor", 1, "packs-box").await;
    for camera in ["dock", "gate", "yard"] {
        let (code, body) = api.post("/v1/cameras", json!({"camera_id": camera})).await;
        assert_eq!(code, 201, "{body}");
    }

    // Bought, not yet assigned: on no camera.
    let answer = check(&api, "analytics.heatmap", "dock").await;
    assert_eq!(
        (&answer["allowed"], &answer["reason"]),
        (&json!(false), &json!("growth_pack_not_assigned")),
        "{answer}"
    );
    let (code, body) = assign(&api, "dock", json!(["advanced_analytics"])).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"camera_id": "dock", "growth_packs": ["advanced_analytics"]})
    );
    for feature in [
        "analytics.heatmap",
        "analytics.dwell_time",
        "analytics.line_crossing",
    ] {
        assert_eq!(
            check(&api, feature, "dock").await["allowed"],
            true,
            "{feature}"
        );
        for other in ["gate", "yard"] {
            let answer = check(&api, feature, other).await;
            assert_eq!(answer["allowed"], false, "{feature} on {other}: {answer}");
            assert_eq!(answer["reason"], "growth_pack_not_assigned");
        }
    }
    // What the base license grants stays on every camera.
    assert_eq!(check(&api, "zones.line", "yard").await["allowed"], true);

    // One camera bought: a second assignment is refused and changes nothing.
    let (code, body) = assign(&api, "gate", json!(["advanced_analytics"])).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "growth_pack_limit_reached");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("dock"),
        "{body}"
    );
    assert_eq!(
        check(&api, "analytics.heatmap", "dock").await["allowed"],
        true
    );
    // A pack the license does not sell per camera, and an unregistered camera.
    let (code, body) = assign(&api, "gate", json!(["cloud_storage"])).await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("advanced_analytics"),
        "{body}"
    );
    let (code, _) = assign(&api, "roof", json!(["advanced_analytics"])).await;
    assert_eq!(code, 404);

    // bbVision sees the pack on the one camera.
    let (_, cameras) = api.get("/api/v1/license/cameras").await;
    let packs_of = |id: &str| {
        cameras["cameras"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["camera_id"] == id)
            .unwrap()["enabled_growth_packs"]
            .clone()
    };
    assert_eq!(packs_of("dock"), json!(["advanced_analytics"]), "{cameras}");
    assert_eq!(packs_of("gate"), json!([]), "{cameras}");

    // The tenant moves it: off the dock, onto the gate. Removing a camera frees it too.
    assert_eq!(assign(&api, "dock", json!([])).await.0, 200);
    assert_eq!(
        assign(&api, "gate", json!(["advanced_analytics"])).await.0,
        200
    );
    assert_eq!(
        check(&api, "analytics.heatmap", "gate").await["allowed"],
        true
    );
    assert_eq!(
        check(&api, "analytics.heatmap", "dock").await["allowed"],
        false
    );
    let response = api
        .http
        .delete(format!("{}/v1/cameras/gate", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        assign(&api, "yard", json!(["advanced_analytics"])).await.0,
        200
    );

    // The invoice bills the one camera bought: of the day's three cameras, one
    // camera-day of the pack (the agent records and uploads camera-days daily).
    agent.record_camera_days().await.unwrap();
    crate::usage::wait_until_uploaded(&agent).await;
    let preview = server
        .admin
        .invoice_preview(&tenant.id, "2026-11")
        .await
        .unwrap();
    let line = preview.invoices[0]
        .lines
        .iter()
        .find(|l| l.price_id == "advanced-analytics-camera")
        .unwrap_or_else(|| panic!("{preview:?}"));
    assert_eq!(
        (line.quantity, line.unit.as_str()),
        (1, "camera-days"),
        "{line:?}"
    );
    assert_eq!(
        line.amount, 66,
        "2000 a camera-month, one day of 30 (rounded down): {line:?}"
    );
    api.stop().await;
}

/// Bought for 3 cameras and assigned to 1: the invoice bills the one camera-day the
/// pack was assigned, not the 3 it could have covered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invoice_bills_the_camera_days_a_pack_was_assigned() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let (tenant, subscription, agent, api) =
        advanced_analytics_box(&server, &clock, "Quay", 3, "packs-box-2").await;
    // bbVision's subscription card shows the server's subscription, which the license
    // carries.
    let (_, card) = api
        .get(&format!("/api/v1/billing/subscription/{}", tenant.id))
        .await;
    assert_eq!(card["subscription_id"], subscription.id, "{card}");
    for camera in ["dock", "gate", "yard"] {
        let (code, body) = api.post("/v1/cameras", json!({"camera_id": camera})).await;
        assert_eq!(code, 201, "{body}");
    }
    assert_eq!(
        assign(&api, "gate", json!(["advanced_analytics"])).await.0,
        200
    );
    // Recording twice in a day records each camera-day once.
    agent.record_camera_days().await.unwrap();
    assert_eq!(agent.record_camera_days().await.unwrap(), 0);
    crate::usage::wait_until_uploaded(&agent).await;
    let preview = server
        .admin
        .invoice_preview(&tenant.id, "2026-11")
        .await
        .unwrap();
    let quantity = |price: &str| {
        preview.invoices[0]
            .lines
            .iter()
            .find(|l| l.price_id == price)
            .map(|l| l.quantity)
    };
    assert_eq!(quantity("base-camera"), Some(3), "{preview:?}");
    assert_eq!(
        quantity("advanced-analytics-camera"),
        Some(1),
        "the pack was assigned to one camera: {preview:?}"
    );
    api.stop().await;
}
