//! An off-the-shelf OpenFeature client (PyPI `openfeature-provider-ofrep`) evaluates
//! entitlements against a live agent, unchanged. `.ci/run` installs it in a virtualenv
//! and points `LICET_TEST_OFREP_PYTHON` at that interpreter.

use crate::support::{Device, LocalApi, START, offline_agent, repo};
use licet_core::resolve::Subscription;
use licet_host::clock::ManualClock;
use std::sync::Arc;

/// The Python with the stock clients (`LICET_TEST_OFREP_PYTHON`); required under CI.
fn python(test: &str) -> Option<String> {
    match std::env::var("LICET_TEST_OFREP_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but LICET_TEST_OFREP_PYTHON is not set: {test} must run in CI")
        }
        _ => {
            eprintln!("LICET_TEST_OFREP_PYTHON unset: skipping {test}");
            None
        }
    }
}

#[tokio::test]
async fn the_python_ofrep_provider_evaluates_a_boolean_a_limit_and_an_unknown_flag() {
    let Some(python) = python("the OpenFeature client test") else {
        return;
    };
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("openfeature-box");
    let agent = offline_agent(
        &device,
        "gate-control",
        Subscription::plan("standard"),
        clock,
        |_| {},
    );
    let api = LocalApi::start(agent).await;
    let script = repo().join("crates/licet-agent/tests/openfeature/evaluate.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(&api.base)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(results["vehicle.color"]["value"], true);
    assert_eq!(results["vehicle.color"]["reason"], "STATIC");
    assert_eq!(
        results["vehicle.make"]["value"], false,
        "not in the standard plan"
    );
    assert_eq!(results["max_cameras"]["value"], 2, "Standard: two cameras");
    assert_eq!(results["teleport"]["value"], false, "the caller's default");
    assert_eq!(results["teleport"]["error_code"], "FLAG_NOT_FOUND");
    api.stop().await;
}

/// The agent's and the server's `/metrics` parse with the Prometheus project's own
/// Python client parser (PyPI `prometheus-client`, installed next to the OpenFeature
/// client), histograms included.
#[tokio::test]
async fn metrics_parse_with_the_official_prometheus_parser() {
    let Some(python) = python("the metrics parser test") else {
        return;
    };
    let clock = Arc::new(ManualClock::new(START));
    let dir = tempfile::tempdir().unwrap();
    let server = crate::support::TestServer::start(clock.clone(), 0, dir.path().join("server"));
    let device = Device::new("metrics-box");
    let agent = offline_agent(
        &device,
        "gate-control",
        Subscription::plan("standard"),
        clock,
        |_| {},
    );
    let api = LocalApi::start(agent).await;
    let http = reqwest::Client::new();
    api.post("/v1/check", serde_json::json!({"feature": "lpr.basic"}))
        .await;
    http.get(format!("{}/v1/signing-keys", server.base))
        .send()
        .await
        .unwrap();
    let parse = "import sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        families = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}\n\
        print(sorted(n for n, f in families.items() if f.type == 'histogram'))";
    for (base, histogram) in [
        (&api.base, "licet_agent_http_request_duration_seconds"),
        (&server.base, "licet_http_request_duration_seconds"),
    ] {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut child = tokio::process::Command::new(&python)
            .args(["-c", parse])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).await.unwrap();
        drop(stdin);
        let output = child.wait_with_output().await.unwrap();
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{base}/metrics does not parse: {}\n{text}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(printed.contains(histogram), "{printed}");
    }
    api.stop().await;
    server.stop();
}
