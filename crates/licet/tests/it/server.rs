//! `licet server` as real processes: zero-setup start on SQLite, `init` for scripts,
//! SIGTERM, and two processes on one PostgreSQL behaving as one server (a SIGKILL of
//! one included: license sequences never repeat or go back).

use crate::{licet, path, repo, stderr, stdout};
use licet_client::Client;
use licet_client::wire::SubscriptionCreate;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `licet server`; killed if the test fails before stopping it.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(data_dir: &Path, database_url: Option<&str>) -> (Running, Vec<String>) {
    start_with(data_dir, database_url, &[], Stdio::null())
}

/// [`start`] with extra environment settings, and stderr (the log) where the test says.
fn start_with(
    data_dir: &Path,
    database_url: Option<&str>,
    env: &[(&str, &str)],
    log: Stdio,
) -> (Running, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_licet"));
    command.envs(env.iter().copied());
    command
        .args([
            "server",
            "--data-dir",
            path(data_dir),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--catalog-dir", path(&repo().join("examples/catalogs"))])
        .env_remove("LICET_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(log);
    if let Some(url) = database_url {
        command.env("LICET_DATABASE_URL", url);
    }
    let mut child = command.spawn().expect("spawn licet server");
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    // The server prints its address once it listens; nothing to wait for but that line.
    let base = loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read stdout") == 0 {
            panic!("licet server exited before listening; printed: {lines:?}");
        }
        let line = line.trim().to_owned();
        lines.push(line.clone());
        if let Some(rest) = line.strip_prefix("licet server listening on ") {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    (Running { child, base }, lines)
}

fn terminate(mut running: Running) -> i32 {
    let pid = running.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    running.child.wait().unwrap().code().expect("exit code")
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn starts_on_sqlite_with_nothing_else_prints_the_token_once_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("licet-data");
    let (server, lines) = start(&data, None);
    assert_eq!(
        lines[0],
        "Bootstrap admin token (shown once; store it now):"
    );
    let token = lines[1].clone();
    assert!(token.starts_with("lct_admin_"), "{lines:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("signing.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let tenants = runtime()
        .block_on(Client::new(&server.base).with_token(&token).tenants())
        .unwrap();
    assert!(tenants.is_empty());
    assert_eq!(terminate(server), 0, "a clean exit on SIGTERM");

    // A second start on the same data reuses the key and does not print a token again.
    let (server, lines) = start(&data, None);
    assert!(
        lines[0].starts_with("licet server listening on"),
        "{lines:?}"
    );
    assert_eq!(terminate(server), 0);
}

#[test]
fn init_prints_the_admin_token_as_the_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let out = licet(["server", "init", "--data-dir", path(&data)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines().last().unwrap().starts_with("lct_admin_"),
        "{text}"
    );
    assert!(data.join("signing.key").exists() && data.join("licet.db").exists());
    let again = licet(["server", "init", "--data-dir", path(&data)]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("shown only once"),
        "{}",
        stderr(&again)
    );
    let config = licet([
        "server",
        "print-config",
        "--data-dir",
        path(&data),
        "--database-url",
        "postgres://u:secret@h/db",
    ]);
    assert!(
        stdout(&config).contains("database_url = \"[redacted]\""),
        "{}",
        stdout(&config)
    );
    assert!(!stdout(&config).contains("secret"));
}

/// The PostgreSQL URL in a fresh schema, or `None` outside CI when unset.
fn postgres() -> Option<String> {
    use sqlx::Connection as _;
    let url = match std::env::var("LICET_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but LICET_TEST_POSTGRES_URL is not set")
        }
        _ => return None,
    };
    let schema = format!("licet_test_procs_{}", std::process::id());
    runtime().block_on(async {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let separator = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{separator}options[search_path]={schema}"))
}

#[test]
fn two_server_processes_on_one_postgres_behave_as_one() {
    let Some(url) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shared");
    // On PostgreSQL a replica never invents a signing key of its own.
    let refused = Command::new(env!("CARGO_BIN_EXE_licet"))
        .args(["server", "init", "--data-dir", path(&data)])
        .env("LICET_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("does not invent one on PostgreSQL")
            && stderr(&refused).contains("licet keys certify"),
        "{}",
        stderr(&refused)
    );
    // The operator's way: an offline root certifies the key every replica signs with.
    let root_dir = dir.path().join("offline-root");
    for args in [
        vec!["keys", "new-root", "--out", path(&root_dir)],
        vec!["keys", "new", "--out", path(&data)],
    ] {
        let made = licet(args);
        assert!(made.status.success(), "{}", stderr(&made));
    }
    let certified = licet([
        "keys",
        "certify",
        "--root",
        path(&root_dir.join("root.key")),
        "--key",
        path(&data.join("signing.pub")),
        "--days",
        "30",
        "--out",
        path(&data.join("signing.cert")),
    ]);
    assert!(certified.status.success(), "{}", stderr(&certified));
    let mut pinned = licet_core::signing::Keyring::new();
    pinned.add_root(
        licet_core::signing::parse_public_key(
            &std::fs::read_to_string(root_dir.join("root.pub")).unwrap(),
        )
        .unwrap(),
    );
    let init = Command::new(env!("CARGO_BIN_EXE_licet"))
        .args(["server", "init", "--data-dir", path(&data)])
        .env("LICET_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", stderr(&init));
    let token = stdout(&init).lines().last().unwrap().to_owned();
    // Both processes start at once over the same database and catalogs, and share
    // their rate limits through Redis.
    let redis = redis_url();
    let env: Vec<(&str, &str)> = redis
        .iter()
        .map(|r| ("LICET_REDIS_URL", r.as_str()))
        .collect();
    let (mut a, _) = start_with(&data, Some(&url), &env, Stdio::null());
    let (b, _) = start_with(&data, Some(&url), &env, Stdio::null());
    let rt = runtime();
    let activated = rt.block_on(async {
        let admin_a = Client::new(&a.base).with_token(&token);
        let tenant = admin_a.create_tenant("Fleet").await.unwrap();
        let subscription = admin_a
            .create_subscription(
                &tenant.id,
                &SubscriptionCreate {
                    product_id: "gate-control".into(),
                    plan: "professional".into(),
                    addons: vec![],
                    trial: false,
                    modules: None,
                    term_days: None,
                },
            )
            .await
            .unwrap();
        // Created through A, activated through B.
        let activated = Client::new(&b.base)
            .activate(&licet_client::wire::ActivationRequest {
                license_key: subscription.license_key.unwrap(),
                fingerprint: "fleet-box-1".into(),
                device_public_key: "ed25519:wQ6+ER6BpydbBaQLhyGJ2dlqsr25JBeuOZBfwr2EFt0=".into(),
                name: "box 1".into(),
                hardware: None,
                proof: None,
            })
            .await
            .unwrap();
        let expect = licet_core::license::Expectations {
            fingerprint: Some("fleet-box-1"),
            now: Some(licet_host::clock::Clock::now(
                &licet_host::clock::SystemClock,
            )),
            min_sequence: None,
        };
        let mut last = licet_core::license::verify(&pinned, &activated.license, &expect)
            .expect("a device pinned to the root accepts B's license")
            .payload()
            .sequence;
        // Alternating replicas, each answering from its own block: the device says
        // what it holds (as the agent does), or does not (older clients).
        for round in 0..8 {
            let base = if round % 2 == 0 { &a.base } else { &b.base };
            let held = (round % 4 != 3).then_some(last);
            let refreshed = Client::new(base)
                .with_token(&activated.device_token)
                .refresh(&activated.device_id, None, held)
                .await
                .unwrap();
            assert!(
                refreshed.sequence > last,
                "sequence {} after {last}",
                refreshed.sequence
            );
            licet_core::license::verify(&pinned, &refreshed.license, &expect)
                .expect("a device pinned to the root accepts both replicas' licenses");
            last = refreshed.sequence;
        }
        // Both processes sign with the same key and list it once.
        let keys_a = Client::new(&a.base).signing_keys().await.unwrap();
        assert_eq!(keys_a, Client::new(&b.base).signing_keys().await.unwrap());
        assert_eq!(keys_a.len(), 1);
        if redis.is_some() {
            guesses_are_limited_across(&a.base, &b.base).await;
        }
        let device_b = Client::new(&b.base).with_token(&activated.device_token);
        last = a_no_through_one_replica_is_heard_by_the_other(
            &pinned,
            &admin_a,
            &device_b,
            &subscription.id,
            &activated.device_id,
            last,
        )
        .await;
        assert!(last > 0);
        activated
    });
    // Anti-rollback across replicas and a crash: the device refreshes through both at
    // once while A is killed (SIGKILL, mid-request); every license it was given has its
    // own sequence, and after A restarts each new one is above all of them.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Refreshes until told to stop or the replica fails; says which.
    let refreshes = |base: String| {
        let (token, id) = (activated.device_token.clone(), activated.device_id.clone());
        let stop = stop.clone();
        async move {
            let client = Client::new(&base).with_token(&token);
            let mut sequences: Vec<u64> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match client.refresh(&id, None, sequences.last().copied()).await {
                    Ok(refreshed) => sequences.push(refreshed.sequence),
                    Err(_) => return (sequences, true),
                }
            }
            (sequences, false)
        }
    };
    let mut seen = rt.block_on(async {
        let on_a = tokio::spawn(refreshes(a.base.clone()));
        let on_b = tokio::spawn(refreshes(b.base.clone()));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        a.child.kill().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut seen, a_failed) = on_a.await.unwrap();
        let (from_b, b_failed) = on_b.await.unwrap();
        assert!(a_failed, "A was killed while refreshing");
        assert!(!b_failed, "B kept answering");
        assert!(
            !seen.is_empty() && !from_b.is_empty(),
            "both replicas answered"
        );
        seen.extend(from_b);
        seen
    });
    drop(a);
    let before_crash = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), before_crash, "a sequence was handed out twice");
    let highest = *seen.last().unwrap();
    let (a, _) = start_with(&data, Some(&url), &env, Stdio::null());
    rt.block_on(async {
        let mut last = highest;
        for round in 0..4 {
            let base = if round % 2 == 0 { &a.base } else { &b.base };
            let refreshed = Client::new(base)
                .with_token(&activated.device_token)
                .refresh(&activated.device_id, None, Some(last))
                .await
                .unwrap();
            assert!(
                refreshed.sequence > last,
                "after the crash: sequence {} after {last}",
                refreshed.sequence
            );
            last = refreshed.sequence;
        }
    });
    assert_eq!(terminate(a), 0);
    assert_eq!(terminate(b), 0);
    drop_schema(&url);
}

/// B has the device's session cached (it just refreshed there); a suspension through A
/// is heard by B within the time a notification takes, and B's verdict is above what
/// the device holds; the resumption through A lifts it at B with a license above the
/// verdict. Returns the highest sequence the device holds at the end.
async fn a_no_through_one_replica_is_heard_by_the_other(
    pinned: &licet_core::signing::Keyring,
    admin_a: &Client,
    device_b: &Client,
    subscription: &str,
    device: &str,
    held: u64,
) -> u64 {
    let held = device_b
        .refresh(device, None, Some(held))
        .await
        .unwrap()
        .sequence;
    admin_a
        .subscription_action(subscription, "suspend")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    let refusal = loop {
        match device_b.refresh(device, Some("n-1"), Some(held)).await {
            Err(error) => break error,
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Ok(_) => panic!("B still issues licenses 2 s after the suspension through A"),
        }
    };
    let licet_client::ClientError::Api { status, body } = refusal else {
        panic!("not a refusal: {refusal}");
    };
    assert_eq!(
        (status, body.error.code.as_str()),
        (403, "subscription_suspended")
    );
    let verdict = body.verdict.expect("a signed verdict");
    let (_, verdict) = licet_core::verdict::open_verdict(
        pinned,
        &verdict,
        &licet_core::ids::DeviceId::new(device),
        Some("n-1"),
        licet_host::clock::Clock::now(&licet_host::clock::SystemClock),
    )
    .expect("B's verdict opens under the root");
    let verdict_sequence = verdict.sequence;
    assert!(
        verdict_sequence > held,
        "the verdict ({verdict_sequence}) is above the license held ({held})"
    );
    admin_a
        .subscription_action(subscription, "resume")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match device_b
            .refresh(device, None, Some(held.max(verdict_sequence)))
            .await
        {
            Ok(lifted) => {
                assert!(
                    lifted.sequence > verdict_sequence,
                    "a license above the verdict lifts it"
                );
                return lifted.sequence;
            }
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(error) => panic!("B still refuses 2 s after the resumption through A: {error}"),
        }
    }
}

/// The Redis URL the tests share, or `None` outside CI when unset.
fn redis_url() -> Option<String> {
    match std::env::var("LICET_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but LICET_TEST_REDIS_URL is not set")
        }
        _ => None,
    }
}

/// Wrong license keys from one address, sent to the two processes in turn: together
/// they allow the default 30 a minute, not 30 each.
async fn guesses_are_limited_across(a: &str, b: &str) {
    let wrong = serde_json::json!({
        "license_key": "LCT-7KQ2M-PX9TD-4RW8N-HC3VZ", "fingerprint": "guess",
        "device_public_key": "ed25519:wQ6+ER6BpydbBaQLhyGJ2dlqsr25JBeuOZBfwr2EFt0=", "name": "guess"
    });
    let minute =
        || licet_host::clock::Clock::now(&licet_host::clock::SystemClock).unix_timestamp() / 60;
    // The shared count is per minute: a burst that straddles a minute boundary is run
    // again, from another address (one of its own, so no other run's window counts).
    for attempt in 0..3u32 {
        let octet = u8::try_from((std::process::id() + attempt) % 200 + 30).unwrap();
        let http = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 2, octet]))
            .build()
            .unwrap();
        let started = minute();
        let mut statuses = Vec::new();
        for i in 0..40 {
            let base = if i % 2 == 0 { a } else { b };
            let response = http
                .post(format!("{base}/v1/activations"))
                .json(&wrong)
                .send()
                .await
                .unwrap();
            if response.status() == 429 {
                assert!(response.headers().contains_key("retry-after"));
            }
            statuses.push(response.status().as_u16());
        }
        if minute() != started {
            continue;
        }
        let allowed = statuses.iter().filter(|s| **s != 429).count();
        assert_eq!(
            allowed, 30,
            "the two processes together allowed {allowed} of 40: {statuses:?}"
        );
        assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
        return;
    }
    panic!("three bursts in a row straddled a minute boundary");
}

fn drop_schema(url: &str) {
    use sqlx::Connection as _;
    let (base, schema) = url.split_once("options[search_path]=").unwrap();
    let base = base.trim_end_matches(['?', '&']);
    runtime().block_on(async {
        let mut conn = sqlx::PgConnection::connect(base).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
    });
}

#[test]
fn a_lost_admin_token_is_recovered_with_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, lines) = start(&data, None);
    let old = lines[1].clone();
    assert!(old.starts_with("lct_admin_"), "{lines:?}");
    assert_eq!(terminate(server), 0);

    let reset = licet(["server", "reset-admin-token", "--data-dir", path(&data)]);
    assert!(reset.status.success(), "{}", stderr(&reset));
    let new = stdout(&reset).lines().last().unwrap().to_owned();
    assert!(new.starts_with("lct_admin_") && new != old);

    let (server, _) = start(&data, None);
    runtime().block_on(async {
        let refused = Client::new(&server.base)
            .with_token(&old)
            .create_tenant("with the old token")
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some("unauthorized"), "{refused}");
        Client::new(&server.base)
            .with_token(&new)
            .create_tenant("with the new token")
            .await
            .unwrap();
    });
    assert_eq!(terminate(server), 0);
}

/// Every answer carries a request id (the client's, or a new one), the log lines of
/// the request carry it too (here as JSON), and `/metrics` has latency histograms per
/// route template.
#[test]
fn requests_are_traced_by_id_and_timed_per_route() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (server, lines) = start_with(
        &dir.path().join("data"),
        None,
        &[
            ("LICET_LOG", "info,tower_http=debug"),
            ("LICET_LOG_FORMAT", "json"),
        ],
        Stdio::from(log),
    );
    let token = lines[1].clone();
    let rt = runtime();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let answer = http
            .get(format!("{}/v1/tenants", server.base))
            .bearer_auth(&token)
            .header("x-request-id", "trace-me-42")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["x-request-id"], "trace-me-42");
        let answer = http
            .get(format!("{}/v1/tenants/ten_nobody", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404);
        let made = answer.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(made.len(), 36, "a UUID: {made}");

        let metrics = http
            .get(format!("{}/metrics", server.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for expected in [
            "# TYPE licet_http_request_duration_seconds histogram",
            r#"licet_http_request_duration_seconds_count{method="GET",route="/v1/tenants",status="2xx"} 1"#,
            r#"licet_http_request_duration_seconds_count{method="GET",route="/v1/tenants/{tenant_id}",status="4xx"} 1"#,
            r#"licet_store_operation_duration_seconds_count{operation="list_tenants"} 1"#,
        ] {
            assert!(metrics.contains(expected), "{expected} in:\n{metrics}");
        }
        assert!(!metrics.contains("# EOF"), "{metrics}");
    });
    assert_eq!(terminate(server), 0);
    let log = std::fs::read_to_string(&log_path).unwrap();
    let traced: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|line: &serde_json::Value| line["span"]["request_id"] == "trace-me-42")
        .collect();
    assert!(
        !traced.is_empty(),
        "no log line carries the request id:\n{log}"
    );
    assert!(
        traced.iter().all(|l| l["span"]["path"] == "/v1/tenants"),
        "{traced:?}"
    );
}

/// Defaults < file < environment < flags, unknown keys refused with the file and key
/// named, and `print-config` derived from the same struct.
#[test]
fn configuration_layers_in_order_and_refuses_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1111\"\nheartbeat_interval_seconds = 42\n[rate_limits]\nactivations_per_minute = 7\n",
    )
    .unwrap();
    let print = |env: &[(&str, &str)], flags: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_licet"))
            .args(["server", "print-config", "--config", path(&file)])
            .args(flags)
            .env_remove("LICET_LISTEN")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let from_file = print(&[], &[]);
    assert!(
        from_file.contains("listen = \"127.0.0.1:1111\""),
        "{from_file}"
    );
    assert!(
        from_file.contains("heartbeat_interval_seconds = 42"),
        "{from_file}"
    );
    assert!(
        from_file.contains("activations_per_minute = 7"),
        "{from_file}"
    );
    assert!(
        from_file.contains("failed_auth_per_minute = 30"),
        "defaults fill the rest: {from_file}"
    );
    let from_env = print(&[("LICET_LISTEN", "127.0.0.1:2222")], &[]);
    assert!(
        from_env.contains("listen = \"127.0.0.1:2222\""),
        "{from_env}"
    );
    let from_flag = print(
        &[("LICET_LISTEN", "127.0.0.1:2222")],
        &["--listen", "127.0.0.1:3333"],
    );
    assert!(
        from_flag.contains("listen = \"127.0.0.1:3333\""),
        "{from_flag}"
    );

    std::fs::write(&file, "listen = \"127.0.0.1:1111\"\nlisten_port = 9\n").unwrap();
    let refused = licet(["server", "print-config", "--config", path(&file)]);
    assert!(!refused.status.success());
    let error = stderr(&refused);
    assert!(
        error.contains("listen_port") && error.contains(path(&file)),
        "{error}"
    );
}
