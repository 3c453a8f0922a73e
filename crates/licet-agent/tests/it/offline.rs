//! Offline-first behaviour over time, with tokio's paused time driving the agent's
//! refresh loop and a shared manual clock standing for the wall clock of server and
//! device: outages, grace, revocation, clock tampering, restarts and tampered files.

use crate::support::{Device, LocalApi, START, TestServer, wait_for_state};
use licet_core::state::LicenseState;
use licet_host::clock::{Clock, ManualClock};
use std::sync::Arc;
use time::Duration;

/// Moves the wall clock and tokio's clock together.
async fn advance(clock: &ManualClock, by: Duration) {
    clock.advance(by);
    tokio::time::advance(std::time::Duration::try_from(by).unwrap()).await;
}

#[tokio::test(start_paused = true)]
async fn an_outage_is_stale_until_the_grace_ends_then_degraded_then_active_again() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let port = server.port();
    let subscription = server.subscription("gate-control", "standard", false).await;
    let device = Device::new("gate-1");
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config, clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, LicenseState::Active).await;

    // The uplink goes away.
    server.stop();
    advance(&clock, Duration::hours(71)).await;
    let (code, failed) = api.post("/v1/sync", serde_json::json!({})).await;
    assert_eq!(code, 502, "{failed}");
    assert_eq!(failed["error"]["code"], "server_unreachable");
    let (_, status) = api.get("/v1/status").await;
    assert_eq!(status["state"], "stale", "{status}");
    assert!(status["last_sync_error"].as_str().is_some(), "{status}");
    let (_, check) = api
        .post("/v1/check", serde_json::json!({"feature": "vehicle.color"}))
        .await;
    assert_eq!(check["allowed"], true, "full service while stale: {check}");

    advance(&clock, Duration::hours(2)).await;
    let (_, status) = api.get("/v1/status").await;
    assert_eq!(status["state"], "degraded", "{status}");
    let (_, check) = api
        .post("/v1/check", serde_json::json!({"feature": "vehicle.color"}))
        .await;
    assert_eq!(check["allowed"], false, "{check}");
    assert_eq!(check["reason"], "license_degraded", "{check}");
    let (_, kept) = api
        .post(
            "/v1/check",
            serde_json::json!({"feature": "core.detection"}),
        )
        .await;
    assert_eq!(
        kept["allowed"], true,
        "plate detection is core, on in every state: {kept}"
    );
    assert_eq!(kept["reason"], "core", "{kept}");

    // Back online: the next refresh restores full service.
    let _server = TestServer::start(clock.clone(), port, server_dir.path().to_path_buf());
    let (code, status) = api.post("/v1/sync", serde_json::json!({})).await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["state"], "active", "{status}");
    let (_, check) = api
        .post("/v1/check", serde_json::json!({"feature": "vehicle.color"}))
        .await;
    assert_eq!(check["allowed"], true, "{check}");
    api.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_revocation_takes_effect_at_the_next_refresh_and_survives_a_restart() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server.subscription("gate-control", "standard", false).await;
    let device = Device::new("gate-2");
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config.clone(), clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, LicenseState::Active).await;
    let device_id = agent.current().device_id.clone().unwrap();

    server.admin.deactivate(&device_id).await.unwrap();
    // The agent learns it when it next asks, which its refresh loop does when the lease
    // says so.
    advance(&clock, Duration::minutes(70)).await;
    wait_for_state(&agent, LicenseState::Revoked).await;
    let (_, check) = api
        .post("/v1/check", serde_json::json!({"feature": "vehicle.color"}))
        .await;
    assert_eq!(check["reason"], "license_revoked", "{check}");
    let (_, status) = api.get("/v1/status").await;
    assert!(
        status["detail"].as_str().unwrap().contains("deactivated"),
        "{status}"
    );
    api.stop().await;

    // The verdict is persisted: a restart with the server down is still revoked.
    server.stop();
    let again = device.open(config, clock.clone());
    assert_eq!(again.current().report.state, LicenseState::Revoked);
}

#[tokio::test(start_paused = true)]
async fn a_clock_set_back_is_reported_and_extends_no_deadline() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server.subscription("gate-control", "standard", false).await;
    let device = Device::new("gate-3");
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config.clone(), clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, LicenseState::Active).await;
    server.stop();

    advance(&clock, Duration::hours(60)).await;
    let (_, before) = api.get("/v1/status").await;
    assert_eq!(before["state"], "stale");

    // Someone sets the device clock back two days to stretch the grace period.
    clock.set(clock.now() - Duration::days(2));
    let (_, after) = api.get("/v1/status").await;
    assert_eq!(after["state"], "stale", "{after}");
    assert!(
        after["clock_behind_seconds"].as_i64().unwrap() >= 2 * 86_400 - 60,
        "{after}"
    );
    assert_eq!(
        after["degrades_at"], before["degrades_at"],
        "no deadline moved"
    );
    assert!(
        after["detail"].as_str().unwrap().contains("clock"),
        "{after}"
    );

    // Time keeps running for deadlines even though the wall clock is two days behind:
    // 13 more hours of running reach the end of the 72 h grace.
    advance(&clock, Duration::hours(13)).await;
    let (_, later) = api.get("/v1/status").await;
    assert_eq!(later["state"], "degraded", "{later}");
    api.stop().await;

    // And across a restart: the persisted high-water mark still wins over the clock.
    let again = device.open(config, clock.clone());
    assert_eq!(again.current().report.state, LicenseState::Degraded);
    assert!(again.current().report.clock_behind_seconds.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_restart_with_the_network_down_verifies_from_disk_and_serves() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server.subscription("gate-control", "standard", false).await;
    let device = Device::new("gate-4");
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config.clone(), clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, LicenseState::Active).await;
    api.post(
        "/v1/cameras",
        serde_json::json!({"camera_id": "gate-cam-1"}),
    )
    .await;
    api.stop().await;
    server.stop();

    advance(&clock, Duration::minutes(30)).await;
    let restarted = device.open(config, clock.clone());
    assert_eq!(restarted.current().report.state, LicenseState::Active);
    let api = LocalApi::start(restarted).await;
    let (_, check) = api
        .post("/v1/check", serde_json::json!({"feature": "vehicle.color"}))
        .await;
    assert_eq!(check["allowed"], true, "{check}");
    let (_, cameras) = api.get("/v1/cameras").await;
    assert_eq!(cameras.as_array().unwrap().len(), 1, "{cameras}");
    api.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_license_altered_on_disk_is_refused_and_the_status_says_why() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server.subscription("gate-control", "basic", false).await;
    let device = Device::new("gate-5");
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config.clone(), clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, LicenseState::Active).await;
    api.stop().await;
    server.stop();

    // Upgrade "basic" to "enterprise" by editing the stored document: the plan is in
    // the grant block, which is not signed itself but named by its digest in the
    // signed lease.
    let db = rusqlite::Connection::open(device.data_dir().join("agent.db")).unwrap();
    let armored: String = db
        .query_row("SELECT armored FROM license", [], |r| r.get(0))
        .unwrap();
    let begin = "-----BEGIN LICET LICENSE GRANT-----";
    let start = armored.find(begin).unwrap() + begin.len();
    let end = armored.find("-----END LICET LICENSE GRANT-----").unwrap();
    let grant_block = &armored[start..end];
    let body: String = grant_block.lines().collect();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let payload = String::from_utf8(engine.decode(&body).unwrap()).unwrap();
    assert!(payload.contains("\"basic\""), "{payload}");
    let forged = armored.replace(
        &body_lines(grant_block),
        &wrap(&engine.encode(payload.replace("\"basic\"", "\"enterprise\""))),
    );
    assert_ne!(forged, armored, "the forgery changed the file");
    db.execute("UPDATE license SET armored = ?1", [&forged])
        .unwrap();
    drop(db);

    let restarted = device.open(config, clock.clone());
    let current = restarted.current();
    assert_eq!(current.report.state, LicenseState::Unactivated);
    assert!(current.detail.contains("was refused"), "{}", current.detail);
    assert!(
        current.detail.contains("grant block is missing or altered"),
        "{}",
        current.detail
    );
    assert!(!restarted.entitlements().allows("vehicle.color"));
}

/// The base64 lines of an armored document, joined as they appear.
fn body_lines(armored: &str) -> String {
    armored
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.contains(':') && !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn wrap(text: &str) -> String {
    text.as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(start_paused = true)]
async fn a_device_that_boots_before_its_uplink_activates_when_the_server_appears() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let port = server.port();
    let subscription = server.subscription("gate-control", "standard", false).await;
    let base = server.base.clone();
    server.stop();

    let device = Device::new("gate-6");
    let mut config = device.config(Some(&base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config, clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    let (_, status) = api.get("/v1/status").await;
    assert_eq!(status["state"], "unactivated", "{status}");

    // The uplink comes up; the agent's next attempt (after its backoff) activates.
    let _server = TestServer::start(clock.clone(), port, server_dir.path().to_path_buf());
    advance(&clock, Duration::minutes(1)).await;
    wait_for_state(&agent, LicenseState::Active).await;
    let (_, check) = api
        .post("/v1/check", serde_json::json!({"feature": "vehicle.color"}))
        .await;
    assert_eq!(check["allowed"], true, "{check}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_never_refuse_each_others_licenses() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server.subscription("gate-control", "standard", false).await;
    let device = Device::new("gate-8");
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    let agent = device.open(config, clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, LicenseState::Active).await;

    // An installer's script and the refresh loop may ask at the same moment.
    let mut syncs = Vec::new();
    for _ in 0..10 {
        let http = api.http.clone();
        let url = format!("{}/v1/sync", api.base);
        syncs.push(tokio::spawn(async move {
            http.post(url)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for sync in syncs {
        assert_eq!(sync.await.unwrap(), 200);
    }
    let (_, status) = api.get("/v1/status").await;
    assert!(status["sequence"].as_u64().unwrap() >= 11, "{status}");
    api.stop().await;
}

/// A check never waits on SQLite: with the agent's database locked by another process
/// (a backup, a stuck writer), a check past a deadline still answers at once with the
/// new state; the time high-water mark is written once the database is free again.
#[tokio::test]
async fn a_check_answers_while_the_database_is_locked() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("locked-db");
    let agent = crate::support::offline_agent(
        &device,
        "gate-control",
        licet_core::resolve::Subscription::plan("standard"),
        clock.clone(),
        |_| {},
    );
    assert_eq!(agent.current().report.state, LicenseState::Active);
    let db = device.data_dir().join("agent.db");
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();

    // Ten days without a refresh: past the 72 h grace, and the high-water mark is due
    // to be written.
    clock.advance(Duration::days(10));
    let (answer, answered) = std::sync::mpsc::channel();
    let checking = agent.clone();
    std::thread::spawn(move || {
        let _ = answer.send(checking.current().report.state);
    });
    let state = answered
        .recv_timeout(std::time::Duration::from_secs(2))
        .expect("the check waited on the locked database");
    assert_eq!(state, LicenseState::Degraded);

    holder.execute_batch("COMMIT").unwrap();
    agent.tick().unwrap();
    let written: String = holder
        .query_row("SELECT value FROM meta WHERE key = 'high_water'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let written =
        time::OffsetDateTime::parse(&written, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!(written >= START + Duration::days(10), "{written}");
}
