//! The law behind quota counters and usage rollups: however uploads, replays, rejected
//! and late events and back-end events interleave (two at a time, concurrently), the
//! running counters a heartbeat reads and the hourly rollups invoices rate equal a
//! recount of the stored events, month by month and day by day, on both databases.

use crate::suite::{NOW, new_device, subscription, tenant};
use licet_core::ids::DeviceId;
use licet_store::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const METERS: [&str; 3] = ["api_call", "frames", "camera_day"];

/// One event: (sequence or id, meter, quantity, day offset from NOW, refused).
type Event = (u64, usize, u64, i64, bool);

#[derive(Clone, Debug)]
enum Op {
    /// A device's batch (device 0 or 1 of subscription `s`).
    Device(usize, Vec<Event>),
    /// A back-end's batch, booked to subscription `s` or `s2`.
    External(usize, Vec<Event>),
}

fn event() -> impl Strategy<Value = Event> {
    (
        1u64..=25,
        0usize..3,
        0u64..1000,
        -75i64..3,
        proptest::bool::weighted(0.1),
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..2, proptest::collection::vec(event(), 1..12)).prop_map(|(d, e)| Op::Device(d, e)),
        (0usize..2, proptest::collection::vec(event(), 1..6)).prop_map(|(s, e)| Op::External(s, e)),
    ]
}

fn at(day: i64) -> OffsetDateTime {
    NOW + Duration::days(day) + Duration::minutes(day.rem_euclid(7) * 97)
}

async fn apply(store: &dyn Store, t: &licet_core::ids::TenantId, op: &Op) {
    match op {
        Op::Device(device, events) => {
            let events: Vec<DeviceUsageEvent> = events
                .iter()
                .map(
                    |&(sequence, meter, quantity, day, refused)| DeviceUsageEvent {
                        sequence,
                        meter: METERS[meter].into(),
                        quantity,
                        unit: None,
                        camera_id: Some(format!("cam-{}", sequence % 3)),
                        cost_minor: None,
                        occurred_at: at(day),
                        attributes: None,
                        rejection: refused.then(|| "refused".into()),
                    },
                )
                .collect();
            store
                .ingest_device_usage(&DeviceId::new(format!("d{device}")), &events, NOW)
                .await
                .unwrap();
        }
        Op::External(sub, events) => {
            let events: Vec<ExternalUsageEvent> = events
                .iter()
                .map(|&(id, meter, quantity, day, _)| ExternalUsageEvent {
                    subscription: SubscriptionId(["s", "s2"][*sub].into()),
                    source: "backend".into(),
                    event_id: format!("e{id}"),
                    meter: METERS[meter].into(),
                    quantity,
                    unit: None,
                    camera_id: None,
                    resource_id: None,
                    cost_minor: None,
                    occurred_at: at(day),
                    attributes: None,
                })
                .collect();
            store.ingest_external_usage(t, &events, NOW).await.unwrap();
        }
    }
}

/// The counters and the recount of the detail over `[from, to)`, meters with nothing
/// left out; the hourly rollups (what invoices rate) are held to the recount too.
async fn both(
    store: &dyn Store,
    t: &licet_core::ids::TenantId,
    sub: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let subscription = SubscriptionId(sub.into());
    let counted = store
        .counted_usage(t, &subscription, from, to)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, quantity)| *quantity > 0)
        .collect();
    let recounted: BTreeMap<String, u64> = store
        .recount_usage(&subscription, from, to)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, quantity)| *quantity > 0)
        .collect();
    let rolled_up: BTreeMap<String, u64> = store
        .rating_quantities(&subscription, from, to, &Booking::Any)
        .await
        .unwrap()
        .meters
        .into_iter()
        .map(|(meter, (quantity, _))| (meter, quantity))
        .filter(|(_, quantity)| *quantity > 0)
        .collect();
    assert_eq!(rolled_up, recounted, "rollups of {sub} from {from} to {to}");
    (counted, recounted)
}

async fn check(store: Arc<dyn Store>, ops: &[Op]) {
    let t = tenant(&*store, "t").await;
    for sub in ["s", "s2"] {
        store
            .create_subscription(&subscription(&t, sub), &format!("k-{sub}"))
            .await
            .unwrap();
    }
    for device in 0..2 {
        let id = format!("d{device}");
        store
            .activate_device(&new_device(&t, "s", &id, &format!("fp-{id}")), 5)
            .await
            .unwrap();
    }
    for pair in ops.chunks(2) {
        match pair {
            [one, two] => {
                tokio::join!(apply(&*store, &t, one), apply(&*store, &t, two));
            }
            [one] => apply(&*store, &t, one).await,
            _ => unreachable!("chunks of two"),
        }
    }
    let months = [
        datetime!(2026-08-01 00:00 UTC),
        datetime!(2026-09-01 00:00 UTC),
        datetime!(2026-10-01 00:00 UTC),
        datetime!(2026-11-01 00:00 UTC),
        datetime!(2026-12-01 00:00 UTC),
    ];
    for sub in ["s", "s2"] {
        for window in months.windows(2) {
            let (counted, recounted) = both(&*store, &t, sub, window[0], window[1]).await;
            assert_eq!(counted, recounted, "{sub}, month from {}", window[0]);
        }
        // A single day (day-period quotas).
        let day = datetime!(2026-10-31 00:00 UTC);
        let (counted, recounted) = both(&*store, &t, sub, day, day + Duration::days(1)).await;
        assert_eq!(counted, recounted, "{sub}, day {day}");
    }
}

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(16)
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn counters_equal_a_recount_on_sqlite(ops in proptest::collection::vec(op(), 1..14)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let (_dir, store) = crate::sqlite().await;
            check(store, &ops).await;
        });
    }

    #[test]
    fn counters_equal_a_recount_on_postgres(ops in proptest::collection::vec(op(), 1..14)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            if let Some((store, url, schema)) = crate::postgres().await {
                check(store, &ops).await;
                crate::drop_schema(&url, &schema).await;
            }
        });
    }
}
