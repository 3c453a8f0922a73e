//! Atomic claims on a hosted tenant's counted resources: concurrent claims never pass
//! the limit, a replayed claim is not counted twice, and after a downgrade the claims
//! held stay while new ones are refused until releases bring the count under the limit.

use crate::support::TestServer;
use licet_client::wire::{ApiKeyCreate, SubscriptionChange};
use serde_json::{Value, json};

async fn claim(server: &TestServer, key: &str, tenant: &str, resource: &str) -> (u16, Value) {
    let response = server
        .http()
        .post(format!("{}/v1/tenants/{tenant}/claims", server.base))
        .bearer_auth(key)
        .json(&json!({"limit": "max_spaces", "resource": resource}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn release(server: &TestServer, key: &str, tenant: &str, resource: &str) -> u16 {
    server
        .http()
        .delete(format!(
            "{}/v1/tenants/{tenant}/claims/max_spaces/{resource}",
            server.base
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn claims_of(server: &TestServer, key: &str, tenant: &str) -> Value {
    server
        .http()
        .get(format!("{}/v1/tenants/{tenant}/claims", server.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn tenant_key(server: &TestServer, plan: &str) -> (String, String, String) {
    let (tenant, subscription) = server.tenant_with("smart-parking", plan).await;
    let key = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["subscriptions:write".into()],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    (tenant.id, subscription.id, key)
}

pub async fn fifty_concurrent_claims_with_five_left_take_exactly_five(server: &TestServer) {
    let (tenant, _, key) = tenant_key(server, "basic").await;
    for n in 0..95 {
        let (status, body) = claim(server, &key, &tenant, &format!("space-{n}")).await;
        assert_eq!(status, 201, "{body}");
    }
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let (http, base, key, tenant) = (
                server.http(),
                server.base.clone(),
                key.clone(),
                tenant.clone(),
            );
            tokio::spawn(async move {
                http.post(format!("{base}/v1/tenants/{tenant}/claims"))
                    .bearer_auth(&key)
                    .json(&json!({"limit": "max_spaces", "resource": format!("new-{n}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        45,
        "{statuses:?}"
    );
    // A replayed claim for a resource that holds one is not counted twice.
    let (status, body) = claim(server, &key, &tenant, "space-7").await;
    assert_eq!(
        (status, &body["claimed"], &body["max"]),
        (200, &json!(100), &json!(100)),
        "{body}"
    );
    let (status, body) = claim(server, &key, &tenant, "space-9999").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "limit_reached");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("100 claimed of 100") && message.contains("plan professional allows more"),
        "{message}"
    );
    let listed = claims_of(server, &key, &tenant).await;
    assert_eq!(listed["claims"].as_array().unwrap().len(), 100);
    assert_eq!(
        listed["limits"],
        json!([{"limit": "max_spaces", "claimed": 100, "max": 100, "over_limit": false}])
    );
}

pub async fn a_downgrade_keeps_the_claims_and_refuses_new_ones_until_under_the_limit(
    server: &TestServer,
) {
    let (tenant, subscription, key) = tenant_key(server, "enterprise").await;
    for n in 0..300 {
        let (status, body) = claim(server, &key, &tenant, &format!("space-{n}")).await;
        assert_eq!(status, 201, "{body}");
    }
    let response = server
        .http()
        .patch(format!("{}/v1/subscriptions/{subscription}", server.base))
        .bearer_auth(&server.admin_token)
        .json(&SubscriptionChange {
            plan: Some("basic".into()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = claim(server, &key, &tenant, "space-300").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "over_limit");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("300 claimed of 100 on plan basic"),
        "{message}"
    );
    assert!(
        message.contains("plan professional allows more"),
        "{message}"
    );
    let listed = claims_of(server, &key, &tenant).await;
    assert_eq!(
        listed["limits"][0]["over_limit"], true,
        "{}",
        listed["limits"]
    );
    assert_eq!(listed["limits"][0]["claimed"], 300);
    // Releasing down to 99 allows claims again.
    for n in 99..300 {
        assert_eq!(
            release(server, &key, &tenant, &format!("space-{n}")).await,
            204
        );
    }
    // A release retried changes nothing.
    assert_eq!(release(server, &key, &tenant, "space-299").await, 204);
    let (status, body) = claim(server, &key, &tenant, "space-300").await;
    assert_eq!((status, &body["claimed"]), (201, &json!(100)), "{body}");
    let (status, _) = claim(server, &key, &tenant, "space-301").await;
    assert_eq!(status, 409);
}

crate::on_both!(
    fifty_concurrent_claims_with_five_left_take_exactly_five,
    a_downgrade_keeps_the_claims_and_refuses_new_ones_until_under_the_limit,
);
