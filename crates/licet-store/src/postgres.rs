//! The PostgreSQL store: the scale-out path. Several server processes share one
//! database and behave as one server.
//!
//! Races are settled by the database, never by the process: read-then-write
//! transactions lock the row they depend on (`FOR UPDATE`), license sequence blocks are
//! a single `UPDATE … RETURNING`, and the bootstrap admin and catalog revisions take
//! transaction advisory locks. Writes that make caches stale `NOTIFY licet_changes`
//! in their transaction, and each store listens for it (see [`crate::changes`]). The
//! methods themselves are in [`crate::sql`]; this module is what PostgreSQL does
//! differently.

use crate::changes::Changes;
use crate::error::StoreError;
use crate::model::DeviceUsageEvent;
use crate::usage::UsageOwner;
use licet_core::ids::DeviceId;
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use time::OffsetDateTime;

/// The channel writes that make caches stale notify on, followed by the schema: two
/// deployments in one database (or two test schemas) do not hear each other.
const CHANNEL: &str = "licet_changes";

/// The PostgreSQL implementation of [`Store`](crate::Store).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// `licet_changes.<schema>`.
    channel: Arc<str>,
    changes: Arc<Changes>,
    _listener: Arc<Listener>,
    /// Months whose detail table is known to exist, and since when.
    partitions: Arc<std::sync::Mutex<std::collections::HashMap<(i32, u8), tokio::time::Instant>>>,
}

/// The task that hears other replicas' changes; it ends with the store.
#[derive(Debug)]
struct Listener(tokio::task::JoinHandle<()>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Hears `licet_changes` on a connection of its own and moves the generation for each
/// notification. When the connection is lost, notifications sent meanwhile are lost
/// with it: the store is deaf (caches read through) until a new connection listens.
async fn listen(pool: PgPool, channel: Arc<str>, changes: Weak<Changes>) {
    loop {
        if let Ok(mut listener) = PgListener::connect_with(&pool).await {
            if listener.listen(&channel).await.is_ok() {
                match changes.upgrade() {
                    Some(changes) => changes.hear(true),
                    None => return,
                }
                // `Ok(None)`: the connection was lost (a reconnect inside sqlx would
                // not tell us when it listens again, so this loop reconnects itself).
                while let Ok(Some(_)) = listener.try_recv().await {
                    match changes.upgrade() {
                        Some(changes) => changes.moved(),
                        None => return,
                    }
                }
            }
        }
        match changes.upgrade() {
            Some(changes) => changes.hear(false),
            None => return,
        }
        tracing::warn!("lost the connection that hears other replicas' changes; reconnecting");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl PgStore {
    /// Connects and applies migrations.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        PgStore::connect_with(options).await
    }

    /// Connects with every table in `schema` (created if missing), e.g. to give each
    /// test run or each environment its own schema in one database.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<PgStore, StoreError> {
        if schema.is_empty()
            || !schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StoreError::Config(format!(
                "schema name {schema:?} must be letters, digits and underscores"
            )));
        }
        let base = PgConnectOptions::from_str(url)?;
        let mut admin = base.connect().await?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&mut admin)
            .await?;
        PgStore::connect_with(base.options([("search_path", schema)])).await
    }

    async fn connect_with(options: PgConnectOptions) -> Result<PgStore, StoreError> {
        // A request waits at most two seconds for a connection: with the database
        // gone, the server answers 503 quickly instead of hanging for half a minute.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&pool)
            .await?;
        let channel: Arc<str> = format!("{CHANNEL}.{schema}").into();
        let changes = Arc::new(Changes::deaf());
        let listener = tokio::spawn(listen(
            pool.clone(),
            channel.clone(),
            Arc::downgrade(&changes),
        ));
        Ok(PgStore {
            pool,
            channel,
            changes,
            _listener: Arc::new(Listener(listener)),
            partitions: Arc::default(),
        })
    }

    /// A writing transaction: PostgreSQL's own `BEGIN` (READ COMMITTED); the rows a
    /// transaction must hold are locked with `FOR UPDATE` where it reads them.
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

type Connection = sqlx::PgConnection;
type Row = sqlx::postgres::PgRow;

/// Usage times are `TIMESTAMPTZ`: bound and read as times.
type Stamp = OffsetDateTime;

fn stamp(at: OffsetDateTime) -> Stamp {
    at
}

const FOR_UPDATE: &str = " FOR UPDATE";

/// A select-list column that makes the reading transaction's commit return once its
/// commit record is written, without waiting for the WAL flush (the setting is
/// transaction-local). Used only where [`make_durable`] follows before anything is
/// answered.
const NO_FLUSH_COLUMN: &str = "set_config('synchronous_commit', 'off', true)";

/// Flushes the WAL past an activation committed without a flush: a one-row write to
/// its device (a transaction that writes nothing commits without flushing, even
/// synchronously), committed synchronously. WAL is flushed in order, so this flush
/// makes the earlier commit durable too.
async fn make_durable(store: &PgStore, device: &DeviceId) -> Result<(), StoreError> {
    sqlx::query("UPDATE devices SET status = status WHERE id = $1")
        .bind(device.as_str())
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Tells every replica, at this transaction's commit, that caches are stale.
async fn announce(store: &PgStore, tx: &mut Connection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(&*store.channel)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Orders transactions that have no row to lock (the first catalog revision of a
/// product, the first admin) on a transaction-scoped advisory lock named by `key`.
async fn serialise(tx: &mut Connection, key: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// `sum` is NUMERIC over BIGINT: clamp it back into BIGINT.
fn clamped_sum(column: &str) -> String {
    format!("LEAST(coalesce(sum({column}), 0), 9223372036854775807)::BIGINT")
}

fn clamped_signed_sum(column: &str) -> String {
    format!(
        "GREATEST(LEAST(coalesce(sum({column}), 0), 9223372036854775807), -9223372036854775807)::BIGINT"
    )
}

/// A JSON array of strings as rows of one column, `value`.
fn json_text_rows(parameter: &str) -> String {
    format!("json_array_elements_text(CAST({parameter} AS JSON)) AS j (value)")
}

fn compare_times(left: &str, operator: &str, right: &str) -> String {
    format!("{left} {operator} {right}")
}

/// Stores a device's batch in one statement: arrays in, `ON CONFLICT DO NOTHING` drops
/// sequences already stored (and repeats within the batch). Returns the sequences it
/// stored.
async fn insert_device_usage(
    tx: &mut Connection,
    owner: &UsageOwner<'_>,
    events: &[&DeviceUsageEvent],
    now: OffsetDateTime,
) -> Result<HashSet<i64>, StoreError> {
    let column = |f: &dyn Fn(&DeviceUsageEvent) -> Option<String>| -> Vec<Option<String>> {
        events.iter().map(|e| f(e)).collect()
    };
    let stored: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO usage_records (tenant_id, subscription_id, device_id, seq, meter, quantity, unit, camera_id, \
             cost_minor, occurred_at, received_at, attributes, rejection) \
             SELECT $1, $2, $3, e.seq, e.meter, e.quantity, e.unit, e.camera_id, e.cost_minor, e.occurred_at, $4, \
             e.attributes, e.rejection \
             FROM UNNEST($5::BIGINT[], $6::TEXT[], $7::BIGINT[], $8::TEXT[], $9::TEXT[], $10::BIGINT[], \
             $11::TIMESTAMPTZ[], $12::TEXT[], $13::TEXT[]) \
             AS e (seq, meter, quantity, unit, camera_id, cost_minor, occurred_at, attributes, rejection) \
             ON CONFLICT (device_id, seq, occurred_at) WHERE device_id IS NOT NULL DO NOTHING RETURNING seq",
        )
        .bind(owner.tenant)
        .bind(owner.subscription)
        .bind(owner.device)
        .bind(now)
        .bind(
            events
                .iter()
                .map(|e| i64::try_from(e.sequence).unwrap_or(i64::MAX))
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.meter.clone()).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| i64::try_from(e.quantity).unwrap_or(i64::MAX))
                .collect::<Vec<_>>(),
        )
        .bind(column(&|e| e.unit.clone()))
        .bind(column(&|e| e.camera_id.clone()))
        .bind(events.iter().map(|e| e.cost_minor).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.occurred_at.to_offset(time::UtcOffset::UTC))
                .collect::<Vec<_>>(),
        )
        .bind(column(&|e| e.attributes.as_ref().map(|a| a.to_string())))
        .bind(column(&|e| e.rejection.clone()))
        .fetch_all(&mut *tx)
        .await?;
    Ok(stored.into_iter().collect())
}

/// How long a replica trusts that a month's detail table exists without creating it
/// again: retention on another replica may drop an old month, and a late event for it
/// then recreates it (and fails meanwhile; the device retries).
const PARTITION_TRUSTED_FOR: Duration = Duration::from_secs(600);

/// The detail table's name for a month.
fn partition_name(year: i32, month: u8) -> String {
    format!("usage_records_{year:04}_{month:02}")
}

/// Makes sure the detail has a table for each month of `times` (one transaction,
/// serialised on an advisory lock, only for months not known to exist).
async fn detail_months(
    store: &PgStore,
    times: impl Iterator<Item = OffsetDateTime>,
) -> Result<(), StoreError> {
    let months: std::collections::BTreeSet<(i32, u8)> = times.map(crate::usage::month_of).collect();
    let missing: Vec<(i32, u8)> = {
        let known = store
            .partitions
            .lock()
            .map_err(|_| StoreError::Corrupt("partition cache poisoned".into()))?;
        months
            .into_iter()
            .filter(|m| {
                known
                    .get(m)
                    .is_none_or(|at| at.elapsed() >= PARTITION_TRUSTED_FOR)
            })
            .collect()
    };
    if missing.is_empty() {
        return Ok(());
    }
    let mut tx = store.pool.begin().await?;
    serialise(&mut tx, "licet.usage_partitions").await?;
    for (year, month) in &missing {
        let (next_year, next_month) = if *month == 12 {
            (year + 1, 1)
        } else {
            (*year, month + 1)
        };
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF usage_records              FOR VALUES FROM ('{year:04}-{month:02}-01 00:00:00+00')              TO ('{next_year:04}-{next_month:02}-01 00:00:00+00')",
            partition_name(*year, *month)
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let now = tokio::time::Instant::now();
    if let Ok(mut known) = store.partitions.lock() {
        known.extend(missing.into_iter().map(|m| (m, now)));
    }
    Ok(())
}

/// Drops the detail table of every month before `before`'s month; returns those
/// months (`YYYY-MM`).
async fn drop_detail(store: &PgStore, before: OffsetDateTime) -> Result<Vec<String>, StoreError> {
    let limit = crate::usage::month_of(before);
    let mut tx = store.pool.begin().await?;
    serialise(&mut tx, "licet.usage_partitions").await?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(c.relname AS TEXT) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid          WHERE i.inhparent = CAST('usage_records' AS regclass) ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut dropped = Vec::new();
    for name in names {
        let month = name
            .strip_prefix("usage_records_")
            .and_then(|ym| ym.split_once('_'))
            .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<u8>().ok()?)));
        let Some(month) = month.filter(|m| *m < limit) else {
            continue;
        };
        sqlx::query(&format!("DROP TABLE {}", partition_name(month.0, month.1)))
            .execute(&mut *tx)
            .await?;
        dropped.push(month);
    }
    tx.commit().await?;
    if let Ok(mut known) = store.partitions.lock() {
        for month in &dropped {
            known.remove(month);
        }
    }
    Ok(dropped
        .into_iter()
        .map(|(y, m)| format!("{y:04}-{m:02}"))
        .collect())
}

crate::sql::written_once!(PgStore);
