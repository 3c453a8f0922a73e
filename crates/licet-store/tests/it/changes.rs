//! The change generation caches rely on: it moves after every write that changes a
//! device session or a catalog, in the writing process at once and, on PostgreSQL, in
//! every other process through `NOTIFY`; reads and usage do not move it.

use crate::suite::{NOW, new_device, subscription, tenant};
use licet_core::ids::{DeviceId, ProductId};
use licet_store::postgres::PgStore;
use licet_store::{DeviceUsageEvent, Store, SubscriptionStatus};
use std::time::Duration;

/// Waits (at most 5 s) until `store`'s generation is known and differs from `before`.
async fn moved_from(store: &dyn Store, before: Option<u64>) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match store.changes().generation() {
            Some(now) if Some(now) != before => return now,
            _ if tokio::time::Instant::now() > deadline => {
                panic!("the generation did not move from {before:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// `what` moved the writer's generation (from `before`) before it returned, and the
/// other store's (from `other_seen`) soon after; the other store's new generation.
async fn check(
    writer: &dyn Store,
    other: &dyn Store,
    what: &str,
    before: Option<u64>,
    other_seen: u64,
) -> u64 {
    assert_ne!(
        writer.changes().generation(),
        before,
        "{what} moved the writer's generation before returning"
    );
    moved_from(other, Some(other_seen)).await
}

/// Every write a cache depends on moves `writer`'s generation before it returns and
/// `other`'s soon after; what caches do not hold moves neither.
async fn writes_move_the_generation(writer: &dyn Store, other: &dyn Store) {
    let t = tenant(writer, "t").await;
    let mut sub = subscription(&t, "s");
    writer.create_subscription(&sub, "k").await.unwrap();
    writer
        .activate_device(&new_device(&t, "s", "d", "fp"), 5)
        .await
        .unwrap();
    let mut other_seen = moved_from(other, None).await;
    let before = writer.changes().generation();
    sub.status = SubscriptionStatus::Suspended;
    writer.update_subscription(&sub).await.unwrap();
    other_seen = check(writer, other, "a suspension", before, other_seen).await;
    let before = writer.changes().generation();
    writer
        .activate_device(&new_device(&t, "s", "d2", "fp"), 5)
        .await
        .unwrap();
    other_seen = check(
        writer,
        other,
        "a re-activation (it revokes the token)",
        before,
        other_seen,
    )
    .await;
    let before = writer.changes().generation();
    writer
        .deactivate_device(&DeviceId::new("d"), NOW)
        .await
        .unwrap();
    other_seen = check(writer, other, "a deactivation", before, other_seen).await;
    let before = writer.changes().generation();
    writer
        .put_catalog(&ProductId::new("gate-control"), "1.0.0", "x", NOW)
        .await
        .unwrap();
    check(writer, other, "a catalog upload", before, other_seen).await;
    // Usage, reads and sequence blocks change no session. Read on the other store: it
    // has heard each write above once, so nothing is still on its way to it (the
    // writer also hears its own notifications, a moment after its own move).
    let before = other.changes().generation();
    writer
        .activate_device(&new_device(&t, "s", "d3", "fp3"), 5)
        .await
        .unwrap();
    writer
        .ingest_device_usage(
            &DeviceId::new("d3"),
            &[DeviceUsageEvent {
                sequence: 1,
                meter: "api_calls".into(),
                quantity: 1,
                unit: None,
                camera_id: None,
                cost_minor: None,
                occurred_at: NOW,
                attributes: None,
                rejection: None,
            }],
            NOW,
        )
        .await
        .unwrap();
    writer.reserve_license_sequences(10).await.unwrap();
    writer.get_subscription(None, &sub.id).await.unwrap();
    // Long enough for a notification to arrive, had one been sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(other.changes().generation(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writes_move_the_generation() {
    let (_dir, store) = crate::sqlite().await;
    assert!(
        store.changes().generation().is_some(),
        "one process hears all"
    );
    writes_move_the_generation(store.as_ref(), store.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_writes_move_every_replicas_generation() {
    let Some((writer, url, schema)) = crate::postgres().await else {
        return;
    };
    let other = PgStore::connect_in_schema(&url, &schema).await.unwrap();
    writes_move_the_generation(writer.as_ref(), &other).await;
    drop(other);
    drop(writer);
    crate::drop_schema(&url, &schema).await;
}
