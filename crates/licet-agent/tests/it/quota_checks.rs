//! Quota spent through checks, as usage the vendor bills.

use crate::support::{Device, LocalApi, START};
use crate::usage::{server_total, wait_until_uploaded};
use licet_host::clock::ManualClock;
use std::sync::Arc;

/// BrinkByte's back-end spends API calls through checks (`POST /v1/check {feature:
/// api_calls, amount}`) and posts no usage of its own: the spending is the usage. 61,000
/// calls against a 50,000 allowance reach the server's count once and its invoice as 11
/// started blocks of 1,000 calls of overage.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quota_spent_through_checks_is_billed_usage() {
    spent_through_checks(crate::support::Database::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quota_spent_through_checks_is_billed_usage_on_postgresql() {
    if let Some(database) = crate::support::Database::postgres() {
        spent_through_checks(database).await;
    }
}

async fn spent_through_checks(database: crate::support::Database) {
    use crate::support::{TestServer, wait_for_state};
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_on(&database, clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server.subscription("brinkbyte-vision", "base", false).await;
    let device = Device::new("checks-box");
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config, clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, licet_core::state::LicenseState::Active).await;

    let mut reasons = Vec::new();
    for _ in 0..61 {
        let (status, answer) = api
            .post(
                "/v1/check",
                serde_json::json!({"feature": "api_calls", "amount": 1000}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["allowed"], true, "overage is allowed: {answer}");
        reasons.push(answer["reason"].as_str().unwrap().to_owned());
    }
    assert!(
        reasons[..50].iter().all(|r| r != "overage_billed"),
        "{reasons:?}"
    );
    assert!(
        reasons[50..].iter().all(|r| r == "overage_billed"),
        "{reasons:?}"
    );
    wait_until_uploaded(&agent).await;
    if !database.is_postgres() {
        // The stored events themselves; on PostgreSQL the quota below counts them.
        let server_db = server_dir.path().join("licet.db");
        assert_eq!(server_total(&server_db, "api_call"), 61_000, "counted once");
    }

    // The server's quota view and its invoice.
    let admin = &server.admin;
    let tenant = subscription.tenant_id.clone();
    let quotas = admin.quotas(&tenant).await.unwrap().quotas;
    let calls = quotas
        .iter()
        .find(|q| q.feature == "api_calls")
        .unwrap_or_else(|| panic!("{quotas:?}"));
    assert_eq!(calls.used, 61_000, "{calls:?}");
    let preview = admin.invoice_preview(&tenant, "2026-11").await.unwrap();
    let overage = preview.invoices[0]
        .lines
        .iter()
        .find(|l| l.price_id == "api-call-overage")
        .unwrap_or_else(|| panic!("{preview:?}"));
    assert_eq!(
        (overage.quantity, overage.amount),
        (11, 11 * 5),
        "11 started blocks of 1,000 calls at 5 each: {overage:?}"
    );
    api.stop().await;
}

/// A client that lost the answer to `POST /v1/usage` sends it again with the same
/// `Idempotency-Key`: counted once, answered with the first sequence numbers; the key
/// reused for other usage is refused rather than silently dropping that usage.
#[tokio::test]
async fn a_retried_usage_request_with_its_idempotency_key_counts_once() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("idempotent-box");
    let agent = crate::support::offline_agent(
        &device,
        "brinkbyte-vision",
        licet_core::resolve::Subscription::plan("base"),
        clock.clone(),
        |_| {},
    );
    let api = LocalApi::start(agent.clone()).await;
    let send = |key: &'static str, quantity: u64| {
        let api = &api;
        async move {
            let response = api
                .http
                .post(format!("{}/v1/usage", api.base))
                .header("idempotency-key", key)
                .json(&serde_json::json!([{"type": "api_call", "quantity": quantity}, {"type": "api_call", "quantity": 1}]))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, first) = send("order-17", 5).await;
    assert_eq!(status, 202, "{first}");
    let (status, again) = send("order-17", 5).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(
        (&again["first_sequence"], &again["last_sequence"]),
        (&first["first_sequence"], &first["last_sequence"])
    );
    assert_eq!(agent.usage_backlog(), 2, "the retry recorded nothing");
    let (status, reused) = send("order-17", 6).await;
    assert_eq!(status, 409, "{reused}");
    assert_eq!(reused["error"]["code"], "idempotency_key_reused");
    let (status, other) = send("order-18", 6).await;
    assert_eq!(status, 202, "{other}");
    assert_eq!(agent.usage_backlog(), 4);
    api.stop().await;
}
