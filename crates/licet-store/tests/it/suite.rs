//! The behaviours every store must have, written once against `dyn Store`.

use licet_core::ids::{DeviceId, PlanId, ProductId, TenantId};
use licet_store::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

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

pub async fn license_sequences_strictly_increase_under_concurrency(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    store
        .activate_device(&new_device(&t, "s", "d", "fp"), 1)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .next_license_sequence(&DeviceId::new("d"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for task in tasks {
        assert!(
            seen.insert(task.await.unwrap()),
            "a sequence was handed out twice"
        );
    }
    assert_eq!(seen, (1..=20).collect());
    assert_eq!(
        store
            .get_device(None, &DeviceId::new("d"))
            .await
            .unwrap()
            .license_sequence,
        20
    );
    assert!(matches!(
        store.next_license_sequence(&DeviceId::new("ghost")).await,
        Err(StoreError::NotFound)
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
        running_modules: vec!["detection.vehicle".into()],
        active_cameras: cameras.iter().map(|c| c.to_string()).collect(),
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
    assert_eq!(stored.running_modules, ["detection.vehicle"]);
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

pub async fn device_usage_is_stored_once_and_acknowledged_contiguously(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    store
        .activate_device(&new_device(&t, "s", "d", "fp"), 1)
        .await
        .unwrap();
    let device = DeviceId::new("d");
    let event = |sequence: u64, quantity: u64| DeviceUsageEvent {
        sequence,
        meter: "api_call".into(),
        quantity,
        unit: None,
        camera_id: Some("cam-1".into()),
        cost_minor: None,
        occurred_at: NOW,
        attributes: Some(serde_json::json!({"route": "/plates"})),
        rejection: None,
    };
    // 1, 2 and 4 arrive; 3 is missing, so only 1..=2 is acknowledged.
    let first = store
        .ingest_device_usage(&device, &[event(1, 10), event(2, 20), event(4, 40)], NOW)
        .await
        .unwrap();
    assert_eq!(
        first,
        UsageIngested {
            stored: 3,
            duplicates: 0,
            acknowledged_through: 2
        }
    );
    // 3 arrives with a replay of 2: the gap closes, nothing is counted twice.
    let mut rejected = event(5, 1000);
    rejected.rejection = Some("unknown meter".into());
    let second = store
        .ingest_device_usage(&device, &[event(2, 20), event(3, 30), rejected], NOW)
        .await
        .unwrap();
    assert_eq!(
        second,
        UsageIngested {
            stored: 2,
            duplicates: 1,
            acknowledged_through: 5
        }
    );
    assert_eq!(store.usage_total(&t, None, "api_call").await.unwrap(), 100);
    assert_eq!(
        store
            .usage_total(&t, Some(&device), "api_call")
            .await
            .unwrap(),
        100,
        "rejected events are kept but not counted"
    );
    let other = tenant(&*store, "other").await;
    assert_eq!(
        store.usage_total(&other, None, "api_call").await.unwrap(),
        0
    );
    assert!(matches!(
        store
            .ingest_device_usage(&DeviceId::new("ghost"), &[event(1, 1)], NOW)
            .await,
        Err(StoreError::NotFound)
    ));
}

pub(crate) fn device_event(
    sequence: u64,
    meter: &str,
    quantity: u64,
    at: OffsetDateTime,
) -> DeviceUsageEvent {
    DeviceUsageEvent {
        sequence,
        meter: meter.into(),
        quantity,
        unit: None,
        camera_id: (meter == "camera_day").then(|| format!("cam-{}", quantity)),
        cost_minor: None,
        occurred_at: at,
        attributes: None,
        rejection: None,
    }
}

fn external_event(id: &str, quantity: u64, at: OffsetDateTime) -> ExternalUsageEvent {
    ExternalUsageEvent {
        subscription: SubscriptionId("s".into()),
        source: "https://vendor.example/billing".into(),
        event_id: id.into(),
        meter: "api_call".into(),
        quantity,
        unit: None,
        camera_id: None,
        resource_id: Some("model-a".into()),
        cost_minor: None,
        occurred_at: at,
        attributes: None,
    }
}

pub async fn external_usage_is_deduplicated_per_tenant_source_and_id(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    let stored = store
        .ingest_external_usage(
            &t,
            &[
                external_event("a", 5, NOW),
                external_event("b", 7, NOW),
                external_event("a", 5, NOW),
            ],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(stored, [true, true, false], "a repeat in the same batch");
    let again = store
        .ingest_external_usage(&t, &[external_event("b", 7, NOW)], NOW)
        .await
        .unwrap();
    assert_eq!(again, [false]);
    assert_eq!(store.usage_total(&t, None, "api_call").await.unwrap(), 12);
}

pub async fn usage_series_buckets_by_window_and_narrows_by_device_and_camera(
    store: Arc<dyn Store>,
) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    store
        .activate_device(&new_device(&t, "s", "d", "fp"), 1)
        .await
        .unwrap();
    let device = DeviceId::new("d");
    let at = |text: &str| {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    };
    let mut events = vec![
        device_event(1, "api_call", 3, at("2026-11-02T09:15:00Z")),
        device_event(2, "api_call", 4, at("2026-11-02T09:59:59.999Z")),
        // Another offset: booked by its UTC time (10:30Z).
        device_event(3, "api_call", 5, at("2026-11-02T12:30:00.5+02:00")),
        device_event(4, "api_call", 6, at("2026-11-03T00:00:00Z")),
        device_event(5, "camera_day", 1, at("2026-11-02T00:00:00Z")),
    ];
    events[0].camera_id = Some("lobby".into());
    store
        .ingest_device_usage(&device, &events, NOW)
        .await
        .unwrap();
    let query = |window, camera: Option<&str>| UsageQuery {
        tenant: t.clone(),
        device: Some(device.clone()),
        camera: camera.map(Into::into),
        meter: Some("api_call".into()),
        from: at("2026-11-01T00:00:00Z"),
        to: at("2026-12-01T00:00:00Z"),
        window,
    };
    let summary = |buckets: Vec<UsageBucket>| -> Vec<(String, u64, u64)> {
        buckets
            .into_iter()
            .map(|b| {
                (
                    b.start
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap(),
                    b.quantity,
                    b.events,
                )
            })
            .collect()
    };
    assert_eq!(
        summary(
            store
                .usage_series(&query(Window::Hour, None))
                .await
                .unwrap()
        ),
        [
            ("2026-11-02T09:00:00Z".to_owned(), 7, 2),
            ("2026-11-02T10:00:00Z".to_owned(), 5, 1),
            ("2026-11-03T00:00:00Z".to_owned(), 6, 1),
        ]
    );
    assert_eq!(
        summary(store.usage_series(&query(Window::Day, None)).await.unwrap()),
        [
            ("2026-11-02T00:00:00Z".to_owned(), 12, 3),
            ("2026-11-03T00:00:00Z".to_owned(), 6, 1),
        ]
    );
    assert_eq!(
        summary(
            store
                .usage_series(&query(Window::Month, None))
                .await
                .unwrap()
        ),
        [("2026-11-01T00:00:00Z".to_owned(), 18, 4)]
    );
    assert_eq!(
        summary(
            store
                .usage_series(&query(Window::Month, Some("lobby")))
                .await
                .unwrap()
        ),
        [("2026-11-01T00:00:00Z".to_owned(), 3, 1)]
    );
    let mut narrow = query(Window::Day, None);
    narrow.to = at("2026-11-03T00:00:00Z");
    assert_eq!(
        summary(store.usage_series(&narrow).await.unwrap()),
        [("2026-11-02T00:00:00Z".to_owned(), 12, 3)],
        "`to` is exclusive"
    );
    let other = tenant(&*store, "other").await;
    let mut foreign = query(Window::Month, None);
    foreign.tenant = other;
    assert!(store.usage_series(&foreign).await.unwrap().is_empty());
}

/// An invoice claims what occurred before its month's end; what arrives later for that
/// month is claimed by the next invoice, once.
pub async fn invoices_claim_usage_once_and_late_usage_goes_to_the_next(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    store
        .activate_device(&new_device(&t, "s", "d", "fp"), 1)
        .await
        .unwrap();
    let device = DeviceId::new("d");
    let s = SubscriptionId("s".into());
    let october = datetime!(2026-10-01 00:00 UTC);
    let november = datetime!(2026-11-01 00:00 UTC);
    let december = datetime!(2026-12-01 00:00 UTC);
    store
        .ingest_device_usage(
            &device,
            &[
                device_event(1, "api_call", 100, datetime!(2026-10-30 10:00 UTC)),
                device_event(2, "camera_day", 1, datetime!(2026-10-30 00:00 UTC)),
                device_event(3, "camera_day", 2, datetime!(2026-10-30 00:00 UTC)),
                device_event(4, "camera_day", 1, datetime!(2026-10-31 00:00 UTC)),
            ],
            NOW,
        )
        .await
        .unwrap();
    let quantities = store
        .rating_quantities(&s, october, november, &Booking::Any)
        .await
        .unwrap();
    assert_eq!(quantities.meters["api_call"], (100, 0));
    assert_eq!(quantities.cameras_per_day.len(), 31);
    assert_eq!(quantities.cameras_per_day[29..], [2, 1]);

    store
        .issue_invoice(&s, "2026-10", november, NOW)
        .await
        .unwrap();
    assert!(matches!(
        store.issue_invoice(&s, "2026-10", november, NOW).await,
        Err(StoreError::Conflict(ConflictKind::InvoiceIssued))
    ));
    assert!(matches!(
        store.issue_invoice(&s, "2026-09", october, NOW).await,
        Err(StoreError::Conflict(ConflictKind::InvoiceIssued))
    ));
    // October usage arriving after October was invoiced, and November usage.
    store
        .ingest_device_usage(
            &device,
            &[
                device_event(5, "api_call", 7, datetime!(2026-10-31 23:00 UTC)),
                device_event(6, "api_call", 50, datetime!(2026-11-05 10:00 UTC)),
            ],
            NOW,
        )
        .await
        .unwrap();
    let october_invoiced = store
        .rating_quantities(
            &s,
            october,
            november,
            &Booking::ClaimedThrough("2026-10".into()),
        )
        .await
        .unwrap();
    assert_eq!(october_invoiced.meters["api_call"], (100, 0));
    let late = store
        .rating_quantities(&s, october, november, &Booking::Unclaimed)
        .await
        .unwrap();
    assert_eq!(late.meters["api_call"], (7, 0));
    assert_eq!(
        store
            .earliest_usage(&s, november, &Booking::Unclaimed)
            .await
            .unwrap(),
        Some(datetime!(2026-10-31 23:00 UTC))
    );

    store
        .issue_invoice(&s, "2026-11", december, NOW)
        .await
        .unwrap();
    let claimed_by_november = |from, to| {
        let store = store.clone();
        let s = s.clone();
        async move {
            let through = store
                .rating_quantities(&s, from, to, &Booking::ClaimedThrough("2026-11".into()))
                .await
                .unwrap();
            let before = store
                .rating_quantities(&s, from, to, &Booking::ClaimedBefore("2026-11".into()))
                .await
                .unwrap();
            (
                through.meters.get("api_call").copied(),
                before.meters.get("api_call").copied(),
            )
        }
    };
    assert_eq!(
        claimed_by_november(october, november).await,
        (Some((107, 0)), Some((100, 0))),
        "the late 7 belong to the November invoice"
    );
    assert_eq!(
        claimed_by_november(november, december).await,
        (Some((50, 0)), None)
    );
    assert!(
        store
            .earliest_usage(&s, december, &Booking::Unclaimed)
            .await
            .unwrap()
            .is_none()
    );
    let invoices = store.list_invoices(&s).await.unwrap();
    assert_eq!(
        invoices
            .iter()
            .map(|i| i.period.as_str())
            .collect::<Vec<_>>(),
        ["2026-10", "2026-11"]
    );
    store
        .put_invoice_document(&s, "2026-10", "{\"total\":1}")
        .await
        .unwrap();
    store
        .put_invoice_document(&s, "2026-10", "{\"total\":2}")
        .await
        .unwrap();
    assert_eq!(
        store.list_invoices(&s).await.unwrap()[0]
            .document
            .as_deref(),
        Some("{\"total\":1}"),
        "an issued document is never rewritten"
    );
}

pub async fn devices_count_in_the_months_they_were_active(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    store
        .activate_device(&new_device(&t, "s", "d1", "fp1"), 5)
        .await
        .unwrap();
    store
        .activate_device(&new_device(&t, "s", "d2", "fp2"), 5)
        .await
        .unwrap();
    let s = SubscriptionId("s".into());
    store
        .deactivate_device(&DeviceId::new("d2"), datetime!(2026-11-10 00:00 UTC))
        .await
        .unwrap();
    let november = (
        datetime!(2026-11-01 00:00 UTC),
        datetime!(2026-12-01 00:00 UTC),
    );
    let december = (
        datetime!(2026-12-01 00:00 UTC),
        datetime!(2027-01-01 00:00 UTC),
    );
    let october = (
        datetime!(2026-10-01 00:00 UTC),
        datetime!(2026-11-01 00:00 UTC),
    );
    assert_eq!(
        store
            .count_devices_active(&s, november.0, november.1)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .count_devices_active(&s, december.0, december.1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .count_devices_active(&s, october.0, october.1)
            .await
            .unwrap(),
        0,
        "activated in November"
    );
}

/// A sequence handed out is committed: another connection (another server process on
/// the same SQLite file, or the same server after a restart) sees it at once.
pub async fn an_issued_license_sequence_is_visible_to_another_connection_at_once(
    store: Arc<dyn Store>,
    other: Arc<dyn Store>,
) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    store
        .activate_device(&new_device(&t, "s", "d", "fp"), 1)
        .await
        .unwrap();
    let device = DeviceId::new("d");
    assert_eq!(store.next_license_sequence(&device).await.unwrap(), 1);
    let seen = other.get_device(Some(&t), &device).await.unwrap();
    assert_eq!(seen.license_sequence, 1);
    assert_eq!(other.next_license_sequence(&device).await.unwrap(), 2);
}

/// Sums saturate instead of failing: whatever slipped into storage (values from before
/// ingestion was bounded, or a bug), a tenant's usage, quota and rating queries answer.
pub async fn huge_stored_quantities_never_make_a_sum_fail(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    let huge = 1u64 << 62;
    let events: Vec<_> = (0..4)
        .map(|i| external_event(&format!("huge-{i}"), huge, NOW))
        .collect();
    store.ingest_external_usage(&t, &events, NOW).await.unwrap();
    let total = store.usage_total(&t, None, "api_call").await.unwrap();
    assert!(total >= huge, "saturated, not wrapped: {total}");
    let series = store
        .usage_series(&UsageQuery {
            tenant: t.clone(),
            device: None,
            camera: None,
            meter: None,
            from: NOW - time::Duration::days(1),
            to: NOW + time::Duration::days(1),
            window: Window::Day,
        })
        .await
        .unwrap();
    assert!(series.iter().all(|b| b.quantity >= huge), "{series:?}");
    store
        .rating_quantities(
            &SubscriptionId("s".into()),
            NOW - time::Duration::days(1),
            NOW + time::Duration::days(1),
            &Booking::Any,
        )
        .await
        .unwrap();
}
