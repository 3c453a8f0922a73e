//! The behaviours every store must have, written once against `dyn Store`.

use licet_core::ids::{DeviceId, PlanId, ProductId, TenantId};
use licet_store::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

mod retention;
mod usage;
pub use retention::*;
pub use usage::*;

pub(crate) const NOW: OffsetDateTime = datetime!(2026-11-01 12:00 UTC);

pub(crate) async fn tenant(store: &dyn Store, id: &str) -> TenantId {
    let tenant = Tenant {
        id: TenantId::new(id),
        name: format!("Tenant {id}"),
        created_at: NOW,
    };
    store.create_tenant(&tenant).await.unwrap();
    tenant.id
}

pub(crate) fn subscription(tenant: &TenantId, id: &str) -> Subscription {
    Subscription {
        id: SubscriptionId(id.to_owned()),
        tenant: tenant.clone(),
        product: ProductId::new("gate-control"),
        plan: PlanId::new("standard"),
        addons: vec![],
        trial: false,
        modules: None,
        status: SubscriptionStatus::Active,
        license_key_hint: "ABCD".into(),
        trial_started_at: None,
        term_ends_at: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn credential(id: &str, kind: CredentialKind, tenant: Option<&TenantId>) -> Credential {
    Credential {
        id: id.to_owned(),
        kind,
        tenant: tenant.cloned(),
        device: None,
        scopes: vec!["devices:read".into()],
        secret_hash: format!("hash-of-{id}"),
        created_at: NOW,
        expires_at: None,
        revoked_at: None,
    }
}

pub(crate) fn new_device(tenant: &TenantId, sub: &str, id: &str, fingerprint: &str) -> NewDevice {
    NewDevice {
        id: DeviceId::new(id),
        tenant: tenant.clone(),
        subscription: SubscriptionId(sub.to_owned()),
        name: format!("box {id}"),
        fingerprint: fingerprint.to_owned(),
        public_key: Some("ed25519:AAAA".into()),
        hardware: serde_json::json!({"ram_mb": 8192}),
        token: credential(&format!("tok-{id}"), CredentialKind::Device, Some(tenant)),
        now: NOW,
        key_proven: true,
    }
}

pub async fn tenants_round_trip(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    let id = tenant(&*store, "t1").await;
    assert_eq!(store.get_tenant(&id).await.unwrap().name, "Tenant t1");
    let again = Tenant {
        id: id.clone(),
        name: "dup".into(),
        created_at: NOW,
    };
    assert!(matches!(
        store.create_tenant(&again).await,
        Err(StoreError::Conflict(ConflictKind::DuplicateId))
    ));
    assert_eq!(
        store.get_tenant(&id).await.unwrap().name,
        "Tenant t1",
        "a failed create changes nothing"
    );
    assert!(matches!(
        store.get_tenant(&TenantId::new("nope")).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_tenants().await.unwrap().len(), 1);
}

pub async fn catalog_versions_are_immutable(store: Arc<dyn Store>) {
    let product = ProductId::new("gate-control");
    let v1 = store
        .put_catalog(&product, "1", "text one", NOW)
        .await
        .unwrap();
    assert_eq!(v1.revision, 1);
    let same = store
        .put_catalog(&product, "1", "text one", NOW)
        .await
        .unwrap();
    assert_eq!(same.revision, 1, "re-uploading the same version is a no-op");
    let changed = store.put_catalog(&product, "1", "text changed", NOW).await;
    assert!(matches!(
        changed,
        Err(StoreError::Conflict(ConflictKind::CatalogVersionExists))
    ));
    let v2 = store
        .put_catalog(&product, "2", "text two", NOW)
        .await
        .unwrap();
    assert_eq!(v2.revision, 2);
    let latest = store.latest_catalog(&product).await.unwrap();
    assert_eq!(
        (latest.version.as_str(), latest.source.as_str()),
        ("2", "text two")
    );
    store
        .put_catalog(&ProductId::new("foxsight-vms"), "9", "fox", NOW)
        .await
        .unwrap();
    let products: Vec<String> = store
        .list_products()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.version)
        .collect();
    assert_eq!(
        products,
        ["9", "2"],
        "latest version per product, by product id"
    );
    assert!(matches!(
        store.latest_catalog(&ProductId::new("none")).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn subscriptions_are_scoped_by_tenant(store: Arc<dyn Store>) {
    let a = tenant(&*store, "a").await;
    let b = tenant(&*store, "b").await;
    let mut sub = subscription(&a, "sub-a");
    sub.addons = vec![licet_core::resolve::AddonGrant {
        id: "x".into(),
        quantity: 3,
    }];
    sub.modules = Some(vec!["vehicle.make".into()]);
    store.create_subscription(&sub, "keyhash-a").await.unwrap();
    assert_eq!(
        store.get_subscription(Some(&a), &sub.id).await.unwrap(),
        sub
    );
    assert!(matches!(
        store.get_subscription(Some(&b), &sub.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.list_subscriptions(&b).await.unwrap().is_empty());
    assert_eq!(
        store
            .find_subscription_by_key("keyhash-a")
            .await
            .unwrap()
            .id,
        sub.id
    );
    let clash = store
        .create_subscription(&subscription(&b, "sub-b"), "keyhash-a")
        .await;
    assert!(
        matches!(
            clash,
            Err(StoreError::Conflict(ConflictKind::DuplicateLicenseKey))
        ),
        "{clash:?}"
    );

    let mut changed = sub.clone();
    changed.status = SubscriptionStatus::Suspended;
    changed.plan = PlanId::new("professional");
    changed.updated_at = NOW + Duration::hours(1);
    store.update_subscription(&changed).await.unwrap();
    assert_eq!(
        store.get_subscription(Some(&a), &sub.id).await.unwrap(),
        changed
    );
    // Another tenant cannot change it, even knowing the id.
    let mut hijack = changed.clone();
    hijack.tenant = b.clone();
    hijack.status = SubscriptionStatus::Cancelled;
    assert!(matches!(
        store.update_subscription(&hijack).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .get_subscription(Some(&a), &sub.id)
            .await
            .unwrap()
            .status,
        SubscriptionStatus::Suspended
    );
}

pub async fn activation_enforces_the_device_limit(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    let first = store
        .activate_device(&new_device(&t, "s", "d1", "fp1"), 2)
        .await
        .unwrap();
    assert!(
        matches!(first, Activation::Created(ref d) if d.id.as_str() == "d1" && d.status == DeviceStatus::Active)
    );
    assert!(matches!(
        store
            .activate_device(&new_device(&t, "s", "d2", "fp2"), 2)
            .await
            .unwrap(),
        Activation::Created(_)
    ));
    assert_eq!(
        store
            .activate_device(&new_device(&t, "s", "d3", "fp3"), 2)
            .await
            .unwrap(),
        Activation::TooManyDevices { max_devices: 2 }
    );
    assert!(matches!(
        store.get_device(None, &DeviceId::new("d3")).await,
        Err(StoreError::NotFound)
    ));

    // The same fingerprint again: the same device, a new token, the old one revoked.
    let mut again = new_device(&t, "s", "d9", "fp1");
    again.token.id = "tok-d1-second".into();
    match store.activate_device(&again, 2).await.unwrap() {
        Activation::Reactivated(device) => assert_eq!(device.id.as_str(), "d1"),
        other => panic!("expected reactivation, got {other:?}"),
    }
    assert!(
        store
            .find_credential("tok-d1")
            .await
            .unwrap()
            .revoked_at
            .is_some()
    );
    let token = store.find_credential("tok-d1-second").await.unwrap();
    assert_eq!(
        (
            token.device.as_ref().map(DeviceId::as_str),
            token.revoked_at
        ),
        (Some("d1"), None)
    );

    // Deactivation frees the slot.
    store
        .deactivate_device(&DeviceId::new("d2"), NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_device(Some(&t), &DeviceId::new("d2"))
            .await
            .unwrap()
            .status,
        DeviceStatus::Deactivated
    );
    assert!(
        store
            .find_credential("tok-d2")
            .await
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(matches!(
        store
            .activate_device(&new_device(&t, "s", "d3", "fp3"), 2)
            .await
            .unwrap(),
        Activation::Created(_)
    ));

    // Scoping: another tenant neither sees nor activates on this subscription.
    let other = tenant(&*store, "other").await;
    assert!(matches!(
        store.get_device(Some(&other), &DeviceId::new("d1")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .activate_device(&new_device(&other, "s", "d4", "fp4"), 9)
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_devices(&t).await.unwrap().len(), 3);
    assert!(store.list_devices(&other).await.unwrap().is_empty());
}

/// Many first activations of one box at once (an agent retrying, two processes on one
/// host): one device, one slot; every other attempt re-activates it.
pub async fn concurrent_activations_of_one_fingerprint_make_one_device(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            let device = new_device(&t, "s", &format!("d{i}"), "same-box");
            tokio::spawn(async move { store.activate_device(&device, 3).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Activation::Created(_) => created += 1,
            Activation::Reactivated(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.list_devices(&t).await.unwrap().len(), 1);
    // Whatever order the attempts' token writes landed in, one token is alive.
    let mut alive = 0;
    for i in 0..12 {
        let token = store.find_credential(&format!("tok-d{i}")).await.unwrap();
        alive += usize::from(token.revoked_at.is_none());
    }
    assert_eq!(alive, 1, "one live token for one device");
    // One slot taken: two other boxes fit under a limit of three, a third does not.
    for (id, fingerprint) in [("x1", "box-1"), ("x2", "box-2")] {
        let outcome = store
            .activate_device(&new_device(&t, "s", id, fingerprint), 3)
            .await
            .unwrap();
        assert!(matches!(outcome, Activation::Created(_)), "{outcome:?}");
    }
    assert!(matches!(
        store
            .activate_device(&new_device(&t, "s", "x3", "box-3"), 3)
            .await
            .unwrap(),
        Activation::TooManyDevices { max_devices: 3 }
    ));
}

pub async fn concurrent_activations_never_exceed_the_limit(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            let device = new_device(&t, "s", &format!("d{i}"), &format!("fp{i}"));
            tokio::spawn(async move { store.activate_device(&device, 5).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Activation::Created(_) => created += 1,
            Activation::TooManyDevices { max_devices: 5 } => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((created, refused), (5, 45));
    assert_eq!(store.list_devices(&t).await.unwrap().len(), 5);
}

pub async fn license_sequence_blocks_are_disjoint_and_increase_under_concurrency(
    store: Arc<dyn Store>,
) {
    let tasks: Vec<_> = (0..20u64)
        .map(|i| {
            let store = store.clone();
            let count = 1 + i % 3 * 500;
            tokio::spawn(async move {
                let high = store.reserve_license_sequences(count).await.unwrap();
                (high + 1 - count)..=high
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for task in tasks {
        for number in task.await.unwrap() {
            assert!(seen.insert(number), "{number} was reserved twice");
        }
    }
    let highest = *seen.last().unwrap();
    assert_eq!(
        seen.len() as u64,
        highest,
        "no gap between blocks: {highest}"
    );
    assert_eq!(
        store.reserve_license_sequences(1).await.unwrap(),
        highest + 1,
        "a later block starts above every earlier one"
    );
    assert!(matches!(
        store.reserve_license_sequences(0).await,
        Err(StoreError::Config(_))
    ));
}

pub async fn heartbeats_record_cameras_per_tenant(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    store
        .activate_device(&new_device(&t, "s", "d", "fp"), 1)
        .await
        .unwrap();
    let beat = |cameras: &[&str], at: OffsetDateTime| Heartbeat {
        agent_version: Some("0.1.0".into()),
        metrics: serde_json::json!({"cpu": 0.5}),
        running_modules: vec!["core.detection".into()],
        active_cameras: cameras.iter().map(|c| c.to_string()).collect(),
        license_sequence: Some(7),
        now: Some(at),
    };
    let device = DeviceId::new("d");
    store
        .record_heartbeat(&device, &beat(&["cam-1", "cam-2"], NOW))
        .await
        .unwrap();
    store
        .record_heartbeat(&device, &beat(&["cam-2"], NOW + Duration::hours(1)))
        .await
        .unwrap();
    let cameras = store.list_cameras(&t, &device).await.unwrap();
    assert_eq!(cameras.len(), 2);
    assert_eq!(cameras[1].camera_id, "cam-2");
    assert_eq!(cameras[1].first_seen, NOW);
    assert_eq!(cameras[1].last_seen, NOW + Duration::hours(1));
    let stored = store.get_device(Some(&t), &device).await.unwrap();
    assert_eq!(stored.last_heartbeat_at, Some(NOW + Duration::hours(1)));
    assert_eq!(stored.running_modules, ["core.detection"]);
    assert_eq!(stored.license_sequence, 7, "as the device reported it");
    let other = tenant(&*store, "other").await;
    assert!(
        store
            .list_cameras(&other, &device)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .record_heartbeat(&DeviceId::new("ghost"), &beat(&[], NOW))
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn credentials_and_the_bootstrap_admin(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    let key = credential("key-1", CredentialKind::Tenant, Some(&t));
    store.create_credential(&key).await.unwrap();
    assert_eq!(store.find_credential("key-1").await.unwrap(), key);
    assert!(matches!(
        store.find_credential("key-2").await,
        Err(StoreError::NotFound)
    ));

    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_bootstrap_admin(&credential(
                        &format!("admin-{i}"),
                        CredentialKind::Admin,
                        None,
                    ))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        created += usize::from(task.await.unwrap());
    }
    assert_eq!(
        created, 1,
        "exactly one bootstrap admin, however many servers start at once"
    );
}

pub async fn signing_keys_register_once(store: Arc<dyn Store>) {
    let key = SigningKeyRecord {
        key_id: "k1".into(),
        public_key: "ed25519:AAAA".into(),
        created_at: NOW,
    };
    store.register_signing_key(&key).await.unwrap();
    store.register_signing_key(&key).await.unwrap();
    let later = SigningKeyRecord {
        key_id: "k2".into(),
        public_key: "ed25519:BBBB".into(),
        created_at: NOW + Duration::days(1),
    };
    store.register_signing_key(&later).await.unwrap();
    assert_eq!(store.list_signing_keys().await.unwrap(), [key, later]);
}
