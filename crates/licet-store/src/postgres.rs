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
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use time::OffsetDateTime;

/// The channel writes that make caches stale notify on.
const CHANNEL: &str = "licet_changes";

/// The PostgreSQL implementation of [`Store`](crate::Store).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    changes: Arc<Changes>,
    _listener: Arc<Listener>,
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
async fn listen(pool: PgPool, changes: Weak<Changes>) {
    loop {
        if let Ok(mut listener) = PgListener::connect_with(&pool).await {
            if listener.listen(CHANNEL).await.is_ok() {
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
        let changes = Arc::new(Changes::deaf());
        let listener = tokio::spawn(listen(pool.clone(), Arc::downgrade(&changes)));
        Ok(PgStore {
            pool,
            changes,
            _listener: Arc::new(Listener(listener)),
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

#[allow(clippy::unnecessary_wraps)] // the SQLite twin parses text and can fail
fn unstamp(at: Stamp) -> Result<OffsetDateTime, StoreError> {
    Ok(at)
}

const FOR_UPDATE: &str = " FOR UPDATE";

/// Tells every replica, at this transaction's commit, that caches are stale.
async fn announce(tx: &mut Connection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
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

/// The first `length` characters of a time's UTC `YYYY-MM-DDTHH` text.
fn utc_prefix(column: &str, length: &str) -> String {
    format!("left(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24'), {length})")
}

fn utc_day(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
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
    events: &[DeviceUsageEvent],
    now: OffsetDateTime,
) -> Result<HashSet<i64>, StoreError> {
    let column = |f: &dyn Fn(&DeviceUsageEvent) -> Option<String>| -> Vec<Option<String>> {
        events.iter().map(f).collect()
    };
    let stored: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO usage_records (tenant_id, subscription_id, device_id, seq, meter, quantity, unit, camera_id, \
             cost_minor, occurred_at, received_at, attributes, rejection) \
             SELECT $1, $2, $3, e.seq, e.meter, e.quantity, e.unit, e.camera_id, e.cost_minor, e.occurred_at, $4, \
             e.attributes, e.rejection \
             FROM UNNEST($5::BIGINT[], $6::TEXT[], $7::BIGINT[], $8::TEXT[], $9::TEXT[], $10::BIGINT[], \
             $11::TIMESTAMPTZ[], $12::TEXT[], $13::TEXT[]) \
             AS e (seq, meter, quantity, unit, camera_id, cost_minor, occurred_at, attributes, rejection) \
             ON CONFLICT (device_id, seq) WHERE device_id IS NOT NULL DO NOTHING RETURNING seq",
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

crate::sql::written_once!(PgStore);
