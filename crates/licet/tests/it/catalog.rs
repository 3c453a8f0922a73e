//! `licet catalog check | show`.

use crate::{catalog, code, licet, path, repo, stderr, stdout};

#[test]
fn the_example_catalogs_pass() {
    let files: Vec<_> = [
        "gate-control",
        "brinkbyte-vision",
        "foxsight-vms",
        "smart-parking",
    ]
    .iter()
    .map(|n| catalog(n))
    .collect();
    let mut args = vec!["catalog".to_owned(), "check".to_owned()];
    args.extend(files.iter().map(|f| path(f).to_owned()));
    let out = licet(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("ok "))
            .count(),
        4
    );
}

#[test]
fn a_broken_catalog_exits_1_naming_every_problem() {
    let broken = repo().join("crates/licet/tests/fixtures/broken.toml");
    let out = licet([
        "catalog",
        "check",
        path(&broken),
        path(&catalog("smart-parking")),
    ]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("modules.detector.depends[0]: unknown module \"decoder\""),
        "{err}"
    );
    assert!(
        err.contains("dependency cycle: counter -> tracker -> counter"),
        "{err}"
    );
    assert!(
        err.contains("prices[0].plan: price \"premium-device\" is for unknown plan \"premium\""),
        "{err}"
    );
    assert!(err.contains("broken.toml"), "problems name the file: {err}");
    assert!(err.contains("1 of 2 catalog(s) invalid"), "{err}");
    // The valid file is still checked and reported.
    assert!(stdout(&out).contains("ok "), "{}", stdout(&out));
}

#[test]
fn show_prints_the_resolved_entitlements() {
    let out = licet([
        "catalog",
        "show",
        path(&catalog("brinkbyte-vision")),
        "--plan",
        "base",
        "--addon",
        "advanced_analytics:3",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let heatmap = &json["entitlements"]["features"]["analytics.heatmap"];
    assert_eq!(heatmap["granted"], true);
    assert_eq!(heatmap["quantity"], 3);
    assert_eq!(
        json["entitlements"]["features"]["max_cameras"]["max"],
        "unlimited"
    );

    let out = licet([
        "catalog",
        "show",
        path(&catalog("brinkbyte-vision")),
        "--plan",
        "base",
        "--trial",
    ]);
    let text = stdout(&out);
    assert!(text.contains("Trial: 90 days"), "{text}");
    assert!(
        text.contains("max_cameras") && text.contains(" 2 cameras"),
        "{text}"
    );
}

#[test]
fn a_bad_addon_is_a_clear_error() {
    let out = licet([
        "catalog",
        "show",
        path(&catalog("brinkbyte-vision")),
        "--plan",
        "base",
        "--addon",
        "advanced_analytics:lots",
    ]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("quantity \"lots\" is not a whole number"),
        "{}",
        stderr(&out)
    );
    let out = licet([
        "catalog",
        "show",
        path(&catalog("brinkbyte-vision")),
        "--plan",
        "gold",
    ]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("unknown plan \"gold\"; the catalog has: base"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_command_documents_examples() {
    for args in [
        vec!["keys", "new", "--help"],
        vec!["catalog", "check", "--help"],
        vec!["catalog", "show", "--help"],
        vec!["license", "issue", "--help"],
        vec!["license", "verify", "--help"],
        vec!["license", "inspect", "--help"],
        vec!["plan", "--help"],
    ] {
        let out = licet(&args);
        assert_eq!(code(&out), 0);
        assert!(stdout(&out).contains("Example"), "{args:?} has no examples");
    }
}

/// `licet catalog sign`: a catalog an air-gapped device accepts from the signing key it
/// trusts, and from no other.
#[test]
fn a_signed_catalog_verifies_with_its_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = licet(["keys", "new", "--out", path(dir.path())]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let file = dir.path().join("gate-control.catalog");
    let out = licet([
        "catalog",
        "sign",
        path(&catalog("gate-control")),
        "--key",
        path(&dir.path().join("signing.key")),
        "--out",
        path(&file),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("catalog gate-control"),
        "{}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("-----BEGIN LICET CATALOG-----"));
    let public = std::fs::read_to_string(dir.path().join("signing.pub")).unwrap();
    let mut keyring = licet_core::signing::Keyring::new();
    keyring.add(licet_core::signing::parse_public_key(public.trim()).unwrap());
    let signed = licet_core::product_document::open_catalog(&keyring, &text, None).unwrap();
    assert_eq!(signed.catalog().product().as_str(), "gate-control");
    // Another key's keyring refuses it; so does an edit of the text inside.
    let other = licet_core::signing::Keyring::new();
    assert!(licet_core::product_document::open_catalog(&other, &text, None).is_err());
    let lines: Vec<&str> = text.lines().collect();
    let mut altered: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    altered[5] = altered[5].replace('A', "B");
    assert_ne!(altered[5], lines[5], "the line had an A to change");
    assert!(
        licet_core::product_document::open_catalog(&keyring, &altered.join("\n"), None).is_err()
    );
}
