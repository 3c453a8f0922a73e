//! Server benchmark: license refresh throughput and activation latency, next to a bare
//! axum handler measured in the same run on the same machine, with the ratios.
//!
//! Run: `LICET_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p licet-server --bench server`
//! (falls back to `LICET_TEST_POSTGRES_URL`, then to SQLite, and says which it used).
//!
//! Load comes from this process over real HTTP on loopback, with keep-alive, the same
//! client and concurrency for the baseline and for Licet.

// A benchmark measures wall time by definition, and stops loudly when setup fails.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use axum::Json;
use axum::routing::post;
use licet_client::Client;
use licet_client::wire::{ActivationRequest, SubscriptionCreate};
use licet_host::clock::SystemClock;
use licet_server::ServerConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 16;
const RUN: Duration = Duration::from_secs(5);
const ACTIVATIONS: usize = 400;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

struct Stats {
    requests: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Stats {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

fn stats(mut latencies: Vec<Duration>, elapsed: Duration) -> Stats {
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
async fn load<F, Fut>(request: F) -> Stats
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
                while start.elapsed() < RUN {
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
    stats(all, start.elapsed())
}

async fn bare_server() -> String {
    let app = axum::Router::new().route(
        "/bare",
        post(|Json(body): Json<serde_json::Value>| async move { Json(body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn database() -> (Option<String>, &'static str) {
    use sqlx::Connection as _;
    let url = std::env::var("LICET_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("LICET_TEST_POSTGRES_URL"));
    let Ok(url) = url else {
        return (None, "SQLite");
    };
    let schema = format!("licet_bench_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    (
        Some(format!("{url}{separator}options[search_path]={schema}")),
        "PostgreSQL",
    )
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, backend) = database().await;
    let config = ServerConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.clone().map(secrecy::SecretString::from),
        catalog_dir: None,
        heartbeat_interval_seconds: 300,
        // A load generator is one address making thousands of activations and calls.
        rate_limits: licet_server::limits::RateLimits {
            activations_per_minute: 10_000_000,
            failed_auth_per_minute: 1000,
            requests_per_credential_per_minute: 100_000_000,
        },
        ..ServerConfig::default()
    };
    // Every replica signs with provisioned key material (on PostgreSQL the server
    // invents none); here one development root certifies it.
    licet_server::signer::provision_development(
        &config.data_dir,
        licet_host::clock::Clock::now(&SystemClock),
    )
    .unwrap();
    let prepared = licet_server::prepare(&config, Arc::new(SystemClock))
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

    let catalog = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/catalogs/gate-control.toml"
    ))
    .unwrap()
    .replace("max_devices = 25", "max_devices = 100000");
    let admin = Client::new(&base).with_token(&token);
    admin.put_catalog("gate-control", &catalog).await.unwrap();
    let tenant = admin.create_tenant("Bench").await.unwrap();
    let subscription = admin
        .create_subscription(
            &tenant.id,
            &SubscriptionCreate {
                product_id: "gate-control".into(),
                plan: "enterprise".into(),
                addons: vec![],
                trial: false,
                modules: None,
                term_days: None,
            },
        )
        .await
        .unwrap();
    let key = subscription.license_key.unwrap();
    let http = reqwest::Client::new();

    // Activation latency: ACTIVATIONS new devices, CONCURRENCY at a time.
    let activate = |client: Client, key: String, n: usize| async move {
        client
            .activate(&ActivationRequest {
                license_key: key,
                fingerprint: format!("bench-device-{n}"),
                device_public_key: "ed25519:wQ6+ER6BpydbBaQLhyGJ2dlqsr25JBeuOZBfwr2EFt0=".into(),
                name: format!("bench {n}"),
                hardware: None,
                proof: None,
            })
            .await
            .unwrap()
    };
    let start = Instant::now();
    let mut latencies = Vec::new();
    let mut devices = Vec::new();
    for batch in (0..ACTIVATIONS).collect::<Vec<_>>().chunks(CONCURRENCY) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|n| {
                let (client, key, n) = (Client::new(&base), key.clone(), *n);
                tokio::spawn(async move {
                    let t = Instant::now();
                    let activated = activate(client, key, n).await;
                    (t.elapsed(), activated)
                })
            })
            .collect();
        for task in tasks {
            let (latency, activated) = task.await.unwrap();
            latencies.push(latency);
            devices.push(activated);
        }
    }
    let activation = stats(latencies, start.elapsed());

    // Refresh throughput: each worker refreshes its own device.
    let devices = Arc::new(devices);
    let refresh = {
        let (http, base, devices) = (http.clone(), base.clone(), devices.clone());
        load(move |worker| {
            let (http, base, devices) = (http.clone(), base.clone(), devices.clone());
            async move {
                let device = &devices[worker];
                let response = http
                    .post(format!("{base}/v1/devices/{}/refresh", device.device_id))
                    .bearer_auth(&device.device_token)
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
            }
        })
        .await
    };

    // Baseline: a bare axum JSON handler, same client, same concurrency.
    let bare_base = bare_server().await;
    let bare = {
        let http = http.clone();
        load(move |_| {
            let (http, bare_base) = (http.clone(), bare_base.clone());
            async move {
                let response = http
                    .post(format!("{bare_base}/bare"))
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
            }
        })
        .await
    };

    println!(
        "\n== licet-server benchmark ({backend}, {CONCURRENCY} concurrent clients, loopback HTTP) =="
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "", "req/s", "p50 ms", "p99 ms"
    );
    for (name, s) in [
        ("bare axum JSON handler", &bare),
        ("license refresh", &refresh),
        ("activation", &activation),
    ] {
        println!(
            "{name:<28} {:>10.0} {:>10.2} {:>10.2}",
            s.per_second(),
            s.p50_ms,
            s.p99_ms
        );
    }
    println!(
        "refresh throughput / bare handler: {:.3}x   activation p50 / bare p50: {:.1}x   activation p99 / bare p99: {:.1}x",
        refresh.per_second() / bare.per_second(),
        activation.p50_ms / bare.p50_ms,
        activation.p99_ms / bare.p99_ms
    );
    if let Some(url) = database_url {
        use sqlx::Connection as _;
        let (base, schema) = url.split_once("options[search_path]=").unwrap();
        let mut conn = sqlx::PgConnection::connect(base.trim_end_matches(['?', '&']))
            .await
            .unwrap();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}
