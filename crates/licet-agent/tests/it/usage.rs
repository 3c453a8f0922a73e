//! Usage recording on the device: 202 only once events are on disk, sequence numbers
//! that only grow, one invalid event refuses the request, a bounded outbox, and the
//! agent's own camera-days.

use crate::support::{Device, LocalApi, START, offline_agent};
use licet_client::Client;
use licet_core::resolve::Subscription;
use licet_host::clock::{Clock as _, ManualClock};
use std::sync::Arc;

fn stored(device: &Device) -> Vec<(i64, String, i64)> {
    let db = rusqlite::Connection::open(device.data_dir().join("agent.db")).unwrap();
    let mut statement = db
        .prepare("SELECT seq, kind, quantity FROM usage_events ORDER BY seq")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accepted_events_are_on_disk_with_growing_sequences_also_under_concurrency() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("usage-box");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        Subscription::plan("base"),
        clock.clone(),
        |_| {},
    );
    let api = LocalApi::start(agent).await;

    let (status, body) = api
        .post(
            "/v1/usage",
            serde_json::json!([
                {"type": "api_call", "quantity": 1},
                {"type": "llm_tokens", "quantity": 1200, "unit": "token", "attributes": {"model": "small"}},
                {"type": "sms_sent", "quantity": 1, "camera_id": "lobby", "time": "2026-11-02T08:59:00Z", "attributes": {"cost_minor": 7}}
            ]),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 3);
    assert_eq!(
        (
            body["first_sequence"].as_u64(),
            body["last_sequence"].as_u64()
        ),
        (Some(1), Some(3))
    );

    // 100 callers at once: every one is answered 202 and every event is stored once.
    let mut calls = Vec::new();
    for n in 0..100 {
        let http = api.http.clone();
        let url = format!("{}/v1/usage", api.base);
        calls.push(tokio::spawn(async move {
            let response = http
                .post(url)
                .json(&serde_json::json!({"events": [{"type": "api_call", "quantity": n + 1}, {"type": "api_call", "quantity": 1}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 202);
            let body: serde_json::Value = response.json().await.unwrap();
            (body["first_sequence"].as_u64().unwrap(), body["last_sequence"].as_u64().unwrap())
        }));
    }
    let mut ranges = Vec::new();
    for call in calls {
        ranges.push(call.await.unwrap());
    }
    ranges.sort();
    assert!(
        ranges.iter().all(|(a, b)| b - a == 1),
        "each request's events are contiguous"
    );
    assert_eq!(ranges.first().unwrap().0, 4);
    assert_eq!(ranges.last().unwrap().1, 203);
    api.stop().await;

    // Nothing was only in memory: the rows are there after the agent stopped, and the
    // next sequence continues after them.
    let rows = stored(&device);
    assert_eq!(rows.len(), 203);
    assert_eq!(rows[1], (2, "llm_tokens".to_owned(), 1200));
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        Subscription::plan("base"),
        clock,
        |_| {},
    );
    assert_eq!(agent.usage_backlog(), 203);
    let api = LocalApi::start(agent).await;
    let (_, body) = api
        .post(
            "/v1/usage",
            serde_json::json!({"type": "api_call", "quantity": 1}),
        )
        .await;
    assert_eq!(body["first_sequence"], 204);
    api.stop().await;
}

#[tokio::test]
async fn an_invalid_event_refuses_the_request_and_records_nothing() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("usage-bad");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        Subscription::plan("base"),
        clock,
        |_| {},
    );
    let api = LocalApi::start(agent).await;
    let cases = [
        (
            serde_json::json!({"type": "api_call", "quantity": -1}),
            "whole number from 0 to 9007199254740991",
        ),
        (
            serde_json::json!({"type": "api_call", "quantity": "ten"}),
            "whole number from 0 to 9007199254740991",
        ),
        (
            serde_json::json!({"type": "api_call", "quantity": 1.5}),
            "whole number from 0 to 9007199254740991",
        ),
        (
            serde_json::json!({"type": "api_call", "quantity": u64::MAX}),
            "whole number from 0 to 9007199254740991",
        ),
        (
            serde_json::json!({"type": "api_call", "quantity": i64::MAX}),
            "whole number from 0 to 9007199254740991",
        ),
        (
            serde_json::json!({"type": "api_call", "quantity": 9_007_199_254_740_992_u64}),
            "whole number from 0 to 9007199254740991",
        ),
        (
            serde_json::json!({"type": "api call!", "quantity": 1}),
            "meter name",
        ),
        (
            serde_json::json!({"type": "api_call", "quantity": 1, "time": "2026-11-04T09:00:00Z"}),
            "24 h ahead",
        ),
        (
            serde_json::json!({"type": "api_call", "quantity": 1, "time": "yesterday"}),
            "RFC 3339",
        ),
        (
            serde_json::json!({"type": "api_call", "quantity": 1, "colour": "red"}),
            "colour",
        ),
        (
            serde_json::json!([{"type": "api_call", "quantity": 1}, {"type": "api_call"}]),
            "event 1",
        ),
        (serde_json::json!([]), "1 to 10000"),
    ];
    for (body, expected) in cases {
        let (status, answer) = api.post("/v1/usage", body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], "invalid_request");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    assert!(
        stored(&device).is_empty(),
        "nothing of a refused request is stored"
    );
    // A check that would consume u64::MAX of a quota is refused the same way.
    let (status, answer) = api
        .post(
            "/v1/check",
            serde_json::json!({"feature": "api_calls", "amount": u64::MAX}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    api.stop().await;
}

#[tokio::test]
async fn a_full_outbox_refuses_new_events_and_keeps_the_old_ones() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("usage-full");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        Subscription::plan("base"),
        clock,
        |c| {
            c.usage_max_backlog = 5;
        },
    );
    let api = LocalApi::start(agent).await;
    let (status, _) = api
        .post(
            "/v1/usage",
            serde_json::Value::Array(vec![
                serde_json::json!({"type": "api_call", "quantity": 1});
                5
            ]),
        )
        .await;
    assert_eq!(status, 202);
    let (status, body) = api
        .post(
            "/v1/usage",
            serde_json::json!({"type": "api_call", "quantity": 1}),
        )
        .await;
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error"]["code"], "usage_backlog_full");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("5 events waiting"),
        "{body}"
    );
    assert_eq!(stored(&device).len(), 5);
    let (_, status) = api.get("/v1/status").await;
    assert_eq!(status["usage_backlog"], 5);
    let metrics = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("licet_agent_usage_backlog 5"), "{metrics}");
    api.stop().await;
}

#[tokio::test]
async fn the_agent_records_one_camera_day_per_camera_per_day() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("camera-days");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        Subscription::plan("base"),
        clock.clone(),
        |_| {},
    );
    agent.register_camera("lobby", None).unwrap();
    agent.register_camera("door", None).unwrap();
    assert_eq!(agent.record_camera_days().await.unwrap(), 2);
    assert_eq!(
        agent.record_camera_days().await.unwrap(),
        0,
        "once per day, however often asked"
    );
    clock.advance(time::Duration::days(1));
    assert_eq!(agent.record_camera_days().await.unwrap(), 2);
    let days: Vec<_> = stored(&device)
        .into_iter()
        .filter(|(_, kind, _)| kind == "camera_day")
        .collect();
    assert_eq!(days.len(), 4);
}

/// Polls (real time, bounded) until the agent has uploaded everything.
#[allow(clippy::disallowed_methods)] // A watchdog in real time, not a product deadline.
pub(crate) async fn wait_until_uploaded(agent: &licet_agent::Agent) {
    let started = std::time::Instant::now();
    while agent.usage_backlog() > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{} events never uploaded",
            agent.usage_backlog()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub(crate) fn server_total(server_db: &std::path::Path, meter: &str) -> i64 {
    let db = rusqlite::Connection::open(server_db).unwrap();
    db.query_row(
        "SELECT coalesce(sum(quantity), 0) FROM usage_records WHERE meter = ?1 AND rejection IS NULL",
        [meter],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recorded_usage_reaches_the_server_once_and_a_replayed_batch_changes_nothing() {
    use crate::support::{TestServer, wait_for_state};
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server.subscription("brinkbyte-vision", "base", false).await;
    let device = Device::new("uploader");
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config, clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, licet_core::state::LicenseState::Active).await;

    // 2500 calls in 25 requests, plus one event of a meter the catalog does not have.
    for _ in 0..25 {
        let events: Vec<_> = (0..100)
            .map(|_| serde_json::json!({"type": "api_call", "quantity": 1}))
            .collect();
        let (status, _) = api
            .post("/v1/usage", serde_json::Value::Array(events))
            .await;
        assert_eq!(status, 202);
    }
    // Usage the vendor could never bill is refused here, naming what is wrong, rather
    // than accepted and dropped at upload.
    let (status, odd) = api
        .post(
            "/v1/usage",
            serde_json::json!({"type": "api_cal", "quantity": 3}),
        )
        .await;
    assert_eq!(status, 400, "{odd}");
    let message = odd["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("\"api_cal\"") && message.contains("api_call"),
        "{message}"
    );
    let (status, no_cost) = api
        .post(
            "/v1/usage",
            serde_json::json!({"type": "sms_sent", "quantity": 1}),
        )
        .await;
    assert_eq!(status, 400, "{no_cost}");
    assert!(
        no_cost["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cost_minor"),
        "{no_cost}"
    );
    let (status, sms) = api
        .post(
            "/v1/usage",
            serde_json::json!({"type": "sms_sent", "quantity": 1, "attributes": {"cost_minor": 7}}),
        )
        .await;
    assert_eq!(status, 202, "{sms}");
    assert_eq!(
        sms["first_sequence"], 2501,
        "the refused requests took no sequence"
    );
    wait_until_uploaded(&agent).await;
    let server_db = server_dir.path().join("licet.db");
    assert_eq!(server_total(&server_db, "api_call"), 2500);
    assert_eq!(server_total(&server_db, "sms_sent"), 1);

    // The same batch sent again (a retry after a lost answer) is recognised.
    let token: String = rusqlite::Connection::open(device.data_dir().join("agent.db"))
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key = 'device_token'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let device_id = agent.current().device_id.clone().unwrap();
    let replay = licet_client::wire::UsageUpload {
        events: (1..=1000)
            .map(|sequence| licet_client::wire::UsageUploadEvent {
                sequence,
                kind: "api_call".into(),
                quantity: serde_json::json!(1),
                unit: None,
                camera_id: None,
                time: "2026-11-02T09:00:00Z".into(),
                attributes: None,
            })
            .collect(),
    };
    let answer = licet_client::Client::new(&server.base)
        .with_token(token)
        .upload_usage(&device_id, &replay)
        .await
        .unwrap();
    assert_eq!((answer.stored, answer.duplicates), (0, 1000));
    assert_eq!(answer.acknowledged_through, 2501);
    assert_eq!(server_total(&server_db, "api_call"), 2500);
    api.stop().await;
}

/// A device offline for a week across the end of October: the vendor invoices October
/// on 1 November with what it has; when the device is back, its backlog drains in
/// sequence order, and the October usage it held is booked on November's invoice as
/// late usage — not lost, and October's issued invoice does not change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_week_offline_drains_in_order_and_late_usage_goes_on_the_next_invoice() {
    use crate::support::{TestServer, wait_for_state};
    use licet_agent::usage::UsageEvent;
    let clock = Arc::new(ManualClock::new(
        time::macros::datetime!(2026-10-28 09:00 UTC),
    ));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let token = server.admin_token.clone().unwrap();
    let subscription = server.subscription("brinkbyte-vision", "base", false).await;
    let tenant = subscription.tenant_id.clone();
    let device = Device::new("week-offline");
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config, clock.clone());
    agent
        .activate(&subscription.license_key.clone().unwrap())
        .await
        .unwrap();
    wait_for_state(&agent, licet_core::state::LicenseState::Active).await;
    agent.register_camera("lobby", None).unwrap();
    agent.register_camera("door", None).unwrap();
    let calls = |n: usize, at: time::OffsetDateTime| -> Vec<UsageEvent> {
        (0..n)
            .map(|_| UsageEvent {
                kind: "api_call".into(),
                quantity: 10,
                unit: None,
                camera_id: None,
                time: at,
                attributes: None,
            })
            .collect()
    };
    // 28 October, online: 1000 events of 10 calls, two camera-days, uploaded.
    agent.record_usage(calls(1000, clock.now())).await.unwrap();
    agent.record_camera_days().await.unwrap();
    while agent.upload_usage(1000).await.unwrap() > 0 {}
    assert_eq!(agent.usage_backlog(), 0);

    // The uplink goes: the device's server address stops answering. The vendor keeps
    // its own access to the same database.
    let port = server.port();
    server.stop();
    let mut vendor = Some(TestServer::start(
        clock.clone(),
        0,
        server_dir.path().to_path_buf(),
    ));
    let admin = |server: &TestServer| Client::new(&server.base).with_token(&token);
    let mut recorded = 1000 + 2;
    for _day in 0..7 {
        clock.advance(time::Duration::days(1));
        if clock.now().month() == time::Month::November && clock.now().day() == 1 {
            // The vendor invoices October with what reached it: 10,000 calls, 2 camera-days.
            let issued = admin(vendor.as_ref().unwrap())
                .issue_invoices(&tenant, "2026-10")
                .await
                .unwrap();
            assert_eq!(issued.invoices[0].total, 6000 * 2 / 31);
        }
        agent.record_usage(calls(1000, clock.now())).await.unwrap();
        agent.record_camera_days().await.unwrap();
        recorded += 1000 + 2;
        assert!(agent.upload_usage(1000).await.is_err(), "offline");
    }
    assert_eq!(agent.usage_backlog(), 7 * 1002);

    // 4 November: the uplink is back; the backlog drains, oldest first.
    vendor.take().unwrap().stop();
    let server = TestServer::start(clock.clone(), port, server_dir.path().to_path_buf());
    let mut batches = 0;
    while agent.upload_usage(1000).await.unwrap() > 0 {
        batches += 1;
    }
    assert_eq!(batches, 8, "7014 events in batches of 1000");
    assert_eq!(agent.usage_backlog(), 0);
    let db = rusqlite::Connection::open(server_dir.path().join("licet.db")).unwrap();
    let arrival: Vec<i64> = db
        .prepare("SELECT seq FROM usage_records ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(arrival.len(), recorded);
    assert!(
        arrival
            .iter()
            .enumerate()
            .all(|(i, &seq)| seq == i as i64 + 1),
        "stored in sequence order, none missing"
    );

    // October's invoice is as issued; November's books the late October usage:
    // 29–31 October, 30,000 calls (below the 50,000 included) and 6 camera-days:
    // base 6000 × 8 / 31 = 1548 in all, 1548 − 387 invoiced = 1161 late.
    let admin = admin(&server);
    let invoices = admin.invoices(&tenant).await.unwrap();
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].total, 387);
    let november = admin.invoice_preview(&tenant, "2026-11").await.unwrap();
    let november = &november.invoices[0];
    assert_eq!(november.late_usage.len(), 1, "{november:?}");
    assert_eq!(november.late_usage[0].period, "2026-10");
    let late = &november.late_usage[0].lines;
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(
        (late[0].price_id.as_str(), late[0].quantity, late[0].amount),
        ("base-camera", 6, 1161)
    );
    // November 1–4: 8 camera-days of 30 → 6000 × 8 / 30 = 1600; 40,000 calls, included.
    let base = november
        .lines
        .iter()
        .find(|l| l.price_id == "base-camera")
        .unwrap();
    assert_eq!((base.quantity, base.amount), (8, 1600));
    assert_eq!(november.total, 1600 + 1161);
    // Together, October is billed exactly as if nothing had been late.
    assert_eq!(387 + 1161, 6000 * 8 / 31);
}

/// A quota spent on the device and by the vendor's back-end: each heartbeat raises the
/// device's counter to the server's count plus what the device has not uploaded yet,
/// and uploading it later counts nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quota_use_is_reconciled_with_the_servers_count() {
    use crate::support::{TestServer, wait_for_state};
    use licet_agent::usage::UsageEvent;
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let token = server.admin_token.clone().unwrap();
    let subscription = server.subscription("brinkbyte-vision", "base", false).await;
    let device = Device::new("quota-box");
    let agent = device.open(device.config(Some(&server.base)), clock.clone());
    agent
        .activate(&subscription.license_key.clone().unwrap())
        .await
        .unwrap();
    wait_for_state(&agent, licet_core::state::LicenseState::Active).await;
    let counter = |agent: &licet_agent::Agent| {
        agent
            .quota_usage()
            .unwrap()
            .into_iter()
            .find(|(feature, period, _)| feature == "api_calls" && period == "2026-11")
            .map_or(0, |(_, _, used)| used)
    };

    // The device spends 3,000 calls and records them; they are not uploaded yet.
    let current = agent.current();
    assert!(
        agent
            .use_quota(&current, "api_calls", 3_000)
            .unwrap()
            .allowed
    );
    agent
        .record_usage(vec![UsageEvent {
            kind: "api_call".into(),
            quantity: 3_000,
            unit: None,
            camera_id: None,
            time: clock.now(),
            attributes: None,
        }])
        .await
        .unwrap();
    // The vendor's cloud meters 40,000 calls for the same tenant.
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/tenants/{}/usage/events",
            server.base, subscription.tenant_id
        ))
        .bearer_auth(&token)
        .header("content-type", "application/cloudevents+json")
        .body(
            serde_json::json!({"specversion": "1.0", "id": "cloud-1", "source": "vendor-cloud",
                "type": "api_call", "time": "2026-11-02T08:00:00Z", "data": {"quantity": 40_000}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    agent.heartbeat().await.unwrap();
    assert_eq!(
        counter(&agent),
        43_000,
        "40,000 by the server + 3,000 waiting here"
    );
    let current = agent.current();
    let left = agent.use_quota(&current, "api_calls", 1).unwrap();
    assert_eq!(left.remaining, licet_core::amount::Amount::Finite(6_999));

    // Uploaded, the device's calls are in the server's count: nothing is counted twice.
    while agent.upload_usage(1000).await.unwrap() > 0 {}
    agent.heartbeat().await.unwrap();
    assert_eq!(counter(&agent), 43_001);
}
