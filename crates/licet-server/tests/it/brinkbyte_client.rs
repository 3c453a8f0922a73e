//! BrinkByte's edge service, as its C++ billing client (`billing_client.cpp`) talks to
//! the billing service: the exact bodies it builds, and every field it reads, read the
//! way it reads them (nlohmann::json `value`/`get<std::string>` and `std::stoll`). A
//! field the client reads with `get<std::string>()` must be a string or absent — `null`
//! throws, and the client then believes the service is unreachable.

use crate::support::{TestServer, activation};
use licet_client::wire::{AddonQuantity, ApiKeyCreate, SubscriptionCreate};
use serde_json::{Value, json};

/// What the client does with `valid_until`: absent → 0; present → `get<std::string>()`
/// then `std::stoll`, which must consume a whole integer.
fn valid_until(body: &Value) -> i64 {
    match body.get("valid_until") {
        None => 0,
        Some(Value::String(text)) => text
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("std::stoll reads {text:?} as a prefix at best: {body}")),
        Some(other) => panic!("get<std::string>() throws on {other}: {body}"),
    }
}

/// `parseUsageBatchResponse`: counts, and `errors` as strings.
fn usage_result(body: &Value) -> (i64, i64, Vec<String>) {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors is an array: {body}"))
        .iter()
        .map(|e| {
            e.as_str()
                .unwrap_or_else(|| panic!("get<std::string>() throws on {e}: {body}"))
                .to_owned()
        })
        .collect();
    (
        body["accepted_count"].as_i64().unwrap(),
        body["rejected_count"].as_i64().unwrap(),
        errors,
    )
}

async fn post(server: &TestServer, key: &str, path: &str, body: Value) -> (u16, Value) {
    // The client's headers: JSON, the key as a bearer token.
    let response = server
        .http()
        .post(format!("{}/api/v1{path}", server.base))
        .header("Content-Type", "application/json")
        .bearer_auth(key)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn customer(
    server: &TestServer,
    term_days: Option<u32>,
    trial: bool,
) -> (String, String, String) {
    let tenant = server.admin.create_tenant("BrinkByte site").await.unwrap();
    let subscription = server
        .admin
        .create_subscription(
            &tenant.id,
            &SubscriptionCreate {
                product_id: "brinkbyte-vision".into(),
                plan: "base".into(),
                addons: vec![AddonQuantity {
                    id: "advanced_analytics".into(),
                    quantity: 1,
                }],
                trial,
                modules: None,
                term_days,
            },
        )
        .await
        .unwrap();
    let device = server
        .anon
        .activate(&activation(
            subscription.license_key.as_ref().unwrap(),
            "bb-edge-1",
        ))
        .await
        .unwrap();
    let key = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec![
                "devices:write".into(),
                "subscriptions:read".into(),
                "usage:write".into(),
            ],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    (tenant.id, device.device_id, key)
}

pub async fn the_billing_client_reads_every_answer(server: &TestServer) {
    let now = licet_host::clock::Clock::now(&licet_host::clock::SystemClock).unix_timestamp();

    // A paid subscription without an end date: no `valid_until` at all (the client
    // reads 0), never `null`.
    let (tenant, device, key) = customer(server, None, false).await;
    let (status, body) = post(
        server,
        &key,
        "/licenses/validate",
        json!({"camera_id": "cam-1", "tenant_id": tenant, "device_id": device}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["is_valid"], true);
    assert_eq!(body["license_mode"], "paid");
    assert_eq!(body["cameras_allowed"].as_i64(), Some(-1));
    assert_eq!(body["enabled_growth_packs"], json!(["advanced_analytics"]));
    assert_eq!(valid_until(&body), 0);
    let (_, body) = post(
        server,
        &key,
        "/entitlements/check",
        json!({"tenant_id": tenant, "feature_category": "analytics", "feature_name": "heatmap"}),
    )
    .await;
    assert_eq!(body["is_enabled"], true);
    assert_eq!(body["quota_remaining"].as_i64(), Some(-1));
    assert_eq!(valid_until(&body), 0);

    // A 30-day term: epoch seconds, as a string of digits.
    let (tenant, device, key) = customer(server, Some(30), false).await;
    let (_, body) = post(
        server,
        &key,
        "/licenses/validate",
        json!({"camera_id": "cam-1", "tenant_id": tenant, "device_id": device}),
    )
    .await;
    let end = valid_until(&body);
    assert!((end - (now + 30 * 86_400)).abs() < 120, "{body}");
    // A trial: its end.
    let (trial_tenant, trial_device, trial_key) = customer(server, None, true).await;
    let (_, body) = post(
        server,
        &trial_key,
        "/licenses/validate",
        json!({"camera_id": "cam-1", "tenant_id": trial_tenant, "device_id": trial_device}),
    )
    .await;
    assert_eq!(body["license_mode"], "trial");
    assert!(valid_until(&body) > now, "{body}");

    // reportUsageBatch: quantities are doubles (1.0), times epoch seconds as strings,
    // metadata an object (empty when the event has none).
    let event = |kind: &str, quantity: f64, at: i64| {
        json!({
            "tenant_id": tenant, "event_type": kind, "resource_id": "cam-1",
            "quantity": quantity, "unit": "call", "event_time": at.to_string(), "metadata": {},
        })
    };
    let batch = json!({"events": [
        event("api_call", 1.0, now - 60),
        event("api_call", 2.0, now - 30),
        event("api_cal", 1.0, now - 10),
    ]});
    let (status, body) = post(server, &key, "/usage/batch", batch.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (accepted, rejected, errors) = usage_result(&body);
    assert_eq!((accepted, rejected), (2, 1), "{body}");
    assert!(
        errors[0].starts_with("events[2]: ") && errors[0].contains("api_cal"),
        "{errors:?}"
    );
    // The client retries a batch it saw fail: the retry counts nothing twice.
    let (_, body) = post(server, &key, "/usage/batch", batch).await;
    assert_eq!(usage_result(&body).0, 2);
    let (_, body) = post(
        server,
        &key,
        "/entitlements/check",
        json!({"tenant_id": tenant, "feature_category": "", "feature_name": "api_calls"}),
    )
    .await;
    assert_eq!(body["is_enabled"], true);
    assert_eq!(
        body["quota_remaining"].as_i64(),
        Some(50_000 - 3),
        "billed once: {body}"
    );

    // sendHeartbeat and checkHealth.
    let (status, body) = post(
        server,
        &key,
        "/heartbeat",
        json!({
            "device_id": device, "tenant_id": tenant, "active_camera_ids": ["cam-1"],
            "management_tier": "managed",
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"].as_str(), Some("ok"));
    assert!(body["next_heartbeat_in_seconds"].as_i64().is_some());
    let health: Value = server
        .http()
        .get(format!("{}/api/v1/health", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy", "{health}");
}

crate::on_both!(the_billing_client_reads_every_answer);
