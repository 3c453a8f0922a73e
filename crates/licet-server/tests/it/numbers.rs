//! Numbers are bounded where they enter: a quantity above 2^53 − 1, negative or
//! fractional is refused with 400 on every ingestion route, and whatever was accepted
//! can never make a tenant's quota, usage, invoice or heartbeat answers fail.

use crate::support::{TestServer, activation};
use licet_client::wire::{ApiKeyCreate, HeartbeatRequest};
use licet_host::clock::ManualClock;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::Arc;

const MAX: u64 = (1 << 53) - 1;

/// What every ingestion route must refuse.
fn out_of_range() -> Vec<Value> {
    vec![
        json!(9_223_372_036_854_775_807_i64),
        json!(u64::MAX),
        json!(-1),
        json!(1.5),
        json!(MAX + 1),
    ]
}

struct Tenant {
    id: String,
    key: String,
    device: String,
    device_token: String,
}

async fn tenant(server: &TestServer, fingerprint: &str) -> Tenant {
    let (tenant, subscription) = server.tenant_with("brinkbyte-vision", "base").await;
    let key = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec![
                "usage:write".into(),
                "usage:read".into(),
                "invoices:read".into(),
            ],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    let activated = server
        .anon
        .activate(&activation(
            subscription.license_key.as_deref().unwrap(),
            fingerprint,
        ))
        .await
        .unwrap();
    Tenant {
        id: tenant.id,
        key,
        device: activated.device_id,
        device_token: activated.device_token,
    }
}

async fn post(
    server: &TestServer,
    token: &str,
    path: &str,
    ct: &str,
    body: &Value,
) -> (u16, Value) {
    let response = server
        .http()
        .post(format!("{}{path}", server.base))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The three ingestion routes, each with one event of quantity `quantity`.
async fn ingest(
    server: &TestServer,
    t: &Tenant,
    quantity: &Value,
    sequence: u64,
) -> Vec<(u16, Value)> {
    let cloud = json!([{
        "specversion": "1.0", "id": format!("e-{sequence}"), "source": "vendor-cloud",
        "type": "api_call", "time": "2026-10-20T08:00:00Z", "data": {"quantity": quantity},
    }]);
    let brinkbyte = json!({"events": [{
        "tenant_id": t.id, "event_type": "api_call", "quantity": quantity,
        "event_time": "2026-10-20T08:00:00Z", "metadata": {"event_id": format!("b-{sequence}")},
    }]});
    let device = json!({"events": [{
        "sequence": sequence, "type": "api_call", "quantity": quantity,
        "time": "2026-10-20T08:00:00Z",
    }]});
    vec![
        post(
            server,
            &t.key,
            &format!("/v1/tenants/{}/usage/events", t.id),
            "application/cloudevents-batch+json",
            &cloud,
        )
        .await,
        post(
            server,
            &t.key,
            "/api/v1/usage/batch",
            "application/json",
            &brinkbyte,
        )
        .await,
        post(
            server,
            &t.device_token,
            &format!("/v1/devices/{}/usage", t.device),
            "application/json",
            &device,
        )
        .await,
    ]
}

/// Every answer a tenant's billing depends on, which must all succeed.
async fn answers_still_work(server: &TestServer, t: &Tenant) {
    for path in [
        format!("/v1/tenants/{}/quotas", t.id),
        format!("/v1/tenants/{}/usage?window=day", t.id),
        format!("/v1/tenants/{}/invoices/preview?period=2026-10", t.id),
    ] {
        let response = server
            .http()
            .get(format!("{}{path}", server.base))
            .bearer_auth(&server.admin_token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert_eq!(status, 200, "{path}: {}", response.text().await.unwrap());
    }
    server
        .anon
        .with_token(&t.device_token)
        .heartbeat(&t.device, &HeartbeatRequest::default())
        .await
        .unwrap();
}

async fn out_of_range_quantities_are_refused_on_every_route(
    server: &TestServer,
    _clock: &Arc<ManualClock>,
) {
    let t = tenant(server, "numbers-1").await;
    for (n, quantity) in out_of_range().iter().enumerate() {
        for (route, (status, body)) in ingest(server, &t, quantity, n as u64 + 1)
            .await
            .into_iter()
            .enumerate()
        {
            assert_eq!(status, 400, "route {route}, quantity {quantity}: {body}");
            // BrinkByte's route answers in BrinkByte's own error shape.
            let (code, message) = if route == 1 {
                (&body["code"], &body["detail"])
            } else {
                (&body["error"]["code"], &body["error"]["message"])
            };
            assert_eq!(code, "invalid_request", "{body}");
            assert!(
                message.as_str().unwrap().contains("9007199254740991"),
                "the message names the range: {body}"
            );
        }
    }
    // The largest accepted quantity, many times over, on every route.
    for sequence in 1..=4 {
        for (status, body) in ingest(server, &t, &json!(MAX), sequence).await {
            assert_eq!(status, 200, "{body}");
        }
    }
    // A BrinkByte client's `1.0` is the count 1.
    let (status, body) = ingest(server, &t, &json!(1.0), 5).await.remove(1);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted_count"], 1, "{body}");
    answers_still_work(server, &t).await;
}

async fn no_accepted_batch_makes_a_tenant_answer_fail(
    server: &TestServer,
    _clock: &Arc<ManualClock>,
) {
    let t = tenant(server, "numbers-2").await;
    let sequence = std::sync::atomic::AtomicU64::new(0);
    let runtime = tokio::runtime::Handle::current();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 12,
        ..ProptestConfig::default()
    });
    let quantities = proptest::collection::vec(
        prop_oneof![0..=MAX, Just(MAX), (MAX - 1000)..=MAX, 0..1000u64],
        1..4,
    );
    runner
        .run(&quantities, |batch| {
            tokio::task::block_in_place(|| {
                runtime.block_on(async {
                    for quantity in &batch {
                        let sequence =
                            sequence.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        for (status, body) in ingest(server, &t, &json!(quantity), sequence).await {
                            assert_eq!(status, 200, "{body}");
                        }
                    }
                    answers_still_work(server, &t).await;
                })
            });
            Ok(())
        })
        .unwrap();
}

// On the clock of the events' day (2026-10-20): usage is billed from the day its
// subscription began, and the events here are of that day.
crate::on_both_clocked!(
    out_of_range_quantities_are_refused_on_every_route,
    no_accepted_batch_makes_a_tenant_answer_fail,
);
