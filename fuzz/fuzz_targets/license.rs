//! License, verdict, certificate and revocation-list parsing and verification on
//! arbitrary text: never a panic, and nothing verifies that a trusted key did not sign.
#![no_main]

use libfuzzer_sys::fuzz_target;
use licet_core::ids::DeviceId;
use licet_core::license::{self, Expectations};
use licet_core::signing::Keyring;
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let root = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let mut ring = Keyring::new();
    ring.add_root(root.verifying_key());
    let now = datetime!(2026-11-01 00:00 UTC);
    let _ = ring.accept_revocations(text);
    let verified = license::verify(
        &ring,
        text,
        &Expectations {
            fingerprint: Some("fp"),
            now: Some(now),
            min_sequence: Some(1),
        },
    );
    // Only the root's key exists here and no certificate it made can be in random
    // input, so nothing may verify.
    assert!(verified.is_err(), "arbitrary input verified");
    let _ = license::inspect(text);
    let _ = licet_core::verdict::open_verdict(&ring, text, &DeviceId::new("d"), Some("n"), now);
    let _ = licet_core::trust::inspect_certificate(text);
    let _ = licet_core::trust::inspect_revocations(text);
});
