//! The agent's state: the verified license, the persisted inputs of the core state
//! machine, and the snapshot every check reads.
//!
//! Checks never touch the database or the network. They read one [`Current`] through an
//! `ArcSwap`; whatever changes the answer (a new license, a verdict, the clock passing a
//! deadline, a camera registered) builds a new `Current` and swaps it in whole, so a
//! reader sees either the old state or the new one, never a mix.
//!
//! What the server says is handled by its kind: a license is verified before it replaces
//! anything; a signed verdict that names this device and echoes this request's nonce is
//! obeyed at once; anything else (timeouts, proxies, 5xx, unsigned refusals) is a failed
//! refresh that only lets the lease run out.
//!
//! This module holds the types and the evaluation; the agent's other concerns are
//! rooms of their own, each an `impl Agent`: `open` (opening the data
//! directory), `held` (the license held and its trust), `online` (the server),
//! `devices` (cameras, quotas, usage, the plan) and `hooks` (for tests only).

mod catalog;
mod devices;
mod held;
mod hooks;
mod online;
mod open;

use crate::config::AgentConfig;
use crate::db::{CameraRow, Db, Registration};
use crate::identity::{self, Fingerprint};
use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use ed25519_dalek::SigningKey;
use licet_client::agent::{ACTIVATION_REQUEST_FORMAT, ActivationRequestFile};
use licet_client::wire::{ActivationRequest, DeviceProof, HeartbeatRequest, RefreshRequest};
use licet_client::{Client, ClientError};
use licet_core::amount::Amount;
use licet_core::catalog::FeatureKind;
use licet_core::ids::DeviceId;
use licet_core::license::{
    self, Expectations, LicenseError, LicensePayload, VerifiedLicense, with_held_grant,
};
use licet_core::planning::{DeviceFacts, ModulePlan};
use licet_core::signing::{Keyring, format_public_key, parse_public_key};
use licet_core::snapshot::{QuotaDecision, Snapshot};
use licet_core::state::{self, LicenseState, StateInput, StateReport, Verdict};
use licet_core::trial::{CameraTrial, camera_trial};
use licet_core::verdict::open_verdict;
use licet_host::clock::Clock;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};
use tokio::sync::{Notify, watch};

/// The high-water mark is written to disk when it moved by at least this much, so a
/// busy agent does not write on every check; a restart loses at most this much.
const HIGH_WATER_STEP: Duration = Duration::minutes(1);

/// What checks read: the snapshot, the state that built it, and the license facts the
/// status answers need. Immutable; replaced whole.
#[derive(Debug)]
pub struct Current {
    /// Entitlements with the state's policy applied.
    pub snapshot: Snapshot,
    /// The state and its deadlines.
    pub report: StateReport,
    /// The verified license's content.
    pub license: Option<LicensePayload>,
    /// The device id.
    pub device_id: Option<String>,
    /// Increases with every swap (ETags, change notifications).
    pub generation: u64,
    /// Why the state is what it is, for people.
    pub detail: String,
}

impl Current {
    /// The next time the state would change by itself.
    pub fn next_change_at(&self) -> Option<OffsetDateTime> {
        self.report.next_change_at()
    }
}

/// The agent database's meta key of the masked activation key.
const KEY_HINT: &str = "license_key_hint";

/// A license key masked for display: its last four characters, the rest as `*`
/// (a short key is masked whole). `FXSGHT-ABCD-1234` → `************1234`.
pub fn key_hint(key: &str) -> String {
    let key = key.trim();
    let count = key.chars().count();
    let shown = if count >= 12 { 4 } else { 0 };
    key.chars()
        .enumerate()
        .map(|(i, c)| if i + shown >= count { c } else { '*' })
        .collect()
}

/// A definite verdict as stored.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct StoredVerdict {
    verdict: Verdict,
    reason: String,
    /// The device's license sequence the verdict named: only a newer license lifts it.
    #[serde(default)]
    sequence: u64,
}

/// Mutable inputs of the state machine, mirrored in the database.
/// Whether a license may give the device another identity (device id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceIdentity {
    /// The license must be for the device this agent already is, and not older than
    /// what it holds.
    Same,
    /// The license may name another device id (an online activation, or an import with
    /// `--new-device`); the anti-rollback floor starts again with it.
    New,
}

/// How an evaluation treats the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Evaluation {
    /// The state's inputs changed: always a new snapshot.
    NewSnapshot,
    /// Only time passed: a new snapshot only when the state or the license changed.
    KeepSnapshotIfSameState,
}

struct Persisted {
    license: Option<VerifiedLicense>,
    keyring: Keyring,
    /// Keys trusted at first activation (pinned in the database); only with
    /// `dev_trust_on_first_use`.
    learned_keys: Vec<String>,
    /// Trust on first use is on: said on the status page.
    trust_on_first_use: bool,
    device_id: Option<DeviceId>,
    device_token: Option<SecretString>,
    last_refresh: Option<OffsetDateTime>,
    verdict: Option<StoredVerdict>,
    high_water: Option<OffsetDateTime>,
    written_high_water: Option<OffsetDateTime>,
    max_sequence: u64,
    /// Why the stored license was refused at start, if it was.
    rejection: Option<String>,
    /// The stored license text last read or written by this process.
    seen_on_disk: Option<String>,
    /// A trusted time and the monotonic clock then: while the agent runs, time keeps
    /// moving from there even if the wall clock is set back.
    anchor: (OffsetDateTime, std::time::Duration),
    generation: u64,
}

/// Progress of talking to the server, for the status page and metrics.
#[derive(Clone, Debug, Default)]
pub struct SyncStatus {
    /// The last successful refresh.
    pub last_success: Option<OffsetDateTime>,
    /// The last attempt.
    pub last_attempt: Option<OffsetDateTime>,
    /// The last failure's message, cleared by a success.
    pub last_error: Option<String>,
    /// Failures in a row.
    pub failures: u32,
    /// Seconds between heartbeats, as the server asked.
    pub heartbeat_interval_seconds: Option<u64>,
    /// The last heartbeat that reached the server.
    pub last_heartbeat: Option<OffsetDateTime>,
}

/// Why a refresh did not bring a license.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Nothing to refresh: no device or no server.
    #[error("{0}")]
    NotPossible(String),
    /// The server definitively refused (the verdict is applied).
    #[error("the server refused this device: {0}")]
    Refused(String),
    /// The server could not be reached or answered something unusable.
    #[error("{0}")]
    Failed(String),
}

/// Why an activation or an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// The request is not possible as configured.
    #[error("{0}")]
    NotPossible(String),
    /// The server refused, with its code.
    #[error("{message}")]
    Refused {
        /// The server's stable code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// The license was refused.
    #[error("{0}")]
    License(#[from] LicenseError),
    /// Anything else.
    #[error("{0}")]
    Internal(String),
}

impl ActivationError {
    /// A failed call to the server: its refusal (with its code: a `rate_limited` is
    /// passed on as such), or unreachable.
    fn from_server(error: ClientError) -> ActivationError {
        match error {
            ClientError::Api { body, .. } => ActivationError::Refused {
                code: body.error.code,
                message: body.error.message,
            },
            other => ActivationError::Unreachable(other.to_string()),
        }
    }
}

/// The outcome of assigning growth packs to a camera.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackAnswer {
    /// The camera now holds exactly these packs.
    Assigned(Vec<String>),
    /// The camera is not registered.
    NotRegistered,
    /// No license: nothing was bought.
    NoLicense,
    /// The license does not sell this pack per camera.
    NotPerCamera {
        /// The pack asked for.
        pack: String,
        /// The packs it sells per camera.
        per_camera: Vec<String>,
    },
    /// The pack is on as many cameras as were bought.
    AllTaken {
        /// The pack.
        pack: String,
        /// Cameras bought.
        cameras: u64,
        /// The cameras that hold it.
        holders: Vec<String>,
    },
}

/// The answer to a camera registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CameraAnswer {
    /// Registered now.
    Created(CameraRow),
    /// Was already registered.
    Existing(CameraRow),
    /// The limit is reached.
    LimitReached {
        /// Registered cameras.
        registered: u64,
        /// The limit.
        limit: Amount,
    },
}

/// Where a license being installed came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// The server just issued it, answering a request sent at `asked_at`: the lease
    /// restarts from then. Not from when the answer arrived: an answer held up on the
    /// way (a slow uplink, a proxy that sits on it) must not stretch the lease.
    Server {
        /// When the request was sent (the agent's clock).
        asked_at: OffsetDateTime,
    },
    /// A file: its lease runs from its own issue time.
    Imported,
}

/// The agent. Cheap to clone; every clone is the same agent.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

struct Inner {
    config: AgentConfig,
    clock: Arc<dyn Clock>,
    db: Db,
    fingerprint: Fingerprint,
    device_key: SigningKey,
    /// The product's signed catalog: core features and the policy with no valid license.
    catalog: Mutex<Option<Arc<licet_core::product_document::SignedCatalog>>>,
    current: Arc<ArcSwap<Current>>,
    persisted: Mutex<Persisted>,
    sync: Mutex<SyncStatus>,
    changes: watch::Sender<u64>,
    wake: Notify,
    http: reqwest::Client,
    usage: crate::usage::Recorder,
    /// One refresh at a time: two in flight would each take a sequence number and the
    /// older answer, arriving last, would be refused as a rollback.
    syncing: tokio::sync::Mutex<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The in-process entitlement API: a handle on the agent's current snapshot for a Rust
/// application linked with the agent. A check is one atomic load and one hash lookup.
#[derive(Clone)]
pub struct Entitlements {
    current: Arc<ArcSwap<Current>>,
}

impl Entitlements {
    /// May the feature be used now?
    pub fn allows(&self, feature: &str) -> bool {
        self.current.load().snapshot.check(feature).allowed
    }

    /// The state now.
    pub fn state(&self) -> LicenseState {
        self.current.load().report.state
    }

    /// The whole current view (for several checks against one consistent snapshot).
    pub fn current(&self) -> Arc<Current> {
        self.current.load_full()
    }
}

impl Agent {
    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.inner.config
    }

    /// The clock.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// Now, for timers shown to people (days left of a trial): the clock, never
    /// behind the time the state was last evaluated at (a clock set back moves no
    /// timer back). The snapshot's own `effective_now` is only as fresh as its last
    /// evaluation, which happens when the state changes, not every hour.
    pub fn timer_now(&self, current: &Current) -> OffsetDateTime {
        self.inner.clock.now().max(current.report.effective_now)
    }

    /// The in-process entitlement API.
    pub fn entitlements(&self) -> Entitlements {
        Entitlements {
            current: self.inner.current.clone(),
        }
    }

    /// A receiver that sees a new number whenever the snapshot or the cameras change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Asks the refresh loop to refresh now.
    pub fn wake_sync(&self) {
        self.inner.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.inner.wake.notified().await
    }

    /// The current view, first re-evaluated if the clock passed one of its deadlines.
    pub fn current(&self) -> Arc<Current> {
        let current = self.inner.current.load_full();
        let now = self.inner.clock.now();
        let due = current.next_change_at().is_some_and(|at| now >= at)
            // A clock set back is reported at once, not at the next tick.
            || (current.report.clock_behind_seconds.is_none()
                && current.report.effective_now - now > licet_core::state::CLOCK_TOLERANCE);
        if due {
            // Never waits: not on SQLite (evaluation writes nothing), and not on another
            // thread that holds the state's inputs (that thread re-evaluates them).
            if let Ok(mut p) = self.inner.persisted.try_lock() {
                let changed = self.evaluate(&mut p, Evaluation::KeepSnapshotIfSameState);
                drop(p);
                self.announce(changed);
            }
            return self.inner.current.load_full();
        }
        current
    }

    /// The fingerprint this device presents.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.inner.fingerprint
    }

    /// Refresh progress.
    pub fn sync_status(&self) -> SyncStatus {
        lock(&self.inner.sync).clone()
    }

    /// Re-evaluates after the state's inputs changed (a license, a verdict, a sync):
    /// always a new snapshot. Then persists the time high-water mark.
    pub fn rebuild(&self) -> Result<()> {
        let mut p = lock(&self.inner.persisted);
        let changed = self.evaluate(&mut p, Evaluation::NewSnapshot);
        drop(p);
        self.announce(changed);
        self.persist_high_water()
    }

    /// Re-evaluates because time passed: a new snapshot only when the state or the
    /// license changed, new deadlines otherwise. Then persists the time high-water mark.
    pub fn tick(&self) -> Result<()> {
        let mut p = lock(&self.inner.persisted);
        let changed = self.evaluate(&mut p, Evaluation::KeepSnapshotIfSameState);
        drop(p);
        self.announce(changed);
        self.persist_high_water()
    }

    /// Tells watchers (plan hook, Redis publication) about a new snapshot.
    fn announce(&self, generation: Option<u64>) {
        if let Some(generation) = generation {
            self.inner.changes.send_replace(generation);
        }
    }

    /// Writes the time high-water mark when it moved a step past the written one. The
    /// state's inputs are not held while SQLite writes: a check never waits on it.
    fn persist_high_water(&self) -> Result<()> {
        let due = {
            let p = lock(&self.inner.persisted);
            match (p.high_water, p.written_high_water) {
                (Some(mark), Some(written)) if mark - written >= HIGH_WATER_STEP => Some(mark),
                (Some(mark), None) => Some(mark),
                _ => None,
            }
        };
        if let Some(mark) = due {
            self.inner.db.set_meta_time("high_water", mark)?;
            let mut p = lock(&self.inner.persisted);
            if p.written_high_water.is_none_or(|written| written < mark) {
                p.written_high_water = Some(mark);
            }
        }
        Ok(())
    }

    /// Evaluates the state at the clock's time, in memory only, and swaps in the new
    /// snapshot; returns its generation when it is a new one.
    fn evaluate(&self, p: &mut Persisted, mode: Evaluation) -> Option<u64> {
        let now = self.inner.clock.now();
        // The monotonic floor: the time at open plus the time the agent has run since.
        let (anchor_at, anchor_mono) = p.anchor;
        let elapsed = self.inner.clock.monotonic().saturating_sub(anchor_mono);
        let floor = licet_core::time_after(
            anchor_at,
            Duration::try_from(elapsed).unwrap_or(Duration::ZERO),
        );
        if p.high_water.is_none_or(|mark| floor > mark) && p.license.is_some() {
            p.high_water = Some(floor);
        }
        let report = state::evaluate(&StateInput {
            license: p.license.as_ref().map(VerifiedLicense::payload),
            last_refresh: p.last_refresh,
            verdict: p.verdict.as_ref().map(|v| v.verdict),
            high_water: p.high_water,
            now,
        });
        if p.high_water.is_none_or(|mark| report.effective_now > mark) {
            p.high_water = Some(report.effective_now);
        }
        let old = self.inner.current.load();
        let license_changed = old.license.as_ref().map(|l| (&l.license_id, l.sequence))
            != p.license
                .as_ref()
                .map(|l| (&l.payload().license_id, l.payload().sequence));
        if mode == Evaluation::KeepSnapshotIfSameState
            && !license_changed
            && old.report.state == report.state
            && old.report.clock_behind_seconds.is_some() == report.clock_behind_seconds.is_some()
        {
            // Same state, same license: keep the snapshot, refresh the deadlines.
            if old.report != report {
                let same = Current {
                    snapshot: old.snapshot.clone(),
                    report,
                    license: old.license.clone(),
                    device_id: old.device_id.clone(),
                    generation: old.generation,
                    detail: detail(p, &report, &lock(&self.inner.sync)),
                };
                self.inner.current.store(Arc::new(same));
            }
            return None;
        }
        p.generation += 1;
        let payload = p.license.as_ref().map(VerifiedLicense::payload);
        let catalog = lock(&self.inner.catalog).clone();
        let snapshot = match (payload, catalog) {
            (Some(payload), _) => Snapshot::from_license(payload, report.state),
            (None, Some(signed)) => Snapshot::unlicensed(signed.catalog()),
            (None, None) => Snapshot::empty(),
        };
        let next = Current {
            snapshot,
            report,
            license: payload.cloned(),
            device_id: p.device_id.as_ref().map(|d| d.to_string()),
            generation: p.generation,
            detail: detail(p, &report, &lock(&self.inner.sync)),
        };
        if old.report.state != report.state {
            tracing::info!(
                from = old.report.state.as_str(),
                to = report.state.as_str(),
                "license state changed"
            );
        }
        if let Some(behind) = report.clock_behind_seconds {
            if old.report.clock_behind_seconds.is_none() {
                tracing::warn!(
                    behind_seconds = behind,
                    "the device clock is behind the latest time this device has seen; deadlines are measured from that time, not the clock"
                );
            }
        }
        let generation = next.generation;
        self.inner.current.store(Arc::new(next));
        Some(generation)
    }

    /// Writes the high-water mark now (at shutdown).
    pub fn persist(&self) -> Result<()> {
        let mut p = lock(&self.inner.persisted);
        if let Some(mark) = p.high_water {
            self.inner.db.set_meta_time("high_water", mark)?;
            p.written_high_water = Some(mark);
        }
        Ok(())
    }

    /// The plan key the plan-change command last succeeded with.
    pub(crate) fn applied_plan(&self) -> Option<String> {
        self.inner.db.meta("applied_plan").ok().flatten()
    }

    /// Records the plan key the plan-change command succeeded with.
    pub(crate) fn set_applied_plan(&self, key: &str) {
        if let Err(error) = self.inner.db.set_meta(&[("applied_plan", Some(key))]) {
            tracing::error!("cannot record the applied plan: {error}");
        }
    }

    pub(crate) async fn usage_recorded(&self) {
        self.inner.usage.recorded().await
    }
}

fn detail(p: &Persisted, report: &StateReport, sync: &SyncStatus) -> String {
    let at = |t: Option<OffsetDateTime>| t.map(licet_core::time_text).unwrap_or_default();
    let mut text = match report.state {
        LicenseState::Unactivated => p.rejection.clone().unwrap_or_else(|| {
            "no license yet: start the agent with --server and --license-key, or import one with `licet agent import-license`".into()
        }),
        LicenseState::Active => format!("licensed; next refresh due {}", at(report.refresh_due_at)),
        LicenseState::Stale => format!(
            "the server has not confirmed the license since it was due ({}); full service continues until {}",
            at(report.refresh_due_at),
            at(report.degrades_at)
        ),
        LicenseState::Degraded => format!(
            "no successful refresh before the offline grace ended at {}; only what the degradation policy keeps is on",
            at(report.degrades_at)
        ),
        LicenseState::Expired => match &p.verdict {
            Some(v) => format!("the subscription was cancelled: {}", v.reason),
            None => format!("the license term ended at {}", at(report.expires_at)),
        },
        LicenseState::Revoked | LicenseState::Suspended => match &p.verdict {
            Some(v) => format!("the server says: {}", v.reason),
            None => "the server refused this device".into(),
        },
    };
    if matches!(report.state, LicenseState::Stale | LicenseState::Degraded) {
        if let Some(error) = &sync.last_error {
            text.push_str(&format!(" (last refresh: {error})"));
        }
    }
    if let Some(behind) = report.clock_behind_seconds {
        text.push_str(&format!(
            "; the device clock is {behind} s behind the latest time this device has seen, so deadlines are measured from that time"
        ));
    }
    if p.trust_on_first_use {
        text.push_str("; WARNING: development mode (dev_trust_on_first_use): this device trusts whatever server it first reached, so anyone who can redirect it can license it");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::key_hint;

    #[test]
    fn a_key_hint_shows_only_the_last_four_characters_of_a_long_key() {
        assert_eq!(key_hint(" FXSGHT-ABCD-1234 "), "************1234");
        assert_eq!(key_hint("short-key"), "*********");
        assert_eq!(key_hint(""), "");
    }
}
