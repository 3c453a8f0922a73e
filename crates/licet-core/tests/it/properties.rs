//! Laws that must hold for all inputs.

use crate::license::issue_for;
use crate::support::{T0, example, key};
use licet_core::ids::{DeviceId, LicenseId, TenantId};
use licet_core::license::{self, Expectations, IssueRequest, LicensePayload};
use licet_core::resolve::{AddonGrant, Subscription};
use licet_core::signing::Keyring;
use licet_core::state::{self, StateInput};
use proptest::prelude::*;
use std::sync::OnceLock;
use time::{Duration, OffsetDateTime};

fn keyring() -> Keyring {
    let mut ring = Keyring::new();
    ring.add(key(1).verifying_key());
    ring
}

fn small_license() -> &'static String {
    static LICENSE: OnceLock<String> = OnceLock::new();
    LICENSE.get_or_init(|| issue_for(&example("smart-parking"), "basic", 1, 1).armored)
}

/// The bytes of the armored block itself: text after the END line is ignored by design
/// (a license pasted into an e-mail), so only the block is covered by the signature.
fn block_len(armored: &str) -> usize {
    armored.trim_end().len()
}

#[test]
fn flipping_a_bit_in_every_byte_of_a_license_fails_verification() {
    let armored = small_license();
    let ring = keyring();
    let expect = Expectations::default();
    assert!(license::verify(&ring, armored, &expect).is_ok());
    let bytes = armored.as_bytes();
    // One bit per byte, rotating through the bit positions; the proptest below covers
    // arbitrary masks at random positions.
    for position in 0..block_len(armored) {
        let bit = position % 7;
        let mut copy = bytes.to_vec();
        copy[position] ^= 1 << bit;
        let Ok(text) = String::from_utf8(copy) else {
            continue;
        };
        assert!(
            license::verify(&ring, &text, &expect).is_err(),
            "flipping bit {bit} of byte {position} ({:?}) still verified",
            char::from(bytes[position])
        );
    }
}

fn brinkbyte_subscription() -> impl Strategy<Value = Subscription> {
    (
        any::<bool>(),
        proptest::option::of(1u64..20),
        any::<bool>(),
        proptest::option::of(5u64..12),
    )
        .prop_map(|(trial, analytics, api, seats)| {
            let mut addons = Vec::new();
            if let Some(quantity) = analytics {
                addons.push(AddonGrant {
                    id: "advanced_analytics".into(),
                    quantity,
                });
            }
            if api {
                addons.push(AddonGrant {
                    id: "api_integration".into(),
                    quantity: 1,
                });
            }
            if let Some(quantity) = seats {
                addons.push(AddonGrant {
                    id: "intelligence".into(),
                    quantity,
                });
            }
            Subscription {
                plan: "base".into(),
                addons,
                trial,
                modules: None,
            }
        })
}

fn issue(
    subscription: &Subscription,
    issued_at: OffsetDateTime,
    sequence: u64,
    grace_hours: i64,
) -> (String, LicensePayload) {
    let signed = license::issue(
        &IssueRequest {
            catalog: brinkbyte(),
            subscription,
            license_id: LicenseId::new("lic_prop"),
            subscription_id: None,
            tenant: TenantId::new("t"),
            device: DeviceId::new("d"),
            fingerprint: "fp",
            issued_at,
            term_ends_at: None,
            trial_started_at: None,
            sequence,
            grace: Some(Duration::hours(grace_hours)),
            refresh: Some(Duration::hours(1)),
        },
        &key(1),
    )
    .unwrap();
    (signed.armored, signed.payload)
}

fn brinkbyte() -> &'static licet_core::catalog::Catalog {
    static CATALOG: OnceLock<licet_core::catalog::Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| example("brinkbyte-vision"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_then_verify_returns_exactly_what_was_signed(
        subscription in brinkbyte_subscription(),
        offset_hours in 0i64..100_000,
        sequence in 1u64..u64::MAX,
        grace_hours in 1i64..10_000,
    ) {
        let issued_at = T0 + Duration::hours(offset_hours);
        let (armored, payload) = issue(&subscription, issued_at, sequence, grace_hours);
        let verified = license::verify(&keyring(), &armored, &Expectations {
            fingerprint: Some("fp"),
            now: Some(issued_at),
            min_sequence: Some(sequence),
        }).unwrap();
        prop_assert_eq!(verified.payload(), &payload);
    }

    #[test]
    fn any_flipped_byte_fails(position in 0usize..100_000, mask in 1u8..=255) {
        let armored = small_license();
        let position = position % block_len(armored);
        let mut bytes = armored.as_bytes().to_vec();
        bytes[position] ^= mask;
        if let Ok(text) = String::from_utf8(bytes) {
            prop_assert!(license::verify(&keyring(), &text, &Expectations::default()).is_err());
        }
    }

    #[test]
    fn a_later_now_never_gives_a_better_state_without_a_refresh(
        subscription in brinkbyte_subscription(),
        grace_hours in 1i64..500,
        first in 0i64..(200 * 24 * 60),
        later in 0i64..(200 * 24 * 60),
        refresh_after in proptest::option::of(0i64..(100 * 24 * 60)),
    ) {
        let (_, payload) = issue(&subscription, T0, 1, grace_hours);
        let last_refresh = refresh_after.map(|m| T0 + Duration::minutes(m));
        let at = |minutes: i64| state::evaluate(&StateInput {
            license: Some(&payload),
            last_refresh,
            verdict: None,
            high_water: None,
            now: T0 + Duration::minutes(minutes),
        });
        let (early, late) = (first.min(later), first.max(later));
        prop_assert!(at(late).state.severity() >= at(early).state.severity(),
            "{:?} at +{early} min, {:?} at +{late} min", at(early).state, at(late).state);
    }

    #[test]
    fn a_backwards_clock_never_extends_a_deadline(
        grace_hours in 1i64..500,
        high_water in 0i64..(100 * 24 * 60),
        behind in 0i64..(30 * 24 * 60),
    ) {
        let (_, payload) = issue(&Subscription::plan("base"), T0, 1, grace_hours);
        let mark = T0 + Duration::minutes(high_water);
        let honest = state::evaluate(&StateInput {
            license: Some(&payload), last_refresh: None, verdict: None, high_water: Some(mark), now: mark,
        });
        let rewound = state::evaluate(&StateInput {
            license: Some(&payload), last_refresh: None, verdict: None, high_water: Some(mark),
            now: mark - Duration::minutes(behind),
        });
        prop_assert!(rewound.state.severity() >= honest.state.severity());
        prop_assert_eq!(rewound.degrades_at, honest.degrades_at);
        prop_assert_eq!(rewound.refresh_due_at, honest.refresh_due_at);
        prop_assert!(rewound.effective_now >= mark);
        prop_assert_eq!(rewound.clock_behind_seconds.is_some(), behind > 5);
    }
}
