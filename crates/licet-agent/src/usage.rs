//! Durable usage recording: every accepted event is on disk before the caller hears
//! "accepted", and many concurrent callers share one fsync.
//!
//! One writer thread owns its own connection to the agent database. Callers send their
//! events over a channel and wait; the writer takes everything queued, writes it in one
//! transaction (one fsync with `synchronous = FULL`), then answers each caller with the
//! sequence numbers its events got. That is group commit: the cost of durability is
//! paid per batch of callers, not per event. Sequence numbers come from an
//! `AUTOINCREMENT` key, so they only ever grow on this device, even after the outbox is
//! pruned; the server deduplicates on (device, sequence).
//!
//! The outbox is bounded: past `max_backlog` unacknowledged events new events are
//! refused (the caller gets 507) and nothing already accepted is dropped.
//!
//! The agent also records billing by itself: one `camera_day` event per registered
//! camera per UTC day, exactly once (a `camera_days` table makes the day's event
//! idempotent), so per-camera billing needs nothing from the application; and one
//! `camera_day.<pack>` event per camera and day for each per-camera growth pack the
//! camera holds, so a pack is billed for the camera-days it was assigned.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use time::OffsetDateTime;
use tokio::sync::oneshot;

/// The event type the agent records for each camera and UTC day.
pub const CAMERA_DAY: &str = "camera_day";

/// One camera's day to record: its `camera_day`, or with `pack` the day it held a
/// per-camera growth pack.
#[derive(Clone, Debug)]
pub struct CameraDay {
    /// The camera.
    pub camera: String,
    /// The growth pack it held, for a pack's camera-day.
    pub pack: Option<String>,
    /// The UTC day.
    pub day: time::Date,
}

/// Requests the writer takes into one transaction at most.
const GROUP_MAX: usize = 4096;

/// One usage event.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageEvent {
    /// The meter (`api_call`, `llm_tokens`, …).
    pub kind: String,
    /// How many units.
    pub quantity: u64,
    /// The unit, if the caller named it.
    pub unit: Option<String>,
    /// The camera it is about.
    pub camera_id: Option<String>,
    /// When it happened (device time).
    pub time: OffsetDateTime,
    /// Free-form attributes (JSON object).
    pub attributes: Option<serde_json::Value>,
}

/// Why events were not recorded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The outbox is full.
    #[error(
        "the usage outbox is full ({backlog} events waiting for upload, limit {limit}); nothing was recorded: the server must be reached (see /v1/status) or usage_max_backlog raised"
    )]
    Full {
        /// Events waiting.
        backlog: u64,
        /// The limit.
        limit: u64,
    },
    /// The database refused the write; nothing was recorded.
    #[error("usage could not be written: {0}")]
    Storage(String),
    /// An idempotency key seen before came with another request body.
    #[error(
        "Idempotency-Key {0:?} was used before for a different request: send a new key for new usage"
    )]
    KeyReused(String),
}

/// A client's idempotency key for one request, with a digest of what it asked.
#[derive(Clone, Debug)]
pub struct RequestKey {
    /// The key, as the client sent it.
    pub key: String,
    /// A digest of the request body, to tell a retry from a reuse of the key.
    pub digest: String,
    /// When the request came (keys older than a day are forgotten).
    pub at: OffsetDateTime,
}

/// How long an idempotency key is remembered.
const KEY_DAYS: i64 = 1;

enum Request {
    Events {
        events: Vec<UsageEvent>,
        key: Option<RequestKey>,
        reply: oneshot::Sender<Result<(u64, u64), RecordError>>,
    },
    CameraDays {
        days: Vec<CameraDay>,
        reply: oneshot::Sender<Result<usize, RecordError>>,
    },
    Pending {
        limit: usize,
        reply: oneshot::Sender<Result<Vec<(u64, UsageEvent)>, RecordError>>,
    },
    Prune {
        through: u64,
        reply: oneshot::Sender<Result<u64, RecordError>>,
    },
    Waiting {
        kind: String,
        period: String,
        reply: oneshot::Sender<Result<u64, RecordError>>,
    },
}

/// The usage recorder. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    sender: mpsc::Sender<Request>,
    backlog: Arc<AtomicU64>,
    recorded: Arc<tokio::sync::Notify>,
}

fn insert(conn: &rusqlite::Transaction<'_>, event: &UsageEvent) -> rusqlite::Result<u64> {
    conn.execute(
        "INSERT INTO usage_events (kind, quantity, unit, camera_id, occurred_at, attributes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            event.kind,
            i64::try_from(event.quantity).unwrap_or(i64::MAX),
            event.unit,
            event.camera_id,
            licet_core::time_text(event.time),
            event.attributes.as_ref().map(|a| a.to_string()),
        ],
    )?;
    let seq = u64::try_from(conn.last_insert_rowid()).unwrap_or(0);
    // The day's total, in the same transaction (saturating at 2^53 - 1).
    conn.execute(
        "INSERT INTO usage_days (kind, day, quantity) VALUES (?1, ?2, ?3)
         ON CONFLICT (kind, day) DO UPDATE SET quantity = min(quantity + excluded.quantity, 9007199254740991)",
        params![
            event.kind,
            event.time.date().to_string(),
            i64::try_from(event.quantity).unwrap_or(i64::MAX),
        ],
    )?;
    Ok(seq)
}

/// What the outbox knows of an idempotency key.
enum Seen {
    /// Not seen in the last day.
    New,
    /// Seen with the same request: its sequence numbers.
    Same((u64, u64)),
    /// Seen with another request.
    Other,
}

fn seen(tx: &rusqlite::Transaction<'_>, key: &RequestKey) -> rusqlite::Result<Seen> {
    let found: Option<(String, i64, i64)> = tx
        .query_row(
            "SELECT digest, first_seq, last_seq FROM usage_requests WHERE key = ?1",
            params![key.key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(match found {
        None => Seen::New,
        Some((digest, first, last)) if digest == key.digest => Seen::Same((
            u64::try_from(first).unwrap_or(0),
            u64::try_from(last).unwrap_or(0),
        )),
        Some(_) => Seen::Other,
    })
}

/// Keeps `key` with the sequence numbers its request got, and forgets keys older than
/// a day.
fn remember(
    tx: &rusqlite::Transaction<'_>,
    key: &RequestKey,
    range: (u64, u64),
) -> rusqlite::Result<()> {
    let now = key.at;
    tx.execute(
        "DELETE FROM usage_requests WHERE created_at < ?1",
        params![licet_core::time_text(now - time::Duration::days(KEY_DAYS))],
    )?;
    tx.execute(
        "INSERT INTO usage_requests (key, digest, first_seq, last_seq, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            key.key,
            key.digest,
            i64::try_from(range.0).unwrap_or(i64::MAX),
            i64::try_from(range.1).unwrap_or(i64::MAX),
            licet_core::time_text(now)
        ],
    )?;
    Ok(())
}

impl Recorder {
    /// Opens the outbox in the database at `path` and starts the writer thread, which
    /// stops when the last `Recorder` is dropped.
    pub fn start(path: &Path, max_backlog: u64) -> Result<Recorder, crate::db::DbError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Usually `Db::open` has migrated the file already; then this finds nothing to do.
        crate::schema::migrate(&mut conn)?;
        let waiting: i64 = conn.query_row("SELECT count(*) FROM usage_events", [], |r| r.get(0))?;
        let backlog = Arc::new(AtomicU64::new(u64::try_from(waiting).unwrap_or(0)));
        let (sender, receiver) = mpsc::channel();
        let counter = backlog.clone();
        let recorded = Arc::new(tokio::sync::Notify::new());
        let notify = recorded.clone();
        std::thread::Builder::new()
            .name("licet-usage-writer".into())
            .spawn(move || write_loop(conn, receiver, counter, max_backlog, notify))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Recorder {
            sender,
            backlog,
            recorded,
        })
    }

    /// Records events durably; answers the first and last sequence numbers given.
    pub async fn record(&self, events: Vec<UsageEvent>) -> Result<(u64, u64), RecordError> {
        self.record_once(events, None).await
    }

    /// [`Recorder::record`], once per `key`: a request with a key seen in the last day
    /// (and the same digest) records nothing and answers the sequence numbers the
    /// first one got; the same key with another digest is refused.
    pub async fn record_once(
        &self,
        events: Vec<UsageEvent>,
        key: Option<RequestKey>,
    ) -> Result<(u64, u64), RecordError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Request::Events { events, key, reply })
            .map_err(|_| RecordError::Storage("the usage writer stopped".into()))?;
        answer
            .await
            .map_err(|_| RecordError::Storage("the usage writer stopped".into()))?
    }

    /// Records one `camera_day` event for each (camera, day), and one
    /// `camera_day.<pack>` event for each (camera, pack, day), not recorded before;
    /// answers how many were new.
    pub async fn record_camera_days(&self, days: Vec<CameraDay>) -> Result<usize, RecordError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Request::CameraDays { days, reply })
            .map_err(|_| RecordError::Storage("the usage writer stopped".into()))?;
        answer
            .await
            .map_err(|_| RecordError::Storage("the usage writer stopped".into()))?
    }

    /// The oldest events waiting for upload, with their sequence numbers.
    pub async fn pending(&self, limit: usize) -> Result<Vec<(u64, UsageEvent)>, RecordError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Request::Pending { limit, reply })
            .map_err(|_| RecordError::Storage("the usage writer stopped".into()))?;
        answer
            .await
            .map_err(|_| RecordError::Storage("the usage writer stopped".into()))?
    }

    /// The units of `kind` waiting for upload whose time falls in `period` (a key such
    /// as `2026-11` or `2026-11-23`, a prefix of the stored UTC time).
    pub async fn waiting(&self, kind: &str, period: &str) -> Result<u64, RecordError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Request::Waiting {
                kind: kind.to_owned(),
                period: period.to_owned(),
                reply,
            })
            .map_err(|_| RecordError::Storage("the usage writer stopped".into()))?;
        answer
            .await
            .map_err(|_| RecordError::Storage("the usage writer stopped".into()))?
    }

    /// Drops the events the server acknowledged (every sequence up to `through`);
    /// answers the backlog left.
    pub async fn prune(&self, through: u64) -> Result<u64, RecordError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Request::Prune { through, reply })
            .map_err(|_| RecordError::Storage("the usage writer stopped".into()))?;
        answer
            .await
            .map_err(|_| RecordError::Storage("the usage writer stopped".into()))?
    }

    /// Resolves after the next commit that recorded events.
    pub async fn recorded(&self) {
        self.recorded.notified().await
    }

    /// Events recorded and not yet acknowledged by the server.
    pub fn backlog(&self) -> u64 {
        self.backlog.load(Ordering::Relaxed)
    }
}

fn read_pending(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<(u64, UsageEvent)>> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, kind, quantity, unit, camera_id, occurred_at, attributes
         FROM usage_events ORDER BY seq LIMIT ?1",
    )?;
    let rows = statement.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, kind, quantity, unit, camera_id, occurred_at, attributes) = row?;
        let time =
            OffsetDateTime::parse(&occurred_at, &time::format_description::well_known::Rfc3339)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        out.push((
            u64::try_from(seq).unwrap_or(0),
            UsageEvent {
                kind,
                quantity: u64::try_from(quantity).unwrap_or(0),
                unit,
                camera_id,
                time,
                attributes: attributes.and_then(|a| serde_json::from_str(&a).ok()),
            },
        ));
    }
    Ok(out)
}

fn write_loop(
    mut conn: Connection,
    receiver: mpsc::Receiver<Request>,
    backlog: Arc<AtomicU64>,
    max_backlog: u64,
    recorded: Arc<tokio::sync::Notify>,
) {
    while let Ok(first) = receiver.recv() {
        let mut group = Vec::new();
        let mut next = Some(first);
        while let Some(request) = next.take() {
            // Reads and prunes are answered on their own, between groups.
            match request {
                Request::Pending { limit, reply } => {
                    let _ = reply.send(
                        read_pending(&conn, limit).map_err(|e| RecordError::Storage(e.to_string())),
                    );
                }
                Request::Waiting {
                    kind,
                    period,
                    reply,
                } => {
                    let sum = conn
                        .query_row(
                            "SELECT coalesce(sum(quantity), 0) FROM usage_events
                             WHERE kind = ?1 AND substr(occurred_at, 1, length(?2)) = ?2",
                            params![kind, period],
                            |r| r.get::<_, i64>(0),
                        )
                        .map(|n| u64::try_from(n).unwrap_or(0))
                        .map_err(|e| RecordError::Storage(e.to_string()));
                    let _ = reply.send(sum);
                }
                Request::Prune { through, reply } => {
                    let result = conn
                        .execute(
                            "DELETE FROM usage_events WHERE seq <= ?1",
                            [i64::try_from(through).unwrap_or(i64::MAX)],
                        )
                        .and_then(|_| {
                            conn.query_row("SELECT count(*) FROM usage_events", [], |r| {
                                r.get::<_, i64>(0)
                            })
                        })
                        .map(|left| u64::try_from(left).unwrap_or(0));
                    if let Ok(left) = result {
                        backlog.store(left, Ordering::Relaxed);
                    }
                    let _ = reply.send(result.map_err(|e| RecordError::Storage(e.to_string())));
                }
                other => group.push(other),
            }
            if group.len() < GROUP_MAX {
                next = receiver.try_recv().ok();
            }
        }
        if group.is_empty() {
            continue;
        }
        let mut waiting = backlog.load(Ordering::Relaxed);
        let mut answers: Vec<Result<(u64, u64), RecordError>> = Vec::with_capacity(group.len());
        let mut day_answers: Vec<usize> = Vec::new();
        let result = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for request in &group {
                match request {
                    Request::Events { events, key, .. } => {
                        if let Some(key) = key {
                            match seen(&tx, key)? {
                                Seen::New => {}
                                Seen::Same(range) => {
                                    answers.push(Ok(range));
                                    continue;
                                }
                                Seen::Other => {
                                    answers.push(Err(RecordError::KeyReused(key.key.clone())));
                                    continue;
                                }
                            }
                        }
                        let count = events.len() as u64;
                        if waiting.saturating_add(count) > max_backlog {
                            answers.push(Err(RecordError::Full {
                                backlog: waiting,
                                limit: max_backlog,
                            }));
                            continue;
                        }
                        let mut range = (0, 0);
                        for (i, event) in events.iter().enumerate() {
                            let seq = insert(&tx, event)?;
                            if i == 0 {
                                range.0 = seq;
                            }
                            range.1 = seq;
                        }
                        if let Some(key) = key {
                            remember(&tx, key, range)?;
                        }
                        waiting += count;
                        answers.push(Ok(range));
                    }
                    Request::Pending { .. } | Request::Prune { .. } | Request::Waiting { .. } => {}
                    Request::CameraDays { days, .. } => {
                        let mut new = 0;
                        for CameraDay { camera, pack, day } in days {
                            let inserted = match &pack {
                                None => tx.execute(
                                    "INSERT OR IGNORE INTO camera_days (camera_id, day) VALUES (?1, ?2)",
                                    params![camera, day.to_string()],
                                )?,
                                Some(pack) => tx.execute(
                                    "INSERT OR IGNORE INTO camera_pack_days (camera_id, pack, day) \
                                     VALUES (?1, ?2, ?3)",
                                    params![camera, pack, day.to_string()],
                                )?,
                            };
                            if inserted == 1 {
                                insert(
                                    &tx,
                                    &UsageEvent {
                                        kind: match &pack {
                                            None => CAMERA_DAY.into(),
                                            Some(pack) => licet_core::rating::pack_day_meter(pack),
                                        },
                                        quantity: 1,
                                        unit: Some("camera-day".into()),
                                        camera_id: Some(camera.clone()),
                                        time: day.midnight().assume_utc(),
                                        attributes: None,
                                    },
                                )?;
                                new += 1;
                            }
                        }
                        waiting += new as u64;
                        day_answers.push(new);
                    }
                }
            }
            // One commit, one fsync, for everyone in the group.
            tx.commit()
        })();
        match result {
            Ok(()) => {
                backlog.store(waiting, Ordering::Relaxed);
                recorded.notify_one();
                let mut answers = answers.into_iter();
                let mut day_answers = day_answers.into_iter();
                for request in group {
                    match request {
                        Request::Events { reply, .. } => {
                            let _ = reply.send(
                                answers
                                    .next()
                                    .unwrap_or(Err(RecordError::Storage("no answer".into()))),
                            );
                        }
                        Request::CameraDays { reply, .. } => {
                            let _ = reply.send(Ok(day_answers.next().unwrap_or(0)));
                        }
                        Request::Pending { .. }
                        | Request::Prune { .. }
                        | Request::Waiting { .. } => {}
                    }
                }
            }
            Err(error) => {
                tracing::error!("usage write failed, nothing of this group was recorded: {error}");
                for request in group {
                    let message = RecordError::Storage(error.to_string());
                    match request {
                        Request::Events { reply, .. } => {
                            let _ = reply.send(Err(message));
                        }
                        Request::CameraDays { reply, .. } => {
                            let _ = reply.send(Err(message));
                        }
                        Request::Pending { .. }
                        | Request::Prune { .. }
                        | Request::Waiting { .. } => {}
                    }
                }
            }
        }
    }
}
