//! Admission control: with every permit held by requests in flight, the next request
//! is answered 503 with `Retry-After` at once (not queued), `/healthz` still answers,
//! and as soon as a request finishes the server admits again.

use crate::support::{TestServer, repo};
use licet_server::ServerConfig;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Starts a request whose body never finishes arriving: the server holds its permit
/// while it waits for the rest.
async fn stalled_request(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = "POST /v1/activations HTTP/1.1\r\nHost: licet\r\n\
                Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn past_the_bound_requests_are_refused_at_once_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        catalog_dir: Some(repo().join("examples/catalogs")),
        max_in_flight: 2,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with_config(&config, dir).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let http = reqwest::Client::new();
    let products = format!("{}/openapi.json", server.base);

    let first = stalled_request(&address).await;
    let mut second = stalled_request(&address).await;
    // Both stalled requests have reached the server and hold the two permits.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let response = http.get(&products).send().await.unwrap();
        if response.status().as_u16() == 503 || Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refused.status().as_u16(), 503);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded", "{body}");

    // Refused at once, never queued behind the stalled requests.
    let started = Instant::now();
    let again = http.get(&products).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // An overloaded server is still alive, and says so.
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);

    // One stalled request completes (and is answered); its permit is free again.
    second.write_all(&[b' '; 94]).await.unwrap();
    let mut answer = vec![0u8; 12];
    second.read_exact(&mut answer).await.unwrap();
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 4"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = http.get(&products).send().await.unwrap();
        if response.status().is_success() {
            break;
        }
        assert!(Instant::now() < deadline, "never admitted again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(first);
    server.stop().await;
}
