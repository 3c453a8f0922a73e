//! License documents: issue, verify, and each distinct refusal.

use crate::support::{T0, example, key};
use licet_core::catalog::Catalog;
use licet_core::ids::{DeviceId, LicenseId, TenantId};
use licet_core::license::{self, Expectations, IssueRequest, LicenseError, SignedLicense};
use licet_core::resolve::Subscription;
use licet_core::signing::{Keyring, format_public_key, parse_public_key};
use time::Duration;

pub fn issue_for(catalog: &Catalog, plan: &str, sequence: u64, seed: u8) -> SignedLicense {
    license::issue(
        &IssueRequest {
            catalog,
            subscription: &Subscription::plan(plan),
            license_id: LicenseId::new(format!("lic_{sequence}")),
            subscription_id: None,
            tenant: TenantId::new("acme"),
            device: DeviceId::new("gate-1"),
            fingerprint: "fp-gate-1",
            issued_at: T0,
            term_ends_at: None,
            trial_started_at: None,
            sequence,
            grace: None,
            refresh: None,
        },
        &key(seed),
    )
    .unwrap()
}

fn trusting(seeds: &[u8]) -> Keyring {
    let mut keyring = Keyring::new();
    for seed in seeds {
        keyring.add(key(*seed).verifying_key());
    }
    keyring
}

fn expect_fp() -> Expectations<'static> {
    Expectations {
        fingerprint: Some("fp-gate-1"),
        now: Some(T0),
        min_sequence: None,
    }
}

#[test]
fn an_issued_license_verifies_and_carries_the_lease() {
    let catalog = example("gate-control");
    let signed = issue_for(&catalog, "standard", 1, 1);
    assert!(
        signed
            .armored
            .starts_with("-----BEGIN LICET LICENSE-----\nKey-Id: ")
    );
    let verified = license::verify(&trusting(&[1]), &signed.armored, &expect_fp()).unwrap();
    let payload = verified.payload();
    assert_eq!(payload, &signed.payload);
    assert_eq!(payload.catalog_version, "2026.12.1");
    assert_eq!(
        payload.refresh_after - payload.issued_at,
        Duration::hours(1)
    );
    assert_eq!(
        payload.offline_grace_until - payload.issued_at,
        Duration::hours(72)
    );
    assert_eq!(payload.expires_at - payload.issued_at, Duration::days(365));
    assert!(
        payload
            .entitlements
            .modules
            .contains_key("security.tailgate")
    );
    assert_eq!(verified.armored(), signed.armored);
}

#[test]
fn each_refusal_is_distinct() {
    let catalog = example("gate-control");
    let signed = issue_for(&catalog, "basic", 5, 1);
    let ring = trusting(&[1]);
    let verify =
        |text: &str, expect: Expectations<'_>| license::verify(&ring, text, &expect).unwrap_err();

    let err = verify("hello", expect_fp());
    assert!(matches!(err, LicenseError::MalformedArmor(_)), "{err}");
    let truncated = signed.armored.replace("-----END LICET LICENSE-----", "");
    assert!(matches!(
        verify(&truncated, expect_fp()),
        LicenseError::MalformedArmor(_)
    ));

    let lines: Vec<&str> = signed.armored.lines().collect();
    let mut broken = lines.clone();
    broken[4] = "!!!not base64!!!";
    assert!(matches!(
        verify(&broken.join("\n"), expect_fp()),
        LicenseError::BadEncoding(_)
    ));

    let other = issue_for(&catalog, "basic", 5, 2);
    let err = verify(&other.armored, expect_fp());
    assert!(matches!(err, LicenseError::UnknownKeyId(_)), "{err}");

    // Same key id header, someone else's signature: bad signature.
    let mut forged: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    forged[2] = other.armored.lines().nth(2).unwrap().to_owned();
    assert_eq!(
        verify(&forged.join("\n"), expect_fp()),
        LicenseError::BadSignature
    );

    let err = verify(
        &signed.armored,
        Expectations {
            fingerprint: Some("fp-other"),
            ..expect_fp()
        },
    );
    assert!(matches!(err, LicenseError::WrongDevice { .. }), "{err}");

    let err = verify(
        &signed.armored,
        Expectations {
            now: Some(T0 - Duration::hours(1)),
            ..expect_fp()
        },
    );
    assert!(matches!(err, LicenseError::NotYetValid { .. }), "{err}");

    let err = verify(
        &signed.armored,
        Expectations {
            min_sequence: Some(6),
            ..expect_fp()
        },
    );
    assert_eq!(err, LicenseError::OlderSequence { seen: 6, got: 5 });
    // The same sequence again is fine (reloading the current license).
    assert!(
        license::verify(
            &ring,
            &signed.armored,
            &Expectations {
                min_sequence: Some(5),
                ..expect_fp()
            }
        )
        .is_ok()
    );
}

#[test]
fn a_small_clock_skew_is_tolerated_for_not_before() {
    let signed = issue_for(&example("smart-parking"), "basic", 1, 1);
    let expect = Expectations {
        now: Some(T0 - Duration::minutes(4)),
        ..expect_fp()
    };
    assert!(license::verify(&trusting(&[1]), &signed.armored, &expect).is_ok());
}

#[test]
fn rotated_keys_stay_verifiable_until_retired() {
    let catalog = example("foxsight-vms");
    let old = issue_for(&catalog, "starter", 1, 1);
    let new = issue_for(&catalog, "starter", 2, 2);
    let mut ring = trusting(&[1, 2]);
    assert!(license::verify(&ring, &old.armored, &expect_fp()).is_ok());
    assert!(license::verify(&ring, &new.armored, &expect_fp()).is_ok());
    let old_id = licet_core::signing::KeyId::of(&key(1).verifying_key());
    assert!(ring.retire(&old_id));
    assert!(matches!(
        license::verify(&ring, &old.armored, &expect_fp()),
        Err(LicenseError::UnknownKeyId(_))
    ));
}

#[test]
fn a_license_pasted_inside_other_text_still_verifies() {
    let signed = issue_for(&example("smart-parking"), "basic", 1, 1);
    let mail = format!(
        "Hello,\r\nhere is your license:\r\n\r\n{}\r\nRegards\r\n",
        signed.armored.replace('\n', "\r\n")
    );
    assert!(license::verify(&trusting(&[1]), &mail, &expect_fp()).is_ok());
}

#[test]
fn inspect_reads_without_trusting() {
    let signed = issue_for(&example("smart-parking"), "enterprise", 3, 9);
    let (key_id, payload) = license::inspect(&signed.armored).unwrap();
    assert_eq!(
        key_id,
        licet_core::signing::KeyId::of(&key(9).verifying_key())
    );
    assert_eq!(payload.sequence, 3);
}

#[test]
fn public_keys_round_trip_in_text_form() {
    let public = key(3).verifying_key();
    let text = format_public_key(&public);
    assert!(text.starts_with("ed25519:"));
    assert_eq!(parse_public_key(&format!("  {text}\n")).unwrap(), public);
    assert!(parse_public_key("rsa:abc").is_err());
    assert!(parse_public_key("ed25519:AAAA").is_err());
}

#[test]
fn absurd_terms_saturate_instead_of_panicking() {
    let catalog = example("gate-control");
    let signed = license::issue(
        &IssueRequest {
            catalog: &catalog,
            subscription: &Subscription::plan("basic"),
            license_id: LicenseId::new("lic_far"),
            subscription_id: None,
            tenant: TenantId::new("acme"),
            device: DeviceId::new("gate-1"),
            fingerprint: "fp",
            issued_at: T0,
            term_ends_at: None,
            trial_started_at: None,
            sequence: 1,
            grace: Some(Duration::days(i64::from(u32::MAX))),
            refresh: Some(Duration::days(i64::from(u32::MAX))),
        },
        &key(1),
    )
    .unwrap();
    assert!(signed.payload.offline_grace_until > T0 + Duration::days(365 * 1000));
}

fn request_for<'a>(
    catalog: &'a Catalog,
    subscription: &'a Subscription,
    sequence: u64,
) -> IssueRequest<'a> {
    IssueRequest {
        catalog,
        subscription,
        license_id: LicenseId::new(format!("lic_{sequence}")),
        subscription_id: None,
        tenant: TenantId::new("acme"),
        device: DeviceId::new("gate-1"),
        fingerprint: "fp-gate-1",
        issued_at: T0 + Duration::minutes(sequence as i64),
        term_ends_at: None,
        trial_started_at: None,
        sequence,
        grace: None,
        refresh: None,
    }
}

#[test]
fn a_lease_alone_completes_with_the_grant_the_device_holds() {
    let catalog = example("gate-control");
    let bought = Subscription::plan("enterprise");
    let resolution = catalog.resolve(&bought).unwrap();
    let first_request = request_for(&catalog, &bought, 1);
    let grant = license::grant(&first_request, &resolution).unwrap();
    let first = license::issue_with_grant(&first_request, &resolution, &grant, &key(1)).unwrap();
    let ring = trusting(&[1]);
    let held = license::verify(&ring, &first.armored, &expect_fp()).unwrap();
    assert_eq!(held.grant_sha256(), Some(grant.sha256()));

    // An hour later: the same grant, a new lease. The lease alone is what changed.
    let second_request = request_for(&catalog, &bought, 2);
    let second = license::issue_with_grant(&second_request, &resolution, &grant, &key(1)).unwrap();
    let whole = license::issue_resolved(&second_request, &resolution, &key(1)).unwrap();
    assert_eq!(whole.armored, second.armored, "issuing is deterministic");
    let lease = second.lease_only();
    assert!(!lease.contains(license::GRANT_LABEL));
    assert!(
        lease.len() * 3 < second.armored.len(),
        "lease {} bytes of {}",
        lease.len(),
        second.armored.len()
    );
    // On its own the lease is refused, naming what is missing.
    assert_eq!(
        license::verify(&ring, lease, &expect_fp()).unwrap_err(),
        LicenseError::GrantMismatch(grant.sha256().to_owned())
    );
    let completed = license::with_held_grant(lease, &held);
    let verified = license::verify(&ring, &completed, &expect_fp()).unwrap();
    assert_eq!(verified.payload(), &second.payload);
    assert_eq!(verified.payload().sequence, 2);
    assert_eq!(verified.payload().plan.as_str(), "enterprise");
    assert_eq!(
        verified.payload().refresh_after,
        T0 + Duration::minutes(2) + verified.payload().refresh_interval()
    );
    // A whole document is left as it is.
    assert_eq!(
        license::with_held_grant(&second.armored, &held),
        second.armored
    );
}

#[test]
fn a_grant_is_bound_to_its_lease() {
    let catalog = example("gate-control");
    let ring = trusting(&[1]);
    let basic = issue_for(&catalog, "basic", 1, 1);
    let enterprise = issue_for(&catalog, "enterprise", 1, 1);
    let grant_of = |text: &str| {
        let at = text.find("-----BEGIN LICET LICENSE GRANT-----").unwrap();
        text[at..].to_owned()
    };
    // A basic lease with an enterprise grant spliced in is refused.
    let spliced = format!("{}{}", basic.lease_only(), grant_of(&enterprise.armored));
    assert!(matches!(
        license::verify(&ring, &spliced, &expect_fp()).unwrap_err(),
        LicenseError::GrantMismatch(_)
    ));
    // So is a basic lease completed with the grant of an enterprise license held.
    let held = license::verify(&ring, &enterprise.armored, &expect_fp()).unwrap();
    let completed = license::with_held_grant(basic.lease_only(), &held);
    assert!(matches!(
        license::verify(&ring, &completed, &expect_fp()).unwrap_err(),
        LicenseError::GrantMismatch(_)
    ));
    // An extra grant block in front does not confuse it: the one named is used.
    let padded = format!(
        "{}{}{}",
        basic.lease_only(),
        grant_of(&enterprise.armored),
        grant_of(&basic.armored)
    );
    let verified = license::verify(&ring, &padded, &expect_fp()).unwrap();
    assert_eq!(verified.payload().plan.as_str(), "basic");
    // One altered character in the grant's body is refused.
    let mut altered = basic.armored.clone();
    let at = altered.find("-----BEGIN LICET LICENSE GRANT-----").unwrap() + 40;
    let flipped = if &altered[at..at + 1] == "A" {
        "B"
    } else {
        "A"
    };
    altered.replace_range(at..at + 1, flipped);
    assert!(license::verify(&ring, &altered, &expect_fp()).is_err());
    assert!(inspect_plan(&altered).is_none_or(|plan| plan == "basic"));
}

fn inspect_plan(text: &str) -> Option<String> {
    license::inspect(text)
        .ok()
        .map(|(_, payload)| payload.plan.as_str().to_owned())
}

#[test]
fn a_single_block_license_of_format_1_still_verifies() {
    let catalog = example("gate-control");
    let current = issue_for(&catalog, "standard", 3, 1);
    let mut payload = current.payload.clone();
    payload.format = 1;
    let armored = licet_core::signing::seal(
        license::LICENSE_LABEL,
        &serde_json::to_vec(&payload).unwrap(),
        &key(1),
    );
    let verified = license::verify(&trusting(&[1]), &armored, &expect_fp()).unwrap();
    assert_eq!(verified.payload(), &payload);
    assert_eq!(verified.grant_sha256(), None);
    // Nothing to complete a lease with: the text is left as it is.
    assert_eq!(license::with_held_grant("lease", &verified), "lease");
}
