//! A tenant key cannot read, change or even detect another tenant's objects: on every
//! route, another tenant's id answers exactly like an id that does not exist.

use crate::support::{TestServer, activation};
use licet_client::wire::ApiKeyCreate;
use reqwest::Method;

struct Side {
    tenant: String,
    subscription: String,
    device: String,
    device_token: String,
    key: String,
}

async fn side(server: &TestServer, fingerprint: &str) -> Side {
    let (tenant, subscription) = server.tenant_with("gate-control", "enterprise").await;
    let activated = server
        .anon
        .activate(&activation(
            subscription.license_key.as_ref().unwrap(),
            fingerprint,
        ))
        .await
        .unwrap();
    let key = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["subscriptions:write".into(), "devices:write".into()],
            expires_in_days: None,
        })
        .await
        .unwrap();
    assert!(key.key.starts_with("lct_live_"));
    Side {
        tenant: tenant.id,
        subscription: subscription.id,
        device: activated.device_id,
        device_token: activated.device_token,
        key: key.key,
    }
}

async fn call(server: &TestServer, token: &str, method: Method, path: &str) -> (u16, String) {
    let response = server
        .http()
        .request(method, format!("{}{path}", server.base))
        .bearer_auth(token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn routes(tenant: &str, subscription: &str, device: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("/v1/tenants/{tenant}")),
        (Method::GET, format!("/v1/tenants/{tenant}/subscriptions")),
        (Method::POST, format!("/v1/tenants/{tenant}/subscriptions")),
        (Method::GET, format!("/v1/tenants/{tenant}/devices")),
        (Method::GET, format!("/v1/subscriptions/{subscription}")),
        (Method::PATCH, format!("/v1/subscriptions/{subscription}")),
        (
            Method::POST,
            format!("/v1/subscriptions/{subscription}/suspend"),
        ),
        (
            Method::POST,
            format!("/v1/subscriptions/{subscription}/resume"),
        ),
        (
            Method::POST,
            format!("/v1/subscriptions/{subscription}/cancel"),
        ),
        (Method::GET, format!("/v1/devices/{device}")),
        (Method::GET, format!("/v1/devices/{device}/cameras")),
        (Method::POST, format!("/v1/devices/{device}/refresh")),
        (Method::POST, format!("/v1/devices/{device}/heartbeat")),
        (Method::DELETE, format!("/v1/devices/{device}")),
    ]
}

async fn another_tenants_ids_look_like_missing_ids(server: &TestServer) {
    let a = side(server, "fp-a").await;
    let b = side(server, "fp-b").await;
    let theirs = routes(&b.tenant, &b.subscription, &b.device);
    let missing = routes("ten_missing", "sub_missing", "dev_missing");
    for token in [&a.key, &a.device_token] {
        for ((method, path), (_, ghost)) in theirs.iter().zip(&missing) {
            let (status, body) = call(server, token, method.clone(), path).await;
            let (ghost_status, ghost_body) = call(server, token, method.clone(), ghost).await;
            assert!(
                status == 404 || status == 403,
                "{method} {path}: {status} {body}"
            );
            assert_eq!(
                (
                    status,
                    body.replace(&b.tenant, "")
                        .replace(&b.subscription, "")
                        .replace(&b.device, "")
                ),
                (
                    ghost_status,
                    ghost_body
                        .replace("ten_missing", "")
                        .replace("sub_missing", "")
                        .replace("dev_missing", "")
                ),
                "{method} {path} reveals that the object exists"
            );
        }
    }
    // Nothing of B's changed.
    let subscription = server.admin.subscription(&b.subscription).await.unwrap();
    assert_eq!(subscription.status, "active");
    let devices = server.admin.devices(&b.tenant).await.unwrap();
    assert_eq!(devices[0].status, "active");
    // And A's own key does work on A's objects.
    let (status, _) = call(
        server,
        &a.key,
        Method::GET,
        &format!("/v1/subscriptions/{}", a.subscription),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        server,
        &a.key,
        Method::GET,
        &format!("/v1/tenants/{}/devices", a.tenant),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn every_private_route_needs_a_token(server: &TestServer) {
    for (method, path) in routes("t", "s", "d").into_iter().chain([
        (Method::GET, "/v1/tenants".to_owned()),
        (Method::POST, "/v1/tenants".to_owned()),
        (Method::GET, "/v1/products".to_owned()),
        (Method::POST, "/v1/api-keys".to_owned()),
        (Method::PUT, "/v1/products/p/catalog".to_owned()),
    ]) {
        let response = server
            .http()
            .request(method.clone(), format!("{}{path}", server.base))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            401,
            "{method} {path} answered without a token"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}

crate::on_both!(
    another_tenants_ids_look_like_missing_ids,
    every_private_route_needs_a_token
);
