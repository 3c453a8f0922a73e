//! Exactly-once usage across a crash: a real `licet agent` process is killed with
//! SIGKILL in the middle of a burst of 100,000 events, restarted, and uploads to a real
//! `licet server` process. Every event answered 202 is counted once; replaying every
//! batch to the server changes nothing.

use crate::path;
use crate::server::{Running, runtime, start};
use licet_client::Client;
use licet_client::wire::{SubscriptionCreate, SubscriptionView, UsageUpload, UsageUploadEvent};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

const BURST: u64 = 100_000;
const PER_REQUEST: u64 = 100;
const CALLERS: u64 = 16;

/// Starts `licet agent` with `args` and waits for the address it listens on.
pub(crate) fn start_agent(args: &[&str]) -> Running {
    start_agent_with(args, Stdio::null())
}

/// Starts `licet agent` with its log going to `stderr`.
fn start_agent_with(args: &[&str], stderr: impl Into<Stdio>) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_licet"))
        .arg("agent")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .strip_prefix("licet agent listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    Running { child, base }
}

/// A BrinkByte Vision base subscription for the tenant.
async fn brinkbyte_base(admin: &Client, tenant: &str) -> SubscriptionView {
    admin
        .create_subscription(
            tenant,
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
}

/// Polls the agent's status (real time, bounded) until `done` says so; on giving up,
/// the agent's log (`log`) is shown with the status.
#[allow(clippy::disallowed_methods)] // A watchdog in real time, not a product deadline.
async fn wait_for(base: &str, log: &Path, what: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let started = std::time::Instant::now();
    loop {
        if let Ok(response) = reqwest::get(format!("{base}/v1/status")).await {
            if let Ok(status) = response.json::<serde_json::Value>().await {
                if done(&status) {
                    return;
                }
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(120),
                    "{what}: {status}\nthe agent's log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The server's stored usage: (sequence, the event's own number `n`) per accepted event.
fn stored(server_db: &Path) -> Vec<(i64, i64)> {
    let db = rusqlite::Connection::open(server_db).unwrap();
    let mut statement = db
        .prepare(
            "SELECT seq, json_extract(attributes, '$.n') FROM usage_records \
             WHERE meter = 'api_call' AND rejection IS NULL ORDER BY seq",
        )
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn an_agent_killed_mid_burst_loses_and_doubles_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let server_data = dir.path().join("server");
    let (server, lines) = start(&server_data, None);
    let token = lines[1].clone();
    let rt = runtime();
    let admin = Client::new(&server.base).with_token(&token);
    let (tenant, subscription) = rt.block_on(async {
        let tenant = admin.create_tenant("Burst").await.unwrap();
        let subscription = brinkbyte_base(&admin, &tenant.id).await;
        (tenant, subscription)
    });

    std::fs::create_dir_all(dir.path().join("root/etc")).unwrap();
    std::fs::write(dir.path().join("root/etc/machine-id"), "b0a710ad\n").unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "server = {:?}\nlicense_key = {:?}\ndata_dir = {:?}\nidentity_root = {:?}\nlisten = \"127.0.0.1:0\"\ntrusted_roots = [{:?}]\n",
            server.base,
            subscription.license_key.clone().unwrap(),
            path(&dir.path().join("agent")),
            path(&dir.path().join("root")),
            // The development root the server created in its data directory.
            std::fs::read_to_string(server_data.join("root.pub"))
                .unwrap()
                .trim(),
        ),
    )
    .unwrap();
    let first_log = dir.path().join("agent-first.log");
    let mut agent = start_agent_with(
        &["--config", path(&config)],
        std::fs::File::create(&first_log).unwrap(),
    );
    rt.block_on(wait_for(&agent.base, &first_log, "activation", |s| {
        s["state"] == "active"
    }));

    // The burst: 16 callers, 100 events per request, each event numbered. Each caller
    // keeps the numbers of the events answered 202, and of those whose request was
    // sent and never answered (the kill cut it off).
    let acknowledged = Arc::new(Mutex::new(BTreeSet::<i64>::new()));
    let unanswered = Arc::new(Mutex::new(BTreeSet::<i64>::new()));
    let base = agent.base.clone();
    let pid = agent.child.id();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let mut callers = Vec::new();
        for caller in 0..CALLERS {
            let (http, base) = (http.clone(), base.clone());
            let (acknowledged, unanswered) = (acknowledged.clone(), unanswered.clone());
            callers.push(tokio::spawn(async move {
                let requests = BURST / PER_REQUEST / CALLERS;
                for request in 0..requests {
                    let first = (caller * requests + request) * PER_REQUEST;
                    let numbers: Vec<i64> =
                        (first..first + PER_REQUEST).map(|n| n as i64).collect();
                    let events: Vec<_> = numbers
                        .iter()
                        .map(|n| serde_json::json!({"type": "api_call", "quantity": 1, "attributes": {"n": n}}))
                        .collect();
                    match http.post(format!("{base}/v1/usage")).json(&events).send().await {
                        Ok(response) if response.status().as_u16() == 202 => {
                            acknowledged.lock().unwrap().extend(numbers);
                        }
                        Ok(response) => panic!("unexpected answer {}", response.status()),
                        Err(_) => {
                            // Cut off by the kill: maybe stored, never acknowledged.
                            unanswered.lock().unwrap().extend(numbers);
                            return;
                        }
                    }
                }
            }));
        }
        // SIGKILL once a third of the burst is acknowledged: no shutdown code runs.
        loop {
            if acknowledged.lock().unwrap().len() as u64 >= BURST / 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(
            Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
        for caller in callers {
            caller.await.unwrap();
        }
    });
    let _ = agent.child.wait();
    let acknowledged = acknowledged.lock().unwrap().clone();
    let unanswered = unanswered.lock().unwrap().clone();
    assert!(
        (acknowledged.len() as u64) < BURST,
        "the kill landed in the middle of the burst"
    );

    // Restarted, the agent uploads its whole outbox.
    let restarted_log = dir.path().join("agent-restarted.log");
    let agent = start_agent_with(
        &["--config", path(&config)],
        std::fs::File::create(&restarted_log).unwrap(),
    );
    rt.block_on(wait_for(&agent.base, &restarted_log, "upload", |s| {
        s["usage_backlog"] == 0
    }));
    let server_db = server_data.join("licet.db");
    let rows = stored(&server_db);
    let numbers: Vec<i64> = rows.iter().map(|&(_, n)| n).collect();
    let distinct: BTreeSet<i64> = numbers.iter().copied().collect();
    assert_eq!(distinct.len(), numbers.len(), "no event is counted twice");
    let lost: Vec<_> = acknowledged.difference(&distinct).take(5).collect();
    assert!(lost.is_empty(), "acknowledged events lost: {lost:?}…");
    // The only events beyond the acknowledged ones are from requests the kill cut off
    // after their commit and before their answer: stored, never answered 202.
    let extra: BTreeSet<i64> = distinct.difference(&acknowledged).copied().collect();
    assert!(
        extra.is_subset(&unanswered),
        "{} events counted that no caller sent unanswered",
        extra.difference(&unanswered).count()
    );
    let total: u64 = rt.block_on(async {
        admin
            .usage(&tenant.id, &[("meter", "api_call"), ("window", "month")])
            .await
            .unwrap()
            .buckets
            .iter()
            .map(|b| b.quantity)
            .sum()
    });
    assert_eq!(
        total,
        acknowledged.len() as u64 + extra.len() as u64,
        "the server's count is the acknowledged events (plus the cut-off committed ones)"
    );

    // Every batch once more, as a device retrying after lost answers would: no count moves.
    let device_token: String = rusqlite::Connection::open(dir.path().join("agent/agent.db"))
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key = 'device_token'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let device_id: String = rusqlite::Connection::open(&server_db)
        .unwrap()
        .query_row("SELECT id FROM devices", [], |r| r.get(0))
        .unwrap();
    let device = Client::new(&server.base).with_token(device_token);
    rt.block_on(async {
        for chunk in rows.chunks(5000) {
            let replay = UsageUpload {
                events: chunk
                    .iter()
                    .map(|&(seq, n)| UsageUploadEvent {
                        sequence: seq as u64,
                        kind: "api_call".into(),
                        quantity: serde_json::json!(1),
                        unit: None,
                        camera_id: None,
                        time: "2026-01-01T00:00:00Z".into(),
                        attributes: Some(serde_json::json!({"n": n})),
                    })
                    .collect(),
            };
            let answer = device.upload_usage(&device_id, &replay).await.unwrap();
            assert_eq!(answer.stored, 0);
            assert_eq!(answer.duplicates, chunk.len() as u64);
        }
    });
    assert_eq!(stored(&server_db), rows, "a replay changes no count");
    drop(agent);
    drop(server);
}

/// `licet invoice preview` prints each line with the quantity that produced it.
#[test]
#[allow(clippy::disallowed_methods)] // The server runs on the real clock; so does the period.
fn invoice_preview_prints_the_lines_with_their_quantities() {
    let dir = tempfile::tempdir().unwrap();
    let (server, lines) = start(&dir.path().join("server"), None);
    let token = lines[1].clone();
    let rt = runtime();
    let admin = Client::new(&server.base).with_token(&token);
    let tenant = rt.block_on(async {
        let tenant = admin.create_tenant("Preview").await.unwrap();
        brinkbyte_base(&admin, &tenant.id).await;
        // 61,000 API calls this month, from the vendor's back-end.
        let response = reqwest::Client::new()
            .post(format!(
                "{}/v1/tenants/{}/usage/events",
                server.base, tenant.id
            ))
            .bearer_auth(&token)
            .header("content-type", "application/cloudevents+json")
            .body(
                serde_json::json!({"specversion": "1.0", "id": "p-1", "source": "cli-test",
                    "type": "api_call", "data": {"quantity": 61_000}})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        tenant
    });
    let now = time::OffsetDateTime::now_utc();
    let period = format!("{:04}-{:02}", now.year(), u8::from(now.month()));
    let preview = |format: &str| {
        crate::licet([
            "invoice",
            "preview",
            "--server",
            &server.base,
            "--token",
            &token,
            "--tenant",
            &tenant.id,
            "--period",
            &period,
            "--format",
            format,
        ])
    };
    let out = Command::new(env!("CARGO_BIN_EXE_licet"))
        .args([
            "invoice",
            "preview",
            "--server",
            &server.base,
            "--tenant",
            &tenant.id,
            "--period",
            &period,
        ])
        .env("LICET_TOKEN", &token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let text = crate::stdout(&out);
    let overage = text
        .lines()
        .find(|l| l.contains("API calls beyond the monthly allowance"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        overage.contains("61000 used − 50000 included = 11000 over; 11 started blocks"),
        "{overage}"
    );
    assert!(overage.split_whitespace().any(|w| w == "55"), "{overage}");
    assert!(
        text.contains("preview") && text.contains("USD minor units"),
        "{text}"
    );
    let out = preview("json");
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&crate::stdout(&out)).unwrap();
    assert_eq!(json["invoices"][0]["total"], 55);
    // A month that is not a month is named as the problem.
    let out = crate::licet([
        "invoice",
        "preview",
        "--server",
        &server.base,
        "--token",
        &token,
        "--tenant",
        &tenant.id,
        "--period",
        "2026-13",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        crate::stderr(&out).contains("YYYY-MM"),
        "{}",
        crate::stderr(&out)
    );
}
