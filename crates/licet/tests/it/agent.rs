//! `licet agent` as an installer uses it: the air-gapped file exchange (activation
//! request → `licet license issue --request` → `import-license`), offline status and
//! plan, a refused forgery, and the agent process serving checks until SIGTERM.

use crate::{catalog, code, licet, path, repo, stderr, stdout};
use std::path::Path;
use std::process::Command;

/// An agent configuration in `dir` with its own machine identity.
fn agent_config(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("root/etc")).unwrap();
    std::fs::write(dir.join("root/etc/machine-id"), "7f3c0ffee\n").unwrap();
    let file = dir.join("agent.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\nidentity_root = {:?}\nlisten = \"127.0.0.1:0\"\n",
            path(&dir.join("data")),
            path(&dir.join("root"))
        ),
    )
    .unwrap();
    file
}

#[test]
fn an_air_gapped_device_is_activated_by_file_exchange_and_serves_checks() {
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(dir.path());
    let keys = dir.path().join("keys");
    let out = licet(["keys", "new", "--out", path(&keys)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pubkey = keys.join("signing.pub");

    // 1. On the device (provisioned with the issuer's key): the request file.
    let request = dir.path().join("req.json");
    let out = licet([
        "agent",
        "--config",
        path(&config),
        "--pubkey",
        path(&pubkey),
        "activation-request",
        "--out",
        path(&request),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let body: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&request).unwrap()).unwrap();
    assert_eq!(body["format"], "licet-activation-request/1");
    assert!(
        !body["fingerprint"].as_str().unwrap().contains("7f3c0ffee"),
        "the raw machine id stays on the device"
    );

    // 2. At the vendor: a license for exactly that device.
    let license = dir.path().join("gate-7.lic");
    let out = licet([
        "license",
        "issue",
        "--catalog",
        path(&catalog("gate-control")),
        "--key",
        path(&keys.join("signing.key")),
        "--tenant",
        "acme",
        "--device",
        "gate-7",
        "--request",
        path(&request),
        "--plan",
        "standard",
        "--grace-hours",
        "8760",
        "--out",
        path(&license),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // 3. Back on the device.
    let out = licet([
        "agent",
        "--config",
        path(&config),
        "--pubkey",
        path(&pubkey),
        "import-license",
        path(&license),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("state: active"), "{}", stdout(&out));
    let out = licet([
        "agent",
        "--config",
        path(&config),
        "--pubkey",
        path(&pubkey),
        "status",
    ]);
    assert!(
        stdout(&out).starts_with("state: active"),
        "{}",
        stdout(&out)
    );
    let out = licet([
        "agent",
        "--config",
        path(&config),
        "--pubkey",
        path(&pubkey),
        "plan",
        "--format",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        plan["enabled"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "vehicle.color"),
        "{plan}"
    );

    // A license edited by hand is refused, and the one in use is kept.
    let forged = dir.path().join("forged.lic");
    let text = std::fs::read_to_string(&license).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let body_line = lines.iter().position(|l| l.len() == 64).unwrap();
    let flipped: String = lines[body_line]
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 10 {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect();
    lines[body_line] = flipped;
    std::fs::write(&forged, lines.join("\n") + "\n").unwrap();
    let out = licet([
        "agent",
        "--config",
        path(&config),
        "--pubkey",
        path(&pubkey),
        "import-license",
        path(&forged),
    ]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("license"), "{}", stderr(&out));
    let out = licet([
        "agent",
        "--config",
        path(&config),
        "--pubkey",
        path(&pubkey),
        "status",
    ]);
    assert!(
        stdout(&out).starts_with("state: active"),
        "{}",
        stdout(&out)
    );

    // 4. The agent process answers checks and stops cleanly on SIGTERM.
    let mut agent =
        crate::usage::start_agent(&["--config", path(&config), "--pubkey", path(&pubkey)]);
    let base = agent.base.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer: serde_json::Value = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{base}/v1/check"))
            .json(&serde_json::json!({"feature": "vehicle.color"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(answer["allowed"], true, "{answer}");
    let pid = agent.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(agent.child.wait().unwrap().code(), Some(0));
}

#[test]
fn print_config_redacts_secrets_and_an_exposed_listener_needs_a_token() {
    let out = licet([
        "agent",
        "--license-key",
        "LCT-SECRET",
        "--api-token",
        "tok",
        "--dev-trust-on-first-use",
        "print-config",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.contains("LCT-SECRET") && !text.contains("\"tok\""),
        "{text}"
    );
    assert!(text.contains("license_key = \"(set)\""), "{text}");

    assert!(text.contains("dev_trust_on_first_use = true"), "{text}");
    let out = licet(["agent", "print-config"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("no trust anchor"), "{}", stderr(&out));

    let out = licet([
        "agent",
        "--listen",
        "0.0.0.0:8471",
        "--dev-trust-on-first-use",
        "print-config",
    ]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("api_token"), "{}", stderr(&out));
}

/// A server that accepts connections and never answers: the agent's call times out and
/// is retried with backoff, and SIGTERM ends the agent within seconds even while a call
/// is waiting on that server.
#[test]
#[allow(clippy::disallowed_methods)] // Real elapsed time is what this test measures.
fn a_server_that_never_answers_cannot_hold_the_agent() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in silent.incoming() {
            held.push(connection);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(dir.path());
    let base = std::fs::read_to_string(&config).unwrap();
    let start = |timeout: u64| {
        std::fs::write(
            &config,
            format!(
                "{base}server = \"http://{address}\"\nlicense_key = \"LCT-AAAAA-AAAAA-AAAAA-AAAAA\"\nhttp_timeout_seconds = {timeout}\ndev_trust_on_first_use = true\n"
            ),
        )
        .unwrap();
        let mut agent = Command::new(env!("CARGO_BIN_EXE_licet"))
            .args(["agent", "--config", path(&config)])
            .env("LICET_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        let stderr = agent.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let _ = lines_tx.send(line.unwrap_or_default());
            }
        });
        (agent, lines_rx)
    };
    let stop_within_5s = |mut agent: std::process::Child| {
        let pid = agent.id().to_string();
        let stopping = Instant::now();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        loop {
            if let Some(status) = agent.try_wait().unwrap() {
                assert_eq!(status.code(), Some(0));
                return;
            }
            assert!(
                stopping.elapsed() < Duration::from_secs(5),
                "the agent did not stop within 5 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    // A one-second timeout: the first attempt fails by itself and is retried later.
    let (agent, lines) = start(1);
    let started = Instant::now();
    let retry = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the agent logs the failed attempt");
        if line.contains("activation failed, retrying in") {
            break line;
        }
    };
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the call timed out after {:?}",
        started.elapsed()
    );
    assert!(retry.contains("cannot reach the server"), "{retry}");
    stop_within_5s(agent);

    // A long timeout: SIGTERM arrives while the call still waits, and cancels it.
    let (agent, _lines) = start(120);
    std::thread::sleep(Duration::from_millis(1500));
    stop_within_5s(agent);
}

/// The settings file `deploy/` ships is one the agent reads (unknown keys are refused),
/// and its plan hook hands the profiles to docker compose the way compose reads them.
#[test]
fn the_shipped_agent_settings_file_is_valid() {
    let printed = licet([
        "agent",
        "--config",
        path(&repo().join("deploy/agent.toml")),
        "print-config",
    ]);
    assert!(printed.status.success(), "{}", stderr(&printed));
    let text = stdout(&printed);
    assert!(text.contains("trusted_roots = ["), "{text}");
    assert!(
        text.contains(
            r#"on_plan_change = 'COMPOSE_PROFILES="$LICET_COMPOSE_PROFILES" docker compose"#
        ),
        "{text}"
    );
}
