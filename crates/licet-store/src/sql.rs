//! The store written once. [`written_once!`] expands, inside each backend module, to
//! the whole `impl Store` for that backend's type: the SQL text and the Rust around it
//! exist here only, and each expansion is type-checked against its own sqlx driver.
//!
//! The SQL is the dialect both databases agree on: `$N` placeholders (sqlx's SQLite
//! driver binds `$N` by its number, as PostgreSQL does), `CAST(… AS TEXT)` instead of
//! `::text`, `RETURNING` and `ON CONFLICT`. Where the databases really differ, the
//! expansion calls a name the backend module defines, and the backend says why:
//!
//! - `Connection`, `Row`: the driver's connection and row types;
//! - `stamp`: how a usage time is bound (SQLite keeps fixed-width UTC text, so text
//!   order is time order);
//! - `FOR_UPDATE`: the row lock a read-then-write transaction takes (PostgreSQL locks
//!   the row; SQLite already holds the database's write lock);
//! - `NO_FLUSH_COLUMN`, `make_durable`: a column whose evaluation makes the
//!   transaction's commit not wait for its WAL flush, and the synchronous one-row write
//!   after it that flushes the log past it before the request is answered
//!   (activation; nothing on SQLite);
//! - `serialise`: what orders two transactions that have no row to lock (a PostgreSQL
//!   advisory lock; nothing on SQLite, for the same reason);
//! - `clamped_sum`, `clamped_signed_sum`, `compare_times`, `json_text_rows`: SQL
//!   fragments for sums that must not overflow, time comparison and a JSON array of
//!   strings read as rows (one statement for a list);
//! - `insert_device_usage`: the batch insert (one `UNNEST` statement on PostgreSQL, a
//!   prepared statement per row inside one SQLite transaction);
//! - `announce`: telling other replicas that caches are stale (`NOTIFY`; nothing on
//!   SQLite, which one process serves);
//! - `detail_months`, `drop_detail`: the usage detail's monthly partitions (created
//!   when a month's first event arrives, dropped for retention) on PostgreSQL, one
//!   table whose rows are deleted on SQLite;
//! - `self.write()`: how a writing transaction begins.
//!
//! One macro rather than generic functions over `sqlx::Database`: the generic form
//! needs a dozen higher-ranked `Encode`/`Decode`/`Executor` bounds on every function,
//! and `async_trait` must see every method of the impl at once, so the impl is one
//! expansion. This file is long for that reason: it is one impl block.

/// Expands to `impl Store for $store` in the backend module that invokes it.
macro_rules! written_once {
    ($store:ident) => {
        mod written_once {
            use super::*;
            use $crate::Store;
            use $crate::error::{ConflictKind, StoreError};
            use $crate::model::*;
            use $crate::rows::*;
            use $crate::usage;
            use licet_core::ids::{DeviceId, ProductId, TenantId};
            use time::OffsetDateTime;

            const DEVICE_COLUMNS: &str = "id, tenant_id, subscription_id, name, fingerprint, \
                public_key, hardware, status, license_sequence, last_heartbeat_at, \
                agent_version, running_modules, metrics, created_at";
            const SUBSCRIPTION_COLUMNS: &str = "id, tenant_id, product_id, plan, addons, trial, \
                modules, status, license_key_hint, trial_started_at, term_ends_at, created_at, \
                updated_at";
            const CREDENTIAL_COLUMNS: &str = "id, kind, tenant_id, device_id, scopes, \
                secret_hash, created_at, expires_at, revoked_at";
            const CATALOG_COLUMNS: &str = "product_id, version, revision, source, created_at";

            fn conflict(
                error: sqlx::Error,
                on_unique: impl FnOnce(&str) -> ConflictKind,
            ) -> StoreError {
                match &error {
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        StoreError::Conflict(on_unique(db.message()))
                    }
                    _ => StoreError::from(error),
                }
            }

            async fn insert_credential(
                tx: &mut Connection,
                credential: &Credential,
                device: Option<&DeviceId>,
            ) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO credentials ({CREDENTIAL_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(&credential.id)
                .bind(credential.kind.as_str())
                .bind(credential.tenant.as_ref().map(TenantId::as_str))
                .bind(device.or(credential.device.as_ref()).map(DeviceId::as_str))
                .bind(to_json(&credential.scopes))
                .bind(&credential.secret_hash)
                .bind(credential.created_at)
                .bind(credential.expires_at)
                .bind(credential.revoked_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict(e, |_| ConflictKind::DuplicateId))?;
                Ok(())
            }

            /// `table.column AS prefix_column, …` for every column of a list.
            fn aliased(table: &str, columns: &str, prefix: &str) -> String {
                columns
                    .split(',')
                    .map(str::trim)
                    .map(|column| format!("{table}.{column} AS {prefix}{column}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }

            /// A device token's row joined with its device (`d_…`) and subscription
            /// (`s_…`), read back into the three row types.
            fn session_rows(
                row: &Row,
            ) -> Result<(CredentialRow, DeviceRow, SubscriptionRow), sqlx::Error> {
                use sqlx::Row as _;
                let credential = CredentialRow {
                    id: row.try_get("c_id")?,
                    kind: row.try_get("c_kind")?,
                    tenant_id: row.try_get("c_tenant_id")?,
                    device_id: row.try_get("c_device_id")?,
                    scopes: row.try_get("c_scopes")?,
                    secret_hash: row.try_get("c_secret_hash")?,
                    created_at: row.try_get("c_created_at")?,
                    expires_at: row.try_get("c_expires_at")?,
                    revoked_at: row.try_get("c_revoked_at")?,
                };
                let device = DeviceRow {
                    id: row.try_get("d_id")?,
                    tenant_id: row.try_get("d_tenant_id")?,
                    subscription_id: row.try_get("d_subscription_id")?,
                    name: row.try_get("d_name")?,
                    fingerprint: row.try_get("d_fingerprint")?,
                    public_key: row.try_get("d_public_key")?,
                    hardware: row.try_get("d_hardware")?,
                    status: row.try_get("d_status")?,
                    license_sequence: row.try_get("d_license_sequence")?,
                    last_heartbeat_at: row.try_get("d_last_heartbeat_at")?,
                    agent_version: row.try_get("d_agent_version")?,
                    running_modules: row.try_get("d_running_modules")?,
                    metrics: row.try_get("d_metrics")?,
                    created_at: row.try_get("d_created_at")?,
                };
                let subscription = SubscriptionRow {
                    id: row.try_get("s_id")?,
                    tenant_id: row.try_get("s_tenant_id")?,
                    product_id: row.try_get("s_product_id")?,
                    plan: row.try_get("s_plan")?,
                    addons: row.try_get("s_addons")?,
                    trial: row.try_get("s_trial")?,
                    modules: row.try_get("s_modules")?,
                    status: row.try_get("s_status")?,
                    license_key_hint: row.try_get("s_license_key_hint")?,
                    trial_started_at: row.try_get("s_trial_started_at")?,
                    term_ends_at: row.try_get("s_term_ends_at")?,
                    created_at: row.try_get("s_created_at")?,
                    updated_at: row.try_get("s_updated_at")?,
                };
                Ok((credential, device, subscription))
            }

            /// Moves a device's acknowledged usage sequence over every contiguous stored
            /// one after it; returns the new value.
            async fn advance_acknowledged(
                tx: &mut Connection,
                device: &DeviceId,
                acked: i64,
            ) -> Result<i64, StoreError> {
                let following: Vec<i64> = sqlx::query_scalar(
                    "SELECT DISTINCT seq FROM usage_records WHERE device_id = $1 AND seq > $2 ORDER BY seq",
                )
                .bind(device.as_str())
                .bind(acked)
                .fetch_all(&mut *tx)
                .await?;
                let from = acked;
                let mut acked = acked;
                for seq in following {
                    if seq != acked + 1 {
                        break;
                    }
                    acked = seq;
                }
                if acked == from {
                    return Ok(acked);
                }
                let stored: i64 = sqlx::query_scalar(
                    "UPDATE devices SET usage_acked = \
                     CASE WHEN usage_acked > $1 THEN usage_acked ELSE $1 END \
                     WHERE id = $2 RETURNING usage_acked",
                )
                .bind(acked)
                .bind(device.as_str())
                .fetch_one(&mut *tx)
                .await?;
                Ok(stored)
            }

            /// Adds stored usage to the running counters, one upsert per subscription,
            /// meter and day (a batch mostly touches one or two). Saturates instead of
            /// overflowing, as the sums over events do.
            async fn move_counters(
                tx: &mut Connection,
                tenant: &str,
                moves: usage::CounterMoves,
            ) -> Result<(), StoreError> {
                for ((subscription, meter, day, shard), quantity) in moves.into_moves() {
                    sqlx::query(
                        "INSERT INTO usage_counters (tenant_id, subscription_id, meter, day, shard, quantity) \
                         VALUES ($1, $2, $3, $4, $6, $5) \
                         ON CONFLICT (tenant_id, subscription_id, meter, day, shard) DO UPDATE SET quantity = \
                         CASE WHEN usage_counters.quantity > 9223372036854775807 - excluded.quantity \
                         THEN 9223372036854775807 ELSE usage_counters.quantity + excluded.quantity END",
                    )
                    .bind(tenant)
                    .bind(&subscription)
                    .bind(&meter)
                    .bind(&day)
                    .bind(quantity)
                    .bind(shard)
                    .execute(&mut *tx)
                    .await?;
                }
                Ok(())
            }

            /// Adds stored usage to the hourly rollups: one multi-row upsert per 100
            /// rows (a device's batch is mostly one hour and a few cameras).
            async fn move_rollups(
                tx: &mut Connection,
                tenant: &str,
                moves: usage::RollupMoves,
            ) -> Result<(), StoreError> {
                let moves: Vec<_> = moves.into_moves().collect();
                for chunk in moves.chunks(100) {
                    let rows: Vec<String> = (0..chunk.len())
                        .map(|i| {
                            let p = |k: usize| format!("${}", 2 + i * 8 + k);
                            format!(
                                "($1, {}, {}, {}, {}, {}, '', {}, {}, {})",
                                p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7)
                            )
                        })
                        .collect();
                    let sql = format!(
                        "INSERT INTO usage_rollups (tenant_id, subscription_id, meter, hour, device_id, \
                         camera_id, invoiced_in, quantity, cost_minor, events) VALUES {} \
                         ON CONFLICT (tenant_id, subscription_id, meter, hour, device_id, camera_id, invoiced_in) \
                         DO UPDATE SET quantity = CASE WHEN usage_rollups.quantity > \
                         9223372036854775807 - excluded.quantity THEN 9223372036854775807 \
                         ELSE usage_rollups.quantity + excluded.quantity END, \
                         cost_minor = CASE \
                         WHEN excluded.cost_minor > 0 AND usage_rollups.cost_minor > \
                         9223372036854775807 - excluded.cost_minor THEN 9223372036854775807 \
                         WHEN excluded.cost_minor < 0 AND usage_rollups.cost_minor < \
                         -9223372036854775807 - excluded.cost_minor THEN -9223372036854775807 \
                         ELSE usage_rollups.cost_minor + excluded.cost_minor END, \
                         events = usage_rollups.events + excluded.events",
                        rows.join(", ")
                    );
                    let mut query = sqlx::query(&sql).bind(tenant);
                    for ((subscription, meter, hour, device, camera), (quantity, cost, events)) in
                        chunk
                    {
                        query = query
                            .bind(subscription)
                            .bind(meter)
                            .bind(hour)
                            .bind(device)
                            .bind(camera)
                            .bind(*quantity)
                            .bind(*cost)
                            .bind(*events);
                    }
                    query.execute(&mut *tx).await?;
                }
                Ok(())
            }

            /// One attempt at [`Store::activate_device`].
            async fn activate_once(
                store: &super::$store,
                new: &NewDevice,
                max_devices: u32,
            ) -> Result<Activation, StoreError> {
                let mut tx = store.write().await?;
                // One read: the subscription's device count, and an active device with
                // this fingerprint (the same box again: a re-activation, which takes no
                // slot). On PostgreSQL the same statement makes this transaction's
                // commit not wait for its WAL flush: the subscription's row is held
                // from the slot's update to the commit, so concurrent activations of
                // one subscription queue behind a commit record, not behind a disk
                // flush each. The device is answered only after `make_durable`'s
                // synchronous write, whose flush covers this commit too (the log is
                // flushed in order): a crash before it loses the whole activation,
                // which nobody was told of.
                type Found = (i64, Option<String>, Option<String>, Option<String>);
                let found: Option<Found> = sqlx::query_as(&format!(
                    "SELECT s.active_devices, d.id, d.public_key, {NO_FLUSH_COLUMN} \
                     FROM subscriptions s LEFT JOIN devices d ON d.subscription_id = s.id \
                     AND d.tenant_id = s.tenant_id AND d.fingerprint = $3 \
                     AND d.status = 'active' WHERE s.id = $1 AND s.tenant_id = $2"
                ))
                .bind(new.subscription.as_str())
                .bind(new.tenant.as_str())
                .bind(&new.fingerprint)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((active, existing, _, _)) = found else {
                    return Err(StoreError::NotFound);
                };
                if let Some(id) = existing {
                    // The device row is locked (and read again under the lock) so two
                    // re-activations of one device cannot both leave a token alive.
                    let locked: Option<Option<String>> = sqlx::query_scalar(&format!(
                        "SELECT public_key FROM devices WHERE id = $1 \
                         AND status = 'active'{FOR_UPDATE}"
                    ))
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(existing_key) = locked else {
                        // Deactivated meanwhile: the caller's second attempt creates.
                        return Err(StoreError::Conflict(ConflictKind::DuplicateFingerprint));
                    };
                    if let Some(refusal) = new.refusal_for(existing_key.as_deref()) {
                        return Ok(refusal);
                    }
                    sqlx::query(
                        "UPDATE credentials SET revoked_at = $1 WHERE device_id = $2 \
                         AND kind = 'device' AND revoked_at IS NULL",
                    )
                    .bind(new.now)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                    let row: DeviceRow = sqlx::query_as(&format!(
                        "UPDATE devices SET name = $1, public_key = $2, hardware = $3 \
                         WHERE id = $4 RETURNING {DEVICE_COLUMNS}"
                    ))
                    .bind(&new.name)
                    .bind(&new.public_key)
                    .bind(to_json(&new.hardware))
                    .bind(&id)
                    .fetch_one(&mut *tx)
                    .await?;
                    let id = DeviceId::new(&id);
                    insert_credential(&mut tx, &new.token, Some(&id)).await?;
                    // The old token's session is stale.
                    announce(store, &mut tx).await?;
                    tx.commit().await?;
                    make_durable(store, &id).await?;
                    store.changes.moved();
                    return Ok(Activation::Reactivated(row.try_into()?));
                }
                // A full subscription is refused before any write.
                if active >= i64::from(max_devices) {
                    return Ok(Activation::TooManyDevices { max_devices });
                }
                let row: DeviceRow = sqlx::query_as(&format!(
                    "INSERT INTO devices (id, tenant_id, subscription_id, name, fingerprint, \
                     public_key, hardware, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8) RETURNING {DEVICE_COLUMNS}"
                ))
                .bind(new.id.as_str())
                .bind(new.tenant.as_str())
                .bind(new.subscription.as_str())
                .bind(&new.name)
                .bind(&new.fingerprint)
                .bind(&new.public_key)
                .bind(to_json(&new.hardware))
                .bind(new.now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| {
                    conflict(e, |message| {
                        if message.contains("fingerprint") {
                            ConflictKind::DuplicateFingerprint
                        } else {
                            ConflictKind::DuplicateId
                        }
                    })
                })?;
                insert_credential(&mut tx, &new.token, Some(&new.id)).await?;
                // The slot is taken last, so the subscription's row is held only for
                // the commit. Beyond the limit the update matches nothing and the
                // transaction is dropped, taking the device and its token with it.
                let taken: Option<i64> = sqlx::query_scalar(
                    "UPDATE subscriptions SET active_devices = active_devices + 1 \
                     WHERE id = $1 AND active_devices < $2 RETURNING active_devices",
                )
                .bind(new.subscription.as_str())
                .bind(i64::from(max_devices))
                .fetch_optional(&mut *tx)
                .await?;
                if taken.is_none() {
                    return Ok(Activation::TooManyDevices { max_devices });
                }
                tx.commit().await?;
                make_durable(store, &new.id).await?;
                Ok(Activation::Created(row.try_into()?))
            }

            #[async_trait::async_trait]
            impl Store for super::$store {
                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }

                async fn put_catalog(
                    &self,
                    product: &ProductId,
                    version: &str,
                    source: &str,
                    now: OffsetDateTime,
                ) -> Result<CatalogRecord, StoreError> {
                    let mut tx = self.write().await?;
                    // Uploads of one product are serialised so revisions are gap-free
                    // and unique.
                    serialise(&mut tx, &format!("licet.catalog.{}", product.as_str())).await?;
                    let existing: Option<CatalogRow> = sqlx::query_as(&format!(
                        "SELECT {CATALOG_COLUMNS} FROM catalogs WHERE product_id = $1 AND version = $2"
                    ))
                    .bind(product.as_str())
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(row) = existing {
                        return if row.source == source {
                            Ok(row.into())
                        } else {
                            Err(StoreError::Conflict(ConflictKind::CatalogVersionExists))
                        };
                    }
                    let revision: i64 = sqlx::query_scalar(
                        "SELECT COALESCE(MAX(revision), 0) + 1 FROM catalogs WHERE product_id = $1",
                    )
                    .bind(product.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query(&format!(
                        "INSERT INTO catalogs ({CATALOG_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
                    ))
                    .bind(product.as_str())
                    .bind(version)
                    .bind(revision)
                    .bind(source)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    // Every replica's newest revision is stale.
                    announce(self, &mut tx).await?;
                    tx.commit().await?;
                    self.changes.moved();
                    Ok(CatalogRecord {
                        product: product.clone(),
                        version: version.to_owned(),
                        revision,
                        source: source.to_owned(),
                        created_at: now,
                    })
                }

                async fn latest_catalog(
                    &self,
                    product: &ProductId,
                ) -> Result<CatalogRecord, StoreError> {
                    let row: CatalogRow = sqlx::query_as(&format!(
                        "SELECT {CATALOG_COLUMNS} FROM catalogs WHERE product_id = $1 \
                         ORDER BY revision DESC LIMIT 1"
                    ))
                    .bind(product.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    Ok(row.into())
                }

                async fn latest_catalog_revision(
                    &self,
                    product: &ProductId,
                ) -> Result<i64, StoreError> {
                    let revision: Option<i64> =
                        sqlx::query_scalar("SELECT MAX(revision) FROM catalogs WHERE product_id = $1")
                            .bind(product.as_str())
                            .fetch_one(&self.pool)
                            .await?;
                    revision.ok_or(StoreError::NotFound)
                }

                async fn list_products(&self) -> Result<Vec<CatalogRecord>, StoreError> {
                    let rows: Vec<CatalogRow> = sqlx::query_as(&format!(
                        "SELECT {CATALOG_COLUMNS} FROM catalogs c WHERE c.revision = \
                         (SELECT MAX(revision) FROM catalogs WHERE product_id = c.product_id) \
                         ORDER BY c.product_id"
                    ))
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows.into_iter().map(Into::into).collect())
                }

                async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                        .bind(tenant.id.as_str())
                        .bind(&tenant.name)
                        .bind(tenant.created_at)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| conflict(e, |_| ConflictKind::DuplicateId))?;
                    Ok(())
                }

                async fn get_tenant(&self, id: &TenantId) -> Result<Tenant, StoreError> {
                    let row: TenantRow =
                        sqlx::query_as("SELECT id, name, created_at FROM tenants WHERE id = $1")
                            .bind(id.as_str())
                            .fetch_optional(&self.pool)
                            .await?
                            .ok_or(StoreError::NotFound)?;
                    Ok(row.into())
                }

                async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
                    let rows: Vec<TenantRow> = sqlx::query_as(
                        "SELECT id, name, created_at FROM tenants ORDER BY created_at, id",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows.into_iter().map(Into::into).collect())
                }

                async fn create_subscription(
                    &self,
                    new: &Subscription,
                    license_key_hash: &str,
                ) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    sqlx::query(&format!(
                        "INSERT INTO subscriptions ({SUBSCRIPTION_COLUMNS}, license_key_hash) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                    ))
                    .bind(new.id.as_str())
                    .bind(new.tenant.as_str())
                    .bind(new.product.as_str())
                    .bind(new.plan.as_str())
                    .bind(to_json(&new.addons))
                    .bind(new.trial)
                    .bind(new.modules.as_ref().map(to_json))
                    .bind(new.status.as_str())
                    .bind(&new.license_key_hint)
                    .bind(new.trial_started_at)
                    .bind(new.term_ends_at)
                    .bind(new.created_at)
                    .bind(new.updated_at)
                    .bind(license_key_hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        conflict(e, |message| {
                            if message.contains("license_key_hash") {
                                ConflictKind::DuplicateLicenseKey
                            } else {
                                ConflictKind::DuplicateId
                            }
                        })
                    })?;
                    // A tenant's entitlements, cached by the hosted-tenant routes, include
                    // its subscriptions.
                    announce(self, &mut tx).await?;
                    tx.commit().await?;
                    self.changes.moved();
                    Ok(())
                }

                async fn get_subscription(
                    &self,
                    tenant: Option<&TenantId>,
                    id: &SubscriptionId,
                ) -> Result<Subscription, StoreError> {
                    let row: SubscriptionRow = sqlx::query_as(&format!(
                        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1 \
                         AND (CAST($2 AS TEXT) IS NULL OR tenant_id = $2)"
                    ))
                    .bind(id.as_str())
                    .bind(tenant.map(TenantId::as_str))
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    row.try_into()
                }

                async fn list_subscriptions(
                    &self,
                    tenant: &TenantId,
                ) -> Result<Vec<Subscription>, StoreError> {
                    let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
                        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE tenant_id = $1 \
                         ORDER BY created_at, id"
                    ))
                    .bind(tenant.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                    rows.into_iter().map(TryInto::try_into).collect()
                }

                async fn find_subscription_by_key(
                    &self,
                    license_key_hash: &str,
                ) -> Result<Subscription, StoreError> {
                    let row: SubscriptionRow = sqlx::query_as(&format!(
                        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE license_key_hash = $1"
                    ))
                    .bind(license_key_hash)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    row.try_into()
                }

                async fn update_subscription(
                    &self,
                    subscription: &Subscription,
                ) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    let done = sqlx::query(
                        "UPDATE subscriptions SET plan = $1, addons = $2, trial = $3, modules = $4, \
                         status = $5, term_ends_at = $6, updated_at = $7 WHERE id = $8 AND tenant_id = $9",
                    )
                    .bind(subscription.plan.as_str())
                    .bind(to_json(&subscription.addons))
                    .bind(subscription.trial)
                    .bind(subscription.modules.as_ref().map(to_json))
                    .bind(subscription.status.as_str())
                    .bind(subscription.term_ends_at)
                    .bind(subscription.updated_at)
                    .bind(subscription.id.as_str())
                    .bind(subscription.tenant.as_str())
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    // Devices' sessions hold the subscription.
                    announce(self, &mut tx).await?;
                    tx.commit().await?;
                    self.changes.moved();
                    Ok(())
                }

                async fn activate_device(
                    &self,
                    new: &NewDevice,
                    max_devices: u32,
                ) -> Result<Activation, StoreError> {
                    // A new fingerprint racing another activation of the same one loses
                    // on the unique index of active fingerprints; the second attempt
                    // finds the winner's device and re-activates it.
                    match activate_once(self, new, max_devices).await {
                        Err(StoreError::Conflict(ConflictKind::DuplicateFingerprint)) => {
                            activate_once(self, new, max_devices).await
                        }
                        outcome => outcome,
                    }
                }

                async fn get_device(
                    &self,
                    tenant: Option<&TenantId>,
                    id: &DeviceId,
                ) -> Result<Device, StoreError> {
                    let row: DeviceRow = sqlx::query_as(&format!(
                        "SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1 \
                         AND (CAST($2 AS TEXT) IS NULL OR tenant_id = $2)"
                    ))
                    .bind(id.as_str())
                    .bind(tenant.map(TenantId::as_str))
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    row.try_into()
                }

                async fn list_devices(&self, tenant: &TenantId) -> Result<Vec<Device>, StoreError> {
                    let rows: Vec<DeviceRow> = sqlx::query_as(&format!(
                        "SELECT {DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 ORDER BY created_at, id"
                    ))
                    .bind(tenant.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                    rows.into_iter().map(TryInto::try_into).collect()
                }

                async fn reserve_license_sequences(&self, count: u64) -> Result<u64, StoreError> {
                    let count = i64::try_from(count)
                        .ok()
                        .filter(|c| *c > 0)
                        .ok_or_else(|| StoreError::Config("a block of license sequences is 1 or more".into()))?;
                    let high: i64 = sqlx::query_scalar(
                        "UPDATE license_sequences SET high = high + $1 WHERE id = 1 RETURNING high",
                    )
                    .bind(count)
                    .fetch_one(&self.pool)
                    .await?;
                    sequence(high)
                }

                async fn recount_usage(
                    &self,
                    subscription: &SubscriptionId,
                    from: OffsetDateTime,
                    to: OffsetDateTime,
                ) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
                    let sql = format!(
                        "SELECT meter, {} FROM usage_records WHERE subscription_id = $1 \
                         AND occurred_at >= $2 AND occurred_at < $3 AND rejection IS NULL \
                         AND meter <> 'camera_day' AND substr(meter, 1, 11) <> 'camera_day.' \
                         GROUP BY meter",
                        clamped_sum("quantity")
                    );
                    let rows: Vec<(String, i64)> = sqlx::query_as(&sql)
                        .bind(subscription.as_str())
                        .bind(stamp(from))
                        .bind(stamp(to))
                        .fetch_all(&self.pool)
                        .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(meter, quantity)| (meter, u64::try_from(quantity).unwrap_or(0)))
                        .collect())
                }

                async fn drop_usage_detail(
                    &self,
                    before: OffsetDateTime,
                ) -> Result<Vec<String>, StoreError> {
                    drop_detail(self, before).await
                }

                fn changes(&self) -> std::sync::Arc<$crate::Changes> {
                    self.changes.clone()
                }

                async fn ingest_device_usage(
                    &self,
                    device: &DeviceId,
                    events: &[DeviceUsageEvent],
                    now: OffsetDateTime,
                ) -> Result<UsageIngested, StoreError> {
                    detail_months(self, events.iter().map(|e| e.occurred_at)).await?;
                    let mut tx = self.write().await?;
                    // No row lock: the acknowledgement only moves up, so two uploads of
                    // one device at once (an agent runs one uploader) can acknowledge
                    // less than they might, never more, and the next upload catches
                    // up. A lock here would cost every upload a write.
                    let row: Option<(String, String, i64)> = sqlx::query_as(
                        "SELECT tenant_id, subscription_id, usage_acked FROM devices WHERE id = $1",
                    )
                    .bind(device.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    let (tenant, subscription, acked) = row.ok_or(StoreError::NotFound)?;
                    let owner = UsageOwner {
                        tenant: &tenant,
                        subscription: &subscription,
                        device: device.as_str(),
                    };
                    // At or below the acknowledged sequence every event is stored (or
                    // was, before its month's detail was dropped): a replay. A sequence
                    // repeated within the batch is stored once, as its first occurrence.
                    let mut first = std::collections::HashSet::new();
                    let mut fresh: Vec<&DeviceUsageEvent> = events
                        .iter()
                        .filter(|e| {
                            let sequence = i64::try_from(e.sequence).unwrap_or(i64::MAX);
                            sequence > acked && first.insert(sequence)
                        })
                        .collect();
                    // In key order, so two uploads of one device never wait on each
                    // other's keys in opposite orders.
                    fresh.sort_by_key(|e| e.sequence);
                    let stored = insert_device_usage(&mut tx, &owner, &fresh, now).await?;
                    let mut moves = usage::CounterMoves::default();
                    let mut rollups = usage::RollupMoves::default();
                    let shard = usage::shard_of(device.as_str());
                    let mut seen = std::collections::HashSet::new();
                    for event in fresh {
                        let sequence = i64::try_from(event.sequence).unwrap_or(i64::MAX);
                        if stored.contains(&sequence) && seen.insert(sequence) {
                            moves.add(
                                &subscription,
                                &event.meter,
                                event.quantity,
                                event.occurred_at,
                                event.rejection.is_some(),
                                shard,
                            );
                            if event.rejection.is_none() {
                                rollups.add(&usage::RolledUp {
                                    subscription: &subscription,
                                    meter: &event.meter,
                                    device: Some(device.as_str()),
                                    camera: event.camera_id.as_deref(),
                                    quantity: event.quantity,
                                    cost_minor: event.cost_minor,
                                    occurred_at: event.occurred_at,
                                });
                            }
                        }
                    }
                    let stored = u64::try_from(seen.len()).unwrap_or(u64::MAX);
                    let acked = advance_acknowledged(&mut tx, device, acked).await?;
                    // The device's own rollup rows, then the shared counters last
                    // before the commit: a counter row is shared with other writers,
                    // so it is held for as short a time as possible.
                    move_rollups(&mut tx, &tenant, rollups).await?;
                    move_counters(&mut tx, &tenant, moves).await?;
                    tx.commit().await?;
                    let total = u64::try_from(events.len()).unwrap_or(u64::MAX);
                    Ok(UsageIngested {
                        stored,
                        duplicates: total.saturating_sub(stored),
                        acknowledged_through: u64::try_from(acked).unwrap_or(0),
                    })
                }

                async fn ingest_external_usage(
                    &self,
                    tenant: &TenantId,
                    events: &[ExternalUsageEvent],
                    now: OffsetDateTime,
                ) -> Result<Vec<bool>, StoreError> {
                    detail_months(self, events.iter().map(|e| e.occurred_at)).await?;
                    let mut tx = self.write().await?;
                    let received = stamp(now);
                    let mut stored = vec![false; events.len()];
                    let mut moves = usage::CounterMoves::default();
                    let mut rollups = usage::RollupMoves::default();
                    // Keys are taken in key order, not the batch's: two batches holding
                    // the same ids in different orders would otherwise each wait on a
                    // key the other inserted, and PostgreSQL would abort one.
                    let mut order: Vec<usize> = (0..events.len()).collect();
                    order.sort_by(|&a, &b| {
                        (&events[a].source, &events[a].event_id)
                            .cmp(&(&events[b].source, &events[b].event_id))
                            .then(a.cmp(&b))
                    });
                    for index in order {
                        let event = &events[index];
                        // The key first: an event already known stores nothing.
                        let new_key = sqlx::query(
                            "INSERT INTO usage_event_keys (tenant_id, source, event_id) \
                             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        )
                        .bind(tenant.as_str())
                        .bind(&event.source)
                        .bind(&event.event_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if new_key != 1 {
                            continue;
                        }
                        let inserted = sqlx::query(
                            "INSERT INTO usage_records (tenant_id, subscription_id, source, event_id, \
                             meter, quantity, unit, camera_id, resource_id, cost_minor, occurred_at, \
                             received_at, attributes) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                        )
                        .bind(tenant.as_str())
                        .bind(event.subscription.as_str())
                        .bind(&event.source)
                        .bind(&event.event_id)
                        .bind(&event.meter)
                        .bind(i64::try_from(event.quantity).unwrap_or(i64::MAX))
                        .bind(&event.unit)
                        .bind(&event.camera_id)
                        .bind(&event.resource_id)
                        .bind(event.cost_minor)
                        .bind(stamp(event.occurred_at))
                        .bind(&received)
                        .bind(event.attributes.as_ref().map(|a| a.to_string()))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if inserted == 1 {
                            moves.add(
                                event.subscription.as_str(),
                                &event.meter,
                                event.quantity,
                                event.occurred_at,
                                false,
                                usage::shard_of(&event.event_id),
                            );
                            rollups.add(&usage::RolledUp {
                                subscription: event.subscription.as_str(),
                                meter: &event.meter,
                                device: None,
                                camera: event.camera_id.as_deref(),
                                quantity: event.quantity,
                                cost_minor: event.cost_minor,
                                occurred_at: event.occurred_at,
                            });
                        }
                        stored[index] = inserted == 1;
                    }
                    move_rollups(&mut tx, tenant.as_str(), rollups).await?;
                    move_counters(&mut tx, tenant.as_str(), moves).await?;
                    tx.commit().await?;
                    Ok(stored)
                }

                async fn external_event_stored(
                    &self,
                    tenant: &TenantId,
                    source: &str,
                    event_id: &str,
                ) -> Result<bool, StoreError> {
                    let found: Option<i32> = sqlx::query_scalar(
                        "SELECT 1 FROM usage_event_keys WHERE tenant_id = $1 AND source = $2 \
                         AND event_id = $3",
                    )
                    .bind(tenant.as_str())
                    .bind(source)
                    .bind(event_id)
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(found.is_some())
                }

                async fn counted_usage(
                    &self,
                    tenant: &TenantId,
                    subscription: &SubscriptionId,
                    from: OffsetDateTime,
                    to: OffsetDateTime,
                ) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
                    let sql = format!(
                        "SELECT meter, {} FROM usage_counters WHERE tenant_id = $1 \
                         AND subscription_id = $2 AND day >= $3 AND day < $4 GROUP BY meter",
                        clamped_sum("quantity")
                    );
                    let rows: Vec<(String, i64)> = sqlx::query_as(&sql)
                        .bind(tenant.as_str())
                        .bind(subscription.as_str())
                        .bind(usage::day_key(from))
                        .bind(usage::day_key(to))
                        .fetch_all(&self.pool)
                        .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(meter, quantity)| (meter, u64::try_from(quantity).unwrap_or(0)))
                        .collect())
                }

                async fn usage_total(
                    &self,
                    tenant: &TenantId,
                    device: Option<&DeviceId>,
                    meter: &str,
                ) -> Result<u64, StoreError> {
                    let sql = format!(
                        "SELECT {} FROM usage_rollups WHERE tenant_id = $1 AND meter = $2 \
                         AND (CAST($3 AS TEXT) IS NULL OR device_id = $3)",
                        clamped_sum("quantity")
                    );
                    let total: Option<i64> = sqlx::query_scalar(&sql)
                        .bind(tenant.as_str())
                        .bind(meter)
                        .bind(device.map(|d| d.as_str()))
                        .fetch_one(&self.pool)
                        .await?;
                    Ok(total.and_then(|t| u64::try_from(t).ok()).unwrap_or(0))
                }

                async fn usage_series(
                    &self,
                    query: &UsageQuery,
                ) -> Result<Vec<UsageBucket>, StoreError> {
                    let length = i32::try_from(usage::key_length(query.window)).unwrap_or(10);
                    // From the hourly rollups: the range is widened to whole hours.
                    let sql = format!(
                        "SELECT substr(hour, 1, $1) AS bucket, meter, {}, {} FROM usage_rollups \
                         WHERE tenant_id = $2 AND hour >= $3 AND hour < $4 \
                         AND (CAST($5 AS TEXT) IS NULL OR device_id = $5) \
                         AND (CAST($6 AS TEXT) IS NULL OR camera_id = $6) \
                         AND (CAST($7 AS TEXT) IS NULL OR meter = $7) \
                         GROUP BY bucket, meter ORDER BY bucket, meter",
                        clamped_sum("quantity"),
                        clamped_sum("events")
                    );
                    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(&sql)
                        .bind(length)
                        .bind(query.tenant.as_str())
                        .bind(usage::hour_key(query.from))
                        .bind(usage::hour_ceiling_key(query.to))
                        .bind(query.device.as_ref().map(|d| d.as_str()))
                        .bind(&query.camera)
                        .bind(&query.meter)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.into_iter()
                        .map(|(key, meter, quantity, events)| {
                            Ok(UsageBucket {
                                start: usage::bucket_start(&key)?,
                                meter,
                                quantity: u64::try_from(quantity).unwrap_or(0),
                                events: u64::try_from(events).unwrap_or(0),
                            })
                        })
                        .collect()
                }

                async fn rating_quantities(
                    &self,
                    subscription: &SubscriptionId,
                    from: OffsetDateTime,
                    to: OffsetDateTime,
                    booking: &Booking,
                ) -> Result<RatingQuantities, StoreError> {
                    let (condition, period) = usage::booking_condition(booking, "$4");
                    let selected = format!(
                        "FROM usage_rollups WHERE subscription_id = $1 AND hour >= $2 \
                         AND hour < $3 AND {condition}"
                    );
                    let sql = format!(
                        "SELECT meter, {}, {} {selected} AND meter <> 'camera_day' \
                         AND substr(meter, 1, 11) <> 'camera_day.' GROUP BY meter",
                        clamped_sum("quantity"),
                        clamped_signed_sum("cost_minor")
                    );
                    let mut meters = sqlx::query_as::<_, (String, i64, i64)>(&sql)
                        .bind(subscription.as_str())
                        .bind(usage::hour_key(from))
                        .bind(usage::hour_ceiling_key(to));
                    // Bound only when the condition names it: a statement refuses
                    // parameters it does not use.
                    if let Some(period) = &period {
                        meters = meters.bind(period);
                    }
                    let meters = meters.fetch_all(&self.pool).await?;
                    let sql = format!(
                        "SELECT substr(hour, 1, 10) AS day, count(DISTINCT device_id || '/' || \
                         camera_id) {selected} AND meter = 'camera_day' GROUP BY day"
                    );
                    let mut days = sqlx::query_as::<_, (String, i64)>(&sql)
                        .bind(subscription.as_str())
                        .bind(usage::hour_key(from))
                        .bind(usage::hour_ceiling_key(to));
                    if let Some(period) = &period {
                        days = days.bind(period);
                    }
                    let days = days.fetch_all(&self.pool).await?;
                    let sql = format!(
                        "SELECT meter, substr(hour, 1, 10) AS day, count(DISTINCT device_id || \
                         '/' || camera_id) {selected} AND substr(meter, 1, 11) = 'camera_day.' \
                         GROUP BY meter, day"
                    );
                    let mut packs = sqlx::query_as::<_, (String, String, i64)>(&sql)
                        .bind(subscription.as_str())
                        .bind(usage::hour_key(from))
                        .bind(usage::hour_ceiling_key(to));
                    if let Some(period) = &period {
                        packs = packs.bind(period);
                    }
                    let mut by_pack: std::collections::BTreeMap<String, Vec<(String, i64)>> =
                        std::collections::BTreeMap::new();
                    for (meter, day, cameras) in packs.fetch_all(&self.pool).await? {
                        if let Some(addon) = licet_core::rating::pack_day_addon(&meter) {
                            by_pack.entry(addon.to_owned()).or_default().push((day, cameras));
                        }
                    }
                    let assigned_per_day = by_pack
                        .into_iter()
                        .map(|(addon, days)| Ok((addon, usage::cameras_per_day(from, to, days)?)))
                        .collect::<Result<_, StoreError>>()?;
                    Ok(RatingQuantities {
                        meters: meters
                            .into_iter()
                            .map(|(meter, quantity, cost)| {
                                (meter, (u64::try_from(quantity).unwrap_or(0), cost))
                            })
                            .collect(),
                        cameras_per_day: usage::cameras_per_day(from, to, days)?,
                        assigned_per_day,
                    })
                }

                async fn earliest_usage(
                    &self,
                    subscription: &SubscriptionId,
                    before: OffsetDateTime,
                    booking: &Booking,
                ) -> Result<Option<OffsetDateTime>, StoreError> {
                    let (condition, period) = usage::booking_condition(booking, "$3");
                    // The start of its hour: the rollups know usage to the hour.
                    let sql = format!(
                        "SELECT min(hour) FROM usage_rollups WHERE subscription_id = $1 \
                         AND hour < $2 AND {condition}"
                    );
                    let mut earliest = sqlx::query_scalar::<_, Option<String>>(&sql)
                        .bind(subscription.as_str())
                        .bind(usage::hour_ceiling_key(before));
                    if let Some(period) = &period {
                        earliest = earliest.bind(period);
                    }
                    earliest
                        .fetch_one(&self.pool)
                        .await?
                        .map(|hour| usage::bucket_start(&hour))
                        .transpose()
                }

                async fn count_devices_active(
                    &self,
                    subscription: &SubscriptionId,
                    from: OffsetDateTime,
                    to: OffsetDateTime,
                ) -> Result<u64, StoreError> {
                    let sql = format!(
                        "SELECT count(*) FROM devices WHERE subscription_id = $1 AND {} \
                         AND (status = 'active' OR {})",
                        compare_times("created_at", "<", "$3"),
                        compare_times("deactivated_at", ">=", "$2")
                    );
                    let count: i64 = sqlx::query_scalar(&sql)
                        .bind(subscription.as_str())
                        .bind(stamp(from))
                        .bind(stamp(to))
                        .fetch_one(&self.pool)
                        .await?;
                    Ok(u64::try_from(count).unwrap_or(0))
                }

                async fn issue_invoice(
                    &self,
                    subscription: &SubscriptionId,
                    period: &str,
                    period_end: OffsetDateTime,
                    now: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    // Two issuers of one subscription queue here.
                    let tenant: Option<String> = sqlx::query_scalar(&format!(
                        "SELECT tenant_id FROM subscriptions WHERE id = $1{FOR_UPDATE}"
                    ))
                    .bind(subscription.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    let tenant = tenant.ok_or(StoreError::NotFound)?;
                    let latest: Option<String> = sqlx::query_scalar(
                        "SELECT max(period) FROM invoices WHERE subscription_id = $1",
                    )
                    .bind(subscription.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                    if latest.is_some_and(|latest| latest.as_str() >= period) {
                        return Err(StoreError::Conflict(ConflictKind::InvoiceIssued));
                    }
                    sqlx::query(
                        "INSERT INTO invoices (subscription_id, period, tenant_id, issued_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(subscription.as_str())
                    .bind(period)
                    .bind(&tenant)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    // This claims what was committed when it ran; usage committed a
                    // moment later goes to a new unclaimed row (the claimed one has
                    // another key now), and the next invoice books it late. No claimed
                    // row of this period exists yet (one invoice per period), so the key
                    // change meets no other row.
                    sqlx::query(
                        "UPDATE usage_rollups SET invoiced_in = $1 WHERE subscription_id = $2 \
                         AND invoiced_in = '' AND hour < $3",
                    )
                    .bind(period)
                    .bind(subscription.as_str())
                    .bind(usage::hour_ceiling_key(period_end))
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn put_invoice_document(
                    &self,
                    subscription: &SubscriptionId,
                    period: &str,
                    document: &str,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "UPDATE invoices SET document = $1 WHERE subscription_id = $2 \
                         AND period = $3 AND document IS NULL",
                    )
                    .bind(document)
                    .bind(subscription.as_str())
                    .bind(period)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn list_invoices(
                    &self,
                    subscription: &SubscriptionId,
                ) -> Result<Vec<InvoiceRecord>, StoreError> {
                    let rows: Vec<(String, OffsetDateTime, Option<String>)> = sqlx::query_as(
                        "SELECT period, issued_at, document FROM invoices \
                         WHERE subscription_id = $1 ORDER BY period",
                    )
                    .bind(subscription.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(period, issued_at, document)| InvoiceRecord {
                            subscription: subscription.clone(),
                            period,
                            issued_at,
                            document,
                        })
                        .collect())
                }

                async fn record_heartbeat(
                    &self,
                    device: &DeviceId,
                    heartbeat: &Heartbeat,
                ) -> Result<(), StoreError> {
                    let now = heartbeat
                        .now
                        .ok_or_else(|| StoreError::Config("heartbeat without a time".into()))?;
                    let mut tx = self.write().await?;
                    let tenant: String = sqlx::query_scalar(
                        "UPDATE devices SET last_heartbeat_at = $1, agent_version = $2, \
                         running_modules = $3, metrics = $4, \
                         license_sequence = COALESCE($6, license_sequence) WHERE id = $5 RETURNING tenant_id",
                    )
                    .bind(now)
                    .bind(&heartbeat.agent_version)
                    .bind(to_json(&heartbeat.running_modules))
                    .bind(to_json(&heartbeat.metrics))
                    .bind(device.as_str())
                    .bind(
                        heartbeat
                            .license_sequence
                            .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
                    )
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    // Every camera in one statement, whatever their number.
                    if !heartbeat.active_cameras.is_empty() {
                        let sql = format!(
                            "INSERT INTO cameras (tenant_id, device_id, camera_id, first_seen, last_seen) \
                             SELECT DISTINCT $1, $2, value, $4, $4 FROM {} WHERE TRUE \
                             ON CONFLICT (device_id, camera_id) DO UPDATE SET last_seen = excluded.last_seen",
                            json_text_rows("$3")
                        );
                        sqlx::query(&sql)
                            .bind(&tenant)
                            .bind(device.as_str())
                            .bind(to_json(&heartbeat.active_cameras))
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn deactivate_device(
                    &self,
                    device: &DeviceId,
                    now: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    let left: Option<String> = sqlx::query_scalar(
                        "UPDATE devices SET status = 'deactivated', deactivated_at = $2 \
                         WHERE id = $1 AND status = 'active' RETURNING subscription_id",
                    )
                    .bind(device.as_str())
                    .bind(stamp(now))
                    .fetch_optional(&mut *tx)
                    .await?;
                    match left {
                        // Its slot is free again.
                        Some(subscription) => {
                            sqlx::query(
                                "UPDATE subscriptions SET active_devices = active_devices - 1 \
                                 WHERE id = $1 AND active_devices > 0",
                            )
                            .bind(&subscription)
                            .execute(&mut *tx)
                            .await?;
                        }
                        // Deactivated before: nothing to free, but its tokens are still
                        // revoked below. No such device: not found.
                        None => {
                            let known: Option<String> =
                                sqlx::query_scalar("SELECT id FROM devices WHERE id = $1")
                                    .bind(device.as_str())
                                    .fetch_optional(&mut *tx)
                                    .await?;
                            if known.is_none() {
                                return Err(StoreError::NotFound);
                            }
                        }
                    }
                    sqlx::query(
                        "UPDATE credentials SET revoked_at = $1 WHERE device_id = $2 \
                         AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(device.as_str())
                    .execute(&mut *tx)
                    .await?;
                    announce(self, &mut tx).await?;
                    tx.commit().await?;
                    self.changes.moved();
                    Ok(())
                }

                async fn list_cameras(
                    &self,
                    tenant: &TenantId,
                    device: &DeviceId,
                ) -> Result<Vec<Camera>, StoreError> {
                    let rows: Vec<CameraRow> = sqlx::query_as(
                        "SELECT camera_id, first_seen, last_seen FROM cameras \
                         WHERE tenant_id = $1 AND device_id = $2 ORDER BY camera_id",
                    )
                    .bind(tenant.as_str())
                    .bind(device.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows.into_iter().map(Into::into).collect())
                }

                async fn create_credential(&self, credential: &Credential) -> Result<(), StoreError> {
                    let mut connection = self.pool.acquire().await?;
                    insert_credential(&mut connection, credential, None).await
                }

                async fn create_bootstrap_admin(
                    &self,
                    credential: &Credential,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.write().await?;
                    // Two servers starting together must not both create one.
                    serialise(&mut tx, "licet.bootstrap-admin").await?;
                    let admins: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE kind = 'admin'")
                            .fetch_one(&mut *tx)
                            .await?;
                    if admins > 0 {
                        return Ok(false);
                    }
                    insert_credential(&mut tx, credential, None).await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn find_credential(&self, id: &str) -> Result<Credential, StoreError> {
                    let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1");
                    let row: CredentialRow = sqlx::query_as(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    row.try_into()
                }

                async fn find_device_session(&self, id: &str) -> Result<DeviceSession, StoreError> {
                    let sql = format!(
                        "SELECT {}, {}, {} FROM credentials c \
                         JOIN devices d ON d.id = c.device_id \
                         JOIN subscriptions s ON s.id = d.subscription_id \
                         WHERE c.id = $1 AND c.kind = 'device'",
                        aliased("c", CREDENTIAL_COLUMNS, "c_"),
                        aliased("d", DEVICE_COLUMNS, "d_"),
                        aliased("s", SUBSCRIPTION_COLUMNS, "s_")
                    );
                    let row = sqlx::query(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    let (credential, device, subscription) = session_rows(&row)?;
                    Ok(DeviceSession {
                        credential: credential.try_into()?,
                        device: device.try_into()?,
                        subscription: subscription.try_into()?,
                    })
                }

                async fn list_api_keys(
                    &self,
                    tenant: &TenantId,
                ) -> Result<Vec<Credential>, StoreError> {
                    let rows: Vec<CredentialRow> = sqlx::query_as(&format!(
                        "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE kind = 'tenant' \
                         AND tenant_id = $1 ORDER BY created_at DESC, id"
                    ))
                    .bind(tenant.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                    rows.into_iter().map(TryInto::try_into).collect()
                }

                async fn revoke_api_key(
                    &self,
                    tenant: Option<&TenantId>,
                    id: &str,
                    now: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    let done = sqlx::query(
                        "UPDATE credentials SET revoked_at = $1 WHERE id = $2 AND kind = 'tenant' \
                         AND revoked_at IS NULL AND (CAST($3 AS TEXT) IS NULL OR tenant_id = $3)",
                    )
                    .bind(now)
                    .bind(id)
                    .bind(tenant.map(TenantId::as_str))
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    // Credentials are cached by every replica: a revocation is heard.
                    announce(self, &mut tx).await?;
                    tx.commit().await?;
                    self.changes.moved();
                    Ok(())
                }

                async fn replace_admin_tokens(
                    &self,
                    replacement: &Credential,
                    now: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    sqlx::query(
                        "UPDATE credentials SET revoked_at = $1 WHERE kind = 'admin' \
                         AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    insert_credential(&mut tx, replacement, None).await?;
                    announce(self, &mut tx).await?;
                    tx.commit().await?;
                    self.changes.moved();
                    Ok(())
                }

                async fn register_signing_key(
                    &self,
                    key: &SigningKeyRecord,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO signing_keys (key_id, public_key, created_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
                    )
                    .bind(&key.key_id)
                    .bind(&key.public_key)
                    .bind(key.created_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
                    let rows: Vec<SigningKeyRow> = sqlx::query_as(
                        "SELECT key_id, public_key, created_at FROM signing_keys \
                         ORDER BY created_at, key_id",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows.into_iter().map(Into::into).collect())
                }

                async fn claim(
                    &self,
                    tenant: &TenantId,
                    feature: &str,
                    resource: &str,
                    limit: Option<u64>,
                    now: OffsetDateTime,
                ) -> Result<ClaimOutcome, StoreError> {
                    let count = |n: Option<i64>| u64::try_from(n.unwrap_or(0)).unwrap_or(0);
                    let mut tx = self.write().await?;
                    let held: Option<String> = sqlx::query_scalar(
                        "SELECT resource FROM claims WHERE tenant_id = $1 AND feature = $2 AND resource = $3",
                    )
                    .bind(tenant.as_str())
                    .bind(feature)
                    .bind(resource)
                    .fetch_optional(&mut *tx)
                    .await?;
                    const CLAIMED: &str =
                        "SELECT claimed FROM claim_counts WHERE tenant_id = $1 AND feature = $2";
                    if held.is_some() {
                        let now_claimed: Option<i64> = sqlx::query_scalar(CLAIMED)
                            .bind(tenant.as_str())
                            .bind(feature)
                            .fetch_optional(&mut *tx)
                            .await?;
                        return Ok(ClaimOutcome::Held { claimed: count(now_claimed) });
                    }
                    sqlx::query(
                        "INSERT INTO claim_counts (tenant_id, feature, claimed) VALUES ($1, $2, 0) \
                         ON CONFLICT (tenant_id, feature) DO NOTHING",
                    )
                    .bind(tenant.as_str())
                    .bind(feature)
                    .execute(&mut *tx)
                    .await?;
                    // The bound is in the UPDATE: concurrent claims queue on the count's
                    // row (PostgreSQL) or the write lock (SQLite), and each sees the last.
                    let limit = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
                    let taken: Option<i64> = sqlx::query_scalar(
                        "UPDATE claim_counts SET claimed = claimed + 1 \
                         WHERE tenant_id = $1 AND feature = $2 \
                         AND (CAST($3 AS BIGINT) IS NULL OR claimed < $3) RETURNING claimed",
                    )
                    .bind(tenant.as_str())
                    .bind(feature)
                    .bind(limit)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(taken) = taken else {
                        let now_claimed: Option<i64> = sqlx::query_scalar(CLAIMED)
                            .bind(tenant.as_str())
                            .bind(feature)
                            .fetch_optional(&mut *tx)
                            .await?;
                        return Ok(ClaimOutcome::Full { claimed: count(now_claimed) });
                    };
                    let inserted = sqlx::query(
                        "INSERT INTO claims (tenant_id, feature, resource, created_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, feature, resource) DO NOTHING",
                    )
                    .bind(tenant.as_str())
                    .bind(feature)
                    .bind(resource)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if inserted.rows_affected() == 0 {
                        // Claimed meanwhile by a concurrent request: this one takes
                        // nothing (the transaction is dropped with its count).
                        drop(tx);
                        let held: Option<i64> = sqlx::query_scalar(CLAIMED)
                        .bind(tenant.as_str())
                        .bind(feature)
                        .fetch_optional(&self.pool)
                        .await?;
                        return Ok(ClaimOutcome::Held { claimed: count(held) });
                    }
                    tx.commit().await?;
                    Ok(ClaimOutcome::Taken { claimed: count(Some(taken)) })
                }

                async fn release_claim(
                    &self,
                    tenant: &TenantId,
                    feature: &str,
                    resource: &str,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.write().await?;
                    let deleted = sqlx::query(
                        "DELETE FROM claims WHERE tenant_id = $1 AND feature = $2 AND resource = $3",
                    )
                    .bind(tenant.as_str())
                    .bind(feature)
                    .bind(resource)
                    .execute(&mut *tx)
                    .await?;
                    if deleted.rows_affected() == 0 {
                        return Ok(false);
                    }
                    sqlx::query(
                        "UPDATE claim_counts SET claimed = claimed - 1 \
                         WHERE tenant_id = $1 AND feature = $2 AND claimed > 0",
                    )
                    .bind(tenant.as_str())
                    .bind(feature)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn list_claims(&self, tenant: &TenantId) -> Result<Vec<ClaimRecord>, StoreError> {
                    let rows: Vec<(String, String, OffsetDateTime)> = sqlx::query_as(
                        "SELECT feature, resource, created_at FROM claims WHERE tenant_id = $1 \
                         ORDER BY feature, resource",
                    )
                    .bind(tenant.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(feature, resource, created_at)| ClaimRecord {
                            feature,
                            resource,
                            created_at,
                        })
                        .collect())
                }
            }
        }
    };
}

pub(crate) use written_once;
