//! The agent's own SQLite database: the current license, the device's credentials, the
//! persisted inputs of the state machine (last refresh, verdict, time high-water mark),
//! registered cameras and quota counters.
//!
//! One connection behind a `std::sync::Mutex`. Every call is a short statement or
//! transaction made inline and the lock is never held across an `.await`; that keeps
//! the agent free of a connection pool (and its timers) and makes "check the limit,
//! then insert" trivially atomic: the whole registration runs under the lock in one
//! `BEGIN IMMEDIATE` transaction. WAL with `synchronous = FULL`: an answer the agent
//! gave (201 for a camera, a stored license) survives power loss.

use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite said no.
    #[error("agent database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought to this agent's version.
    #[error(transparent)]
    Schema(#[from] crate::schema::SchemaError),
    /// A stored value is not what this agent wrote.
    #[error("agent database: {0}")]
    Corrupt(String),
}

/// A camera row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraRow {
    /// Id.
    pub camera_id: String,
    /// Name.
    pub name: Option<String>,
    /// First ever registration (never moves).
    pub first_registered_at: OffsetDateTime,
}

/// The outcome of a registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registration {
    /// Newly registered (or registered again after removal, keeping its first time).
    Created(CameraRow),
    /// Already registered: nothing changed.
    Existing(CameraRow),
    /// The limit is reached; `registered` cameras hold the slots.
    LimitReached {
        /// Cameras registered now.
        registered: u64,
    },
}

/// The outcome of assigning growth packs to a camera.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackAssignment {
    /// Done.
    Assigned,
    /// The camera is not registered.
    NotRegistered,
    /// A pack is on as many cameras as were bought.
    AllTaken {
        /// The pack.
        pack: String,
        /// Cameras it was bought for.
        cameras: u64,
        /// The cameras that hold it.
        holders: Vec<String>,
    },
}

/// The agent database.
pub struct Db {
    conn: Mutex<Connection>,
}

fn text(at: OffsetDateTime) -> String {
    licet_core::time_text(at)
}

fn parse(value: &str) -> Result<OffsetDateTime, DbError> {
    OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map_err(|e| DbError::Corrupt(format!("bad time {value:?}: {e}")))
}

/// Sets (or with `None` deletes) metadata values inside a transaction.
fn write_meta(
    tx: &rusqlite::Transaction<'_>,
    values: &[(&str, Option<&str>)],
) -> Result<(), DbError> {
    for (key, value) in values {
        match value {
            Some(value) => tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?,
            None => tx.execute("DELETE FROM meta WHERE key = ?1", [key])?,
        };
    }
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the database at `path`.
    /// Brings its schema to this agent's version first (see [`crate::schema`]).
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        crate::schema::migrate(&mut conn)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (the
        // transaction rolls back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .lock()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// A metadata time.
    pub fn meta_time(&self, key: &str) -> Result<Option<OffsetDateTime>, DbError> {
        self.meta(key)?.map(|v| parse(&v)).transpose()
    }

    /// Sets (or with `None` clears) metadata values in one transaction.
    pub fn set_meta(&self, values: &[(&str, Option<&str>)]) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        write_meta(&tx, values)?;
        tx.commit()?;
        Ok(())
    }

    /// Sets a metadata time.
    pub fn set_meta_time(&self, key: &str, at: OffsetDateTime) -> Result<(), DbError> {
        self.set_meta(&[(key, Some(&text(at)))])
    }

    /// The stored license and its sequence.
    pub fn license(&self) -> Result<Option<(String, u64)>, DbError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT armored, sequence FROM license WHERE id = 1",
                [],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?
            .map(|(a, s)| (a, u64::try_from(s).unwrap_or(0))))
    }

    /// Stores a verified license, and with it the metadata that goes with it (device
    /// id, last refresh, cleared verdict) in the same transaction.
    pub fn store_license(
        &self,
        armored: &str,
        sequence: u64,
        now: OffsetDateTime,
        meta: &[(&str, Option<&str>)],
    ) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO license (id, armored, sequence, stored_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET armored = excluded.armored,
                 sequence = excluded.sequence, stored_at = excluded.stored_at",
            params![
                armored,
                i64::try_from(sequence).unwrap_or(i64::MAX),
                text(now)
            ],
        )?;
        write_meta(&tx, meta)?;
        tx.commit()?;
        Ok(())
    }

    /// Registers a camera if the limit allows, atomically: the count and the insert run
    /// in one `BEGIN IMMEDIATE` transaction under the connection lock.
    pub fn register_camera(
        &self,
        camera_id: &str,
        name: Option<&str>,
        limit: Option<licet_core::amount::Amount>,
        now: OffsetDateTime,
    ) -> Result<Registration, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing = tx
            .query_row(
                "SELECT name, first_registered_at, registered FROM cameras WHERE camera_id = ?1",
                [camera_id],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, bool>(2)?,
                    ))
                },
            )
            .optional()?;
        if let Some((old_name, first, true)) = &existing {
            return Ok(Registration::Existing(CameraRow {
                camera_id: camera_id.to_owned(),
                name: old_name.clone(),
                first_registered_at: parse(first)?,
            }));
        }
        let registered: i64 = tx.query_row(
            "SELECT count(*) FROM cameras WHERE registered = 1",
            [],
            |r| r.get(0),
        )?;
        let registered = u64::try_from(registered).unwrap_or(0);
        if let Some(limit) = limit {
            if !limit.admits(registered + 1) {
                return Ok(Registration::LimitReached { registered });
            }
        }
        let first = match &existing {
            Some((_, first, _)) => parse(first)?,
            None => now,
        };
        tx.execute(
            "INSERT INTO cameras (camera_id, name, first_registered_at, registered, updated_at)
             VALUES (?1, ?2, ?3, 1, ?4)
             ON CONFLICT (camera_id) DO UPDATE SET registered = 1,
                 name = coalesce(excluded.name, cameras.name), updated_at = excluded.updated_at",
            params![camera_id, name, text(first), text(now)],
        )?;
        tx.commit()?;
        Ok(Registration::Created(CameraRow {
            camera_id: camera_id.to_owned(),
            name: name
                .map(str::to_owned)
                .or_else(|| existing.and_then(|(n, _, _)| n)),
            first_registered_at: first,
        }))
    }

    /// Unregisters a camera, keeping its first registration time (so its trial does
    /// not restart if it comes back). Returns whether it was registered.
    pub fn remove_camera(&self, camera_id: &str, now: OffsetDateTime) -> Result<bool, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE cameras SET registered = 0, updated_at = ?2
             WHERE camera_id = ?1 AND registered = 1",
            params![camera_id, text(now)],
        )?;
        // Its packs go back to the pool.
        tx.execute("DELETE FROM camera_packs WHERE camera_id = ?1", [camera_id])?;
        tx.commit()?;
        Ok(changed == 1)
    }

    /// Usage recorded per meter from `start` to `end` (UTC days, both included).
    pub fn usage_days(
        &self,
        start: time::Date,
        end: time::Date,
    ) -> Result<BTreeMap<String, u64>, DbError> {
        let conn = self.lock();
        let mut statement = conn.prepare_cached(
            "SELECT kind, min(sum(quantity), 9007199254740991) FROM usage_days
             WHERE day >= ?1 AND day <= ?2 GROUP BY kind",
        )?;
        let rows = statement
            .query_map(params![start.to_string(), end.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .map(|(kind, total)| (kind, u64::try_from(total).unwrap_or(0)))
            .collect())
    }

    /// The growth packs assigned to a camera, by id.
    pub fn camera_packs(&self, camera_id: &str) -> Result<Vec<String>, DbError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare_cached("SELECT pack FROM camera_packs WHERE camera_id = ?1 ORDER BY pack")?;
        let packs = statement
            .query_map([camera_id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(packs)
    }

    /// Replaces a registered camera's packs with `packs`, each within the cameras it
    /// was bought for (`bought`), counting the other registered cameras that hold it;
    /// all or nothing, in one `BEGIN IMMEDIATE` so two assignments cannot both take
    /// the last camera of a pack.
    pub fn assign_camera_packs(
        &self,
        camera_id: &str,
        packs: &[String],
        bought: &BTreeMap<String, u64>,
        now: OffsetDateTime,
    ) -> Result<PackAssignment, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let registered: bool = tx
            .query_row(
                "SELECT count(*) FROM cameras WHERE camera_id = ?1 AND registered = 1",
                [camera_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)?;
        if !registered {
            return Ok(PackAssignment::NotRegistered);
        }
        for pack in packs {
            let cameras = bought.get(pack).copied().unwrap_or(0);
            let mut statement = tx.prepare_cached(
                "SELECT p.camera_id FROM camera_packs p JOIN cameras c
                   ON c.camera_id = p.camera_id AND c.registered = 1
                 WHERE p.pack = ?1 AND p.camera_id <> ?2 ORDER BY p.camera_id",
            )?;
            let holders = statement
                .query_map(params![pack, camera_id], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            if u64::try_from(holders.len()).unwrap_or(u64::MAX) >= cameras {
                return Ok(PackAssignment::AllTaken {
                    pack: pack.clone(),
                    cameras,
                    holders,
                });
            }
        }
        tx.execute("DELETE FROM camera_packs WHERE camera_id = ?1", [camera_id])?;
        for pack in packs {
            tx.execute(
                "INSERT INTO camera_packs (camera_id, pack, assigned_at) VALUES (?1, ?2, ?3)",
                params![camera_id, pack, text(now)],
            )?;
        }
        tx.commit()?;
        Ok(PackAssignment::Assigned)
    }

    /// Registered cameras, by id.
    pub fn cameras(&self) -> Result<Vec<CameraRow>, DbError> {
        let conn = self.lock();
        let mut statement = conn.prepare_cached(
            "SELECT camera_id, name, first_registered_at FROM cameras
             WHERE registered = 1 ORDER BY camera_id",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (camera_id, name, first) = row?;
            out.push(CameraRow {
                camera_id,
                name,
                first_registered_at: parse(&first)?,
            });
        }
        Ok(out)
    }

    /// One registered camera.
    pub fn camera(&self, camera_id: &str) -> Result<Option<CameraRow>, DbError> {
        let row = self
            .lock()
            .query_row(
                "SELECT name, first_registered_at FROM cameras
                 WHERE camera_id = ?1 AND registered = 1",
                [camera_id],
                |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?;
        row.map(|(name, first)| {
            Ok(CameraRow {
                camera_id: camera_id.to_owned(),
                name,
                first_registered_at: parse(&first)?,
            })
        })
        .transpose()
    }

    /// How much of a quota is used in a period.
    pub fn quota_used(&self, feature: &str, period: &str) -> Result<u64, DbError> {
        let used: Option<i64> = self
            .lock()
            .query_row(
                "SELECT used FROM quota_usage WHERE feature = ?1 AND period = ?2",
                params![feature, period],
                |r| r.get(0),
            )
            .optional()?;
        Ok(used.and_then(|u| u64::try_from(u).ok()).unwrap_or(0))
    }

    /// Every quota counter of a period.
    pub fn quota_usage(&self) -> Result<Vec<(String, String, u64)>, DbError> {
        let conn = self.lock();
        let mut statement = conn.prepare_cached(
            "SELECT feature, period, used FROM quota_usage ORDER BY feature, period",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (feature, period, used) = row?;
            out.push((feature, period, u64::try_from(used).unwrap_or(0)));
        }
        Ok(out)
    }

    /// Decides on a quota use and records it in one transaction: `decide` gets what is
    /// used so far and returns how much to add (0 to refuse) and its answer.
    pub fn consume_quota<T>(
        &self,
        feature: &str,
        period: &str,
        decide: impl FnOnce(u64) -> (u64, T),
    ) -> Result<T, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let used: Option<i64> = tx
            .query_row(
                "SELECT used FROM quota_usage WHERE feature = ?1 AND period = ?2",
                params![feature, period],
                |r| r.get(0),
            )
            .optional()?;
        let used = used.and_then(|u| u64::try_from(u).ok()).unwrap_or(0);
        let (add, answer) = decide(used);
        if add > 0 {
            let total = i64::try_from(used.saturating_add(add)).unwrap_or(i64::MAX);
            tx.execute(
                "INSERT INTO quota_usage (feature, period, used) VALUES (?1, ?2, ?3)
                 ON CONFLICT (feature, period) DO UPDATE SET used = excluded.used",
                params![feature, period, total],
            )?;
            tx.commit()?;
        }
        Ok(answer)
    }

    /// Raises a quota counter to at least `floor` (never lowers it): reconciliation
    /// with the server's count.
    pub fn raise_quota_used(&self, feature: &str, period: &str, floor: u64) -> Result<(), DbError> {
        self.lock().execute(
            "INSERT INTO quota_usage (feature, period, used) VALUES (?1, ?2, ?3)
             ON CONFLICT (feature, period) DO UPDATE SET used = max(used, excluded.used)",
            params![feature, period, i64::try_from(floor).unwrap_or(i64::MAX)],
        )?;
        Ok(())
    }

    /// Sets a quota counter (tests).
    pub fn set_quota_used(&self, feature: &str, period: &str, used: u64) -> Result<(), DbError> {
        self.lock().execute(
            "INSERT INTO quota_usage (feature, period, used) VALUES (?1, ?2, ?3)
             ON CONFLICT (feature, period) DO UPDATE SET used = excluded.used",
            params![feature, period, i64::try_from(used).unwrap_or(i64::MAX)],
        )?;
        Ok(())
    }
}
