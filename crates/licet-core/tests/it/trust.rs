//! The chain of trust in core: a root certifies signing keys for a window, revocation
//! lists only move forward, and no input — however broken — makes a parser panic.

use crate::license::issue_for;
use crate::support::{example, key};
use licet_core::license::{self, Expectations, LicenseError};
use licet_core::signing::{KeyId, Keyring};
use licet_core::trust::{self, RevocationPayload, bundle};
use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-01 00:00 UTC);

fn rooted(root: u8) -> Keyring {
    let mut ring = Keyring::new();
    ring.add_root(key(root).verifying_key());
    ring
}

/// A license signed by key 1, with a certificate from `root` for `window`.
fn certified(root: u8, window: (OffsetDateTime, OffsetDateTime)) -> String {
    let signed = issue_for(&example("smart-parking"), "basic", 1, 1).armored;
    let certificate =
        trust::certify(&key(root), &key(1).verifying_key(), NOW, window.0, window.1).unwrap();
    bundle(&signed, Some(&certificate), None)
}

fn at(now: OffsetDateTime) -> Expectations<'static> {
    Expectations {
        fingerprint: None,
        now: Some(now),
        min_sequence: None,
    }
}

#[test]
fn only_a_key_the_root_certified_inside_its_window_is_trusted() {
    let window = (NOW - Duration::days(1), NOW + Duration::days(30));
    let text = certified(9, window);
    assert!(license::verify(&rooted(9), &text, &at(NOW)).is_ok());
    // Another root's certificate, no certificate, or outside the window: refused.
    let err = license::verify(&rooted(8), &text, &at(NOW)).unwrap_err();
    assert!(
        matches!(err, LicenseError::Untrusted(ref m) if m.contains("not a root")),
        "{err}"
    );
    let bare = issue_for(&example("smart-parking"), "basic", 1, 1).armored;
    let err = license::verify(&rooted(9), &bare, &at(NOW)).unwrap_err();
    assert!(
        matches!(err, LicenseError::Untrusted(ref m) if m.contains("no certificate")),
        "{err}"
    );
    let err = license::verify(&rooted(9), &text, &at(NOW + Duration::days(31))).unwrap_err();
    assert!(
        matches!(err, LicenseError::Untrusted(ref m) if m.contains("certified from")),
        "{err}"
    );
    // A certificate for key 1 made by key 1 itself (self-signed) is no root's word.
    let selfish = certified(1, window);
    assert!(license::verify(&rooted(9), &selfish, &at(NOW)).is_err());
}

#[test]
fn revocation_lists_only_move_forward() {
    let window = (NOW - Duration::days(1), NOW + Duration::days(30));
    let text = certified(9, window);
    let list = |serial: u64, revoked: Vec<KeyId>| {
        trust::seal_revocations(
            &key(9),
            &RevocationPayload {
                format: 1,
                serial,
                issued_at: NOW,
                revoked,
            },
        )
        .unwrap()
    };
    let mut ring = rooted(9);
    let one = KeyId::of(&key(1).verifying_key());
    assert_eq!(
        ring.accept_revocations(&list(2, vec![one.clone()]))
            .unwrap(),
        [2]
    );
    let err = license::verify(&ring, &text, &at(NOW)).unwrap_err();
    assert!(
        matches!(err, LicenseError::Untrusted(ref m) if m.contains("revoked")),
        "{err}"
    );
    // An older (or equal) list does not undo a newer one; a newer one can.
    assert!(
        ring.accept_revocations(&list(1, vec![]))
            .unwrap()
            .is_empty()
    );
    assert!(
        ring.accept_revocations(&list(2, vec![]))
            .unwrap()
            .is_empty()
    );
    assert!(license::verify(&ring, &text, &at(NOW)).is_err());
    assert_eq!(ring.accept_revocations(&list(3, vec![])).unwrap(), [3]);
    assert!(license::verify(&ring, &text, &at(NOW)).is_ok());
    // A list signed by anyone else is ignored; a tampered one is an error.
    let forged = trust::seal_revocations(
        &key(7),
        &RevocationPayload {
            format: 1,
            serial: 99,
            issued_at: NOW,
            revoked: vec![],
        },
    )
    .unwrap();
    assert!(ring.accept_revocations(&forged).unwrap().is_empty());
    let stored: Vec<&str> = ring.revocation_lists().collect();
    let mut again = rooted(9);
    assert_eq!(again.accept_revocations(&stored.concat()).unwrap(), [3]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary text (and arbitrary text around real blocks) never panics a parser or
    /// a verifier; it is refused or, for inspection, read without trust.
    #[test]
    fn no_input_makes_a_parser_panic(noise in ".{0,400}", cut in 0usize..4000, split in any::<bool>()) {
        let real = certified(9, (NOW - Duration::days(1), NOW + Duration::days(30)));
        let cut = cut.min(real.len());
        let text = if split && real.is_char_boundary(cut) {
            format!("{}{noise}{}", &real[..cut], &real[cut..])
        } else {
            noise.clone()
        };
        let mut ring = rooted(9);
        let _ = license::verify(&ring, &text, &at(NOW));
        let _ = license::inspect(&text);
        let _ = licet_core::verdict::open_verdict(
            &ring, &text, &licet_core::ids::DeviceId::new("d"), None, NOW,
        );
        let _ = trust::inspect_certificate(&text);
        let _ = trust::inspect_revocations(&text);
        let _ = ring.accept_revocations(&text);
        let _ = licet_core::catalog::Catalog::from_toml(&text, "noise.toml");
        let _ = licet_core::amount::wire_quantity(
            &serde_json::from_str::<serde_json::Value>(&noise).unwrap_or_default(),
        );
    }

    #[test]
    fn quantities_in_range_round_trip_and_others_are_refused(n in any::<i128>()) {
        let value = serde_json::json!(n as f64);
        let exact = serde_json::from_str::<serde_json::Value>(&n.to_string()).unwrap_or_default();
        let max = licet_core::amount::MAX_WIRE_INTEGER as i128;
        let got = licet_core::amount::wire_quantity(&exact);
        if (0..=max).contains(&n) {
            prop_assert_eq!(got, Ok(n as u64));
        } else {
            prop_assert!(got.is_err());
        }
        if n.abs() <= max && n >= 0 {
            prop_assert_eq!(licet_core::amount::wire_quantity(&value), Ok(n as u64));
        }
    }
}
