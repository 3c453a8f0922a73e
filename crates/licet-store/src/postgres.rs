//! The PostgreSQL store: the scale-out path. Several server processes share one
//! database and behave as one server.
//!
//! Races are settled by the database, never by the process: read-then-write
//! transactions lock the row they depend on (`FOR UPDATE`), license sequences are a
//! single `UPDATE … RETURNING`, and the bootstrap admin and catalog revisions take
//! transaction advisory locks. The methods themselves are in [`crate::sql`]; this
//! module is what PostgreSQL does differently.

use crate::error::StoreError;
use crate::model::DeviceUsageEvent;
use crate::usage::UsageOwner;
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

/// The PostgreSQL implementation of [`Store`](crate::Store).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
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
        Ok(PgStore { pool })
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
