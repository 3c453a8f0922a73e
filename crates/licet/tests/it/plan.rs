//! `licet plan`.

use crate::{catalog, code, licet, path, stderr, stdout};

#[test]
fn gate_control_standard_with_one_camera() {
    let gate = catalog("gate-control");
    let out = licet([
        "plan",
        "--catalog",
        path(&gate),
        "--plan",
        "standard",
        "--cameras",
        "1",
        "--device-ram-mb",
        "4096",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for module in [
        "core.detection",
        "core.database",
        "gate.control",
        "vehicle.color",
        "alerts.webhook",
    ] {
        assert!(text.contains(module), "closure lists {module}:\n{text}");
    }
    assert!(
        text.contains("security.tailgate")
            && text.contains("needs at least 2 cameras, the device has 1"),
        "{text}"
    );
    assert!(
        text.contains("missing required config: twilio_sid, twilio_token, twilio_from"),
        "{text}"
    );
    assert!(text.contains("Compose profiles: core, standard"), "{text}");
    assert!(
        text.contains("Compose services: api, alerts, postgres, alpr-core, vehicle-attributes"),
        "Standard runs the document's five containers:\n{text}"
    );
    assert!(
        text.contains("RAM total: 2512 MB (device has 4096 MB: fits)"),
        "{text}"
    );
    // Dependencies start first.
    let position = |m: &str| {
        text.find(&format!("  {m} "))
            .unwrap_or_else(|| panic!("{m} missing"))
    };
    assert!(position("core.detection") < position("gate.control"));
    assert!(position("core.database") < position("gate.control"));
    assert!(position("gate.control") < position("gate.enrollment"));
}

#[test]
fn json_plan_with_config_and_memory_budget() {
    let gate = catalog("gate-control");
    let out = licet([
        "plan",
        "--catalog",
        path(&gate),
        "--plan",
        "professional",
        "--cameras",
        "2",
        "--device-ram-mb",
        "2048",
        "--config-keys",
        "twilio_sid,twilio_token,twilio_from",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let plan = &json["plan"];
    let refused: Vec<&str> = plan["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        refused,
        ["alerts.email"],
        "smtp_host is missing, the twilio keys are set"
    );
    assert_eq!(plan["refused"][0]["reason"], "missing_config");
    assert_eq!(plan["compose_services"].as_array().unwrap().len(), 7);
    assert_eq!(plan["fits_in_memory"], false);
    assert!(plan["ram_mb_total"].as_u64().unwrap() > 2048);
}

#[test]
fn plan_from_a_verified_license() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&licet(["keys", "new", "--out", path(dir.path())])), 0);
    let gate = catalog("gate-control");
    let file = dir.path().join("gate.lic");
    let out = licet([
        "license",
        "issue",
        "--catalog",
        path(&gate),
        "--key",
        path(&dir.path().join("signing.key")),
        "--tenant",
        "acme",
        "--device",
        "gate-1",
        "--fingerprint",
        "fp",
        "--plan",
        "enterprise",
        "--issued-at",
        "2026-11-01T00:00:00Z",
        "--out",
        path(&file),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let public = dir.path().join("signing.pub");
    let active = licet([
        "plan",
        "--catalog",
        path(&gate),
        "--license",
        path(&file),
        "--pubkey",
        path(&public),
        "--cameras",
        "2",
        "--at",
        "2026-11-01T00:10:00Z",
    ]);
    assert_eq!(code(&active), 0, "{}", stderr(&active));
    assert!(
        stdout(&active).contains("integration.api"),
        "{}",
        stdout(&active)
    );
    // After the grace period the same license plans safe mode only.
    let degraded = licet([
        "plan",
        "--catalog",
        path(&gate),
        "--license",
        path(&file),
        "--pubkey",
        path(&public),
        "--cameras",
        "2",
        "--at",
        "2026-11-05T00:00:00Z",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&degraded)).unwrap();
    let enabled: Vec<&str> = json["plan"]["enabled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(enabled, ["core.detection"]);
    assert!(json["source"].as_str().unwrap().contains("state degraded"));
}

#[test]
fn plan_needs_a_plan_or_a_license() {
    let out = licet(["plan", "--catalog", path(&catalog("gate-control"))]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("--plan"), "{}", stderr(&out));
}
