//! `licet keys new` → `licet license issue` → `licet license verify`.

use crate::{catalog, code, licet, path, stderr, stdout};
use std::path::Path;

fn new_keys(dir: &Path) -> String {
    let out = licet(["keys", "new", "--out", path(dir)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

fn issue(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let file = dir.join("device.lic");
    let key = dir.join("signing.key");
    let gate = catalog("gate-control");
    let mut args = vec![
        "license",
        "issue",
        "--catalog",
        path(&gate),
        "--key",
        path(&key),
        "--tenant",
        "acme",
        "--device",
        "gate-1",
        "--fingerprint",
        "fp-gate-1",
        "--plan",
        "standard",
        "--issued-at",
        "2026-11-01T00:00:00Z",
        "--out",
        path(&file),
    ];
    args.extend_from_slice(extra);
    let out = licet(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    file
}

#[test]
fn keys_new_writes_a_private_key_0600_and_a_one_line_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key_id = new_keys(dir.path());
    assert_eq!(key_id.len(), 16, "{key_id}");
    let public = std::fs::read_to_string(dir.path().join("signing.pub")).unwrap();
    assert!(
        public.starts_with("ed25519:") && public.lines().count() == 1,
        "{public}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("signing.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Running it again never replaces the key pair.
    let again = licet(["keys", "new", "--out", path(dir.path())]);
    assert_eq!(code(&again), 1);
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn issue_then_verify_round_trip_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    new_keys(dir.path());
    let file = issue(dir.path(), &[]);
    let public = dir.path().join("signing.pub");
    let verify = |file: &Path, extra: &[&str]| {
        let mut args = vec!["license", "verify", path(file), "--pubkey", path(&public)];
        args.extend_from_slice(extra);
        licet(&args)
    };

    let ok = verify(
        &file,
        &["--fingerprint", "fp-gate-1", "--at", "2026-11-01T00:30:00Z"],
    );
    assert_eq!(code(&ok), 0, "{}{}", stdout(&ok), stderr(&ok));
    assert!(
        stdout(&ok).starts_with("valid: license lic_"),
        "{}",
        stdout(&ok)
    );
    assert!(stdout(&ok).contains("is active"), "{}", stdout(&ok));

    // One byte changed anywhere in the body: exit 2.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut bytes = text.into_bytes();
    let body_line = bytes.iter().position(|b| *b == b'\n').unwrap() + 120;
    bytes[body_line] = if bytes[body_line] == b'A' { b'B' } else { b'A' };
    let tampered = dir.path().join("tampered.lic");
    std::fs::write(&tampered, bytes).unwrap();
    let bad = verify(&tampered, &["--at", "2026-11-01T00:30:00Z"]);
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    assert!(stderr(&bad).starts_with("invalid: "), "{}", stderr(&bad));

    // Another device's fingerprint: exit 3.
    let other = verify(
        &file,
        &["--fingerprint", "fp-gate-2", "--at", "2026-11-01T00:30:00Z"],
    );
    assert_eq!(code(&other), 3, "{}", stderr(&other));
    assert!(
        stderr(&other).contains("bound to another device"),
        "{}",
        stderr(&other)
    );

    // Past the 72 h offline grace: exit 4, and it says degraded.
    let late = verify(
        &file,
        &["--fingerprint", "fp-gate-1", "--at", "2026-11-04T00:00:01Z"],
    );
    assert_eq!(code(&late), 4);
    assert!(stdout(&late).contains("is degraded"), "{}", stdout(&late));

    // A key the verifier does not trust: exit 2.
    let stranger = tempfile::tempdir().unwrap();
    new_keys(stranger.path());
    let untrusted = licet([
        "license",
        "verify",
        path(&file),
        "--pubkey",
        path(&stranger.path().join("signing.pub")),
    ]);
    assert_eq!(code(&untrusted), 2);
    assert!(
        stderr(&untrusted).contains("unknown key id"),
        "{}",
        stderr(&untrusted)
    );
}

#[test]
fn verify_json_reports_the_state() {
    let dir = tempfile::tempdir().unwrap();
    new_keys(dir.path());
    let file = issue(dir.path(), &["--days", "30"]);
    let out = licet([
        "license",
        "verify",
        path(&file),
        "--pubkey",
        path(&dir.path().join("signing.pub")),
        "--at",
        "2026-12-15T00:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 4);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["state"]["state"], "expired");
}

#[test]
fn air_gapped_grace_can_cover_the_term() {
    let dir = tempfile::tempdir().unwrap();
    new_keys(dir.path());
    let file = issue(dir.path(), &["--days", "365", "--grace-hours", "8760"]);
    let out = licet([
        "license",
        "verify",
        path(&file),
        "--pubkey",
        path(&dir.path().join("signing.pub")),
        "--at",
        "2027-06-01T00:00:00Z",
    ]);
    // Stale (refresh overdue) but still full service: exit 0.
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("is stale"), "{}", stdout(&out));
}

#[test]
fn inspect_says_it_did_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    new_keys(dir.path());
    let file = issue(dir.path(), &[]);
    let out = licet(["license", "inspect", path(&file)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("NOT VERIFIED"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("security.tailgate"),
        "{}",
        stdout(&out)
    );
}

#[cfg(unix)]
#[test]
fn a_world_readable_signing_key_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    new_keys(dir.path());
    let key = dir.path().join("signing.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let gate = catalog("gate-control");
    let out = licet([
        "license",
        "issue",
        "--catalog",
        path(&gate),
        "--key",
        path(&key),
        "--tenant",
        "t",
        "--device",
        "d",
        "--fingerprint",
        "f",
        "--plan",
        "basic",
    ]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
}
