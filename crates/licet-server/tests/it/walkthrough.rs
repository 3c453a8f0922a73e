//! The README walkthrough as a test: tenant → subscription → activate → refresh.

use crate::support::{TestServer, activation, repo};
use licet_client::wire::HeartbeatRequest;
use licet_core::license::{self, Expectations};
use licet_core::signing::{Keyring, parse_public_key};
use licet_core::state::{self, LicenseState, StateInput};

async fn keyring(server: &TestServer) -> Keyring {
    let mut keyring = Keyring::new();
    for key in server.anon.signing_keys().await.unwrap() {
        let id = keyring.add(parse_public_key(&key.public_key).unwrap());
        assert_eq!(id.as_str(), key.key_id);
        // Also by key id, without credentials: agents fetch the key a license names.
        let one: licet_client::wire::SigningKeyView = server
            .http()
            .get(format!("{}/v1/signing-keys/{}", server.base, key.key_id))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(one, key);
    }
    let missing = server
        .http()
        .get(format!("{}/v1/signing-keys/0000000000000000", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    keyring
}

async fn activate_refresh_heartbeat_deactivate(server: &TestServer) {
    let (tenant, subscription) = server.tenant_with("gate-control", "standard").await;
    let key = subscription.license_key.clone().unwrap();
    assert!(key.starts_with("LCT-") && key.ends_with(&subscription.license_key_hint));
    // The key is shown once: reading the subscription later does not reveal it.
    assert_eq!(
        server
            .admin
            .subscription(&subscription.id)
            .await
            .unwrap()
            .license_key,
        None
    );

    let activated = server
        .anon
        .activate(&activation(&key, "fp-gate-1"))
        .await
        .unwrap();
    assert!(activated.device_token.starts_with("lct_dev_"));
    let keyring = keyring(server).await;
    let verified = license::verify(
        &keyring,
        &activated.license,
        &Expectations {
            fingerprint: Some("fp-gate-1"),
            now: None,
            min_sequence: None,
        },
    )
    .unwrap();
    let payload = verified.payload();
    assert_eq!(payload.device.id.as_str(), activated.device_id);
    assert_eq!(payload.tenant.as_str(), tenant.id);
    assert_eq!(payload.catalog_version, "2026.12.1");
    assert!(payload.sequence >= 1);
    let activated_sequence = payload.sequence;
    assert!(
        payload
            .entitlements
            .modules
            .contains_key("security.tailgate")
    );
    let report = state::evaluate(&StateInput {
        license: Some(payload),
        last_refresh: None,
        verdict: None,
        high_water: None,
        now: payload.issued_at,
    });
    assert_eq!(report.state, LicenseState::Active);

    let device = server.anon.with_token(&activated.device_token);
    // Saying what it holds, the device gets a number from the server's block; not
    // saying, a number above everything issued. Either way above what it holds.
    let first = device
        .refresh(&activated.device_id, None, Some(activated_sequence))
        .await
        .unwrap();
    let second = device
        .refresh(&activated.device_id, None, None)
        .await
        .unwrap();
    assert!(first.sequence > activated_sequence && second.sequence > first.sequence);
    let refreshed = license::verify(
        &keyring,
        &second.license,
        &Expectations {
            fingerprint: Some("fp-gate-1"),
            now: None,
            min_sequence: Some(second.sequence),
        },
    )
    .unwrap();
    assert_eq!(refreshed.payload().sequence, second.sequence);
    // A claim above every number the server issued is not something it issued; it is
    // refused rather than dragging the counter for every device.
    let inflated = device
        .refresh(&activated.device_id, None, Some(u64::MAX / 2))
        .await
        .unwrap_err();
    assert_eq!(inflated.code(), Some("invalid_request"), "{inflated}");
    assert!(inflated.to_string().contains("`sequence`"), "{inflated}");
    let after = device
        .refresh(&activated.device_id, None, Some(second.sequence))
        .await
        .unwrap();
    assert!(after.sequence > second.sequence);

    // A device is its key. Someone who knows the license key, the fingerprint and a
    // different key cannot take the device over; the same (public, not secret) key
    // without proof cannot either.
    let mut impostor = activation(&key, "fp-gate-1");
    impostor.device_public_key = licet_core::signing::format_public_key(
        &ed25519_dalek::SigningKey::from_bytes(&[6; 32]).verifying_key(),
    );
    let taken = server.anon.activate(&impostor).await.unwrap_err();
    assert_eq!(taken.code(), Some("device_key_mismatch"), "{taken}");
    let unproven = server
        .anon
        .activate(&activation(&key, "fp-gate-1"))
        .await
        .unwrap_err();
    assert_eq!(unproven.code(), Some("device_proof_required"), "{unproven}");
    // A proof for another fingerprint, or signed by another key, is refused.
    let challenge = server.anon.activation_challenge().await.unwrap();
    let mut forged = activation(&key, "fp-gate-1");
    forged.proof = Some(licet_client::wire::DeviceProof {
        signature: licet_core::device_proof::prove(
            &ed25519_dalek::SigningKey::from_bytes(&[6; 32]),
            &challenge.nonce,
            "fp-gate-1",
        ),
        nonce: challenge.nonce.clone(),
    });
    let refused = server.anon.activate(&forged).await.unwrap_err();
    assert_eq!(refused.code(), Some("device_proof_invalid"), "{refused}");
    // The genuine device still refreshes after all that.
    device
        .refresh(&activated.device_id, None, None)
        .await
        .unwrap();

    // Re-activating with proof of the device key: same device, new token.
    let mut proven = activation(&key, "fp-gate-1");
    proven.proof = Some(licet_client::wire::DeviceProof {
        signature: licet_core::device_proof::prove(
            &ed25519_dalek::SigningKey::from_bytes(&[5; 32]),
            &challenge.nonce,
            "fp-gate-1",
        ),
        nonce: challenge.nonce,
    });
    let again = server.anon.activate(&proven).await.unwrap();
    assert_eq!(again.device_id, activated.device_id);
    assert_ne!(again.device_token, activated.device_token);
    let old = device
        .refresh(&activated.device_id, None, None)
        .await
        .unwrap_err();
    assert_eq!(
        old.code(),
        Some("unauthorized"),
        "the replaced token no longer works: {old}"
    );
    let device = server.anon.with_token(&again.device_token);

    let beat = device
        .heartbeat(
            &again.device_id,
            &HeartbeatRequest {
                agent_version: Some("0.1.0".into()),
                metrics: Some(serde_json::json!({"cpu": 0.4})),
                active_cameras: vec!["entry".into(), "exit".into()],
                running_modules: vec!["core.detection".into()],
                license_sequence: Some(3),
            },
        )
        .await
        .unwrap();
    assert_eq!(beat.next_heartbeat_in_seconds, 60);
    let devices = server.admin.devices(&tenant.id).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].running_modules, ["core.detection"]);
    assert_eq!(devices[0].agent_version.as_deref(), Some("0.1.0"));
    let cameras: Vec<serde_json::Value> = server
        .http()
        .get(format!(
            "{}/v1/devices/{}/cameras",
            server.base, again.device_id
        ))
        .bearer_auth(&again.device_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cameras.len(), 2);

    // The plan allows one device; a second fingerprint is refused until the first leaves.
    let refused = server
        .anon
        .activate(&activation(&key, "fp-gate-2"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("too_many_devices"), "{refused}");
    device.deactivate(&again.device_id).await.unwrap();
    let replacement = server
        .anon
        .activate(&activation(&key, "fp-gate-2"))
        .await
        .unwrap();
    assert_ne!(replacement.device_id, again.device_id);
}

async fn catalogs_are_versioned_and_validated(server: &TestServer) {
    let text =
        std::fs::read_to_string(repo().join("examples/catalogs/smart-parking.toml")).unwrap();
    let same = server
        .admin
        .put_catalog("smart-parking", &text)
        .await
        .unwrap();
    assert_eq!(
        (same.version.as_str(), same.revision),
        ("2026.12.1", 1),
        "re-uploading is a no-op"
    );
    let changed = text.replace("api_rate_per_minute = 100 }", "api_rate_per_minute = 150 }");
    let err = server
        .admin
        .put_catalog("smart-parking", &changed)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("catalog_version_exists"), "{err}");
    let bumped = changed.replace("version = \"2026.12.1\"", "version = \"2026.12.2\"");
    let next = server
        .admin
        .put_catalog("smart-parking", &bumped)
        .await
        .unwrap();
    assert_eq!((next.version.as_str(), next.revision), ("2026.12.2", 2));

    let broken = text.replace("extends = \"basic\"", "extends = \"bronze\"");
    match server
        .admin
        .put_catalog("smart-parking", &broken)
        .await
        .unwrap_err()
    {
        licet_client::ClientError::Api { status, body } => {
            assert_eq!((status, body.error.code.as_str()), (400, "invalid_catalog"));
            assert!(
                body.error
                    .details
                    .iter()
                    .any(|d| d.contains("plans.professional.extends: unknown plan \"bronze\"")),
                "{body:?}"
            );
        }
        other => panic!("{other}"),
    }
    let wrong_product = server
        .admin
        .put_catalog("gate-control", &text)
        .await
        .unwrap_err();
    assert_eq!(wrong_product.code(), Some("invalid_request"));

    // A license names the catalog version it was issued from: now the new one.
    let (_, subscription) = server.tenant_with("smart-parking", "basic").await;
    let activated = server
        .anon
        .activate(&activation(
            subscription.license_key.as_ref().unwrap(),
            "fp",
        ))
        .await
        .unwrap();
    let (_, payload) = license::inspect(&activated.license).unwrap();
    assert_eq!(payload.catalog_version, "2026.12.2");
}

async fn health_metrics_and_openapi(server: &TestServer) {
    let http = server.http();
    for path in ["/healthz", "/readyz"] {
        let response = http
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("licet_http_responses_total{class=\"2xx\"}"),
        "{metrics}"
    );
    let document: serde_json::Value = http
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["paths"]["/v1/activations"]["post"].is_object());
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
}

async fn fifty_concurrent_activations_against_five_devices(server: &TestServer) {
    let text = std::fs::read_to_string(repo().join("examples/catalogs/gate-control.toml"))
        .unwrap()
        .replace("product = \"gate-control\"", "product = \"fleet-test\"")
        .replace("max_devices = 25", "max_devices = 5");
    server.admin.put_catalog("fleet-test", &text).await.unwrap();
    let (tenant, subscription) = server.tenant_with("fleet-test", "enterprise").await;
    let key = subscription.license_key.unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = server.anon.clone();
            let request = activation(&key, &format!("fp-{i}"));
            tokio::spawn(async move { client.activate(&request).await })
        })
        .collect();
    let (mut created, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(e) if e.code() == Some("too_many_devices") => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((created, refused), (5, 45));
    assert_eq!(server.admin.devices(&tenant.id).await.unwrap().len(), 5);
}

async fn a_plan_change_reaches_the_device_at_its_next_refresh(server: &TestServer) {
    let (_, subscription) = server.tenant_with("gate-control", "basic").await;
    let activated = server
        .anon
        .activate(&activation(
            subscription.license_key.as_ref().unwrap(),
            "fp",
        ))
        .await
        .unwrap();
    let (_, before) = license::inspect(&activated.license).unwrap();
    assert!(!before.entitlements.modules.contains_key("vehicle.make"));
    let held = license::verify(
        &keyring(server).await,
        &activated.license,
        &license::Expectations::default(),
    )
    .unwrap();
    let device = server.anon.with_token(&activated.device_token);
    let holding = licet_client::wire::RefreshRequest {
        grant_sha256: held.grant_sha256().map(str::to_owned),
        ..Default::default()
    };
    // While nothing changed, a device that names its grant gets the signed lease alone,
    // which its grant completes.
    let lease = device
        .refresh_with(&activated.device_id, &holding)
        .await
        .unwrap();
    assert!(!lease.license.contains(license::GRANT_LABEL));
    assert!(lease.license.len() * 2 < activated.license.len());
    let completed = license::verify(
        &keyring(server).await,
        &license::with_held_grant(&lease.license, &held),
        &license::Expectations {
            fingerprint: Some("fp"),
            now: None,
            min_sequence: Some(held.payload().sequence + 1),
        },
    )
    .unwrap();
    assert_eq!(completed.payload().plan.as_str(), "basic");
    assert_eq!(completed.payload().sequence, lease.sequence);
    let change = |plan: &str| licet_client::wire::SubscriptionChange {
        plan: Some(plan.into()),
        ..Default::default()
    };
    let response = server
        .http()
        .patch(format!(
            "{}/v1/subscriptions/{}",
            server.base, subscription.id
        ))
        .bearer_auth(&server.admin_token)
        .json(&change("professional"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The grant the device names is not the new one: the whole license comes.
    let refreshed = device
        .refresh_with(&activated.device_id, &holding)
        .await
        .unwrap();
    assert!(refreshed.license.contains(license::GRANT_LABEL));
    let (_, after) = license::inspect(&refreshed.license).unwrap();
    assert_eq!(after.plan.as_str(), "professional");
    assert!(after.entitlements.modules.contains_key("vehicle.make"));
    // A change that does not fit the catalog is refused and changes nothing.
    let response = server
        .http()
        .patch(format!(
            "{}/v1/subscriptions/{}",
            server.base, subscription.id
        ))
        .bearer_auth(&server.admin_token)
        .json(&change("platinum"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        server
            .admin
            .subscription(&subscription.id)
            .await
            .unwrap()
            .plan,
        "professional"
    );
}

crate::on_both!(
    a_plan_change_reaches_the_device_at_its_next_refresh,
    activate_refresh_heartbeat_deactivate,
    catalogs_are_versioned_and_validated,
    health_metrics_and_openapi,
    fifty_concurrent_activations_against_five_devices,
);
