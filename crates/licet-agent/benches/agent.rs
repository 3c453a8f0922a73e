//! Agent benchmark: the in-process check, HTTP `/v1/check` and OFREP throughput next to
//! a bare axum handler in the same run, and the idle RSS of a real `licet agent`
//! process with 100 registered cameras.
//!
//! Run: `cargo build --release -p licet && cargo bench -p licet-agent --bench agent`
//! (the RSS figure needs the release binary; without it that part says so and is skipped).

// A benchmark measures wall time by definition, and stops loudly when setup fails.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use axum::Json;
use axum::routing::post;
use licet_agent::{Agent, AgentConfig};
use licet_core::catalog::Catalog;
use licet_core::resolve::Subscription;
use licet_host::clock::SystemClock;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 16;
const RUN: Duration = Duration::from_secs(5);
const CHECKS: u64 = 20_000_000;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An agent in `dir` with an imported gate-control "standard" license.
fn agent(dir: &Path) -> (Agent, AgentConfig) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    std::fs::create_dir_all(dir.join("root/etc")).unwrap();
    std::fs::write(dir.join("root/etc/machine-id"), "bench-device\n").unwrap();
    let path = repo().join("examples/catalogs/gate-control.toml");
    let catalog =
        Catalog::from_toml(&std::fs::read_to_string(&path).unwrap(), "gate-control").unwrap();
    let config = AgentConfig {
        data_dir: dir.join("data"),
        identity_root: dir.join("root"),
        trusted_keys: vec![licet_core::signing::format_public_key(&key.verifying_key())],
        listen: "127.0.0.1:0".parse().unwrap(),
        ..AgentConfig::default()
    };
    let agent = Agent::open(config.clone(), Arc::new(SystemClock)).unwrap();
    if agent.current().license.is_none() {
        let signed = licet_core::license::issue(
            &licet_core::license::IssueRequest {
                catalog: &catalog,
                subscription: &Subscription::plan("enterprise"),
                license_id: licet_core::ids::LicenseId::new("lic_bench"),
                subscription_id: None,
                tenant: licet_core::ids::TenantId::new("acme"),
                device: licet_core::ids::DeviceId::new("bench-1"),
                fingerprint: &agent.fingerprint().value,
                issued_at: time::OffsetDateTime::now_utc(),
                term_ends_at: None,
                trial_started_at: None,
                sequence: 1,
                grace: Some(time::Duration::days(365)),
                refresh: Some(time::Duration::days(365)),
            },
            &key,
        )
        .unwrap();
        agent
            .import_license(&signed.armored, licet_agent::DeviceIdentity::Same)
            .unwrap();
    }
    (agent, config)
}

fn in_process(agent: &Agent) -> (f64, f64) {
    let entitlements = agent.entitlements();
    assert!(entitlements.allows("vehicle.color"));
    let keys = [
        "vehicle.color",
        "alerts.sms",
        "integration.api",
        "core.detection",
    ];
    let start = Instant::now();
    for i in 0..CHECKS {
        black_box(entitlements.allows(black_box(keys[(i & 3) as usize])));
    }
    let check_ns = start.elapsed().as_nanos() as f64 / CHECKS as f64;

    let map: HashMap<Box<str>, bool> = entitlements
        .current()
        .snapshot
        .features()
        .map(|(k, s)| (Box::from(k), s.allowed))
        .collect();
    let start = Instant::now();
    for i in 0..CHECKS {
        black_box(map.get(black_box(keys[(i & 3) as usize])));
    }
    let bare_ns = start.elapsed().as_nanos() as f64 / CHECKS as f64;
    (check_ns, bare_ns)
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

async fn load(url: String, body: serde_json::Value) -> Stats {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while start.elapsed() < RUN {
                    let t = Instant::now();
                    let response = client.post(&url).json(&body).send().await.unwrap();
                    assert!(response.status().is_success());
                    response.bytes().await.unwrap();
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
    let elapsed = start.elapsed();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0;
    Stats {
        requests: all.len(),
        seconds: elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

async fn bare_server() -> String {
    let app = axum::Router::new().route(
        "/bare",
        post(|Json(body): Json<serde_json::Value>| async move {
            Json(serde_json::json!({"allowed": true, "reason": "licensed", "value": body["feature"].clone()}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// Idle RSS (KiB) of a real `licet agent` process serving `data_dir` with 100 cameras.
fn idle_rss(dir: &Path, config: &AgentConfig) -> Option<u64> {
    let binary = std::env::var("LICET_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("target/release/licet"));
    if !binary.exists() {
        println!(
            "RSS: {} not found; build it first with `cargo build --release -p licet`",
            binary.display()
        );
        return None;
    }
    let file = dir.join("agent.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\nidentity_root = {:?}\nlisten = \"127.0.0.1:0\"\ntrusted_keys = [{:?}]\n",
            config.data_dir.display().to_string(),
            config.identity_root.display().to_string(),
            config.trusted_keys[0]
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(&binary)
        .args(["agent", "--config"])
        .arg(&file)
        .env("LICET_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    // A few requests so every lazily built part is in memory, then idle.
    for _ in 0..20 {
        let _ = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                &format!("http://{address}/v1/cameras"),
            ])
            .status();
    }
    std::thread::sleep(Duration::from_secs(3));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok());
    terminate(&mut child);
    rss
}

fn terminate(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn usage_event(n: u64) -> licet_agent::usage::UsageEvent {
    licet_agent::usage::UsageEvent {
        kind: "api_call".into(),
        quantity: n % 7 + 1,
        unit: Some("call".into()),
        camera_id: Some(format!("camera-{:03}", n % 100)),
        time: time::OffsetDateTime::now_utc(),
        attributes: None,
    }
}

const USAGE_BATCH: u64 = 100;

/// Durable recording through the agent's group-commit writer: 16 callers, each
/// recording batches of 100 events, for the run; events per second.
async fn usage_recording(dir: &Path) -> f64 {
    let recorder = licet_agent::usage::Recorder::start(&dir.join("usage.db"), u64::MAX).unwrap();
    let start = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY as u64)
        .map(|w| {
            let recorder = recorder.clone();
            tokio::spawn(async move {
                let mut recorded = 0u64;
                while start.elapsed() < RUN {
                    let events = (0..USAGE_BATCH)
                        .map(|i| usage_event(w * 1_000_000 + recorded + i))
                        .collect();
                    recorder.record(events).await.unwrap();
                    recorded += USAGE_BATCH;
                }
                recorded
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// The baseline: the same rows inserted straight into SQLite (WAL, synchronous=FULL)
/// in transactions of 1600 rows (16 callers × 100 events), for the run.
fn raw_sqlite_inserts(dir: &Path) -> f64 {
    let mut conn = rusqlite::Connection::open(dir.join("raw.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(
        "CREATE TABLE usage_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
         quantity INTEGER NOT NULL, unit TEXT, camera_id TEXT, occurred_at TEXT NOT NULL, attributes TEXT)",
    )
    .unwrap();
    let start = Instant::now();
    let mut total = 0u64;
    while start.elapsed() < RUN {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO usage_events (kind, quantity, unit, camera_id, occurred_at, attributes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .unwrap();
            for i in 0..(CONCURRENCY as u64 * USAGE_BATCH) {
                let e = usage_event(total + i);
                insert
                    .execute(rusqlite::params![
                        e.kind,
                        e.quantity as i64,
                        e.unit,
                        e.camera_id,
                        licet_core::time_text(e.time),
                        Option::<String>::None
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        total += CONCURRENCY as u64 * USAGE_BATCH;
    }
    total as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, config) = agent(dir.path());
    for n in 0..100 {
        agent
            .register_camera(&format!("camera-{n:03}"), None)
            .unwrap();
    }
    let (check_ns, bare_ns) = in_process(&agent);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let usage_dir = tempfile::tempdir().unwrap();
    let recorded = runtime.block_on(usage_recording(usage_dir.path()));
    let raw = raw_sqlite_inserts(usage_dir.path());
    let (bare, check, ofrep) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = licet_agent::router(agent.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let bare_base = bare_server().await;
        let body = serde_json::json!({"feature": "vehicle.color"});
        let bare = load(format!("{bare_base}/bare"), body.clone()).await;
        let check = load(format!("{base}/v1/check"), body).await;
        let ofrep = load(
            format!("{base}/ofrep/v1/evaluate/flags/vehicle.color"),
            serde_json::json!({"context": {"targetingKey": "gate-1"}}),
        )
        .await;
        (bare, check, ofrep)
    });
    drop(runtime);
    drop(agent);
    let rss = idle_rss(dir.path(), &config);

    println!();
    println!(
        "== licet-agent benchmark ({CONCURRENCY} concurrent clients, loopback HTTP, keep-alive) =="
    );
    println!(
        "in-process check     {check_ns:8.1} ns  (target <= 100 ns: {})   bare HashMap lookup {bare_ns:6.1} ns   ratio {:.2}x",
        if check_ns <= 100.0 { "met" } else { "NOT met" },
        check_ns / bare_ns
    );
    println!("                                  req/s     p50 ms     p99 ms");
    for (name, stats) in [
        ("bare axum JSON handler", &bare),
        ("POST /v1/check", &check),
        ("OFREP single flag", &ofrep),
    ] {
        println!(
            "{name:<30} {:>8.0} {:>10.2} {:>10.2}",
            stats.per_second(),
            stats.p50_ms,
            stats.p99_ms
        );
    }
    for (name, stats) in [("/v1/check", &check), ("OFREP", &ofrep)] {
        let ratio = stats.per_second() / bare.per_second();
        println!(
            "{name} throughput / bare handler: {ratio:.2}x (target >= 0.7x: {})   p99 / bare p99: {:.2}x",
            if ratio >= 0.7 { "met" } else { "NOT met" },
            stats.p99_ms / bare.p99_ms
        );
    }
    println!(
        "durable usage recording {recorded:>10.0} events/s (target >= 100000: {})   raw batched SQLite inserts {raw:>10.0} events/s   ratio {:.2}x",
        if recorded >= 100_000.0 {
            "met"
        } else {
            "NOT met"
        },
        recorded / raw
    );
    if let Some(kib) = rss {
        let mb = kib as f64 / 1024.0;
        println!(
            "idle RSS of `licet agent` with 100 cameras: {mb:.1} MiB (target <= 20 MB: {})",
            if mb <= 20.0 { "met" } else { "NOT met" }
        );
    }
}
