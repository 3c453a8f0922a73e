//! The store conformance suite: every behaviour runs against SQLite always and against
//! PostgreSQL when `LICET_TEST_POSTGRES_URL` is set. With `CI=true` and no URL the
//! PostgreSQL tests fail instead of skipping, so CI can never pass without them.

// Helpers shared by tests may panic: a panic here is a test failure, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod changes;
mod counters;
mod replay;
mod suite;

use licet_store::Store;
use licet_store::postgres::PgStore;
use licet_store::sqlite::SqliteStore;
use std::sync::Arc;

pub(crate) async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("licet.db"))
        .await
        .unwrap();
    (dir, Arc::new(store))
}

/// A PostgreSQL store in a fresh schema (with the URL and schema, to drop it after), or
/// `None` when not configured (outside CI).
pub(crate) async fn postgres() -> Option<(Arc<dyn Store>, String, String)> {
    let url = match std::env::var("LICET_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but LICET_TEST_POSTGRES_URL is not set: the PostgreSQL store must be tested in CI"
            )
        }
        _ => {
            eprintln!("LICET_TEST_POSTGRES_URL not set: skipping the PostgreSQL store outside CI");
            return None;
        }
    };
    let schema = licet_host::random::id("licet_test_").unwrap();
    let store = PgStore::connect_in_schema(&url, &schema)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"));
    Some((Arc::new(store), url, schema))
}

/// Drops a test schema once its test passed (a failed test leaves it for inspection).
pub(crate) async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let (_dir, store) = crate::sqlite().await;
                    crate::suite::$name(store).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some((store, url, schema)) = crate::postgres().await {
                        crate::suite::$name(store).await;
                        crate::drop_schema(&url, &schema).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    tenants_round_trip,
    dropping_old_usage_detail_keeps_invoices_and_charts,
    pack_camera_days_count_distinct_cameras_per_day,
    catalog_versions_are_immutable,
    subscriptions_are_scoped_by_tenant,
    activation_enforces_the_device_limit,
    concurrent_activations_never_exceed_the_limit,
    concurrent_activations_of_one_fingerprint_make_one_device,
    license_sequence_blocks_are_disjoint_and_increase_under_concurrency,
    heartbeats_record_cameras_per_tenant,
    credentials_and_the_bootstrap_admin,
    signing_keys_register_once,
    device_usage_is_stored_once_and_acknowledged_contiguously,
    external_usage_is_deduplicated_per_tenant_source_and_id,
    concurrent_batches_in_opposite_orders_both_succeed,
    usage_series_buckets_by_window_and_narrows_by_device_and_camera,
    invoices_claim_usage_once_and_late_usage_goes_to_the_next,
    devices_count_in_the_months_they_were_active,
    huge_stored_quantities_never_make_a_sum_fail,
);

#[test]
fn migrations_have_matching_names() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |sub: &str| {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let postgres = names("postgres");
    assert!(!postgres.is_empty());
    assert_eq!(postgres, names("sqlite"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_sequences_are_committed_before_they_are_handed_out() {
    let (dir, store) = sqlite().await;
    let other: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("licet.db"))
            .await
            .unwrap(),
    );
    suite::a_reserved_license_block_is_visible_to_another_connection_at_once(store, other).await;
}
