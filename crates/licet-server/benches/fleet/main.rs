//! Fleet benchmark: one `licet server` process on PostgreSQL, driven as a vendor's fleet
//! drives it, at month end.
//!
//! Each simulated device heartbeats every 15 minutes, uploads 50 usage events every 5
//! minutes and refreshes its license hourly: 0.00472 requests a second per device, so
//! 100,000 devices ask 472 requests a second. The load is open-loop (requests start on
//! schedule whether or not earlier ones were answered, as a real fleet's do) and its
//! latency is measured from when each request was due. The usage table is filled with
//! a month of events for the subscription first. The fleet grows step by step until
//! p99 passes 100 ms or errors pass 0.1%: the largest fleet held is the knee. Then the
//! server is driven at twice the knee, where it must answer 503 with `Retry-After`,
//! answer nothing slower than 5 s and keep its memory bounded.
//!
//! The baseline, in the same run: the same client's closed-loop throughput against a
//! bare axum handler in this process.
//!
//! Run (PostgreSQL on 127.0.0.1, as on the CI machine; the server is the release binary):
//! `cargo build --release -p licet && LICET_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p licet-server --bench fleet`
//!
//! Devices and the month's usage are written straight into the database (setting up
//! 200,000 devices through the API would take longer than the measurement); every
//! request measured goes through the server's HTTP API.

// A benchmark measures wall time by definition, and stops loudly when setup fails.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod server;
mod setup;

use licet_client::Client;
use licet_client::wire::SubscriptionCreate;
use server::{Server, cpu_seconds, postgres_cpu_seconds, rss_mib, start_server};
use setup::{database, devices, month_of_usage};
use sqlx::Connection as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Requests a second one device makes: a heartbeat per 15 min, an upload per 5 min, a
/// refresh per hour.
const PER_DEVICE: f64 = 1.0 / 900.0 + 1.0 / 300.0 + 1.0 / 3600.0;
const STEPS: [usize; 8] = [
    10_000, 25_000, 50_000, 65_000, 80_000, 100_000, 150_000, 200_000,
];
const STEP: Duration = Duration::from_secs(20);
pub(crate) const MONTH_ROWS: i64 = 3_000_000;
const IN_FLIGHT_CAP: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Heartbeat,
    Upload,
    Refresh,
}

const ROUTES: [Route; 3] = [Route::Heartbeat, Route::Upload, Route::Refresh];

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Heartbeat => "heartbeat",
            Route::Upload => "usage upload",
            Route::Refresh => "refresh",
        }
    }

    /// Picks a route in the fleet's proportions.
    fn pick(draw: f64) -> Route {
        let heartbeat = (1.0 / 900.0) / PER_DEVICE;
        let upload = (1.0 / 300.0) / PER_DEVICE;
        if draw < heartbeat {
            Route::Heartbeat
        } else if draw < heartbeat + upload {
            Route::Upload
        } else {
            Route::Refresh
        }
    }
}

/// A simulated device: its id, its token and its next usage sequence.
pub(crate) struct Device {
    pub(crate) id: String,
    pub(crate) token: String,
    pub(crate) next_sequence: AtomicU64,
    /// The highest license sequence the device was given (sent with each refresh, as
    /// the agent does).
    pub(crate) held: AtomicU64,
}

/// What one step measured.
struct Step {
    fleet: usize,
    asked: f64,
    done: f64,
    latencies: Vec<(Route, Duration)>,
    errors: u64,
    overloaded: u64,
    overloaded_without_retry_after: u64,
    server_cpu: f64,
    postgres_cpu: f64,
    server_rss_mib: f64,
}

impl Step {
    fn percentile(&self, route: Option<Route>, q: f64) -> f64 {
        let mut all: Vec<Duration> = self
            .latencies
            .iter()
            .filter(|(r, _)| route.is_none_or(|route| *r == route))
            .map(|(_, d)| *d)
            .collect();
        if all.is_empty() {
            return 0.0;
        }
        all.sort_unstable();
        let index = ((all.len() as f64 - 1.0) * q).round() as usize;
        all[index].as_secs_f64() * 1000.0
    }

    fn max_ms(&self) -> f64 {
        self.latencies
            .iter()
            .map(|(_, d)| d.as_secs_f64() * 1000.0)
            .fold(0.0, f64::max)
    }

    fn error_rate(&self) -> f64 {
        let total = self.latencies.len() as f64 + self.errors as f64;
        if total == 0.0 {
            0.0
        } else {
            (self.errors + self.overloaded) as f64 / total
        }
    }

    fn held(&self) -> bool {
        self.percentile(None, 0.99) < 100.0
            && self.error_rate() < 0.001
            && self.done >= self.asked * 0.98
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// One request of `route` for `device`; `Ok(true)` when the server shed it (503).
async fn request(
    http: &reqwest::Client,
    base: &str,
    route: Route,
    device: &Device,
    retry_after_missing: &AtomicU64,
) -> Result<bool, ()> {
    let path = match route {
        Route::Heartbeat => "heartbeat",
        Route::Upload => "usage",
        Route::Refresh => "refresh",
    };
    let body = match route {
        Route::Heartbeat => serde_json::json!({
            "agent_version": "fleet",
            "active_cameras": ["cam-1", "cam-2", "cam-3", "cam-4"],
        }),
        Route::Upload => {
            let first = device.next_sequence.fetch_add(50, Ordering::Relaxed);
            let at = licet_core::time_text(time::OffsetDateTime::now_utc());
            let events: Vec<_> = (first..first + 50)
                .map(|sequence| {
                    serde_json::json!({
                        "sequence": sequence, "type": "api_call", "quantity": 1,
                        "unit": "call", "camera_id": format!("cam-{}", sequence % 4), "time": at,
                    })
                })
                .collect();
            serde_json::json!({ "events": events })
        }
        Route::Refresh => serde_json::json!({ "sequence": device.held.load(Ordering::Relaxed) }),
    };
    let response = http
        .post(format!("{base}/v1/devices/{}/{path}", device.id))
        .bearer_auth(&device.token)
        .json(&body)
        .send()
        .await
        .map_err(|_| ())?;
    let status = response.status().as_u16();
    if status == 503 {
        if !response.headers().contains_key("retry-after") {
            retry_after_missing.fetch_add(1, Ordering::Relaxed);
        }
        return Ok(true);
    }
    let body = response.bytes().await.map_err(|_| ())?;
    if route == Route::Refresh && status == 200 {
        let refreshed: serde_json::Value = serde_json::from_slice(&body).map_err(|_| ())?;
        let sequence = refreshed["sequence"].as_u64().ok_or(())?;
        device.held.fetch_max(sequence, Ordering::Relaxed);
    }
    if (200..300).contains(&status) {
        Ok(false)
    } else {
        Err(())
    }
}

/// Drives `fleet` devices open-loop for `STEP`.
async fn step(server: &Server, fleet: &Arc<Vec<Arc<Device>>>, size: usize) -> Step {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT_CAP)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let rate = size as f64 * PER_DEVICE;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT_CAP));
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let shed = Arc::new(AtomicU64::new(0));
    let missing = Arc::new(AtomicU64::new(0));
    let pid = server.child.id();
    let (cpu0, pg0, wall0) = (cpu_seconds(pid), postgres_cpu_seconds(), Instant::now());
    let mut peak_rss: f64 = 0.0;
    let start = Instant::now();
    let mut sent: u64 = 0;
    let mut draw: u64 = 0x9E37_79B9_7F4A_7C15;
    while start.elapsed() < STEP {
        let due = start + interval.mul_f64(sent as f64);
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        // xorshift: cheap, reproducible choices of device and route.
        draw ^= draw << 13;
        draw ^= draw >> 7;
        draw ^= draw << 17;
        let device = fleet[(draw % size as u64) as usize].clone();
        let route = Route::pick((draw >> 11) as f64 / (1u64 << 53) as f64);
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (http, base) = (http.clone(), server.base.clone());
        let (results, errors, shed, missing) = (
            results.clone(),
            errors.clone(),
            shed.clone(),
            missing.clone(),
        );
        tokio::spawn(async move {
            let outcome = request(&http, &base, route, &device, &missing).await;
            let latency = due.elapsed();
            match outcome {
                Ok(false) => results.lock().unwrap().push((route, latency)),
                Ok(true) => {
                    shed.fetch_add(1, Ordering::Relaxed);
                    results.lock().unwrap().push((route, latency));
                }
                Err(()) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(permit);
        });
        sent += 1;
        if sent % 64 == 0 {
            peak_rss = peak_rss.max(rss_mib(pid));
        }
    }
    // Wait for what is still in flight.
    let _all = gate.acquire_many(IN_FLIGHT_CAP as u32).await.unwrap();
    let wall = wall0.elapsed().as_secs_f64();
    let latencies = std::mem::take(&mut *results.lock().unwrap());
    let overloaded = shed.load(Ordering::Relaxed);
    Step {
        fleet: size,
        asked: rate,
        done: (latencies.len() as u64 - overloaded) as f64 / STEP.as_secs_f64(),
        latencies,
        errors: errors.load(Ordering::Relaxed),
        overloaded,
        overloaded_without_retry_after: missing.load(Ordering::Relaxed),
        server_cpu: (cpu_seconds(pid) - cpu0) / wall,
        postgres_cpu: (postgres_cpu_seconds() - pg0) / wall,
        server_rss_mib: peak_rss.max(rss_mib(pid)),
    }
}

fn print_step(label: &str, s: &Step) {
    println!(
        "{label:<10} {:>8} {:>8.0} {:>8.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>7} {:>7} {:>6.0}% {:>6.0}% {:>8.0}",
        s.fleet,
        s.asked,
        s.done,
        s.percentile(None, 0.5),
        s.percentile(None, 0.99),
        s.percentile(Some(Route::Heartbeat), 0.99),
        s.percentile(Some(Route::Upload), 0.99),
        s.percentile(Some(Route::Refresh), 0.99),
        s.errors,
        s.overloaded,
        s.server_cpu * 100.0,
        s.postgres_cpu * 100.0,
        s.server_rss_mib,
    );
}

/// The baseline: this client's closed-loop throughput against a bare axum handler.
async fn bare_throughput() -> f64 {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/bare",
        post(|axum::Json(body): axum::Json<serde_json::Value>| async move { axum::Json(body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (http, base, done) = (http.clone(), base.clone(), done.clone());
            tokio::spawn(async move {
                while start.elapsed() < Duration::from_secs(5) {
                    http.post(format!("{base}/bare"))
                        .json(&serde_json::json!({"agent_version": "fleet"}))
                        .send()
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn run() {
    let (url, schema, scoped) = database().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    licet_server::signer::provision_development(&data, time::OffsetDateTime::now_utc()).unwrap();
    let catalogs = dir.path().join("catalogs");
    std::fs::create_dir_all(&catalogs).unwrap();
    let vision = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/catalogs/brinkbyte-vision.toml"
    ))
    .unwrap()
    .replace(
        "quotas = { api_calls = 50000, llm_tokens = 250000 }",
        "quotas = { api_calls = 50000, llm_tokens = 250000 }\nmax_devices = 1000000",
    );
    std::fs::write(catalogs.join("brinkbyte-vision.toml"), vision).unwrap();
    let server = start_server(&data, &catalogs, &scoped);
    let admin = Client::new(&server.base).with_token(&server.token);
    let tenant = admin.create_tenant("Fleet").await.unwrap();
    let subscription = admin
        .create_subscription(
            &tenant.id,
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
        .unwrap();
    // Twice the largest step, so that twice the knee can be driven wherever it is.
    let largest = 2 * *STEPS.last().unwrap();
    let setup = Instant::now();
    let fleet = Arc::new(devices(&scoped, &tenant.id, &subscription.id, largest).await);
    month_of_usage(&scoped, &tenant.id, &subscription.id, largest).await;
    println!(
        "setup: {largest} devices and {MONTH_ROWS} usage rows of this month in {:.0} s",
        setup.elapsed().as_secs_f64()
    );
    let bare = bare_throughput().await;

    println!(
        "\n== fleet at month end: one licet server (release) on PostgreSQL, this machine, open-loop, {} s per step ==",
        STEP.as_secs()
    );
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7} {:>8}",
        "",
        "devices",
        "asked/s",
        "done/s",
        "p50 ms",
        "p99 ms",
        "hb p99",
        "up p99",
        "ref p99",
        "errors",
        "503s",
        "server",
        "pg",
        "RSS MiB"
    );
    // Warm-up, not measured: connections, caches and the tables just written settle.
    step(&server, &fleet, STEPS[0]).await;
    let mut knee: Option<Step> = None;
    for size in STEPS {
        let measured = step(&server, &fleet, size).await;
        print_step("step", &measured);
        if measured.held() {
            knee = Some(measured);
        } else {
            break;
        }
    }
    let knee_size = knee.as_ref().map_or(STEPS[0] / 2, |k| k.fleet);
    let double = (knee_size * 2).min(largest);
    let overload = step(&server, &fleet, double).await;
    print_step("2x knee", &overload);
    println!();
    match &knee {
        Some(k) => println!(
            "knee: {} devices held at p99 {:.1} ms ({:.0} req/s); bare axum handler, same client: {:.0} req/s; knee throughput / bare: {:.3}x",
            k.fleet,
            k.percentile(None, 0.99),
            k.done,
            bare,
            k.done / bare
        ),
        None => println!(
            "knee: below {} devices; bare axum handler, same client: {bare:.0} req/s",
            STEPS[0]
        ),
    }
    println!(
        "at {} devices (2x knee): {} answered 503 ({} without Retry-After), slowest answer {:.0} ms, server RSS {:.0} MiB",
        overload.fleet,
        overload.overloaded,
        overload.overloaded_without_retry_after,
        overload.max_ms(),
        overload.server_rss_mib
    );
    for route in ROUTES {
        let p99 = knee
            .as_ref()
            .map_or(0.0, |k| k.percentile(Some(route), 0.99));
        println!("  at the knee, {} p99: {p99:.1} ms", route.name());
    }
    drop(server);
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
}
