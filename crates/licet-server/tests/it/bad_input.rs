//! Bad input gets a clear error with a stable code, and nothing stored changes.

use crate::support::{TestServer, activation};
use licet_client::wire::{ApiKeyCreate, SubscriptionCreate};

async fn post_raw(
    server: &TestServer,
    token: &str,
    path: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let response = server
        .http()
        .post(format!("{}{path}", server.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

async fn malformed_requests_are_refused_with_a_code(server: &TestServer) {
    let admin = server.admin_token.clone();
    for (body, what) in [
        (b"{\"name\": ".to_vec(), "truncated JSON"),
        (
            b"{\"name\": \"a\", \"colour\": 1}".to_vec(),
            "unknown field",
        ),
        (b"{\"name\": 5}".to_vec(), "wrong type"),
        (b"{\"name\": \"   \"}".to_vec(), "blank name"),
    ] {
        let (status, json) = post_raw(server, &admin, "/v1/tenants", body).await;
        assert_eq!(
            (status, json["error"]["code"].as_str()),
            (400, Some("invalid_request")),
            "{what}: {json}"
        );
    }
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024)).into_bytes();
    let (status, json) = post_raw(server, &admin, "/v1/tenants", huge).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (413, Some("body_too_large")),
        "{json}"
    );
    assert!(
        server.admin.tenants().await.unwrap().is_empty(),
        "no tenant was created by a failed request"
    );

    let (status, json) = post_raw(
        server,
        "lct_admin_nonsense",
        "/v1/tenants",
        b"{\"name\":\"a\"}".to_vec(),
    )
    .await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let response = server
        .http()
        .get(format!("{}/v1/nowhere", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["error"]["code"], "not_found");
}

async fn license_keys_and_subscriptions_are_checked_before_anything_is_stored(server: &TestServer) {
    let (tenant, subscription) = server.tenant_with("gate-control", "basic").await;
    let key = subscription.license_key.unwrap();
    // One character changed: the check symbol catches it before any lookup.
    let mut typo: Vec<char> = key.chars().collect();
    let position = 6;
    typo[position] = if typo[position] == '7' { '8' } else { '7' };
    let typo: String = typo.into_iter().collect();
    let err = server
        .anon
        .activate(&activation(&typo, "fp"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_license_key"), "{err}");
    assert!(err.to_string().contains("check character"), "{err}");
    let mut bad_key = activation(&key, "fp");
    bad_key.device_public_key = "rsa:nope".into();
    assert_eq!(
        server.anon.activate(&bad_key).await.unwrap_err().code(),
        Some("invalid_request")
    );
    assert!(
        server.admin.devices(&tenant.id).await.unwrap().is_empty(),
        "no device was created"
    );

    let create = |product: &str, plan: &str| SubscriptionCreate {
        product_id: product.into(),
        plan: plan.into(),
        addons: vec![],
        trial: false,
        modules: None,
        term_days: None,
    };
    let err = server
        .admin
        .create_subscription(&tenant.id, &create("gate-control", "gold"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_request"));
    assert!(
        err.to_string().contains(
            "unknown plan \"gold\"; the catalog has: basic, enterprise, professional, standard"
        ),
        "{err}"
    );
    let err = server
        .admin
        .create_subscription(&tenant.id, &create("nope", "basic"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("not_found"));
    assert!(
        err.to_string().contains("PUT /v1/products/nope/catalog"),
        "{err}"
    );
    let err = server
        .admin
        .create_subscription("ten_missing", &create("gate-control", "basic"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("not_found"));
    let admin = server.admin_token.clone();
    let (status, json) = post_raw(
        server,
        &admin,
        &format!("/v1/tenants/{}/subscriptions", tenant.id),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{json}");
    let listed = server
        .http()
        .get(format!(
            "{}/v1/tenants/{}/subscriptions",
            server.base, tenant.id
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json::<Vec<serde_json::Value>>()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "failed creates stored nothing");
}

async fn api_keys_are_scoped_and_expire(server: &TestServer) {
    let (tenant, subscription) = server.tenant_with("gate-control", "basic").await;
    let read_only = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["devices:read".into()],
            expires_in_days: None,
        })
        .await
        .unwrap();
    let client = server.anon.with_token(&read_only.key);
    assert!(client.devices(&tenant.id).await.is_ok());
    let err = client.subscription(&subscription.id).await.unwrap_err();
    assert_eq!(err.code(), Some("forbidden"), "{err}");
    assert!(err.to_string().contains("subscriptions:read"), "{err}");
    let expired = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["devices:read".into()],
            expires_in_days: Some(0),
        })
        .await
        .unwrap();
    assert_eq!(
        server
            .anon
            .with_token(&expired.key)
            .devices(&tenant.id)
            .await
            .unwrap_err()
            .code(),
        Some("unauthorized")
    );
    let err = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["everything".into()],
            expires_in_days: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_request"));
    // Tenant keys cannot do admin work.
    assert_eq!(
        client.create_tenant("mine").await.unwrap_err().code(),
        Some("forbidden")
    );
}

/// NUL characters are refused before anything is stored (PostgreSQL could not store
/// them), also without credentials through activation; oversized bodies and unknown
/// encodings answer in the error shape.
async fn nul_bytes_and_odd_bodies_are_refused_in_shape(server: &TestServer) {
    let admin = server.admin_token.clone();
    let (status, json) = post_raw(
        server,
        &admin,
        "/v1/tenants",
        br#"{"name": "Acme\u0000Parking"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["error"]["code"], "invalid_request");
    assert!(json["error"]["message"].as_str().unwrap().contains("NUL"));
    // An escaped backslash followed by u0000 is ordinary text.
    let (status, json) = post_raw(
        server,
        &admin,
        "/v1/tenants",
        br#"{"name": "C:\\u0000 share"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{json}");
    let (status, json) = post_raw(
        server,
        "",
        "/v1/activations",
        br#"{"license_key": "LCT-AAAAA-AAAAA-AAAAA-AAAAA", "fingerprint": "fp\u0000", "device_public_key": "ed25519:x", "name": "n"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{json}");
    let response = server
        .http()
        .get(format!("{}/v1/tenants/ten%00x", server.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["error"]["code"], "invalid_request");

    let (status, json) = post_raw(server, &admin, "/v1/tenants", vec![b' '; 2 * 1024 * 1024]).await;
    assert_eq!(status, 413, "{json}");
    assert_eq!(json["error"]["code"], "body_too_large");
    let response = server
        .http()
        .post(format!("{}/v1/tenants", server.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["error"]["code"], "unsupported_media_type", "{json}");

    // A JSON array where an object belongs: serde would read the fields by position,
    // so `[null, null]` was a valid "change nothing" (found by schemathesis).
    let (_, subscription) = server.tenant_with("gate-control", "standard").await;
    let before = server.admin.subscription(&subscription.id).await.unwrap();
    let response = server
        .http()
        .patch(format!(
            "{}/v1/subscriptions/{}",
            server.base, subscription.id
        ))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("[null, null]")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let json: serde_json::Value = response.json().await.unwrap();
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must be a JSON object"),
        "{json}"
    );
    assert_eq!(
        server.admin.subscription(&subscription.id).await.unwrap(),
        before
    );

    // The compatibility routes refuse a NUL in their product's own shape.
    let (status, json) = post_raw(
        server,
        &admin,
        "/api/v1/heartbeat",
        br#"{"tenant_id": "t\u0000", "device_id": "d"}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (status, json["code"].as_str()),
        (400, Some("invalid_request")),
        "{json}"
    );
    let (status, json) = post_raw(
        server,
        "",
        "/api/licenses/validate",
        br#"{"license_key": "k\u0000", "hardware_id": "h"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["success"], false);
    assert_eq!(json["error"]["code"], "invalid_request", "{json}");
}

crate::on_both!(
    nul_bytes_and_odd_bodies_are_refused_in_shape,
    malformed_requests_are_refused_with_a_code,
    license_keys_and_subscriptions_are_checked_before_anything_is_stored,
    api_keys_are_scoped_and_expire,
);
