//! Usage recording on the device: 202 only once events are on disk, sequence numbers
//! that only grow, one invalid event refuses the request, a bounded outbox, and the
//! agent's own camera-days.

use crate::support::{Device, LocalApi, START, offline_agent};
use licet_core::resolve::Subscription;
use licet_host::clock::ManualClock;
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
                {"type": "sms_sent", "quantity": 1, "camera_id": "lobby", "time": "2026-11-02T08:59:00Z"}
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
            "non-negative integer",
        ),
        (
            serde_json::json!({"type": "api_call", "quantity": "ten"}),
            "non-negative integer",
        ),
        (
            serde_json::json!({"type": "api_call", "quantity": 1.5}),
            "non-negative integer",
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
