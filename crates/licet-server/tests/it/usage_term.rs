//! Which usage a subscription bills: nothing dated before the UTC day it began, nothing
//! more than the late window old, and a meter two of a tenant's subscriptions have goes
//! to the active one (refused only when several are active).

use crate::metering::{cloud_event, send, tenant_key};
use crate::support::TestServer;
use licet_client::wire::SubscriptionCreate;
use licet_host::clock::ManualClock;
use serde_json::{Value, json};
use std::sync::Arc;
use time::macros::datetime;

fn at(mut event: Value, time: &str) -> Value {
    event["time"] = json!(time);
    event
}

/// Sends a CloudEvents batch.
async fn events(server: &TestServer, key: &str, path: &str, batch: &Value) -> (u16, Value) {
    send(
        server,
        key,
        path,
        "application/cloudevents-batch+json",
        batch,
    )
    .await
}

fn reasons(body: &Value) -> Vec<String> {
    body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect()
}

async fn usage_outside_the_term_is_refused_and_the_active_subscription_takes_a_shared_meter(
    server: &TestServer,
    clock: &Arc<ManualClock>,
) {
    // The subscription began on 2026-10-20 at 09:00.
    let (tenant, first, key) = tenant_key(server, &["usage:write", "usage:read"]).await;
    let path = format!("/v1/tenants/{}/usage/events", tenant.id);
    let batch = json!([
        at(
            cloud_event("t-1", "api_call", json!({"quantity": 1})),
            "2026-10-19T23:00:00Z"
        ),
        at(
            cloud_event("t-2", "api_call", json!({"quantity": 2})),
            "2026-10-20T00:30:00Z"
        ),
    ]);
    let (status, body) = events(server, &key, &path, &batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 1, "the first day counts whole: {body}");
    let refused = reasons(&body);
    assert_eq!(refused.len(), 1, "{body}");
    assert!(refused[0].contains("before subscription"), "{}", refused[0]);

    // 66 days later, an event from 21 October is past the 62-day window.
    clock.set(datetime!(2026-12-26 09:00 UTC));
    let late = json!([at(
        cloud_event("t-3", "api_call", json!({"quantity": 3})),
        "2026-10-21T09:00:00Z"
    )]);
    let (_, body) = events(server, &key, &path, &late).await;
    assert_eq!(body["accepted"], 0, "{body}");
    assert!(reasons(&body)[0].contains("62 days"), "{body}");

    // A second subscription with the same meters: an event is ambiguous while both are
    // active, and goes to the active one once the first is suspended.
    let second = server
        .admin
        .create_subscription(
            &tenant.id,
            &SubscriptionCreate {
                product_id: "brinkbyte-vision".into(),
                plan: "base".into(),
                addons: vec![],
                trial: false,
                modules: None,
                term_days: None,
            },
        )
        .await
        .unwrap();
    let now = json!([at(
        cloud_event("t-4", "api_call", json!({"quantity": 4})),
        "2026-12-26T09:00:00Z"
    )]);
    let (_, body) = events(server, &key, &path, &now).await;
    assert_eq!(body["accepted"], 0, "{body}");
    assert!(
        reasons(&body)[0].contains("several subscriptions"),
        "{body}"
    );
    server
        .admin
        .subscription_action(&first.id, "suspend")
        .await
        .unwrap();
    let (_, body) = events(server, &key, &path, &now).await;
    assert_eq!(body["accepted"], 1, "{body}");
    let quotas = server.admin.quotas(&tenant.id).await.unwrap().quotas;
    let used = |subscription: &str| {
        quotas
            .iter()
            .find(|q| q.subscription_id == subscription && q.feature == "api_calls")
            .map_or(0, |q| q.used)
    };
    assert_eq!(used(&second.id), 4, "{quotas:?}");
}

crate::on_both_clocked!(
    usage_outside_the_term_is_refused_and_the_active_subscription_takes_a_shared_meter,
);
