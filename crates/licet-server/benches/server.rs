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

use licet_client::Client;
use licet_client::wire::{
    ActivationRequest, ActivationResponse, HeartbeatRequest, SubscriptionCreate, UsageUpload,
    UsageUploadEvent,
};
use licet_server::ServerConfig;
use sha2::Digest as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The allocator the `licet` binary serves with (see its `main.rs`): the server is
/// measured as it ships, and the bare handler beside it runs on the same one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/load.rs"]
mod load;
use load::{CONCURRENCY, Stats, bare_server, load, load_interleaved, stats};

const ACTIVATIONS: usize = 400;

/// Activations measured: `ACTIVATIONS`, or `LICET_BENCH_ACTIVATIONS` (more, to profile
/// the activation path for longer).
fn activations() -> usize {
    std::env::var("LICET_BENCH_ACTIVATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ACTIVATIONS)
}
/// Usage stored for the heartbeat subscription before the second heartbeat run: a busy
/// month's worth for one subscription.
const MONTH_OF_USAGE: u64 = 500_000;
const USAGE_BATCH: u64 = 5000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
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
    let (base, token) = load::start_server(&config).await;

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
    // One client per concurrent slot, made before the clock starts: building an HTTP
    // client (its TLS roots) is the load generator's cost, not the server's.
    let clients: Vec<Client> = (0..CONCURRENCY).map(|_| Client::new(&base)).collect();
    // Warm-up, not counted: the first concurrent burst opens the database pool's
    // connections (a PostgreSQL backend forked for each) and prepares each statement on
    // each of them, which a server in service did long ago.
    let warm: Vec<_> = (0..CONCURRENCY)
        .map(|slot| {
            let (client, key) = (clients[slot].clone(), key.clone());
            tokio::spawn(async move { activate(client, key, 1_000_000 + slot).await })
        })
        .collect();
    for task in warm {
        task.await.unwrap();
    }
    let start = Instant::now();
    let mut latencies = Vec::new();
    let mut devices = Vec::new();
    for batch in (0..activations()).collect::<Vec<_>>().chunks(CONCURRENCY) {
        let tasks: Vec<_> = batch
            .iter()
            .enumerate()
            .map(|(slot, n)| {
                let (client, key, n) = (clients[slot].clone(), key.clone(), *n);
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

    // Refresh throughput: each worker refreshes its own device, sending the sequence
    // it holds as the agent does.
    // And the grant of the license it holds, as the agent does: the answers are leases.
    let grants: Arc<Vec<String>> = Arc::new(
        devices
            .iter()
            .map(|device| {
                let blocks = licet_core::signing::attachments(
                    licet_core::license::GRANT_LABEL,
                    &device.license,
                );
                licet_core::signing::to_hex(&sha2::Sha256::digest(&blocks[0]))
            })
            .collect(),
    );
    let devices = Arc::new(devices);
    let held: Arc<Vec<AtomicU64>> = Arc::new(devices.iter().map(|_| AtomicU64::new(0)).collect());
    let refresh = {
        let (http, base, devices, held, grants) = (
            http.clone(),
            base.clone(),
            devices.clone(),
            held.clone(),
            grants.clone(),
        );
        move |worker: usize| {
            let (http, base, devices, held, grants) = (
                http.clone(),
                base.clone(),
                devices.clone(),
                held.clone(),
                grants.clone(),
            );
            async move {
                let device = &devices[worker];
                let response = http
                    .post(format!("{base}/v1/devices/{}/refresh", device.device_id))
                    .bearer_auth(&device.device_token)
                    .json(&serde_json::json!({
                        "sequence": held[worker].load(Ordering::Relaxed),
                        "grant_sha256": grants[worker],
                    }))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                let refreshed: licet_client::wire::RefreshResponse = response.json().await.unwrap();
                assert!(refreshed.sequence > held[worker].load(Ordering::Relaxed));
                // The grant is unchanged: the answer is the signed lease alone.
                assert!(!refreshed.license.contains(licet_core::license::GRANT_LABEL));
                held[worker].store(refreshed.sequence, Ordering::Relaxed);
            }
        }
    };

    // Baseline: a bare axum JSON handler, same client, same concurrency, measured in
    // turns with the refresh.
    let bare_base = bare_server().await;
    let bare = {
        let http = http.clone();
        move |_: usize| {
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
        }
    };
    let (refresh, bare) = load_interleaved(refresh, bare).await;

    // Heartbeats of a subscription with quotas (BrinkByte Vision: api_calls monthly),
    // first with no usage stored, then with a month's worth: the quota status in each
    // answer must cost the same.
    // Base is a one-device plan; the benchmark's subscription runs a small fleet.
    let vision = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/catalogs/brinkbyte-vision.toml"
    ))
    .unwrap()
    .replace(
        "quotas = { api_calls = 50000, llm_tokens = 250000 }",
        "quotas = { api_calls = 50000, llm_tokens = 250000 }\nmax_devices = 100",
    );
    admin
        .put_catalog("brinkbyte-vision", &vision)
        .await
        .unwrap();
    let busy = admin.create_tenant("Busy").await.unwrap();
    let busy_key = admin
        .create_subscription(
            &busy.id,
            &SubscriptionCreate {
                product_id: "brinkbyte-vision".into(),
                plan: "base".into(),
                addons: vec![],
                trial: false,
                modules: None,
                term_days: None,
            },
        )
        .await
        .unwrap()
        .license_key
        .unwrap();
    let mut busy_devices = Vec::new();
    for n in 0..CONCURRENCY {
        let client = Client::new(&base);
        let activated = client
            .activate(&ActivationRequest {
                license_key: busy_key.clone(),
                fingerprint: format!("busy-device-{n}"),
                device_public_key: "ed25519:wQ6+ER6BpydbBaQLhyGJ2dlqsr25JBeuOZBfwr2EFt0=".into(),
                name: format!("busy {n}"),
                hardware: None,
                proof: None,
            })
            .await
            .unwrap();
        busy_devices.push(activated);
    }
    let busy_devices = Arc::new(busy_devices);
    settle(database_url.as_deref()).await;
    let (heartbeat_empty, used_empty) = heartbeats(&base, &busy_devices).await;
    store_month_of_usage(&base, &busy_devices).await;
    // The month arrived in seconds here, not over a month: let PostgreSQL write it out
    // before measuring, as it would have long since in a real month.
    settle(database_url.as_deref()).await;
    let (heartbeat_full, used_full) = heartbeats(&base, &busy_devices).await;
    assert_eq!(used_empty, 0);
    assert_eq!(
        used_full, MONTH_OF_USAGE,
        "the heartbeat reports the stored month"
    );

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
        ("heartbeat, no usage", &heartbeat_empty),
        ("heartbeat, 500k usage rows", &heartbeat_full),
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
    println!(
        "heartbeat with {MONTH_OF_USAGE} usage rows / with none: p50 {:.2}x   p99 {:.2}x",
        heartbeat_full.p50_ms / heartbeat_empty.p50_ms,
        heartbeat_full.p99_ms / heartbeat_empty.p99_ms
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

/// Every worker heartbeats its own device for `RUN`; returns the figures and the
/// `api_call` use the last answer reported.
async fn heartbeats(base: &str, devices: &Arc<Vec<ActivationResponse>>) -> (Stats, u64) {
    let used = Arc::new(std::sync::atomic::AtomicU64::new(0));
    // One client (one kept-alive connection pool) per device, as an agent has.
    let clients: Arc<Vec<Client>> = Arc::new(
        devices
            .iter()
            .map(|device| Client::new(base).with_token(&device.device_token))
            .collect(),
    );
    let stats = {
        let (clients, devices, used) = (clients, devices.clone(), used.clone());
        load(move |worker| {
            let (clients, devices, used) = (clients.clone(), devices.clone(), used.clone());
            async move {
                let device = &devices[worker];
                let answer = clients[worker]
                    .heartbeat(
                        &device.device_id,
                        &HeartbeatRequest {
                            agent_version: Some("bench".into()),
                            metrics: None,
                            active_cameras: (0..8).map(|c| format!("cam-{c}")).collect(),
                            running_modules: vec![],
                            license_sequence: None,
                        },
                    )
                    .await
                    .unwrap();
                let api_calls = answer.quotas.iter().find(|q| q.meter == "api_call");
                used.store(
                    api_calls.map_or(0, |q| q.used),
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
        })
        .await
    };
    (stats, used.load(std::sync::atomic::Ordering::Relaxed))
}

/// Stores `MONTH_OF_USAGE` api calls through the devices' own upload route, this
/// month, spread over the devices.
async fn store_month_of_usage(base: &str, devices: &Arc<Vec<ActivationResponse>>) {
    let now = time::OffsetDateTime::now_utc();
    let at = licet_core::time_text(now - time::Duration::seconds(1));
    let batches = MONTH_OF_USAGE / USAGE_BATCH;
    let per_device = batches.div_ceil(CONCURRENCY as u64);
    let tasks: Vec<_> = devices
        .iter()
        .enumerate()
        .map(|(worker, device)| {
            let (base, device, at) = (base.to_owned(), device.clone(), at.clone());
            let first = worker as u64 * per_device;
            let last = ((worker as u64 + 1) * per_device).min(batches);
            tokio::spawn(async move {
                let client = Client::new(&base).with_token(&device.device_token);
                for number in first..last {
                    let events = (number * USAGE_BATCH + 1..=(number + 1) * USAGE_BATCH)
                        .map(|sequence| UsageUploadEvent {
                            sequence: sequence - first * USAGE_BATCH,
                            kind: "api_call".into(),
                            quantity: serde_json::json!(1),
                            unit: Some("call".into()),
                            camera_id: Some(format!("cam-{}", sequence % 8)),
                            time: at.clone(),
                            attributes: None,
                        })
                        .collect();
                    client
                        .upload_usage(&device.device_id, &UsageUpload { events })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// A checkpoint and fresh planner statistics, so each heartbeat run starts from a
/// database at rest (on SQLite there is nothing to do).
async fn settle(database_url: Option<&str>) {
    use sqlx::Connection as _;
    let Some(url) = database_url else { return };
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    for statement in [
        "VACUUM ANALYZE usage_records",
        "VACUUM ANALYZE usage_counters",
        "VACUUM ANALYZE usage_rollups",
        "VACUUM ANALYZE devices",
        "CHECKPOINT",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
}
