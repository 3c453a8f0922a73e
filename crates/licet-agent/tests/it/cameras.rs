//! Camera registration: the limit is enforced atomically, registrations and per-camera
//! trial starts survive restarts, and a camera's trial never restarts.

use crate::support::{Device, LocalApi, START, offline_agent, trial};
use licet_host::clock::ManualClock;
use std::sync::Arc;
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_registrations_against_a_trial_limit_of_two_admit_exactly_two() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("brinkbyte-box");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        trial("base"),
        clock.clone(),
        |_| {},
    );
    let api = LocalApi::start(agent).await;

    let mut requests = Vec::new();
    for n in 0..50 {
        let http = api.http.clone();
        let url = format!("{}/v1/cameras", api.base);
        requests.push(tokio::spawn(async move {
            let response = http
                .post(url)
                .json(&serde_json::json!({"camera_id": format!("cam-{n}")}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }));
    }
    let mut created = 0;
    for request in requests {
        let (status, body) = request.await.unwrap();
        match status {
            201 => created += 1,
            403 => assert_eq!(body["error"]["code"], "camera_limit_reached", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 2);
    let (_, cameras) = api.get("/v1/cameras").await;
    assert_eq!(cameras.as_array().unwrap().len(), 2);
    api.stop().await;

    // After a restart the two registrations hold the slots; more are still refused.
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        trial("base"),
        clock.clone(),
        |_| {},
    );
    let api = LocalApi::start(agent).await;
    let (_, cameras) = api.get("/v1/cameras").await;
    assert_eq!(cameras.as_array().unwrap().len(), 2);
    let (status, body) = api
        .post("/v1/cameras", serde_json::json!({"camera_id": "cam-late"}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 of 2"),
        "{body}"
    );
    api.stop().await;
}

#[tokio::test]
async fn a_camera_trial_starts_once_and_never_restarts() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("trial-box");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        trial("base"),
        clock.clone(),
        |_| {},
    );
    let api = LocalApi::start(agent).await;
    let (status, first) = api
        .post(
            "/v1/cameras",
            serde_json::json!({"camera_id": "lobby", "name": "Lobby"}),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["mode"], "trial");
    assert_eq!(first["days_remaining"], 90);

    // 30 days later the camera is removed and registered again, and the agent restarts.
    clock.advance(Duration::days(30));
    let response = api
        .http
        .delete(format!("{}/v1/cameras/lobby", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    api.stop().await;
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        trial("base"),
        clock.clone(),
        |_| {},
    );
    let api = LocalApi::start(agent).await;
    let (status, again) = api
        .post("/v1/cameras", serde_json::json!({"camera_id": "lobby"}))
        .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["first_registered_at"], first["first_registered_at"]);
    assert_eq!(again["trial_expires_at"], first["trial_expires_at"]);
    assert_eq!(
        again["days_remaining"], 60,
        "the trial kept running: {again}"
    );
    assert_eq!(again["name"], "Lobby", "{again}");

    // BrinkByte's camera listing shows the same timer.
    let (_, listing) = api.get("/api/v1/license/cameras").await;
    assert_eq!(listing["camera_count"], 1);
    assert_eq!(listing["trial_limit"], 2);
    assert_eq!(listing["is_trial_limit_exceeded"], false);
    assert_eq!(listing["cameras"][0]["mode"], "trial");
    assert_eq!(listing["cameras"][0]["is_trial"], true);
    assert_eq!(listing["cameras"][0]["days_remaining"], 60);
    assert_eq!(listing["cameras"][0]["hours_remaining"], 60 * 24);
    assert_eq!(listing["cameras"][0]["is_expired"], false);
    api.stop().await;
}

#[tokio::test]
async fn a_camera_whose_trial_ended_is_refused_by_checks_that_name_it() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("trial-box-2");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        trial("base"),
        clock.clone(),
        |_| {},
    );
    agent.register_camera("early", None).unwrap();
    clock.advance(Duration::days(80));
    agent.register_camera("late", None).unwrap();
    clock.advance(Duration::days(11));
    let api = LocalApi::start(agent).await;
    let (_, early) = api
        .post(
            "/v1/check",
            serde_json::json!({"feature": "detection.objects", "camera_id": "early"}),
        )
        .await;
    assert_eq!(early["allowed"], false, "{early}");
    assert_eq!(early["reason"], "camera_trial_expired");
    let (_, unknown) = api
        .post(
            "/v1/check",
            serde_json::json!({"feature": "detection.objects", "camera_id": "nope"}),
        )
        .await;
    assert_eq!(unknown["reason"], "camera_not_registered", "{unknown}");
    api.stop().await;
}
