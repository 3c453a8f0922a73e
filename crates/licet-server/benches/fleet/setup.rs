//! What the fleet finds when it starts: a schema of its own, the devices with their
//! tokens and a month of usage, written straight into the database.

use crate::{Device, MONTH_ROWS};
use licet_store::CredentialKind;
use sqlx::Connection as _;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

pub(crate) async fn database() -> (String, String, String) {
    let url = std::env::var("LICET_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("LICET_TEST_POSTGRES_URL"))
        .expect("set LICET_BENCH_POSTGRES_URL: the fleet benchmark measures PostgreSQL");
    let schema = format!("licet_fleet_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options[search_path]={schema}");
    (url, schema, scoped)
}

/// Writes `count` active devices with device tokens, straight into the database.
pub(crate) async fn devices(
    url: &str,
    tenant: &str,
    subscription: &str,
    count: usize,
) -> Vec<Arc<Device>> {
    let now = time::OffsetDateTime::now_utc();
    let tenant_id = licet_core::ids::TenantId::new(tenant);
    let mut fleet = Vec::with_capacity(count);
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    for chunk_start in (0..count).step_by(20_000) {
        let chunk = chunk_start..(chunk_start + 20_000).min(count);
        let mut ids = Vec::new();
        let mut credential_ids = Vec::new();
        let mut hashes = Vec::new();
        for n in chunk {
            let id = format!("dev_fleet_{n:07}");
            let (token, credential) = licet_server::auth::mint(
                CredentialKind::Device,
                Some(&tenant_id),
                Some(&licet_core::ids::DeviceId::new(&id)),
                vec![],
                now,
                None,
            )
            .unwrap();
            credential_ids.push(credential.id.clone());
            hashes.push(credential.secret_hash.clone());
            fleet.push(Arc::new(Device {
                id: id.clone(),
                token,
                next_sequence: AtomicU64::new(1),
                held: AtomicU64::new(0),
            }));
            ids.push(id);
        }
        sqlx::query(
            "INSERT INTO devices (id, tenant_id, subscription_id, name, fingerprint, public_key, hardware, status, created_at) \
             SELECT d, $2, $3, d, d, 'ed25519:wQ6+ER6BpydbBaQLhyGJ2dlqsr25JBeuOZBfwr2EFt0=', '{}', 'active', $4 FROM UNNEST($1::TEXT[]) AS d",
        )
        .bind(&ids)
        .bind(tenant)
        .bind(subscription)
        .bind(now)
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO credentials (id, kind, tenant_id, device_id, scopes, secret_hash, created_at) \
             SELECT c, 'device', $2, d, '[]', h, $3 FROM UNNEST($1::TEXT[], $4::TEXT[], $5::TEXT[]) AS x (c, d, h)",
        )
        .bind(&credential_ids)
        .bind(tenant)
        .bind(now)
        .bind(&ids)
        .bind(&hashes)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE subscriptions SET active_devices = $1 WHERE id = $2")
        .bind(i64::try_from(count).unwrap())
        .bind(subscription)
        .execute(&mut conn)
        .await
        .unwrap();
    fleet
}

/// A month of `api_call` usage for the subscription, spread over its devices and the
/// month so far, with the counters the ingestion would have moved.
pub(crate) async fn month_of_usage(url: &str, tenant: &str, subscription: &str, devices: usize) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let month_start = now
        .replace_day(1)
        .unwrap()
        .replace_time(time::Time::MIDNIGHT);
    let seconds = (now - month_start).whole_seconds().max(1);
    // The month's detail partition, as the server makes it for the month's first event.
    let next = if month_start.month() == time::Month::December {
        month_start
            .replace_year(month_start.year() + 1)
            .unwrap()
            .replace_month(time::Month::January)
    } else {
        month_start.replace_month(month_start.month().next())
    }
    .unwrap();
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS usage_records_{:04}_{:02} PARTITION OF usage_records \
         FOR VALUES FROM ('{}') TO ('{}')",
        month_start.year(),
        u8::from(month_start.month()),
        licet_core::time_text(month_start),
        licet_core::time_text(next)
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO usage_records (tenant_id, subscription_id, device_id, seq, meter, quantity, unit, camera_id, \
         occurred_at, received_at) \
         SELECT $1, $2, 'dev_fleet_' || lpad((n % $4)::TEXT, 7, '0'), 1000000000 + n, 'api_call', 1, 'call', \
         'cam-' || (n % 8), $5 + make_interval(secs => (n * $6 / $3)::DOUBLE PRECISION), $5 \
         FROM generate_series(0, $3 - 1) AS n",
    )
    .bind(tenant)
    .bind(subscription)
    .bind(MONTH_ROWS)
    .bind(i64::try_from(devices).unwrap())
    .bind(month_start)
    .bind(seconds)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO usage_counters (tenant_id, subscription_id, meter, day, shard, quantity) \
         SELECT tenant_id, subscription_id, meter, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 0, sum(quantity) \
         FROM usage_records WHERE subscription_id = $1 GROUP BY 1, 2, 3, 4",
    )
    .bind(subscription)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO usage_rollups (tenant_id, subscription_id, meter, hour, device_id, camera_id, \
         invoiced_in, quantity, cost_minor, events) \
         SELECT tenant_id, subscription_id, meter, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24'), \
         device_id, camera_id, '', sum(quantity), 0, count(*) \
         FROM usage_records WHERE subscription_id = $1 GROUP BY 1, 2, 3, 4, 5, 6",
    )
    .bind(subscription)
    .execute(&mut conn)
    .await
    .unwrap();
    for statement in [
        "VACUUM ANALYZE usage_records",
        "VACUUM ANALYZE usage_counters",
        "VACUUM ANALYZE usage_rollups",
        "VACUUM ANALYZE devices",
        "VACUUM ANALYZE credentials",
        "CHECKPOINT",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
}
