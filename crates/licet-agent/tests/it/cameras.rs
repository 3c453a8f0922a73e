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
    assert_eq!(listing["cameras"][0]["mode"], "FREE_TRIAL");
    assert_eq!(listing["cameras"][0]["is_trial"], true);
    assert_eq!(listing["cameras"][0]["days_remaining"], 60);
    assert_eq!(
        listing["cameras"][0]["hours_remaining"], 0,
        "60 days and 0 hours"
    );
    assert_eq!(listing["cameras"][0]["is_expired"], false);
    // What bbVision's license card reads besides.
    assert_eq!(listing["trial_cameras"], 1, "{listing}");
    let camera = &listing["cameras"][0];
    assert!(
        camera["tenant_id"].as_str().is_some_and(|t| !t.is_empty()),
        "{camera}"
    );
    assert_eq!(camera["start_date"], first["first_registered_at"]);
    assert_eq!(camera["end_date"], first["trial_expires_at"]);
    assert!(camera["enabled_growth_packs"].is_array(), "{camera}");
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

/// BrinkByte's trial is 90 days for the license; a camera's own timer never outlives
/// it (its product document counts days and the hours within the day).
#[tokio::test]
async fn a_camera_added_late_in_a_trial_gets_what_is_left_of_it() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("trial-box-3");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        trial("base"),
        clock.clone(),
        |_| {},
    );
    let api = LocalApi::start(agent).await;
    clock.advance(Duration::days(80));
    let (status, late) = api
        .post("/v1/cameras", serde_json::json!({"camera_id": "late"}))
        .await;
    assert_eq!(status, 201, "{late}");
    assert_eq!(late["days_remaining"], 10, "{late}");
    assert_eq!(late["hours_remaining"], 0, "{late}");
    clock.advance(Duration::hours(30));
    let (_, listing) = api.get("/api/v1/license/cameras").await;
    let camera = &listing["cameras"][0];
    assert_eq!(
        (&camera["days_remaining"], &camera["hours_remaining"]),
        (&serde_json::json!(8), &serde_json::json!(18)),
        "8 days and 18 hours: {listing}"
    );

    // Day 91: the trial is over; a new camera is refused for that reason.
    clock.advance(Duration::days(11) - Duration::hours(30));
    let (status, refused) = api
        .post("/v1/cameras", serde_json::json!({"camera_id": "later"}))
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "trial_expired", "{refused}");
    let (_, validation) = api
        .post("/api/v1/license/validate/later", serde_json::json!({}))
        .await;
    assert_eq!(validation["valid"], false, "{validation}");
    assert_eq!(validation["mode"], "trial_expired", "{validation}");
    api.stop().await;
}

/// bbVision's license page and pipeline builder, replayed: they ask with placeholder
/// tenant ids (`tenant-123`) and read every field below.
#[tokio::test]
async fn bbvision_reads_the_license_and_growth_packs_of_the_device() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("bbvision-box");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        trial("base"),
        clock.clone(),
        |_| {},
    );
    let tenant = agent.current().license.as_ref().unwrap().tenant.to_string();
    let api = LocalApi::start(agent).await;
    let (status, _) = api
        .post("/v1/cameras", serde_json::json!({"camera_id": "gate"}))
        .await;
    assert_eq!(status, 201);
    clock.advance(Duration::hours(12));

    let (code, license) = api.get("/api/v1/billing/license/tenant-123").await;
    assert_eq!(code, 200, "{license}");
    assert_eq!(license["tenant_id"], tenant.as_str());
    assert_eq!(license["license_mode"], "trial");
    assert_eq!(license["is_valid"], true);
    assert_eq!(license["active_cameras"], 1);
    assert_eq!(license["cameras_allowed"], 2);
    assert_eq!(license["trial_max_cameras"], 2);
    assert_eq!(
        license["days_remaining"], 90,
        "89.5 days: a started day counts"
    );
    assert!(license["valid_until"].is_string(), "{license}");
    assert!(license["enabled_growth_packs"].is_array());
    let camera = &license["cameras"][0];
    assert_eq!(camera["camera_id"], "gate");
    assert_eq!(camera["tenant_id"], tenant.as_str());
    assert_eq!(camera["mode"], "trial");
    assert!(camera["start_date"].is_string() && camera["end_date"].is_string());
    assert!(camera["enabled_growth_packs"].is_array());

    let (code, packs) = api.get("/api/v1/billing/growth-packs/default").await;
    assert_eq!(code, 200, "{packs}");
    assert!(packs["enabled_packs"].is_array(), "{packs}");

    // After the trial: unlicensed, not valid, the camera unlicensed too.
    clock.advance(Duration::days(90));
    let (_, license) = api.get("/api/v1/billing/license/default").await;
    assert_eq!(license["license_mode"], "unlicensed", "{license}");
    assert_eq!(license["is_valid"], false);
    assert_eq!(license["cameras"][0]["mode"], "unlicensed");
    api.stop().await;
}

/// The rest of bbVision's billing pages, replayed with its placeholder tenant: the
/// subscription, the packs on sale and the period's usage, with every field its
/// `SubscriptionInfo`, `GrowthPackInfo` and `UsageSummary` models read.
#[tokio::test]
async fn bbvision_reads_the_subscription_the_packs_on_sale_and_the_usage() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("bbvision-billing");
    let bought = licet_core::resolve::Subscription {
        addons: vec![licet_core::resolve::AddonGrant {
            id: "advanced_analytics".into(),
            quantity: 2,
        }],
        ..licet_core::resolve::Subscription::plan("base")
    };
    let agent = offline_agent(&device, "brinkbyte-vision", bought, clock.clone(), |_| {});
    let tenant = agent.current().license.as_ref().unwrap().tenant.to_string();
    let agent_license_id = agent
        .current()
        .license
        .as_ref()
        .unwrap()
        .license_id
        .to_string();
    let api = LocalApi::start(agent).await;
    for camera in ["dock", "gate", "yard"] {
        let (status, _) = api
            .post("/v1/cameras", serde_json::json!({"camera_id": camera}))
            .await;
        assert_eq!(status, 201);
    }
    let (status, accepted) = api
        .post(
            "/v1/usage",
            serde_json::json!([
                {"type": "api_call", "quantity": 1200},
                {"type": "api_call", "quantity": 34},
                {"type": "llm_tokens", "quantity": 5000},
                {"type": "storage_gb_days", "quantity": 3},
                {"type": "sms_sent", "quantity": 2, "attributes": {"cost_minor": 16}},
                {"type": "agent_execution", "quantity": 7},
            ]),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");

    let (status, subscription) = api.get("/api/v1/billing/subscription/tenant-123").await;
    assert_eq!(status, 200, "{subscription}");
    // Issued offline, the license names no server subscription: its own id stands in.
    assert_eq!(
        subscription["subscription_id"], agent_license_id,
        "{subscription}"
    );
    assert_eq!(subscription["tenant_id"], tenant.as_str());
    assert_eq!(subscription["plan"], "base");
    assert_eq!(subscription["status"], "active");
    assert_eq!(subscription["cameras_licensed"], 3);
    assert_eq!(subscription["billing_cycle"], "monthly");
    assert_eq!(subscription["next_billing_date"], "2026-12-01");
    let packs = subscription["growth_packs"].as_array().unwrap();
    assert_eq!(packs.len(), 1, "{subscription}");
    assert_eq!(packs[0]["pack_id"], "advanced_analytics");
    assert_eq!(packs[0]["pack_name"], "Advanced Analytics");
    assert!(packs[0]["enabled_at"].is_string());
    assert_eq!(packs[0]["price_monthly"], 40.0, "two cameras at $20");
    assert_eq!(
        subscription["total_monthly_cost"], 220.0,
        "three cameras at $60 and the pack's $40: {subscription}"
    );

    let (status, available) = api.get("/api/v1/billing/growth-packs/available").await;
    assert_eq!(status, 200, "{available}");
    let packs = available["packs"].as_array().unwrap();
    let pack = |id: &str| {
        packs
            .iter()
            .find(|p| p["pack_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {available}"))
            .clone()
    };
    let analytics = pack("advanced_analytics");
    assert_eq!(
        (
            &analytics["category"],
            &analytics["price_monthly"],
            &analytics["is_enabled"]
        ),
        (
            &serde_json::json!("analytics"),
            &serde_json::json!(20.0),
            &serde_json::json!(true)
        )
    );
    assert!(analytics["description"].is_string() && analytics["pack_name"].is_string());
    assert!(
        analytics["features"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("analytics.near_miss"))
    );
    assert_eq!(pack("intelligence")["category"], "intelligence");
    assert_eq!(pack("cloud_export")["category"], "data");
    assert_eq!(pack("api_integration")["category"], "integration");
    assert_eq!(pack("mining")["is_enabled"], false);

    let (status, usage) = api.get("/api/v1/billing/usage/tenant-123").await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(
        usage,
        serde_json::json!({
            "tenant_id": tenant, "period_start": "2026-11-01", "period_end": "2026-11-02",
            "api_calls": 1234, "llm_tokens_used": 5000, "storage_gb_days": 3, "sms_sent": 2,
            "agent_executions": 7
        })
    );
    let (_, earlier) = api
        .get("/api/v1/billing/usage/tenant-123?start=2026-10-01&end=2026-10-31")
        .await;
    assert_eq!(earlier["api_calls"], 0, "{earlier}");
    let (status, refused) = api
        .get("/api/v1/billing/usage/tenant-123?start=last-month")
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("YYYY-MM-DD")
    );
    api.stop().await;
}
