//! The products' own license-service routes answer in their exact shapes.

use crate::support::{TestServer, activation};
use licet_client::wire::{AddonQuantity, ApiKeyCreate, SubscriptionCreate};
use serde_json::{Value, json};

async fn post(server: &TestServer, token: Option<&str>, path: &str, body: Value) -> (u16, Value) {
    let mut request = server
        .http()
        .post(format!("{}{path}", server.base))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

async fn brinkbyte_billing_routes(server: &TestServer) {
    let tenant = server
        .admin
        .create_tenant("BrinkByte customer")
        .await
        .unwrap();
    let subscription = server
        .admin
        .create_subscription(
            &tenant.id,
            &SubscriptionCreate {
                product_id: "brinkbyte-vision".into(),
                plan: "base".into(),
                addons: vec![AddonQuantity {
                    id: "advanced_analytics".into(),
                    quantity: 2,
                }],
                trial: false,
                modules: None,
                term_days: Some(30),
            },
        )
        .await
        .unwrap();
    let device = server
        .anon
        .activate(&activation(
            subscription.license_key.as_ref().unwrap(),
            "bb-1",
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

    let (status, body) = post(
        server,
        Some(&key),
        "/api/v1/licenses/validate",
        json!({"camera_id": "cam-1", "tenant_id": tenant.id, "device_id": device.device_id}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        [
            "cameras_allowed",
            "enabled_growth_packs",
            "is_valid",
            "license_mode",
            "valid_until"
        ]
    );
    assert_eq!(body["is_valid"], true);
    assert_eq!(body["license_mode"], "paid");
    assert_eq!(body["enabled_growth_packs"], json!(["advanced_analytics"]));
    assert_eq!(
        body["cameras_allowed"], -1,
        "base has unlimited cameras: -1"
    );
    // Unix seconds as a decimal string: BrinkByte's client reads it with std::stoll.
    assert!(
        body["valid_until"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 1_700_000_000
    );

    let check = |category: &str, name: &str| json!({"tenant_id": tenant.id, "feature_category": category, "feature_name": name});
    let (_, body) = post(
        server,
        Some(&key),
        "/api/v1/entitlements/check",
        check("analytics", "heatmap"),
    )
    .await;
    assert_eq!(
        keys(&body),
        [
            "is_enabled",
            "quota_limit",
            "quota_remaining",
            "quota_used",
            "reason",
            "valid_until"
        ]
    );
    assert_eq!(body["reason"], "enabled");
    // BrinkByte's own names for the Advanced Analytics pack resolve.
    for name in ["dwell_time", "line_crossing", "crowd_density"] {
        let (_, body) = post(
            server,
            Some(&key),
            "/api/v1/entitlements/check",
            check("analytics", name),
        )
        .await;
        assert_eq!(body["is_enabled"], true, "analytics.{name}: {body}");
    }
    // And its names in other categories, through the catalog's aliases: base models are
    // in the base license, SMS needs API Integration, PPE the Mining pack.
    for (category, name, enabled, reason) in [
        ("cv_models", "person", true, "enabled"),
        ("outputs", "sms", false, "not_licensed"),
        ("cv_models", "ppe", false, "not_licensed"),
        ("cv_models", "teleporter", false, "unknown_feature"),
    ] {
        let (_, answer) = post(
            server,
            Some(&key),
            "/api/v1/entitlements/check",
            check(category, name),
        )
        .await;
        assert_eq!(
            (&answer["is_enabled"], &answer["reason"]),
            (&json!(enabled), &json!(reason)),
            "{category}.{name}: {answer}"
        );
    }
    assert_eq!(
        (body["is_enabled"].clone(), body["quota_remaining"].clone()),
        (json!(true), json!(-1))
    );
    let (_, body) = post(
        server,
        Some(&key),
        "/api/v1/entitlements/check",
        check("", "api_calls"),
    )
    .await;
    assert_eq!(
        (body["is_enabled"].clone(), body["quota_remaining"].clone()),
        (json!(true), json!(50000))
    );
    // BrinkByte's entitlement manager reads the limit and the use too (a missing limit
    // would read as unlimited).
    assert_eq!(
        (body["quota_limit"].clone(), body["quota_used"].clone()),
        (json!(50000), json!(0)),
        "{body}"
    );
    let (_, body) = post(
        server,
        Some(&key),
        "/api/v1/entitlements/check",
        check("alerts", "sms"),
    )
    .await;
    assert_eq!(body["is_enabled"], false, "SMS needs API Integration");
    assert_eq!(body["reason"], "not_licensed", "{body}");
    // A name no catalog has is unknown, not a plan to upgrade.
    let (_, body) = post(
        server,
        Some(&key),
        "/api/v1/entitlements/check",
        check("analytics", "heatmapp"),
    )
    .await;
    assert_eq!(
        (body["is_enabled"].clone(), body["reason"].clone()),
        (json!(false), json!("unknown_feature")),
        "{body}"
    );

    let (status, body) = post(server, Some(&key), "/api/v1/heartbeat",
        json!({"device_id": device.device_id, "tenant_id": tenant.id, "active_camera_ids": ["cam-1", "cam-2"], "management_tier": "standard"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": "ok", "next_heartbeat_in_seconds": 60})
    );

    // The tenant comes from the key: another tenant_id in the body is refused (404, as
    // another tenant's id is everywhere), not trusted.
    let (status, body) = post(server, Some(&key), "/api/v1/licenses/validate",
        json!({"camera_id": "cam-1", "tenant_id": "ten_someone_else", "device_id": device.device_id})).await;
    assert_eq!(status, 404);
    assert_eq!(keys(&body), ["code", "detail"]);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("the tenant always comes from the key"),
        "{body}"
    );
    // BrinkByte's error shape for missing auth and malformed bodies too.
    let (status, body) = post(server, None, "/api/v1/heartbeat", json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    let (status, body) = post(
        server,
        Some(&key),
        "/api/v1/heartbeat",
        json!({"device_id": 5}),
    )
    .await;
    assert_eq!(
        (status, keys(&body)),
        (400, vec!["code", "detail"]),
        "{body}"
    );
    // Suspension shows at once.
    server
        .admin
        .subscription_action(&subscription.id, "suspend")
        .await
        .unwrap();
    let (_, body) = post(
        server,
        Some(&key),
        "/api/v1/licenses/validate",
        json!({"camera_id": "cam-1", "tenant_id": tenant.id, "device_id": device.device_id}),
    )
    .await;
    assert_eq!(
        (body["is_valid"].clone(), body["license_mode"].clone()),
        (json!(false), json!("inactive"))
    );
}

async fn foxsight_license_server_routes(server: &TestServer) {
    let (tenant, subscription) = server.tenant_with("foxsight-vms", "professional").await;
    let subscription_tenant = tenant.id.clone();
    let key = subscription.license_key.unwrap();
    let (status, body) = post(server, None, "/api/licenses/activate",
        json!({"licenseKey": key, "hardwareId": "HW-1234", "installationId": "vms-main", "version": "5.2"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["success"], true);
    let license = &body["data"]["license"];
    assert_eq!(
        keys(license),
        [
            "enabledFeatures",
            "expiresAt",
            "licenseKey",
            "maxCameras",
            "maxUsers",
            "signature",
            "status",
            "tier"
        ]
    );
    assert_eq!(license["licenseKey"], key);
    assert_eq!(license["status"], "active");
    assert_eq!(license["tier"], "professional");
    assert_eq!(
        (license["maxCameras"].clone(), license["maxUsers"].clone()),
        (json!(64), json!(25))
    );
    let features: Vec<&str> = license["enabledFeatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        features.contains(&"module.live_view") && features.contains(&"module.map_view"),
        "{features:?}"
    );
    assert!(
        !features.contains(&"module.analytics_advanced"),
        "{features:?}"
    );
    assert!(
        license["signature"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN LICET LICENSE-----")
    );

    let (status, body) = post(
        server,
        None,
        "/api/licenses/validate",
        json!({"licenseKey": key, "hardwareId": "HW-1234"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body["data"]),
        ["gracePeriodActive", "isValid", "license"]
    );
    assert_eq!(
        (
            body["data"]["isValid"].clone(),
            body["data"]["gracePeriodActive"].clone()
        ),
        (json!(true), json!(false))
    );
    let (_, body) = post(
        server,
        None,
        "/api/licenses/validate",
        json!({"licenseKey": key, "hardwareId": "HW-other"}),
    )
    .await;
    assert_eq!(
        body["data"]["isValid"], false,
        "another machine's hardware id is not valid"
    );

    let (status, body) = post(server, None, "/api/licenses/heartbeat",
        json!({"licenseKey": key, "hardwareId": "HW-1234", "camerasInUse": 12, "usersActive": 3, "storageUsed": 123456})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "ok");
    // Foxsight's own client (`send_heartbeat`) nests the metrics and adds its
    // installation and system facts: the nested figures are what is stored.
    let (status, body) = post(
        server,
        None,
        "/api/licenses/heartbeat",
        json!({
            "licenseKey": key, "hardwareId": "HW-1234", "installationId": "inst-7",
            "usageMetrics": {"camerasInUse": 7, "usersActive": 2, "storageUsedGb": 1.5},
            "systemInfo": {"os": "Linux", "cpu_count": 4},
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let devices = server.admin.devices(&subscription_tenant).await.unwrap();
    let metrics = &devices[0].metrics;
    assert_eq!(
        (
            &metrics["cameras_in_use"],
            &metrics["users_active"],
            &metrics["storage_used_gb"]
        ),
        (&json!(7), &json!(2), &json!(1.5)),
        "{metrics}"
    );

    // Foxsight's error shape.
    let (status, body) = post(
        server,
        None,
        "/api/licenses/activate",
        json!({"licenseKey": "LCT-00000-00000-00000-00001", "hardwareId": "x"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "invalid_license_key");
    let (status, body) = post(
        server,
        None,
        "/api/licenses/validate",
        json!({"hardwareId": "x"}),
    )
    .await;
    assert_eq!(
        (
            status,
            body["success"].clone(),
            body["error"]["code"].clone()
        ),
        (400, json!(false), json!("invalid_request"))
    );
}

/// Each BrinkByte route needs its scope: a key with every other scope is refused with
/// 403 and nothing is stored; another tenant's key learns nothing.
async fn brinkbyte_routes_enforce_scopes(server: &TestServer) {
    let (tenant, subscription) = server.tenant_with("brinkbyte-vision", "base").await;
    let device = server
        .anon
        .activate(&activation(
            subscription.license_key.as_ref().unwrap(),
            "bb-scopes",
        ))
        .await
        .unwrap();
    let (other, _) = server.tenant_with("brinkbyte-vision", "base").await;
    let now = licet_core::time_text(licet_host::clock::Clock::now(
        &licet_host::clock::SystemClock,
    ));
    let key_with = |tenant_id: String, scopes: Vec<&str>| {
        let admin = server.admin.clone();
        let scopes: Vec<String> = scopes.into_iter().map(str::to_owned).collect();
        async move {
            admin
                .create_api_key(&ApiKeyCreate {
                    tenant_id,
                    scopes,
                    expires_in_days: None,
                })
                .await
                .unwrap()
                .key
        }
    };
    let all = [
        "subscriptions:write",
        "devices:write",
        "usage:write",
        "invoices:read",
    ];
    let routes = [
        (
            "/api/v1/licenses/validate",
            "devices:read",
            json!({"camera_id": "c", "tenant_id": tenant.id, "device_id": device.device_id}),
        ),
        (
            "/api/v1/entitlements/check",
            "subscriptions:read",
            json!({"tenant_id": tenant.id, "feature_category": "analytics", "feature_name": "heatmap"}),
        ),
        (
            "/api/v1/heartbeat",
            "devices:write",
            json!({"tenant_id": tenant.id, "device_id": device.device_id, "active_cameras": []}),
        ),
        (
            "/api/v1/usage/batch",
            "usage:write",
            json!({"events": [{"tenant_id": tenant.id, "event_type": "api_call", "quantity": 1, "event_time": now}]}),
        ),
    ];
    for (path, scope, body) in routes {
        let family = scope.split(':').next().unwrap();
        let lacking: Vec<&str> = all
            .iter()
            .copied()
            .filter(|s| !s.starts_with(family))
            .collect();
        let key = key_with(tenant.id.clone(), lacking).await;
        let (status, answer) = post(server, Some(&key), path, body.clone()).await;
        assert_eq!(status, 403, "{path} without {scope}: {answer}");
        let key = key_with(tenant.id.clone(), vec![scope]).await;
        let (status, answer) = post(server, Some(&key), path, body.clone()).await;
        assert!(status < 300, "{path} with {scope}: {status} {answer}");
        let foreign = key_with(other.id.clone(), all.to_vec()).await;
        let (status, answer) = post(server, Some(&foreign), path, body).await;
        // Refused outright, or (a batch) every event refused on its own.
        assert!(
            status == 403 || status == 404 || (status == 200 && answer["accepted_count"] == 0),
            "{path} with another tenant's key: {status} {answer}"
        );
    }
    // Only the batch sent with `usage:write` was stored.
    let quotas = server.admin.quotas(&tenant.id).await.unwrap();
    let api_calls = quotas
        .quotas
        .iter()
        .find(|q| q.feature == "api_calls")
        .unwrap();
    assert_eq!(api_calls.used, 1, "{quotas:?}");
}

crate::on_both!(
    brinkbyte_billing_routes,
    foxsight_license_server_routes,
    brinkbyte_routes_enforce_scopes
);
