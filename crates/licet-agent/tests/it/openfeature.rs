//! An off-the-shelf OpenFeature client (PyPI `openfeature-provider-ofrep`) evaluates
//! entitlements against a live agent, unchanged. `.ci/run` installs it in a virtualenv
//! and points `LICET_TEST_OFREP_PYTHON` at that interpreter.

use crate::support::{Device, LocalApi, START, offline_agent, repo};
use licet_core::resolve::Subscription;
use licet_host::clock::ManualClock;
use std::sync::Arc;

#[tokio::test]
async fn the_python_ofrep_provider_evaluates_a_boolean_a_limit_and_an_unknown_flag() {
    let python = match std::env::var("LICET_TEST_OFREP_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but LICET_TEST_OFREP_PYTHON is not set: the OpenFeature client test must run in CI"
            )
        }
        _ => {
            eprintln!("LICET_TEST_OFREP_PYTHON unset: skipping the OpenFeature client test");
            return;
        }
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
    assert_eq!(results["max_cameras"]["value"], 4);
    assert_eq!(results["teleport"]["value"], false, "the caller's default");
    assert_eq!(results["teleport"]["error_code"], "FLAG_NOT_FOUND");
    api.stop().await;
}
