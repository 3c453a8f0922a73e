//! A vendor's back-end reports usage with the CloudEvents SDK (PyPI `cloudevents`),
//! unchanged: its default binary mode and structured mode are both accepted, a replay
//! counts once, and the server's total shows it. `.ci/run` installs the SDK next to the
//! OpenFeature client and points `LICET_TEST_OFREP_PYTHON` at that interpreter.

use crate::support::TestServer;
use licet_client::wire::ApiKeyCreate;

/// The Python with the stock clients (`LICET_TEST_OFREP_PYTHON`); required under CI.
fn python() -> Option<String> {
    match std::env::var("LICET_TEST_OFREP_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but LICET_TEST_OFREP_PYTHON is not set: the CloudEvents SDK test must run in CI"
            )
        }
        _ => {
            eprintln!("LICET_TEST_OFREP_PYTHON unset: skipping the CloudEvents SDK test");
            None
        }
    }
}

pub async fn the_cloudevents_sdk_sends_in_binary_and_structured_mode(server: &TestServer) {
    let Some(python) = python() else { return };
    let (tenant, _) = server.tenant_with("brinkbyte-vision", "base").await;
    let key = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["usage:write".into(), "usage:read".into()],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    let now = licet_host::clock::Clock::now(&licet_host::clock::SystemClock);
    let when = licet_core::time_text(now - time::Duration::minutes(1));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cloudevents/send.py");
    let output = tokio::process::Command::new(&python)
        .args([script, &server.base, &tenant.id, &key, &when])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for (mode, accepted, duplicates) in [
        ("binary", 1, 0),
        ("binary_replayed", 0, 1),
        ("structured", 1, 0),
    ] {
        let (status, body) = (&answers[mode][0], &answers[mode][1]);
        assert_eq!(status, 200, "{mode}: {body}");
        assert_eq!(body["accepted"], accepted, "{mode}: {body}");
        assert_eq!(body["duplicates"], duplicates, "{mode}: {body}");
        assert_eq!(body["rejected"], serde_json::json!([]), "{mode}: {body}");
    }
    let quotas = licet_client::Client::new(&server.base)
        .with_token(&key)
        .quotas(&tenant.id)
        .await
        .unwrap();
    let api_calls = quotas
        .quotas
        .iter()
        .find(|q| q.meter == "api_call")
        .expect("an api_call quota");
    assert_eq!(
        api_calls.used, 7,
        "3 in binary mode, once, and 4 structured"
    );
}

crate::on_both!(the_cloudevents_sdk_sends_in_binary_and_structured_mode);
