//! An answer held up on the way does not stretch the lease: a refresh counts from when
//! the agent asked, not from when the answer arrived. A proxy between the agent and a
//! real server holds the answer while the device's clock moves five hours.

use crate::support::{Device, START, TestServer, wait_for_state};
use axum::extract::State;
use licet_core::state::LicenseState;
use licet_host::clock::{Clock as _, ManualClock};
use std::sync::Arc;
use time::Duration;
use tokio::sync::{Mutex, Notify, oneshot};

/// The proxy: forwards everything to the server; a refresh's answer is held until
/// the test lets it go.
#[derive(Clone)]
struct Proxy {
    upstream: String,
    asked: Arc<Notify>,
    release: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
}

async fn forward(
    State(proxy): State<Proxy>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path_and_query().unwrap().as_str().to_owned();
    let mut outgoing =
        reqwest::Client::new().request(parts.method.clone(), format!("{}{path}", proxy.upstream));
    for (name, value) in &parts.headers {
        if name != "host" {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = outgoing.body(body).send().await.unwrap();
    let status = answer.status();
    let bytes = answer.bytes().await.unwrap();
    if path.ends_with("/refresh") {
        proxy.asked.notify_one();
        if let Some(release) = proxy.release.lock().await.take() {
            let _ = release.await;
        }
    }
    axum::response::Response::builder()
        .status(status.as_u16())
        .header("content-type", "application/json")
        .body(axum::body::Body::from(bytes))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_answer_held_up_on_the_way_does_not_stretch_the_lease() {
    let clock = Arc::new(ManualClock::new(START));
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(clock.clone(), 0, server_dir.path().to_path_buf());
    let subscription = server.subscription("gate-control", "standard", false).await;
    let device = Device::new("slow-uplink");
    let mut config = device.config(Some(&server.base));
    let agent = device.open(config.clone(), clock.clone());
    agent
        .activate(subscription.license_key.as_deref().unwrap())
        .await
        .unwrap();
    wait_for_state(&agent, LicenseState::Active).await;
    drop(agent);

    // The same device, now behind the slow proxy.
    let (release_tx, release_rx) = oneshot::channel();
    let proxy = Proxy {
        upstream: server.base.clone(),
        asked: Arc::new(Notify::new()),
        release: Arc::new(Mutex::new(Some(release_rx))),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    config.server = Some(proxy_base);
    let agent = device.open(config, clock.clone());
    let asked_at = clock.now();
    let syncing = tokio::spawn({
        let agent = agent.clone();
        async move { agent.sync().await }
    });
    proxy.asked.notified().await;
    // The answer sits on the way for five hours of the device's clock.
    clock.advance(Duration::hours(5));
    release_tx.send(()).unwrap();
    syncing.await.unwrap().unwrap();
    let report = agent.current().report;
    let interval = agent.current().license.clone().unwrap().refresh_interval();
    assert_eq!(
        report.refresh_due_at,
        Some(asked_at + interval),
        "the lease runs from when the agent asked"
    );
    assert_eq!(report.state, LicenseState::Stale, "{:?}", report);
}
