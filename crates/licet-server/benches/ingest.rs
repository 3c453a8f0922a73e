//! Usage ingestion benchmark on PostgreSQL: devices upload their outboxes to
//! `POST /v1/devices/{id}/usage` (gzip, 5000 events a batch, one device per connection,
//! as agents do), next to a raw `COPY` of the same rows into a table of the same shape
//! and indexes, with the same concurrency, in the same run. Prints events/s and the
//! ratio.
//!
//! Run: `LICET_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p licet-server --bench ingest`
//! (falls back to `LICET_TEST_POSTGRES_URL`; PostgreSQL is required).

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
use licet_client::wire::{ActivationRequest, SubscriptionCreate, UsageUpload, UsageUploadEvent};
use licet_server::ServerConfig;
use sqlx::Connection as _;
use std::sync::Arc;
use std::time::Instant;

const DEVICES: usize = 16;
const BATCHES: u64 = 10;
const BATCH: u64 = 5000;
const TIME: &str = "2026-11-02T09:00:00Z";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// The events of one device's batch: realistic fields, distinct sequences.
fn batch(number: u64) -> UsageUpload {
    UsageUpload {
        events: (number * BATCH + 1..=(number + 1) * BATCH)
            .map(|sequence| UsageUploadEvent {
                sequence,
                kind: "api_call".into(),
                quantity: serde_json::json!(1),
                unit: Some("call".into()),
                camera_id: Some(format!("cam-{}", sequence % 8)),
                time: TIME.into(),
                attributes: Some(serde_json::json!({"route": "/v1/plates"})),
            })
            .collect(),
    }
}

async fn run() {
    let url = std::env::var("LICET_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("LICET_TEST_POSTGRES_URL"))
        .expect("set LICET_BENCH_POSTGRES_URL: this benchmark measures PostgreSQL");
    let schema = format!("licet_ingest_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options[search_path]={schema}");

    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(secrecy::SecretString::from(scoped.clone())),
        catalog_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/catalogs").into()),
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
    let admin = Client::new(&base).with_token(&token);
    let tenant = admin.create_tenant("Ingest").await.unwrap();
    // One subscription per device: a BrinkByte base plan covers one device.
    let mut devices = Vec::new();
    let mut subscriptions = Vec::new();
    for n in 0..DEVICES {
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
        devices.push(
            Client::new(&base)
                .activate(&ActivationRequest {
                    license_key: subscription.license_key.clone().unwrap(),
                    fingerprint: format!("ingest-{n}"),
                    device_public_key: "ed25519:wQ6+ER6BpydbBaQLhyGJ2dlqsr25JBeuOZBfwr2EFt0="
                        .into(),
                    name: format!("ingest {n}"),
                    hardware: None,
                    proof: None,
                })
                .await
                .unwrap(),
        );
        subscriptions.push(subscription.id);
    }
    // Batches are built before the clock starts, as an agent's outbox holds them.
    let batches: Arc<Vec<UsageUpload>> = Arc::new((0..BATCHES).map(batch).collect());
    let total = DEVICES as u64 * BATCHES * BATCH;

    // Licet: every device uploads its batches in order, all devices at once.
    let start = Instant::now();
    let tasks: Vec<_> = devices
        .iter()
        .map(|device| {
            let client = Client::new(&base).with_token(&device.device_token);
            let (id, batches) = (device.device_id.clone(), batches.clone());
            tokio::spawn(async move {
                for upload in batches.iter() {
                    let answer = client.upload_usage(&id, upload).await.unwrap();
                    assert_eq!(answer.stored, BATCH);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let licet = start.elapsed().as_secs_f64();
    let counted: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {schema}.usage_records"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(counted as u64, total);

    // Baseline: the same rows by COPY into a table of the same shape and indexes, one
    // connection per device, 5000 rows per COPY.
    sqlx::query(&format!(
        "CREATE TABLE {schema}.copy_target (LIKE {schema}.usage_records INCLUDING ALL)"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let tenant_id = tenant.id.clone();
    let rows: Vec<Arc<Vec<Vec<u8>>>> = devices
        .iter()
        .zip(&subscriptions)
        .map(|(device, subscription_id)| {
            Arc::new(
                batches
                    .iter()
                    .map(|upload| {
                        let mut text = String::new();
                        for e in &upload.events {
                            text.push_str(&format!(
                                "{tenant_id}\t{subscription_id}\t{}\t{}\tapi_call\t1\tcall\t{}\t{TIME}\t{TIME}\t{}\n",
                                device.device_id,
                                e.sequence,
                                e.camera_id.as_deref().unwrap_or_default(),
                                e.attributes.as_ref().unwrap(),
                            ));
                        }
                        text.into_bytes()
                    })
                    .collect(),
            )
        })
        .collect();
    let mut connections = Vec::new();
    for _ in 0..DEVICES {
        connections.push(sqlx::PgConnection::connect(&url).await.unwrap());
    }
    let start = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .zip(rows)
        .map(|(mut conn, rows)| {
            let schema = schema.clone();
            tokio::spawn(async move {
                for chunk in rows.iter() {
                    let mut copy = conn
                        .copy_in_raw(&format!(
                            "COPY {schema}.copy_target (tenant_id, subscription_id, device_id, seq, meter, quantity, unit, \
                             camera_id, occurred_at, received_at, attributes) FROM STDIN"
                        ))
                        .await
                        .unwrap();
                    copy.send(chunk.as_slice()).await.unwrap();
                    assert_eq!(copy.finish().await.unwrap(), BATCH);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let copy = start.elapsed().as_secs_f64();

    let licet_rate = total as f64 / licet;
    let copy_rate = total as f64 / copy;
    println!(
        "\n== usage ingestion on PostgreSQL ({DEVICES} devices at once, {BATCHES} batches of {BATCH} events each, {total} events) =="
    );
    println!("{:<44} {:>12}", "", "events/s");
    println!(
        "{:<44} {:>12.0}",
        "raw COPY of the same rows (baseline)", copy_rate
    );
    println!(
        "{:<44} {:>12.0}",
        "Licet POST /v1/devices/{id}/usage (gzip)", licet_rate
    );
    println!("Licet / raw COPY: {:.2}x", licet_rate / copy_rate);

    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
}
