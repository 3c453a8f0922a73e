//! `licet server` as real processes: zero-setup start on SQLite, `init` for scripts,
//! SIGTERM, configuration layers, tracing; two processes on one PostgreSQL are in
//! `replicas.rs`.

use crate::{licet, path, repo, stderr, stdout};
use licet_client::Client;
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
pub(crate) fn start_with(
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

pub(crate) fn terminate(mut running: Running) -> i32 {
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
