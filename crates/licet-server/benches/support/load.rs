//! Load for the server benchmarks: `CONCURRENCY` clients over real HTTP on loopback
//! for a fixed time, latencies and throughput, and a bare axum JSON handler as the
//! baseline measured in the same run.

// Shared by several benchmarks, each of which uses part of it.
#![allow(dead_code)]

use axum::Json;
use axum::routing::post;
use std::time::{Duration, Instant};

/// Concurrent clients.
pub const CONCURRENCY: usize = 16;
/// How long each figure is measured.
pub const RUN: Duration = Duration::from_secs(5);

pub struct Stats {
    pub requests: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Stats {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

pub fn stats(mut latencies: Vec<Duration>, elapsed: Duration) -> Stats {
    latencies.sort();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
    };
    Stats {
        requests: latencies.len(),
        seconds: elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

/// Runs `request` from `CONCURRENCY` workers for `RUN`.
pub async fn load<F, Fut>(request: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (latencies, elapsed) = load_for(request, RUN).await;
    stats(latencies, elapsed)
}

/// Runs `a` and `b` in turns of `RUN / ROUNDS` each until each has run for `RUN`, so
/// that drift in the machine's speed during the run (other tenants, a checkpoint)
/// falls on both alike: for a ratio of two figures from the same run.
pub async fn load_interleaved<A, FA, B, FB>(a: A, b: B) -> (Stats, Stats)
where
    A: Fn(usize) -> FA + Send + Sync + Clone + 'static,
    FA: std::future::Future<Output = ()> + Send,
    B: Fn(usize) -> FB + Send + Sync + Clone + 'static,
    FB: std::future::Future<Output = ()> + Send,
{
    const ROUNDS: u32 = 10;
    let turn = RUN / ROUNDS;
    let (mut a_latencies, mut a_time) = (Vec::new(), Duration::ZERO);
    let (mut b_latencies, mut b_time) = (Vec::new(), Duration::ZERO);
    for _ in 0..ROUNDS {
        let (latencies, elapsed) = load_for(a.clone(), turn).await;
        a_latencies.extend(latencies);
        a_time += elapsed;
        let (latencies, elapsed) = load_for(b.clone(), turn).await;
        b_latencies.extend(latencies);
        b_time += elapsed;
    }
    (stats(a_latencies, a_time), stats(b_latencies, b_time))
}

/// Runs `request` from `CONCURRENCY` workers for `run`: every latency, and the time
/// taken.
pub async fn load_for<F, Fut>(request: F, run: Duration) -> (Vec<Duration>, Duration)
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|worker| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while start.elapsed() < run {
                    let t = Instant::now();
                    request(worker).await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    (all, start.elapsed())
}

pub async fn bare_server() -> String {
    let app = axum::Router::new().route(
        "/bare",
        post(|Json(body): Json<serde_json::Value>| async move { Json(body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// Starts a server in this process on `config`, its signing key provisioned from a
/// development root (on PostgreSQL the server invents none): its base URL and the
/// bootstrap admin token.
pub async fn start_server(config: &licet_server::ServerConfig) -> (String, String) {
    let now = licet_host::clock::Clock::now(&licet_host::clock::SystemClock);
    licet_server::signer::provision_development(&config.data_dir, now).unwrap();
    let prepared =
        licet_server::prepare(config, std::sync::Arc::new(licet_host::clock::SystemClock))
            .await
            .unwrap();
    let token = prepared.bootstrap_token.clone().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = licet_server::router(prepared.state);
    tokio::spawn(async move {
        licet_server::serve(app, listener, std::future::pending())
            .await
            .unwrap()
    });
    (base, token)
}
