//! Trust comes from the vendor's root, never from the network: a server the root did
//! not certify licenses nothing, a rotated key needs no change on the device, a revoked
//! or expired key is refused, and a server's "no" sticks until the server lifts it.

use crate::support::{
    Device, LocalApi, START, TestServer, install_signing_key, test_root, wait_for_state,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use licet_core::state::LicenseState;
use licet_core::trust::bundle;
use licet_host::clock::ManualClock;
use std::sync::Arc;
use time::Duration;

/// The vendor root an attacker made for themselves.
fn attacker_root() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[66; 32])
}

fn attacker_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[67; 32])
}

fn catalog(product: &str) -> licet_core::catalog::Catalog {
    let path = crate::support::repo().join(format!("examples/catalogs/{product}.toml"));
    licet_core::catalog::Catalog::from_toml(&std::fs::read_to_string(path).unwrap(), product)
        .unwrap()
}

/// A license for `device` signed by `key` and bundled with a certificate from `root`
/// for the window around [`START`].
fn license_from(
    key: &ed25519_dalek::SigningKey,
    root: &ed25519_dalek::SigningKey,
    window: (time::OffsetDateTime, time::OffsetDateTime),
    (device, fingerprint): (&str, &str),
    plan: &str,
    sequence: u64,
    issued_at: time::OffsetDateTime,
) -> String {
    let catalog = catalog("gate-control");
    let signed = licet_core::license::issue(
        &licet_core::license::IssueRequest {
            catalog: &catalog,
            subscription: &licet_core::resolve::Subscription::plan(plan),
            license_id: licet_core::ids::LicenseId::new(format!("lic_forged_{sequence}")),
            subscription_id: None,
            tenant: licet_core::ids::TenantId::new("acme"),
            device: licet_core::ids::DeviceId::new(device),
            fingerprint,
            issued_at,
            term_ends_at: Some(issued_at + Duration::days(3650)),
            trial_started_at: None,
            sequence,
            grace: Some(Duration::days(3650)),
            refresh: None,
        },
        key,
    )
    .unwrap();
    let certificate =
        licet_core::trust::certify(root, &key.verifying_key(), window.0, window.0, window.1)
            .unwrap();
    bundle(&signed.armored, Some(&certificate), None)
}

/// What a fake server answers to a refresh.
#[derive(Clone)]
enum Answer {
    /// A license, whatever the device holds.
    License(String),
    /// A verdict (revoked) signed by the attacker's key, echoing the request's nonce.
    Verdict { device: String },
}

async fn fake_refresh(
    State(answer): State<Answer>,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, Json<serde_json::Value>) {
    match answer {
        Answer::License(license) => (
            StatusCode::OK,
            Json(serde_json::json!({"license": license, "sequence": 999})),
        ),
        Answer::Verdict { device } => {
            let verdict = licet_core::verdict::seal_verdict(
                &licet_core::verdict::VerdictPayload {
                    format: 1,
                    device: licet_core::ids::DeviceId::new(device),
                    verdict: licet_core::state::Verdict::Revoked,
                    reason: "you are revoked (says a server of mine)".into(),
                    issued_at: START,
                    nonce: body["nonce"].as_str().map(str::to_owned),
                    sequence: 10_000,
                },
                &attacker_key(),
            )
            .unwrap();
            let certificate = licet_core::trust::certify(
                &attacker_root(),
                &attacker_key().verifying_key(),
                START,
                START - Duration::days(1),
                START + Duration::days(3650),
            )
            .unwrap();
            (
                StatusCode::FORBIDDEN,
                Json(serde_json::json!({
                    "error": {"code": "license_revoked", "message": "revoked"},
                    "verdict": bundle(&verdict, Some(&certificate), None),
                })),
            )
        }
    }
}

/// A real HTTP server that answers refreshes as a device owner's own server would, and
/// publishes its own key for an agent that might learn it.
async fn fake_server(answer: Answer) -> (String, tokio::task::JoinHandle<()>) {
    let public = licet_core::signing::format_public_key(&attacker_key().verifying_key());
    let key_id = licet_core::signing::KeyId::of(&attacker_key().verifying_key()).to_string();
    let app = axum::Router::new()
        .route("/v1/devices/{id}/refresh", post(fake_refresh))
        .route(
            "/v1/signing-keys",
            get(move || async move {
                Json(serde_json::json!([{"key_id": key_id, "public_key": public}]))
            }),
        )
        .with_state(answer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, task)
}

#[tokio::test]
async fn a_server_the_root_did_not_certify_licenses_nothing() {
    let clock = Arc::new(ManualClock::new(START));

    // At activation: a real Licet server whose key a root of the attacker certified.
    let rogue_dir = tempfile::tempdir().unwrap();
    install_signing_key(
        rogue_dir.path(),
        &attacker_key(),
        &attacker_root(),
        START - Duration::days(1),
        START + Duration::days(3650),
    );
    let rogue = TestServer::start(clock.clone(), 0, rogue_dir.path().to_path_buf());
    let rogue_key = rogue
        .subscription("gate-control", "enterprise", false)
        .await;
    let device = Device::new("trusting-box");
    let mut config = device.config(Some(&rogue.base));
    let agent = device.open(config.clone(), clock.clone());
    let refused = agent
        .activate(rogue_key.license_key.as_deref().unwrap())
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("not certified by a trusted root"),
        "{refused}"
    );
    assert_eq!(agent.current().report.state, LicenseState::Unactivated);
    assert!(agent.current().license.is_none());
    assert!(!agent.entitlements().allows("vehicle.color"));
    drop(agent);
    rogue.stop();

    // The genuine server activates the device.
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server.subscription("gate-control", "basic", false).await;
    config.server = Some(server.base.clone());
    let agent = device.open(config.clone(), clock.clone());
    agent
        .activate(subscription.license_key.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(agent.current().report.state, LicenseState::Active);
    let device_id = agent.current().device_id.clone().unwrap();
    let fingerprint = agent.fingerprint().value.clone();
    let held = agent.current().license.clone().unwrap();
    drop(agent);

    // After activation: the device is pointed at a fake server that serves an
    // enterprise license for ten years, then a revocation, both from its own key.
    let forged = license_from(
        &attacker_key(),
        &attacker_root(),
        (START - Duration::days(1), START + Duration::days(3650)),
        (&device_id, &fingerprint),
        "enterprise",
        999,
        START,
    );
    for answer in [
        Answer::License(forged.clone()),
        Answer::Verdict {
            device: device_id.clone(),
        },
    ] {
        let (fake, task) = fake_server(answer).await;
        let mut redirected = config.clone();
        redirected.server = Some(fake);
        let agent = device.open(redirected, clock.clone());
        let failed = agent.sync().await.unwrap_err();
        assert!(
            failed
                .to_string()
                .contains("not certified by a trusted root"),
            "{failed}"
        );
        let current = agent.current();
        assert_eq!(current.report.state, LicenseState::Active);
        assert_eq!(current.license.as_ref(), Some(&held), "nothing changed");
        assert!(!agent.entitlements().allows("vehicle.color"));
        task.abort();
    }

    // Imported from a file, the forged license is refused too.
    let agent = device.open(config, clock.clone());
    let refused = agent
        .import_license(&forged, licet_agent::DeviceIdentity::Same)
        .unwrap_err();
    assert!(refused.to_string().contains("not certified"), "{refused}");
    assert_eq!(agent.current().license.as_ref(), Some(&held));
}

#[tokio::test]
async fn a_rotated_key_needs_no_change_on_the_device_and_a_revoked_or_expired_one_is_refused() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let first = licet_host::keyfile::generate().unwrap();
    install_signing_key(
        server_dir.path(),
        &first,
        &test_root().0,
        START - Duration::days(1),
        START + Duration::days(365),
    );
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let port = server.port();
    let subscription = server.subscription("gate-control", "standard", false).await;
    let device = Device::new("rotating-box");
    let config = device.config(Some(&server.base));
    let agent = device.open(config, clock.clone());
    agent
        .activate(subscription.license_key.as_deref().unwrap())
        .await
        .unwrap();
    let first_id = licet_core::signing::KeyId::of(&first.verifying_key());
    let key_in_use = || {
        let db = rusqlite::Connection::open(device.data_dir().join("agent.db")).unwrap();
        let armored: String = db
            .query_row("SELECT armored FROM license", [], |r| r.get(0))
            .unwrap();
        licet_core::license::inspect(&armored).unwrap().0
    };
    assert_eq!(key_in_use(), first_id);

    // The operator rotates to a new key certified by the same root, and revokes the
    // old one; the running agent is not touched.
    server.stop();
    let second = licet_host::keyfile::generate().unwrap();
    install_signing_key(
        server_dir.path(),
        &second,
        &test_root().0,
        START - Duration::days(1),
        START + Duration::days(365),
    );
    let revocations = licet_core::trust::seal_revocations(
        &test_root().0,
        &licet_core::trust::RevocationPayload {
            format: 1,
            serial: 1,
            issued_at: START,
            revoked: vec![first_id.clone()],
        },
    )
    .unwrap();
    std::fs::write(server_dir.path().join("revocations.txt"), &revocations).unwrap();
    let server = TestServer::start(clock.clone(), port, server_dir.path().to_path_buf());
    // The server publishes the new key with its certificate.
    let published = server.admin.signing_keys().await.unwrap();
    let second_id = licet_core::signing::KeyId::of(&second.verifying_key());
    assert!(
        published
            .iter()
            .any(|k| k.key_id == second_id.as_str() && k.certificate.is_some()),
        "{published:?}"
    );
    agent.sync().await.unwrap();
    assert_eq!(agent.current().report.state, LicenseState::Active);
    assert_eq!(key_in_use(), second_id);

    // What the revoked key signs is refused, even with its (still valid) certificate.
    let fingerprint = agent.fingerprint().value.clone();
    let device_id = agent.current().device_id.clone().unwrap();
    let from_revoked = license_from(
        &first,
        &test_root().0,
        (START - Duration::days(1), START + Duration::days(365)),
        (&device_id, &fingerprint),
        "enterprise",
        50,
        START,
    );
    let refused = agent
        .import_license(&from_revoked, licet_agent::DeviceIdentity::Same)
        .unwrap_err();
    assert!(refused.to_string().contains("revoked"), "{refused}");
    // So is what a key signs outside its certificate's window.
    let expired = licet_host::keyfile::generate().unwrap();
    let from_expired = license_from(
        &expired,
        &test_root().0,
        (START - Duration::days(30), START - Duration::days(1)),
        (&device_id, &fingerprint),
        "enterprise",
        51,
        START - Duration::days(2),
    );
    let refused = agent
        .import_license(&from_expired, licet_agent::DeviceIdentity::Same)
        .unwrap_err();
    assert!(refused.to_string().contains("certified from"), "{refused}");
    assert_eq!(
        agent.current().license.as_ref().unwrap().plan.as_str(),
        "standard"
    );

    // The revocation list is kept: a restart still refuses the revoked key.
    let config = device.config(Some(&format!("http://127.0.0.1:{port}")));
    drop(agent);
    let restarted = device.open(config, clock.clone());
    assert!(
        restarted
            .import_license(&from_revoked, licet_agent::DeviceIdentity::Same)
            .is_err()
    );
    assert_eq!(restarted.current().report.state, LicenseState::Active);
}

#[tokio::test(start_paused = true)]
async fn a_suspension_sticks_until_a_newer_license_from_the_server_lifts_it() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server.subscription("gate-control", "standard", false).await;
    let device = Device::new("suspended-box");
    let mut config = device.config(Some(&server.base));
    config.license_key = Some(subscription.license_key.clone().unwrap().into());
    config.api_token = Some("local-secret".to_owned().into());
    let agent = device.open(config.clone(), clock.clone());
    let api = LocalApi::start(agent.clone()).await;
    wait_for_state(&agent, LicenseState::Active).await;

    server
        .admin
        .subscription_action(&subscription.id, "suspend")
        .await
        .unwrap();
    assert!(agent.sync().await.is_err());
    assert_eq!(agent.current().report.state, LicenseState::Suspended);
    // The newest license the device holds (the refresh loop may have taken several).
    let held: String = rusqlite::Connection::open(device.data_dir().join("agent.db"))
        .unwrap()
        .query_row("SELECT armored FROM license", [], |r| r.get(0))
        .unwrap();

    // Re-importing the license the device already held, over the local API (with the
    // token) and as `licet agent import-license` does it, changes nothing.
    let import = |token: Option<&'static str>| {
        let request = api
            .http
            .post(format!("{}/v1/license", api.base))
            .body(held.clone());
        async move {
            let request = match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = import(None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = import(Some("local-secret")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "suspended", "{body}");
    agent
        .import_license(&held, licet_agent::DeviceIdentity::Same)
        .unwrap();
    assert_eq!(agent.current().report.state, LicenseState::Suspended);
    assert!(!agent.entitlements().allows("vehicle.color"));
    api.stop().await;
    // And across a restart.
    drop(agent);
    let agent = device.open(config.clone(), clock.clone());
    assert_eq!(agent.current().report.state, LicenseState::Suspended);

    // Resumed: the next license from the server is newer, and lifts it.
    server
        .admin
        .subscription_action(&subscription.id, "resume")
        .await
        .unwrap();
    clock.advance(Duration::minutes(1));
    agent.sync().await.unwrap();
    assert_eq!(agent.current().report.state, LicenseState::Active);
    assert!(agent.entitlements().allows("vehicle.color"));
}

#[tokio::test]
async fn importing_over_the_local_api_needs_a_configured_token() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("tokenless-box");
    let agent = crate::support::offline_agent(
        &device,
        "gate-control",
        licet_core::resolve::Subscription::plan("standard"),
        clock.clone(),
        |_| {},
    );
    let api = LocalApi::start(agent.clone()).await;
    let response = api
        .http
        .post(format!("{}/v1/license", api.base))
        .body("-----BEGIN LICET LICENSE-----")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "local_api_token_required", "{body}");
    api.stop().await;
}

#[tokio::test]
async fn the_loopback_api_refuses_foreign_hosts_and_answers_in_shape() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("rebinding-box");
    let agent = crate::support::offline_agent(
        &device,
        "gate-control",
        licet_core::resolve::Subscription::plan("standard"),
        clock,
        |_| {},
    );
    let api = LocalApi::start(agent).await;
    let status_with_host = |host: &'static str| {
        let request = api
            .http
            .get(format!("{}/v1/status", api.base))
            .header("host", host);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    // A page on a name rebound to 127.0.0.1 sends its own name as Host.
    let (status, body) = status_with_host("attacker.example:8471").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "foreign_host");
    let (status, body) = status_with_host("localhost:8471").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = status_with_host("127.0.0.1").await;
    assert_eq!(status, 200);

    // Too large, and the wrong method: still the error shape.
    let response = api
        .http
        .post(format!("{}/v1/usage", api.base))
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "body_too_large", "{body}");
    let response = api
        .http
        .delete(format!("{}/v1/status", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    api.stop().await;
}
