//! Retention of the usage detail: dropping old months (a partition on PostgreSQL)
//! changes no invoice, chart, total or quota, and replays of dropped usage still count
//! once.

use super::*;

/// Everything a vendor or tenant reads about October and November.
#[derive(Debug, PartialEq)]
struct Readings {
    october_claimed: RatingQuantities,
    october_late: RatingQuantities,
    november: RatingQuantities,
    daily: Vec<UsageBucket>,
    by_camera: Vec<UsageBucket>,
    total: u64,
    device_total: u64,
    counted: std::collections::BTreeMap<String, u64>,
    earliest_unclaimed: Option<OffsetDateTime>,
}

async fn readings(store: &dyn Store, t: &TenantId) -> Readings {
    let s = SubscriptionId("s".into());
    let october = datetime!(2026-10-01 00:00 UTC);
    let november = datetime!(2026-11-01 00:00 UTC);
    let december = datetime!(2026-12-01 00:00 UTC);
    let series = |camera: Option<&str>| UsageQuery {
        tenant: t.clone(),
        device: None,
        camera: camera.map(str::to_owned),
        meter: None,
        from: october,
        to: december,
        window: Window::Day,
    };
    Readings {
        october_claimed: store
            .rating_quantities(&s, october, november, &Booking::ClaimedIn("2026-10".into()))
            .await
            .unwrap(),
        october_late: store
            .rating_quantities(&s, october, november, &Booking::Unclaimed)
            .await
            .unwrap(),
        november: store
            .rating_quantities(&s, november, december, &Booking::Any)
            .await
            .unwrap(),
        daily: store.usage_series(&series(None)).await.unwrap(),
        by_camera: store.usage_series(&series(Some("cam-1"))).await.unwrap(),
        total: store.usage_total(t, None, "api_call").await.unwrap(),
        device_total: store
            .usage_total(t, Some(&DeviceId::new("d")), "api_call")
            .await
            .unwrap(),
        counted: store.counted_usage(t, &s, october, december).await.unwrap(),
        earliest_unclaimed: store
            .earliest_usage(&s, november, &Booking::Unclaimed)
            .await
            .unwrap(),
    }
}

pub async fn dropping_old_usage_detail_keeps_invoices_and_charts(store: Arc<dyn Store>) {
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
    let on_camera = |sequence, quantity, at| {
        let mut event = device_event(sequence, "api_call", quantity, at);
        event.camera_id = Some("cam-1".into());
        event
    };
    // October: device usage on a camera, camera-days, a back-end event; November too.
    store
        .ingest_device_usage(
            &device,
            &[
                on_camera(1, 100, datetime!(2026-10-03 10:15 UTC)),
                on_camera(2, 5, datetime!(2026-10-03 10:45 UTC)),
                device_event(3, "camera_day", 1, datetime!(2026-10-30 00:00 UTC)),
                device_event(4, "camera_day", 2, datetime!(2026-10-30 00:00 UTC)),
                device_event(5, "api_call", 40, datetime!(2026-11-02 08:00 UTC)),
            ],
            NOW,
        )
        .await
        .unwrap();
    store
        .ingest_external_usage(
            &t,
            &[
                external_event("oct-1", 7, datetime!(2026-10-20 12:00 UTC)),
                external_event("nov-1", 3, datetime!(2026-11-03 12:00 UTC)),
            ],
            NOW,
        )
        .await
        .unwrap();
    store
        .issue_invoice(&s, "2026-10", datetime!(2026-11-01 00:00 UTC), NOW)
        .await
        .unwrap();
    // A late October event after the invoice: unclaimed, for the next invoice.
    store
        .ingest_device_usage(
            &device,
            &[on_camera(6, 11, datetime!(2026-10-31 23:30 UTC))],
            NOW,
        )
        .await
        .unwrap();
    let before = readings(&*store, &t).await;
    assert_eq!(before.october_claimed.meters["api_call"], (112, 0));
    assert_eq!(before.october_claimed.cameras_per_day[29], 2);
    assert_eq!(before.october_late.meters["api_call"], (11, 0));
    assert_eq!(before.november.meters["api_call"], (43, 0));
    assert_eq!(before.total, 166);
    assert_eq!(before.device_total, 156);
    assert_eq!(
        before.earliest_unclaimed,
        Some(datetime!(2026-10-31 23:00 UTC)),
        "to the hour"
    );
    let day = |buckets: &[UsageBucket], at: OffsetDateTime| {
        buckets
            .iter()
            .find(|b| b.start == at && b.meter == "api_call")
            .map(|b| (b.quantity, b.events))
    };
    assert_eq!(
        day(&before.daily, datetime!(2026-10-03 00:00 UTC)),
        Some((105, 2))
    );
    assert_eq!(
        day(&before.by_camera, datetime!(2026-10-31 00:00 UTC)),
        Some((11, 1))
    );

    // Drop everything before November (mid-November: November itself stays).
    let dropped = store
        .drop_usage_detail(datetime!(2026-11-15 00:00 UTC))
        .await
        .unwrap();
    assert_eq!(dropped, ["2026-10"]);
    assert_eq!(readings(&*store, &t).await, before, "nothing read changes");
    assert!(
        store
            .drop_usage_detail(datetime!(2026-11-15 00:00 UTC))
            .await
            .unwrap()
            .is_empty(),
        "dropping again drops nothing"
    );

    // Replays of dropped usage count nothing: the device's (at or below its
    // acknowledgement) and the back-end's (its key outlives the detail).
    let replay = store
        .ingest_device_usage(
            &device,
            &[on_camera(1, 100, datetime!(2026-10-03 10:15 UTC))],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!((replay.stored, replay.duplicates), (0, 1));
    let again = store
        .ingest_external_usage(
            &t,
            &[external_event("oct-1", 7, datetime!(2026-10-20 12:00 UTC))],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(again, [false]);
    assert_eq!(readings(&*store, &t).await, before);

    // A new late October event still lands (its month's detail comes back) and is
    // billed late; the next invoice claims it with the earlier late one.
    store
        .ingest_device_usage(
            &device,
            &[on_camera(7, 2, datetime!(2026-10-15 09:00 UTC))],
            NOW,
        )
        .await
        .unwrap();
    let after = readings(&*store, &t).await;
    assert_eq!(after.october_late.meters["api_call"], (13, 0));
    assert_eq!(after.october_claimed, before.october_claimed);
    store
        .issue_invoice(&s, "2026-11", datetime!(2026-12-01 00:00 UTC), NOW)
        .await
        .unwrap();
    let late = store
        .rating_quantities(
            &s,
            datetime!(2026-10-01 00:00 UTC),
            datetime!(2026-11-01 00:00 UTC),
            &Booking::ClaimedIn("2026-11".into()),
        )
        .await
        .unwrap();
    assert_eq!(late.meters["api_call"], (13, 0));
}

/// A per-camera growth pack's camera-days (`camera_day.<addon>`) are counted per
/// distinct camera and day, apart from the meters and from the plain camera-days, and
/// no quota counter or recount sees them.
pub async fn pack_camera_days_count_distinct_cameras_per_day(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t").await;
    store
        .create_subscription(&subscription(&t, "s"), "k")
        .await
        .unwrap();
    store
        .activate_device(&new_device(&t, "s", "d", "fp"), 1)
        .await
        .unwrap();
    let s = SubscriptionId("s".into());
    let on = |sequence, meter: &str, camera: &str, at| {
        let mut event = device_event(sequence, meter, 1, at);
        event.camera_id = Some(camera.into());
        event
    };
    let pack = "camera_day.advanced_analytics";
    store
        .ingest_device_usage(
            &DeviceId::new("d"),
            &[
                on(1, "camera_day", "cam-1", datetime!(2026-11-02 00:00 UTC)),
                on(2, "camera_day", "cam-2", datetime!(2026-11-02 00:00 UTC)),
                on(3, pack, "cam-1", datetime!(2026-11-02 00:00 UTC)),
                // The same camera and day again (a replay from another path): once.
                on(4, pack, "cam-1", datetime!(2026-11-02 00:00 UTC)),
                on(5, pack, "cam-1", datetime!(2026-11-03 00:00 UTC)),
                on(6, pack, "cam-2", datetime!(2026-11-03 00:00 UTC)),
                on(7, "api_call", "cam-1", datetime!(2026-11-03 09:00 UTC)),
            ],
            NOW,
        )
        .await
        .unwrap();
    let (from, to) = (
        datetime!(2026-11-01 00:00 UTC),
        datetime!(2026-12-01 00:00 UTC),
    );
    let quantities = store
        .rating_quantities(&s, from, to, &Booking::Any)
        .await
        .unwrap();
    let assigned = &quantities.assigned_per_day["advanced_analytics"];
    assert_eq!(assigned.len(), 30);
    assert_eq!(&assigned[..4], [0, 1, 2, 0]);
    assert_eq!(assigned.iter().sum::<u32>(), 3);
    assert_eq!(&quantities.cameras_per_day[..3], [0, 2, 0]);
    assert_eq!(
        quantities.meters.keys().collect::<Vec<_>>(),
        ["api_call"],
        "camera-days are no meter"
    );
    let recounted = store.recount_usage(&s, from, to).await.unwrap();
    assert_eq!(recounted.keys().collect::<Vec<_>>(), ["api_call"]);
}
