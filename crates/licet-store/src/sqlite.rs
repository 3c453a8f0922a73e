//! The SQLite store: the zero-setup default, one file under the data directory.
//!
//! WAL mode lets readers run beside the single writer. Every writing transaction
//! begins with `BEGIN IMMEDIATE`, taking the database's write lock up front: a deferred
//! transaction would read a snapshot and then fail to upgrade when another writer got
//! in between. Holding that lock is why nothing here locks rows or takes advisory
//! locks. The methods themselves are in [`crate::sql`]; this module is what SQLite
//! does differently.

use crate::changes::Changes;
use crate::error::StoreError;
use crate::model::DeviceUsageEvent;
use crate::usage::UsageOwner;
use licet_core::ids::DeviceId;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;
use time::OffsetDateTime;

/// The SQLite implementation of [`Store`](crate::Store).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    changes: std::sync::Arc<Changes>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and applies migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before the answer. Usage acknowledged to a device
            // is pruned from its outbox, so a power cut must not take it back.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // One server process per database file: every change goes through this store,
        // so it hears them all.
        Ok(SqliteStore {
            pool,
            changes: std::sync::Arc::new(Changes::hearing()),
        })
    }

    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Usage times as fixed-width UTC text (`YYYY-MM-DDTHH:MM:SS.ffffffZ`): SQLite compares
/// them as text, and sqlx's own RFC 3339 drops trailing fractional zeros, which breaks
/// text order within a second.
fn stamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

type Connection = sqlx::SqliteConnection;
type Row = sqlx::sqlite::SqliteRow;

/// Nothing to lock: the transaction began with `BEGIN IMMEDIATE` and holds the write
/// lock.
#[allow(clippy::unused_async, clippy::unnecessary_wraps)] // the PostgreSQL twin waits on a lock
async fn serialise(_tx: &mut Connection, _key: &str) -> Result<(), StoreError> {
    Ok(())
}

/// Nothing to lock, for the same reason.
const FOR_UPDATE: &str = "";

/// Nothing to relax (SQLite's commit holds the one write lock either way): a column
/// that is only a placeholder.
const NO_FLUSH_COLUMN: &str = "NULL";

/// Nothing to flush: every SQLite commit here is as durable as it will be.
#[allow(clippy::unused_async, clippy::unnecessary_wraps)] // the PostgreSQL twin writes a row
async fn make_durable(_store: &SqliteStore, _device: &DeviceId) -> Result<(), StoreError> {
    Ok(())
}

/// Nothing to tell: no other process serves this file (see [`Changes::hearing`]).
#[allow(clippy::unused_async)] // the PostgreSQL twin sends a NOTIFY
async fn announce(_store: &SqliteStore, _tx: &mut Connection) -> Result<(), StoreError> {
    Ok(())
}

/// `total` is a float and never overflows; the cast saturates into INTEGER.
fn clamped_sum(column: &str) -> String {
    format!("CAST(total({column}) AS INTEGER)")
}

fn clamped_signed_sum(column: &str) -> String {
    clamped_sum(column)
}

/// Device times are written by sqlx in RFC 3339 of varying width: compare them as
/// times, not text (a subscription has few devices).
/// A JSON array of strings as rows of one column, `value`.
fn json_text_rows(parameter: &str) -> String {
    format!("json_each({parameter})")
}

fn compare_times(left: &str, operator: &str, right: &str) -> String {
    format!("julianday({left}) {operator} julianday({right})")
}

/// Stores a device's batch row by row (one prepared statement inside the caller's
/// transaction: SQLite has no array parameters, and a row costs microseconds in
/// process). Returns the sequences it stored.
async fn insert_device_usage(
    tx: &mut Connection,
    owner: &UsageOwner<'_>,
    events: &[&DeviceUsageEvent],
    now: OffsetDateTime,
) -> Result<HashSet<i64>, StoreError> {
    let received = stamp(now);
    let mut stored = HashSet::new();
    for event in events {
        let sequence = i64::try_from(event.sequence).unwrap_or(i64::MAX);
        let inserted = sqlx::query(
            "INSERT INTO usage_records (tenant_id, subscription_id, device_id, seq, meter, quantity, unit, \
             camera_id, cost_minor, occurred_at, received_at, attributes, rejection) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (device_id, seq) WHERE device_id IS NOT NULL DO NOTHING",
        )
        .bind(owner.tenant)
        .bind(owner.subscription)
        .bind(owner.device)
        .bind(sequence)
        .bind(&event.meter)
        .bind(i64::try_from(event.quantity).unwrap_or(i64::MAX))
        .bind(&event.unit)
        .bind(&event.camera_id)
        .bind(event.cost_minor)
        .bind(stamp(event.occurred_at))
        .bind(&received)
        .bind(event.attributes.as_ref().map(|a| a.to_string()))
        .bind(&event.rejection)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            stored.insert(sequence);
        }
    }
    Ok(stored)
}

/// Nothing to prepare: the detail is one table.
#[allow(clippy::unused_async, clippy::unnecessary_wraps)] // the PostgreSQL twin creates partitions
async fn detail_months(
    _store: &SqliteStore,
    _times: impl Iterator<Item = OffsetDateTime>,
) -> Result<(), StoreError> {
    Ok(())
}

/// Deletes the detail of every month before `before`'s month; returns those months
/// (`YYYY-MM`).
async fn drop_detail(
    store: &SqliteStore,
    before: OffsetDateTime,
) -> Result<Vec<String>, StoreError> {
    let (year, month) = crate::usage::month_of(before);
    let first = format!("{year:04}-{month:02}-01T00:00:00.000000Z");
    let mut tx = store.write().await?;
    let months: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT substr(occurred_at, 1, 7) FROM usage_records WHERE occurred_at < $1 ORDER BY 1",
    )
    .bind(&first)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM usage_records WHERE occurred_at < $1")
        .bind(&first)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(months)
}

crate::sql::written_once!(SqliteStore);
