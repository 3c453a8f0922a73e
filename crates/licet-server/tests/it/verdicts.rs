//! "The server said no" is signed and distinguishable from "a middlebox said no".

use crate::support::{TestServer, activation};
use licet_client::ClientError;
use licet_core::ids::DeviceId;
use licet_core::signing::{Keyring, parse_public_key};
use licet_core::state::Verdict;
use licet_core::verdict::{VerdictError, open_verdict};

fn now() -> time::OffsetDateTime {
    licet_host::clock::Clock::now(&licet_host::clock::SystemClock)
}

fn verdict_of(error: ClientError) -> (String, String) {
    match error {
        ClientError::Api { status: 403, body } => {
            (body.error.code, body.verdict.expect("a signed verdict"))
        }
        other => panic!("expected a 403 with a verdict, got {other}"),
    }
}

async fn suspension_revocation_and_cancellation(server: &TestServer) {
    let mut keyring = Keyring::new();
    for key in server.anon.signing_keys().await.unwrap() {
        keyring.add(parse_public_key(&key.public_key).unwrap());
    }
    let (_, subscription) = server.tenant_with("foxsight-vms", "professional").await;
    let key = subscription.license_key.clone().unwrap();
    let activated = server
        .anon
        .activate(&activation(&key, "fp-vms"))
        .await
        .unwrap();
    let device = server.anon.with_token(&activated.device_token);
    let id = DeviceId::new(&activated.device_id);

    server
        .admin
        .subscription_action(&subscription.id, "suspend")
        .await
        .unwrap();
    let (code, verdict) = verdict_of(
        device
            .refresh(&activated.device_id, Some("nonce-1"), None)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "subscription_suspended");
    let (_, payload) = open_verdict(&keyring, &verdict, &id, Some("nonce-1"), now()).unwrap();
    assert_eq!(payload.verdict, Verdict::Suspended);
    // A recorded verdict cannot be replayed to answer a later request.
    assert_eq!(
        open_verdict(&keyring, &verdict, &id, Some("nonce-2"), now()).unwrap_err(),
        VerdictError::Replayed
    );
    assert!(matches!(
        open_verdict(
            &keyring,
            &verdict,
            &DeviceId::new("other"),
            Some("nonce-1"),
            now()
        ),
        Err(VerdictError::OtherDevice(_))
    ));
    // New activations are refused while suspended.
    assert_eq!(
        server
            .anon
            .activate(&activation(&key, "fp-new"))
            .await
            .unwrap_err()
            .code(),
        Some("subscription_suspended")
    );

    server
        .admin
        .subscription_action(&subscription.id, "resume")
        .await
        .unwrap();
    assert!(
        device
            .refresh(&activated.device_id, Some("nonce-3"), None)
            .await
            .is_ok()
    );

    // Deactivation revokes: the device learns it with a signed verdict, not a bare 401.
    server.admin.deactivate(&activated.device_id).await.unwrap();
    let (code, verdict) = verdict_of(
        device
            .refresh(&activated.device_id, Some("nonce-4"), None)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "license_revoked");
    assert_eq!(
        open_verdict(&keyring, &verdict, &id, Some("nonce-4"), now())
            .unwrap()
            .1
            .verdict,
        Verdict::Revoked
    );
    // A revoked token is good for nothing else.
    assert_eq!(
        device
            .heartbeat(&activated.device_id, &Default::default())
            .await
            .unwrap_err()
            .code(),
        Some("unauthorized")
    );

    let again = server
        .anon
        .activate(&activation(&key, "fp-vms"))
        .await
        .unwrap();
    server
        .admin
        .subscription_action(&subscription.id, "cancel")
        .await
        .unwrap();
    let (code, verdict) = verdict_of(
        server
            .anon
            .with_token(&again.device_token)
            .refresh(&again.device_id, None, None)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "subscription_cancelled");
    let (_, payload) = open_verdict(
        &keyring,
        &verdict,
        &DeviceId::new(&again.device_id),
        None,
        now(),
    )
    .unwrap();
    assert_eq!(payload.verdict, Verdict::Cancelled);
    let resumed = server
        .admin
        .subscription_action(&subscription.id, "resume")
        .await
        .unwrap_err();
    assert_eq!(
        resumed.code(),
        Some("subscription_cancelled"),
        "cancellation is final"
    );
}

crate::on_both!(suspension_revocation_and_cancellation);
