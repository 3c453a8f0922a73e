//! Hosted-tenant benchmark: the tenant check, OFREP (one flag, and every flag), and the
//! rate-limit decision, each measured in turns with a bare axum JSON handler in the same
//! run on the same machine, with the ratios.
//!
//! Run: `LICET_BENCH_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p licet-server --bench hosted`
//! (falls back to `LICET_TEST_REDIS_URL`; without Redis the decisions are counted in
//! process, and it says so). SQLite, or PostgreSQL with `LICET_BENCH_POSTGRES_URL`:
//! these routes answer from the server's tenant cache, so the database is not on the
//! measured path once the first request has read it.
//!
//! Targets: tenant check and OFREP at least 0.5× the bare handler's throughput; the
//! rate-limit decision's p99 at most 2 ms with Redis on loopback.

// A benchmark measures wall time by definition, and stops loudly when setup fails.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

#[path = "support/load.rs"]
mod load;

use licet_client::Client;
use licet_client::wire::{ApiKeyCreate, SubscriptionCreate};
use licet_server::ServerConfig;
use load::{CONCURRENCY, Stats, bare_server, load_interleaved};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The allocator the `licet` binary serves with: the server is measured as it ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// A POST of `body` to `url` with the key, that must answer one of `ok`.
fn poster(
    http: &reqwest::Client,
    url: String,
    key: &str,
    body: serde_json::Value,
    ok: &'static [u16],
) -> impl Fn(usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
+ Send
+ Sync
+ Clone
+ 'static {
    let (http, key) = (http.clone(), key.to_owned());
    move |_| {
        let (http, url, key, body) = (http.clone(), url.clone(), key.clone(), body.clone());
        Box::pin(async move {
            let response = http
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!(ok.contains(&status), "status {status}");
            response.bytes().await.unwrap();
        })
    }
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let redis = env(&["LICET_BENCH_REDIS_URL", "LICET_TEST_REDIS_URL"]);
    let database = env(&["LICET_BENCH_POSTGRES_URL"]);
    let config = ServerConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database.clone().map(secrecy::SecretString::from),
        catalog_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/catalogs").into()),
        redis_url: redis.clone().map(secrecy::SecretString::from),
        // One gateway key making every request: no ceiling per credential here.
        rate_limits: licet_server::limits::RateLimits {
            activations_per_minute: 1000,
            failed_auth_per_minute: 1000,
            requests_per_credential_per_minute: 100_000_000,
        },
        ..ServerConfig::default()
    };
    let (base, token) = load::start_server(&config).await;

    let admin = Client::new(&base).with_token(&token);
    let tenant = admin.create_tenant("Bench Parking").await.unwrap();
    admin
        .create_subscription(
            &tenant.id,
            &SubscriptionCreate {
                product_id: "smart-parking".into(),
                plan: "enterprise".into(),
                addons: vec![],
                trial: false,
                modules: None,
                term_days: None,
            },
        )
        .await
        .unwrap();
    let key = admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["subscriptions:read".into()],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    let http = reqwest::Client::new();
    let bare_base = bare_server().await;
    let bare = poster(
        &http,
        format!("{bare_base}/bare"),
        &key,
        serde_json::json!({}),
        &[200],
    );

    let check = poster(
        &http,
        format!("{base}/v1/tenants/{}/check", tenant.id),
        &key,
        serde_json::json!({"feature": "max_spaces", "amount": 101}),
        &[200],
    );
    let (check, bare_check) = load_interleaved(check, bare.clone()).await;
    let flag = poster(
        &http,
        format!("{base}/ofrep/v1/evaluate/flags/analytics"),
        &key,
        serde_json::json!({"context": {"targetingKey": tenant.id}}),
        &[200],
    );
    let (flag, bare_flag) = load_interleaved(flag, bare.clone()).await;
    let bulk = poster(
        &http,
        format!("{base}/ofrep/v1/evaluate/flags"),
        &key,
        serde_json::json!({"context": {"targetingKey": tenant.id}}),
        &[200],
    );
    let (bulk, bare_bulk) = load_interleaved(bulk, bare.clone()).await;
    // Decisions for many subjects (a gateway's API keys), allowed or refused alike.
    let subject = Arc::new(AtomicU64::new(0));
    let decide = {
        let (http, url, key) = (
            http.clone(),
            format!("{base}/v1/tenants/{}/rate-limit", tenant.id),
            key.clone(),
        );
        move |_: usize| {
            let n = subject.fetch_add(1, Ordering::Relaxed) % 1000;
            let (http, url, key) = (http.clone(), url.clone(), key.clone());
            async move {
                let response = http
                    .post(url)
                    .bearer_auth(key)
                    .json(&serde_json::json!({"limit": "api_rate_per_minute", "subject": format!("key-{n}")}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                assert!(status == 200 || status == 429, "status {status}");
                response.bytes().await.unwrap();
            }
        }
    };
    let (decision, bare_decision) = load_interleaved(decide, bare).await;

    let shared = if redis.is_some() {
        "Redis on loopback"
    } else {
        "no Redis: counted in process"
    };
    println!(
        "\n== licet-server hosted-tenant benchmark ({}, {shared}, {CONCURRENCY} concurrent clients, loopback HTTP) ==",
        if database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>14}",
        "", "req/s", "p50 ms", "p99 ms", "× bare req/s"
    );
    let row = |name: &str, s: &Stats, bare: &Stats| {
        println!(
            "{name:<34} {:>10.0} {:>10.2} {:>10.2} {:>14.3}",
            s.per_second(),
            s.p50_ms,
            s.p99_ms,
            s.per_second() / bare.per_second()
        );
        println!(
            "{:<34} {:>10.0} {:>10.2} {:>10.2}",
            "  bare handler, same turns",
            bare.per_second(),
            bare.p50_ms,
            bare.p99_ms
        );
    };
    row("tenant check (limit, amount)", &check, &bare_check);
    row("OFREP, one flag", &flag, &bare_flag);
    row("OFREP, every flag", &bulk, &bare_bulk);
    row("rate-limit decision", &decision, &bare_decision);
    println!(
        "targets: check {:.3}x, OFREP {:.3}x / {:.3}x (≥ 0.5x); rate-limit p99 {:.2} ms (≤ 2 ms)",
        check.per_second() / bare_check.per_second(),
        flag.per_second() / bare_flag.per_second(),
        bulk.per_second() / bare_bulk.per_second(),
        decision.p99_ms
    );
}
