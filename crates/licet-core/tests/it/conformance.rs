//! Runs every case of the conformance suite in process.

use crate::support::{example, key, repo_root};
use licet_core::conformance::{CaseFile, answer};
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn every_conformance_case_holds() {
    let dir = repo_root().join("crates/licet-core/tests/conformance");
    let mut catalogs = BTreeMap::new();
    let mut failures = Vec::new();
    let mut names = BTreeSet::new();
    let mut count = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file: CaseFile =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for case in &file.cases {
            count += 1;
            assert!(
                names.insert(case.name.clone()),
                "duplicate case name {:?}",
                case.name
            );
            let catalog = catalogs
                .entry(case.catalog.clone())
                .or_insert_with(|| example(&case.catalog));
            match answer(case, catalog, &key(7)) {
                Ok(observed) => {
                    let mismatches = case.expect.mismatches(&observed);
                    if !mismatches.is_empty() {
                        failures.push(format!(
                            "{}: {:?}: {}",
                            path.display(),
                            case.name,
                            mismatches.join("; ")
                        ));
                    }
                }
                Err(error) => {
                    failures.push(format!("{}: {:?}: {error}", path.display(), case.name))
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        count >= 60,
        "the suite must hold at least 60 cases, it has {count}"
    );
    let covered: BTreeSet<&str> = catalogs.keys().map(String::as_str).collect();
    assert_eq!(
        covered,
        BTreeSet::from([
            "brinkbyte-vision",
            "foxsight-vms",
            "gate-control",
            "smart-parking"
        ]),
        "every example catalog is covered"
    );
}

#[test]
fn an_expectation_that_disagrees_is_reported() {
    // The comparison itself must be able to fail, or the suite proves nothing.
    let text = r#"{"description": "x", "cases": [{
        "name": "wrong on purpose", "catalog": "smart-parking",
        "subscription": {"plan": "basic"},
        "issued_at": "2026-01-01T00:00:00Z", "now": "2026-01-01T00:10:00Z",
        "check": {"type": "feature", "feature": "analytics"},
        "expect": {"allowed": true, "reason": "licensed"}}]}"#;
    let file: CaseFile = serde_json::from_str(text).unwrap();
    let case = &file.cases[0];
    let observed = answer(case, &example("smart-parking"), &key(7)).unwrap();
    let mismatches = case.expect.mismatches(&observed);
    assert_eq!(mismatches.len(), 2, "{mismatches:?}");
}
