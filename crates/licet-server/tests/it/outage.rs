//! The database goes away: requests fail fast with 503 instead of hanging, `/readyz`
//! says so, and the server recovers by itself when the database is back. Runs against
//! a throwaway PostgreSQL cluster of its own (never the shared one).

use crate::support::{TestServer, provision_signing_key, repo};
use licet_server::ServerConfig;
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// PostgreSQL's server binaries, if installed.
fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

/// Runs a PostgreSQL tool as the `postgres` user when we are root (it refuses root).
fn pg(bin: &Path, tool: &str, args: &[&str]) {
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    };
    let output = command.args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Cluster {
    bin: PathBuf,
    data: String,
    options: String,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start(&self) {
        pg(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                &self.data,
                "-o",
                &self.options,
                "-w",
                "-l",
                &format!("{}.log", self.data),
                "start",
            ],
        );
    }
    fn stop(&self) {
        pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data, "-m", "immediate", "-w", "stop"],
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data, "-m", "immediate", "stop"])
            .output();
    }
}

#[allow(clippy::disallowed_methods)] // Real elapsed time is what this test measures.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_database_answers_503_fast_and_recovers_without_a_restart() {
    let Some(bin) = postgres_bin() else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI=true but PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pg");
    std::fs::create_dir_all(&data).unwrap();
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres", dir.path().to_str().unwrap()])
        .status();
    let data = data.to_str().unwrap().to_owned();
    pg(
        &bin,
        "initdb",
        &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
    );
    let port = free_port();
    let cluster = Cluster {
        bin,
        options: format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        ),
        data,
        _dir: dir,
    };
    cluster.start();

    let server_dir = tempfile::tempdir().unwrap();
    let now = licet_host::clock::Clock::now(&licet_host::clock::SystemClock);
    provision_signing_key(&server_dir.path().join("data"), now);
    let config = ServerConfig {
        data_dir: server_dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(SecretString::from(format!(
            "postgres://postgres@127.0.0.1:{port}/postgres"
        ))),
        catalog_dir: Some(repo().join("examples/catalogs")),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with_config(&config, server_dir).await;
    let get = |path: &'static str| {
        let http = server.http();
        let url = format!("{}{path}", server.base);
        let token = server.admin_token.clone();
        async move {
            let started = Instant::now();
            let response = http.get(url).bearer_auth(token).send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body, started.elapsed())
        }
    };
    assert_eq!(get("/readyz").await.0, 200);
    assert_eq!(get("/v1/products").await.0, 200);

    cluster.stop();
    for path in ["/v1/products", "/readyz"] {
        let (status, body, took) = get(path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert!(took < Duration::from_millis(2500), "{path} took {took:?}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    let (_, body, _) = get("/v1/products").await;
    assert_eq!(body["error"]["code"], "database_unavailable");

    cluster.start();
    let back = Instant::now();
    loop {
        let (status, _, _) = get("/readyz").await;
        if status == 200 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(20), "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get("/v1/products").await.0, 200);
    server.stop().await;
}
