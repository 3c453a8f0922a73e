//! Usage, series, invoices and sums: the metering half of the suite.

use super::*;

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

pub(crate) fn external_event(id: &str, quantity: u64, at: OffsetDateTime) -> ExternalUsageEvent {
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

/// Two back-ends (or one retrying) sending the same ids in opposite orders at once:
/// both batches succeed, each id is stored once, and no transaction is aborted as a
/// deadlock (keys are taken in key order, not the batch's).
pub async fn concurrent_batches_in_opposite_orders_both_succeed(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    let mut expected = 0;
    for round in 0..20u64 {
        let forward: Vec<_> = (0..16u64)
            .map(|i| external_event(&format!("r{round}-{i}"), i + 1, NOW))
            .collect();
        let backward: Vec<_> = forward.iter().rev().cloned().collect();
        let (one, two) = tokio::join!(
            store.ingest_external_usage(&t, &forward, NOW),
            store.ingest_external_usage(&t, &backward, NOW)
        );
        let (one, two) = (one.unwrap(), two.unwrap());
        // Each id stored by exactly one of the two batches.
        for i in 0..16 {
            assert!(
                one[i] ^ two[15 - i],
                "round {round}, id {i}: {one:?} {two:?}"
            );
        }
        expected += (1..=16u64).sum::<u64>();
    }
    assert_eq!(
        store.usage_total(&t, None, "api_call").await.unwrap(),
        expected
    );
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

/// A reserved block is committed: another connection (another server process, or the
/// same server after a restart) reserves above it at once.
pub async fn a_reserved_license_block_is_visible_to_another_connection_at_once(
    store: Arc<dyn Store>,
    other: Arc<dyn Store>,
) {
    let high = store.reserve_license_sequences(1000).await.unwrap();
    assert_eq!(other.reserve_license_sequences(1).await.unwrap(), high + 1);
    assert_eq!(store.reserve_license_sequences(1).await.unwrap(), high + 2);
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
