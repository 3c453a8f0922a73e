//! A hosted tenant's trial works as a device's: it starts when the subscription is made,
//! the tenant check shows the days left, it ends (no new claims, no reaching a count,
//! `trial_expired`; the claims held stay), and converting it to the paid plan keeps
//! the claims and takes new ones again. A trial never restarts.

use crate::support::TestServer;
use licet_client::wire::{ApiKeyCreate, SubscriptionChange, SubscriptionCreate};
use licet_host::clock::ManualClock;
use serde_json::{Value, json};

async fn post(server: &TestServer, key: &str, path: &str, body: Value) -> (u16, Value) {
    let response = server
        .http()
        .post(format!("{}{path}", server.base))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn change(
    server: &TestServer,
    subscription: &str,
    body: &SubscriptionChange,
) -> (u16, Value) {
    let response = server
        .http()
        .patch(format!("{}/v1/subscriptions/{subscription}", server.base))
        .bearer_auth(&server.admin_token)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

pub async fn a_hosted_trial_starts_ends_and_converts_keeping_its_claims(
    server: &TestServer,
    clock: &ManualClock,
) {
    let tenant = server.admin.create_tenant("Trial Parking").await.unwrap();
    let subscription = server
        .admin
        .create_subscription(
            &tenant.id,
            &SubscriptionCreate {
                product_id: "smart-parking".into(),
                plan: "basic".into(),
                addons: vec![],
                trial: true,
                modules: None,
                term_days: None,
            },
        )
        .await
        .unwrap();
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
    let check = format!("/v1/tenants/{}/check", tenant.id);
    let claims = format!("/v1/tenants/{}/claims", tenant.id);

    // Day 1 of a 14-day trial.
    let (status, answer) = post(
        server,
        &key,
        &check,
        json!({"feature": "max_spaces", "amount": 3}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["allowed"], true, "{answer}");
    assert_eq!(answer["trial"]["days_left"], 14, "{answer}");
    assert_eq!(
        answer["trial"]["ends_at"], "2026-11-03T09:00:00Z",
        "{answer}"
    );
    for space in ["space-1", "space-2", "space-3"] {
        let (status, body) = post(
            server,
            &key,
            &claims,
            json!({"limit": "max_spaces", "resource": space}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    // Day 14: one day left.
    clock.advance(time::Duration::days(13) + time::Duration::hours(1));
    let (_, answer) = post(server, &key, &check, json!({"feature": "max_spaces"})).await;
    assert_eq!(answer["trial"]["days_left"], 1, "{answer}");

    // Day 15: over. No new claim, no count to reach; the claims held stay.
    clock.advance(time::Duration::days(1));
    let (status, refused) = post(
        server,
        &key,
        &claims,
        json!({"limit": "max_spaces", "resource": "space-4"}),
    )
    .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (409, &json!("trial_expired")),
        "{refused}"
    );
    let (_, answer) = post(
        server,
        &key,
        &check,
        json!({"feature": "max_spaces", "amount": 4}),
    )
    .await;
    assert_eq!(
        (
            &answer["allowed"],
            &answer["reason"],
            &answer["trial"]["days_left"]
        ),
        (&json!(false), &json!("trial_expired"), &json!(0)),
        "{answer}"
    );
    let listed: Value = server
        .http()
        .get(format!("{}{claims}", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["claims"].as_array().unwrap().len(), 3, "{listed}");
    // Even a replayed claim of a held space is refused: nothing is confirmed under a
    // closed subscription (the held claim is listed above).
    let (status, _) = post(
        server,
        &key,
        &claims,
        json!({"limit": "max_spaces", "resource": "space-1"}),
    )
    .await;
    assert_eq!(
        status, 409,
        "nothing is taken or confirmed under a closed subscription"
    );

    // A trial never restarts.
    let (status, body) = change(
        server,
        &subscription.id,
        &SubscriptionChange {
            trial: Some(true),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status, 200, "a trial may be asked to stay a trial: {body}");
    // Converted to the paid plan: the claims are there and new ones are taken.
    let (status, body) = change(
        server,
        &subscription.id,
        &SubscriptionChange {
            trial: Some(false),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["trial"], false);
    let (status, body) = post(
        server,
        &key,
        &claims,
        json!({"limit": "max_spaces", "resource": "space-4"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["claimed"], 4,
        "the trial's three claims were kept: {body}"
    );
    let (_, answer) = post(
        server,
        &key,
        &check,
        json!({"feature": "max_spaces", "amount": 5}),
    )
    .await;
    assert_eq!(answer["allowed"], true, "{answer}");
    assert!(answer.get("trial").is_none(), "{answer}");
    let (status, body) = change(
        server,
        &subscription.id,
        &SubscriptionChange {
            trial: Some(true),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never restarts"),
        "{body}"
    );
}

crate::on_both_clocked!(a_hosted_trial_starts_ends_and_converts_keeping_its_claims);
