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

use crate::config::AgentConfig;
use crate::db::{CameraRow, Db, Registration};
use crate::identity::{self, Fingerprint};
use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use ed25519_dalek::SigningKey;
use licet_client::agent::{ACTIVATION_REQUEST_FORMAT, ActivationRequestFile};
use licet_client::wire::{ActivationRequest, DeviceProof, HeartbeatRequest};
use licet_client::{Client, ClientError};
use licet_core::amount::Amount;
use licet_core::catalog::{Catalog, FeatureKind};
use licet_core::ids::DeviceId;
use licet_core::license::{self, Expectations, LicenseError, LicensePayload, VerifiedLicense};
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
    /// The server just issued it: the lease restarts now.
    Server,
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
    unlicensed: Option<Catalog>,
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
    /// Opens the agent's data directory (creating it, the device key and the database as
    /// needed) and verifies the stored license offline. Never touches the network.
    pub fn open(config: AgentConfig, clock: Arc<dyn Clock>) -> Result<Agent> {
        config.validate().map_err(anyhow::Error::msg)?;
        create_private_dir(&config.data_dir)?;
        let db = Db::open(&config.data_dir.join("agent.db")).with_context(|| {
            format!(
                "cannot open the agent database in {}",
                config.data_dir.display()
            )
        })?;
        let usage = crate::usage::Recorder::start(
            &config.data_dir.join("agent.db"),
            config.usage_max_backlog,
        )
        .context("cannot open the usage outbox")?;
        let device_key = identity::device_key(&config.data_dir)?;
        let fingerprint = identity::fingerprint(&config.identity_root, &config.data_dir)?;
        let unlicensed = match &config.catalog {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the catalog {}", path.display()))?;
                Some(
                    Catalog::from_toml(&text, &path.display().to_string())
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                )
            }
        };
        let mut http =
            reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(10));
        if config.http_timeout_seconds > 0 {
            // A server that accepts and never answers fails the call, which the caller
            // retries with backoff; it never holds a refresh (or shutdown) forever.
            http = http.timeout(std::time::Duration::from_secs(config.http_timeout_seconds));
        } else {
            tracing::warn!(
                "http_timeout_seconds = 0: calls to the server have no deadline (meant for tests only)"
            );
        }
        let http = http.build().context("cannot build the HTTP client")?;

        let mut keyring = Keyring::new();
        for text in &config.trusted_roots {
            let key = parse_public_key(text)
                .map_err(|e| anyhow::anyhow!("trusted_roots: {text:?} is not a public key: {e}"))?;
            keyring.add_root(key);
        }
        for text in &config.trusted_keys {
            let key = parse_public_key(text)
                .map_err(|e| anyhow::anyhow!("trusted_keys: {text:?} is not a public key: {e}"))?;
            keyring.add(key);
        }
        if let Some(lists) = db.meta("revocations")? {
            if let Err(error) = keyring.accept_revocations(&lists) {
                tracing::error!("ignored the stored revocation lists: {error}");
            }
        }
        // Keys learned from a server count only while trust on first use is configured:
        // turning it off takes them away at the next start.
        let trust_on_first_use = config.dev_trust_on_first_use
            && config.trusted_roots.is_empty()
            && config.trusted_keys.is_empty();
        let learned_keys: Vec<String> = db
            .meta("learned_keys")?
            .map(|v| v.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        if trust_on_first_use {
            tracing::warn!(
                "DEVELOPMENT MODE: dev_trust_on_first_use trusts the signing keys of the first server this agent reaches; \
                 anyone who can point this device at a server of their own can license it. Provision trusted_roots instead"
            );
            for text in &learned_keys {
                if let Ok(key) = parse_public_key(text) {
                    keyring.add(key);
                }
            }
        }
        let verdict = match db.meta("verdict")? {
            Some(text) => Some(
                serde_json::from_str::<StoredVerdict>(&text)
                    .context("the stored verdict is not readable")?,
            ),
            None => None,
        };
        let high_water = db.meta_time("high_water")?;
        let mut persisted = Persisted {
            license: None,
            keyring,
            learned_keys,
            trust_on_first_use,
            device_id: db.meta("device_id")?.map(DeviceId::new),
            device_token: db.meta("device_token")?.map(SecretString::from),
            last_refresh: db.meta_time("last_refresh")?,
            verdict,
            high_water,
            written_high_water: high_water,
            max_sequence: db
                .meta("max_sequence")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            rejection: None,
            seen_on_disk: None,
            anchor: (OffsetDateTime::UNIX_EPOCH, std::time::Duration::ZERO),
            generation: 0,
        };
        if let Some((armored, _)) = db.license()? {
            persisted.seen_on_disk = Some(armored.clone());
            let now = clock
                .now()
                .max(high_water.unwrap_or(OffsetDateTime::UNIX_EPOCH));
            match license::verify(
                &persisted.keyring,
                &armored,
                &Expectations {
                    fingerprint: Some(&fingerprint.value),
                    now: Some(now),
                    min_sequence: Some(persisted.max_sequence),
                },
            ) {
                Ok(verified) => persisted.license = Some(verified),
                Err(error) => {
                    let message = format!(
                        "the license stored in {} was refused: {error}; the device runs unlicensed until a valid license is activated or imported",
                        config.data_dir.join("agent.db").display()
                    );
                    tracing::error!("{message}");
                    persisted.rejection = Some(message);
                }
            }
        }

        let placeholder = Current {
            snapshot: Snapshot::empty(),
            report: state::evaluate(&StateInput {
                license: None,
                last_refresh: None,
                verdict: None,
                high_water: None,
                now: clock.now(),
            }),
            license: None,
            device_id: None,
            generation: 0,
            detail: String::new(),
        };
        let (changes, _) = watch::channel(0);
        persisted.anchor = (
            clock
                .now()
                .max(persisted.high_water.unwrap_or(OffsetDateTime::UNIX_EPOCH)),
            clock.monotonic(),
        );
        let agent = Agent {
            inner: Arc::new(Inner {
                config,
                clock,
                db,
                fingerprint,
                device_key,
                unlicensed,
                current: Arc::new(ArcSwap::from_pointee(placeholder)),
                persisted: Mutex::new(persisted),
                sync: Mutex::new(SyncStatus::default()),
                changes,
                wake: Notify::new(),
                http,
                usage,
                syncing: tokio::sync::Mutex::new(()),
            }),
        };
        agent.rebuild()?;
        Ok(agent)
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.inner.config
    }

    /// The clock.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
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
        let snapshot = match (payload, &self.inner.unlicensed) {
            (Some(payload), _) => Snapshot::from_license(payload, report.state),
            (None, Some(catalog)) => Snapshot::unlicensed(catalog),
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

    fn client(&self) -> Option<Client> {
        let server = self.inner.config.server.as_ref()?;
        Some(Client::with_http(server.clone(), self.inner.http.clone()))
    }

    fn device_client(&self) -> Result<(Client, DeviceId), SyncError> {
        let client = self.client().ok_or_else(|| {
            SyncError::NotPossible(
                "no server is configured (air-gapped): import licenses with `licet agent import-license`".into(),
            )
        })?;
        let p = lock(&self.inner.persisted);
        match (&p.device_id, &p.device_token) {
            (Some(id), Some(token)) => Ok((client.with_token(token.expose_secret()), id.clone())),
            _ => Err(SyncError::NotPossible(
                "this device is not activated with the server: start the agent with --license-key"
                    .into(),
            )),
        }
    }

    fn expectations<'a>(&'a self, p: &Persisted, new_device: bool) -> Expectations<'a> {
        let now = self.inner.clock.now();
        Expectations {
            fingerprint: Some(&self.inner.fingerprint.value),
            now: Some(p.high_water.map_or(now, |m| m.max(now))),
            min_sequence: if new_device {
                None
            } else {
                Some(p.max_sequence)
            },
        }
    }

    /// DEVELOPMENT ONLY (`dev_trust_on_first_use` with no root or key configured): trusts
    /// the server's published keys. Otherwise does nothing: trust comes from the roots
    /// the device was provisioned with, never from the network.
    async fn learn_keys(&self, client: &Client) -> Result<bool, ActivationError> {
        if !lock(&self.inner.persisted).trust_on_first_use {
            return Ok(false);
        }
        let keys = client
            .signing_keys()
            .await
            .map_err(|e| ActivationError::Unreachable(e.to_string()))?;
        let mut p = lock(&self.inner.persisted);
        let mut learned = false;
        for view in keys {
            if p.learned_keys.contains(&view.public_key) {
                continue;
            }
            let key = parse_public_key(&view.public_key).map_err(|e| {
                ActivationError::Internal(format!("the server published a bad key: {e}"))
            })?;
            p.keyring.add(key);
            p.learned_keys.push(view.public_key);
            learned = true;
        }
        if learned {
            let text = p.learned_keys.join("\n");
            self.inner
                .db
                .set_meta(&[("learned_keys", Some(&text))])
                .map_err(|e| ActivationError::Internal(e.to_string()))?;
        }
        Ok(learned)
    }

    /// Online activation with a license key.
    pub async fn activate(&self, license_key: &str) -> Result<LicensePayload, ActivationError> {
        let client = self.client().ok_or_else(|| {
            ActivationError::NotPossible(
                "no server is configured: set --server, or activate air-gapped with `licet agent activation-request`".into(),
            )
        })?;
        if lock(&self.inner.persisted).keyring.is_empty() {
            self.learn_keys(&client).await?;
        }
        let request = self.activation_request();
        // Prove the device holds its key, so that re-activating (a lost token, a wiped
        // data directory with the key kept) is possible and a copycat with the same
        // fingerprint is not.
        let challenge = client
            .activation_challenge()
            .await
            .map_err(ActivationError::from_server)?;
        let proof = DeviceProof {
            signature: licet_core::device_proof::prove(
                &self.inner.device_key,
                &challenge.nonce,
                &request.fingerprint,
            ),
            nonce: challenge.nonce,
        };
        let response = client
            .activate(&ActivationRequest {
                license_key: license_key.trim().to_owned(),
                fingerprint: request.fingerprint,
                device_public_key: request.device_public_key,
                name: request.name,
                hardware: request.hardware,
                proof: Some(proof),
            })
            .await
            .map_err(ActivationError::from_server)?;
        let verified = match self.verify(&response.license, true) {
            Err(LicenseError::UnknownKeyId(_)) if self.learn_keys(&client).await? => {
                self.verify(&response.license, true)?
            }
            other => other?,
        };
        let payload = verified.payload().clone();
        self.install(
            verified,
            Some((&response.device_id, &response.device_token)),
            Origin::Server,
        )
        .map_err(|e| ActivationError::Internal(format!("{e:#}")))?;
        tracing::info!(
            device = %response.device_id,
            plan = %payload.plan,
            "activated with the server"
        );
        Ok(payload)
    }

    fn verify(&self, armored: &str, new_device: bool) -> Result<VerifiedLicense, LicenseError> {
        self.absorb_revocations(armored);
        let p = lock(&self.inner.persisted);
        license::verify(&p.keyring, armored, &self.expectations(&p, new_device))
    }

    /// Takes a newer root-signed revocation list carried by a license or verdict. If it
    /// revokes the key that signed the license in use, that license is dropped: what a
    /// compromised key signed is worth nothing.
    fn absorb_revocations(&self, text: &str) {
        let mut p = lock(&self.inner.persisted);
        match p.keyring.accept_revocations(text) {
            Ok(taken) if taken.is_empty() => return,
            Ok(taken) => {
                tracing::info!(serials = ?taken, "took a newer revocation list from the vendor's root")
            }
            Err(error) => {
                tracing::warn!("ignored a revocation list: {error}");
                return;
            }
        }
        let lists: Vec<&str> = p.keyring.revocation_lists().collect();
        let lists = lists.join("");
        if let Err(error) = self.inner.db.set_meta(&[("revocations", Some(&lists))]) {
            tracing::error!("cannot store the revocation lists: {error}");
        }
        let revoked = p
            .license
            .as_ref()
            .is_some_and(|l| p.keyring.is_revoked(l.key_id()));
        if revoked {
            let message = "the license in use was signed by a key the vendor's root revoked; the device runs unlicensed until a license from a valid key arrives".to_owned();
            tracing::error!("{message}");
            p.license = None;
            p.rejection = Some(message);
            drop(p);
            if let Err(error) = self.rebuild() {
                tracing::error!("cannot re-evaluate the license state: {error:#}");
            }
        }
    }

    /// Stores a verified license as the current one. `refreshed`: the server just
    /// confirmed it (resets the lease and clears any verdict).
    fn install(
        &self,
        verified: VerifiedLicense,
        credentials: Option<(&str, &str)>,
        origin: Origin,
    ) -> Result<()> {
        let refreshed = origin == Origin::Server;
        let now = self.inner.clock.now();
        let payload = verified.payload();
        let sequence = payload.sequence;
        let device = payload.device.id.to_string();
        {
            let mut p = lock(&self.inner.persisted);
            let new_device = p.device_id.as_ref().map(|d| d.as_str()) != Some(device.as_str());
            let max_sequence = if new_device {
                sequence
            } else {
                p.max_sequence.max(sequence)
            };
            let max_text = max_sequence.to_string();
            let now_text = licet_core::time_text(now);
            // A license the server just issued carries the server's time: a device clock
            // that ran ahead (and dragged the high-water mark with it) is corrected here.
            let corrected_mark = refreshed.then(|| now.max(payload.issued_at));
            let mark_text = corrected_mark.map(licet_core::time_text);
            let mut meta: Vec<(&str, Option<&str>)> = vec![
                ("device_id", Some(&device)),
                ("max_sequence", Some(&max_text)),
            ];
            if let Some((_, token)) = credentials {
                meta.push(("device_token", Some(token)));
            }
            // A verdict is lifted only by a license newer than the one it named: a
            // license the device already held (re-imported, or replayed) never undoes a
            // suspension. An imported license starts its lease from its own issue time,
            // so no refresh time carries over.
            let lifts = p.verdict.as_ref().is_none_or(|v| sequence > v.sequence);
            if lifts {
                meta.push(("verdict", None));
            } else {
                tracing::warn!(
                    sequence,
                    "the license is not newer than the server's verdict; the verdict stays"
                );
            }
            if refreshed {
                meta.push(("last_refresh", Some(&now_text)));
                meta.push(("high_water", mark_text.as_deref()));
            } else {
                meta.push(("last_refresh", None));
            }
            self.inner
                .db
                .store_license(verified.armored(), sequence, now, &meta)?;
            p.device_id = Some(DeviceId::new(device.clone()));
            if let Some((_, token)) = credentials {
                p.device_token = Some(SecretString::from(token.to_owned()));
            }
            p.max_sequence = max_sequence;
            if lifts {
                p.verdict = None;
            }
            p.last_refresh = refreshed.then_some(now);
            if refreshed {
                p.high_water = corrected_mark;
                p.written_high_water = corrected_mark;
                p.anchor = (now.max(payload.issued_at), self.inner.clock.monotonic());
            }
            p.rejection = None;
            p.seen_on_disk = Some(verified.armored().to_owned());
            p.license = Some(verified);
        }
        self.rebuild()
    }

    /// Picks up a license another process stored (`licet agent import-license` while
    /// the agent runs). The stored inputs are re-read with it.
    pub fn reload(&self) -> Result<()> {
        let Some((armored, _)) = self.inner.db.license()? else {
            return Ok(());
        };
        {
            let mut p = lock(&self.inner.persisted);
            if p.seen_on_disk.as_deref() == Some(armored.as_str()) {
                return Ok(());
            }
            p.seen_on_disk = Some(armored.clone());
            let db = &self.inner.db;
            let max_sequence = db
                .meta("max_sequence")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(p.max_sequence);
            let expect = Expectations {
                min_sequence: None,
                ..self.expectations(&p, true)
            };
            match license::verify(&p.keyring, &armored, &expect) {
                Ok(verified) if verified.payload().sequence >= max_sequence => {
                    tracing::info!(
                        license = %verified.payload().license_id,
                        "picked up a license stored by another process"
                    );
                    p.device_id = db.meta("device_id")?.map(DeviceId::new);
                    p.last_refresh = db.meta_time("last_refresh")?;
                    p.verdict = db
                        .meta("verdict")?
                        .and_then(|t| serde_json::from_str(&t).ok());
                    p.max_sequence = max_sequence;
                    p.rejection = None;
                    p.license = Some(verified);
                }
                Ok(_) => tracing::error!("ignored a stored license older than the one in use"),
                Err(error) => {
                    tracing::error!("ignored a stored license that does not verify: {error}")
                }
            }
        }
        self.rebuild()
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

    /// What an air-gapped issuer needs to bind a license to this device.
    pub fn activation_request(&self) -> ActivationRequestFile {
        let name = self
            .inner
            .config
            .name
            .clone()
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "edge-device".to_owned());
        ActivationRequestFile {
            format: ACTIVATION_REQUEST_FORMAT.to_owned(),
            fingerprint: self.inner.fingerprint.value.clone(),
            device_public_key: format_public_key(&self.inner.device_key.verifying_key()),
            name,
            hardware: Some(serde_json::json!({
                "arch": std::env::consts::ARCH,
                "os": std::env::consts::OS,
                "ram_mb": self.inner.config.device_ram_mb,
            })),
        }
    }

    /// Imports a license file (air-gapped activation or renewal). It must verify, be
    /// bound to this device and not be older than what the device has. A license for
    /// a different device id than the current one is refused unless `new_device`.
    pub fn import_license(
        &self,
        armored: &str,
        new_device: bool,
    ) -> Result<LicensePayload, ActivationError> {
        let verified = self.verify(armored, new_device).inspect_err(|error| {
            tracing::warn!("refused a license offered for import: {error}");
        })?;
        let payload = verified.payload().clone();
        {
            let p = lock(&self.inner.persisted);
            let current = p.license.as_ref().map(|l| l.payload().device.id.clone());
            if let Some(current) = current {
                if current != payload.device.id && !new_device {
                    return Err(ActivationError::NotPossible(format!(
                        "the license is for device {} but this agent is device {current}; pass --new-device to replace the device's identity",
                        payload.device.id
                    )));
                }
            }
        }
        // An imported license is the issuer's word at issue time: it starts its lease
        // from its own issue time, as an air-gapped license should.
        self.install(verified, None, Origin::Imported)
            .map_err(|e| ActivationError::Internal(format!("{e:#}")))?;
        tracing::info!(license = %payload.license_id, sequence = payload.sequence, "license imported");
        Ok(payload)
    }

    /// Refreshes the license from the server once.
    pub async fn sync(&self) -> Result<LicensePayload, SyncError> {
        let _one_at_a_time = self.inner.syncing.lock().await;
        let (client, device_id) = self.device_client()?;
        let nonce = licet_host::random::id("n-")
            .map_err(|e| SyncError::Failed(format!("cannot draw a nonce: {e}")))?;
        let now = self.inner.clock.now();
        lock(&self.inner.sync).last_attempt = Some(now);
        let result = client.refresh(device_id.as_str(), Some(&nonce)).await;
        let outcome = match result {
            Ok(response) => {
                let verified = match self.verify(&response.license, false) {
                    Err(LicenseError::UnknownKeyId(_))
                        if self.learn_keys(&client).await.unwrap_or(false) =>
                    {
                        self.verify(&response.license, false)
                    }
                    other => other,
                };
                match verified {
                    Ok(verified) => {
                        let payload = verified.payload().clone();
                        self.install(verified, None, Origin::Server)
                            .map_err(|e| SyncError::Failed(format!("{e:#}")))?;
                        Ok(payload)
                    }
                    Err(error) => Err(SyncError::Failed(format!(
                        "the server sent a license this device refuses: {error}"
                    ))),
                }
            }
            Err(ClientError::Api { status, body }) => match &body.verdict {
                Some(text) => {
                    self.absorb_revocations(text);
                    let opened = {
                        let p = lock(&self.inner.persisted);
                        let at = self.expectations(&p, false).now.unwrap_or(now);
                        open_verdict(&p.keyring, text, &device_id, Some(&nonce), at)
                    };
                    match opened {
                        Ok((_, verdict)) => {
                            self.apply_verdict(verdict.verdict, &verdict.reason, verdict.sequence)
                                .map_err(|e| SyncError::Failed(format!("{e:#}")))?;
                            Err(SyncError::Refused(verdict.reason))
                        }
                        Err(error) => Err(SyncError::Failed(format!(
                            "ignored a refusal ({status}) whose verdict does not verify: {error}"
                        ))),
                    }
                }
                None => Err(SyncError::Failed(format!(
                    "the server answered {status}: {} ({})",
                    body.error.message, body.error.code
                ))),
            },
            Err(other) => Err(SyncError::Failed(format!(
                "cannot reach the server: {other}"
            ))),
        };
        {
            let mut sync = lock(&self.inner.sync);
            match &outcome {
                Ok(_) => {
                    sync.last_success = Some(now);
                    sync.last_error = None;
                    sync.failures = 0;
                }
                Err(SyncError::Refused(reason)) => {
                    sync.last_success = Some(now);
                    sync.last_error = Some(format!("refused: {reason}"));
                    sync.failures = 0;
                }
                Err(error) => {
                    sync.last_error = Some(error.to_string());
                    sync.failures = sync.failures.saturating_add(1);
                }
            }
        }
        if let Err(SyncError::Failed(message)) = &outcome {
            tracing::warn!("license refresh failed: {message}");
        }
        // The detail text mentions the last error: rebuild it.
        let _ = self.tick();
        outcome
    }

    fn apply_verdict(&self, verdict: Verdict, reason: &str, sequence: u64) -> Result<()> {
        let stored = StoredVerdict {
            verdict,
            reason: reason.to_owned(),
            sequence,
        };
        let text = serde_json::to_string(&stored)?;
        self.inner.db.set_meta(&[("verdict", Some(&text))])?;
        lock(&self.inner.persisted).verdict = Some(stored);
        tracing::warn!(
            ?verdict,
            reason,
            "the server definitively refused this device"
        );
        self.rebuild()
    }

    /// Sends one heartbeat; returns the interval the server asks for.
    pub async fn heartbeat(&self) -> Result<u64, SyncError> {
        let (client, device_id) = self.device_client()?;
        let cameras = self
            .inner
            .db
            .cameras()
            .map_err(|e| SyncError::Failed(e.to_string()))?;
        let plan = self.plan(None, None);
        let response = client
            .heartbeat(
                device_id.as_str(),
                &HeartbeatRequest {
                    agent_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
                    metrics: Some(serde_json::json!({ "cameras": cameras.len() })),
                    active_cameras: cameras.into_iter().map(|c| c.camera_id).collect(),
                    running_modules: plan.enabled.iter().map(|m| m.id.to_string()).collect(),
                },
            )
            .await
            .map_err(|e| SyncError::Failed(format!("heartbeat failed: {e}")))?;
        self.reconcile_quotas(&response.quotas).await?;
        let mut sync = lock(&self.inner.sync);
        sync.heartbeat_interval_seconds = Some(response.next_heartbeat_in_seconds);
        sync.last_heartbeat = Some(self.inner.clock.now());
        Ok(response.next_heartbeat_in_seconds)
    }

    /// Reconciles local quota counters with the server's count: the server counts every
    /// device's uploaded usage; this device adds what it recorded and has not uploaded
    /// yet. A counter only ever rises: what this device spent offline stays spent.
    async fn reconcile_quotas(
        &self,
        quotas: &[licet_client::wire::QuotaUsage],
    ) -> Result<(), SyncError> {
        for quota in quotas {
            let waiting = self
                .inner
                .usage
                .waiting(&quota.meter, &quota.period)
                .await
                .map_err(|e| SyncError::Failed(e.to_string()))?;
            self.inner
                .db
                .raise_quota_used(
                    &quota.feature,
                    &quota.period,
                    quota.used.saturating_add(waiting),
                )
                .map_err(|e| SyncError::Failed(e.to_string()))?;
        }
        Ok(())
    }

    /// The limit feature that counts cameras (`unit = "cameras"`), if the product has one.
    pub fn camera_limit(&self, current: &Current) -> Option<(String, Amount)> {
        current
            .snapshot
            .features()
            .filter(|(_, s)| s.kind == FeatureKind::Limit && s.unit.as_deref() == Some("cameras"))
            .map(|(k, s)| (k.to_owned(), s))
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(key, status)| {
                let limit = match &status.value {
                    licet_core::snapshot::Value::Amount(amount) => *amount,
                    _ => Amount::Finite(0),
                };
                (key, limit)
            })
    }

    /// Registers a camera against the camera limit, atomically.
    pub fn register_camera(&self, camera_id: &str, name: Option<&str>) -> Result<CameraAnswer> {
        let current = self.current();
        let limit = self.camera_limit(&current).map(|(_, limit)| limit);
        let now = current.report.effective_now;
        let answer = match self.inner.db.register_camera(camera_id, name, limit, now)? {
            Registration::Created(row) => CameraAnswer::Created(row),
            Registration::Existing(row) => return Ok(CameraAnswer::Existing(row)),
            Registration::LimitReached { registered } => {
                return Ok(CameraAnswer::LimitReached {
                    registered,
                    limit: limit.unwrap_or(Amount::Finite(0)),
                });
            }
        };
        self.inner.changes.send_modify(|n| *n += 1);
        Ok(answer)
    }

    /// Records usage events durably (group commit); answers their sequence numbers.
    pub async fn record_usage(
        &self,
        events: Vec<crate::usage::UsageEvent>,
    ) -> Result<(u64, u64), crate::usage::RecordError> {
        self.inner.usage.record(events).await
    }

    /// Uploads the oldest waiting usage events (at most `batch`) and drops what the
    /// server acknowledged. Answers how many the server acknowledged; 0 when nothing
    /// was waiting.
    pub async fn upload_usage(&self, batch: usize) -> Result<u64, SyncError> {
        let pending = self
            .inner
            .usage
            .pending(batch)
            .await
            .map_err(|e| SyncError::Failed(e.to_string()))?;
        let Some(&(first, _)) = pending.first() else {
            return Ok(0);
        };
        let (client, device_id) = self.device_client()?;
        let events = pending
            .into_iter()
            .map(|(sequence, e)| licet_client::wire::UsageUploadEvent {
                sequence,
                kind: e.kind,
                quantity: serde_json::Value::from(e.quantity),
                unit: e.unit,
                camera_id: e.camera_id,
                time: licet_core::time_text(e.time),
                attributes: e.attributes,
            })
            .collect();
        let result = client
            .upload_usage(
                device_id.as_str(),
                &licet_client::wire::UsageUpload { events },
            )
            .await
            .map_err(|e| SyncError::Failed(format!("usage upload failed: {e}")))?;
        for rejected in &result.rejected {
            tracing::warn!(
                sequence = rejected.sequence,
                "the server refused a usage event: {}",
                rejected.reason
            );
        }
        if result.acknowledged_through < first {
            return Err(SyncError::Failed(format!(
                "the server acknowledged usage only through {} but this device's oldest waiting event is {first}",
                result.acknowledged_through
            )));
        }
        self.inner
            .usage
            .prune(result.acknowledged_through)
            .await
            .map_err(|e| SyncError::Failed(e.to_string()))?;
        Ok(result.acknowledged_through - first + 1)
    }

    pub(crate) async fn usage_recorded(&self) {
        self.inner.usage.recorded().await
    }

    /// Usage events waiting for upload.
    pub fn usage_backlog(&self) -> u64 {
        self.inner.usage.backlog()
    }

    /// Records today's camera-day for every registered camera (once per camera and UTC
    /// day, however often it is called).
    pub async fn record_camera_days(&self) -> Result<usize> {
        // The clock's day, not the snapshot's evaluation time: a snapshot is only
        // re-evaluated at its next deadline, which may be days away.
        let today = self.now().to_offset(time::UtcOffset::UTC).date();
        let days: Vec<(String, time::Date)> = self
            .inner
            .db
            .cameras()?
            .into_iter()
            .map(|c| (c.camera_id, today))
            .collect();
        if days.is_empty() {
            return Ok(0);
        }
        Ok(self.inner.usage.record_camera_days(days).await?)
    }

    /// Unregisters a camera (its trial start is kept).
    pub fn remove_camera(&self, camera_id: &str) -> Result<bool> {
        let removed = self
            .inner
            .db
            .remove_camera(camera_id, self.inner.clock.now())?;
        if removed {
            self.inner.changes.send_modify(|n| *n += 1);
        }
        Ok(removed)
    }

    /// Registered cameras.
    pub fn cameras(&self) -> Result<Vec<CameraRow>> {
        Ok(self.inner.db.cameras()?)
    }

    /// One registered camera.
    pub fn camera(&self, camera_id: &str) -> Result<Option<CameraRow>> {
        Ok(self.inner.db.camera(camera_id)?)
    }

    /// A camera's trial under the current license.
    pub fn camera_trial(&self, current: &Current, camera: &CameraRow) -> CameraTrial {
        camera_trial(
            current.license.as_ref().and_then(|l| l.trial.as_ref()),
            camera.first_registered_at,
            current.report.effective_now,
        )
    }

    /// Uses `amount` of a quota, atomically with its counter for the current period.
    pub fn use_quota(
        &self,
        current: &Current,
        feature: &str,
        amount: u64,
    ) -> Result<QuotaDecision> {
        let Some(period) = current.snapshot.feature(feature).and_then(|s| s.period) else {
            return Ok(current.snapshot.check_quota(feature, 0, amount));
        };
        let key = period.key(current.report.effective_now);
        Ok(self.inner.db.consume_quota(feature, &key, |used| {
            let decision = current.snapshot.check_quota(feature, used, amount);
            (if decision.allowed { amount } else { 0 }, decision)
        })?)
    }

    /// Quota counters: (feature, period, used).
    pub fn quota_usage(&self) -> Result<Vec<(String, String, u64)>> {
        Ok(self.inner.db.quota_usage()?)
    }

    /// The module plan for this device now. `cameras` and `ram_mb` override the
    /// device's own facts, to ask "what if".
    pub fn plan(&self, cameras: Option<u32>, ram_mb: Option<u64>) -> ModulePlan {
        let current = self.current();
        let cameras = cameras.unwrap_or_else(|| {
            self.inner
                .db
                .cameras()
                .map(|c| u32::try_from(c.len()).unwrap_or(u32::MAX))
                .unwrap_or(0)
        });
        let keys: BTreeSet<String> = self.inner.config.config_keys.iter().cloned().collect();
        current.snapshot.plan(&DeviceFacts {
            cameras,
            ram_mb: ram_mb.or(self.inner.config.device_ram_mb),
            config_keys: &keys,
        })
    }

    /// Whether the device has a device token (online activation happened).
    pub fn is_registered_online(&self) -> bool {
        lock(&self.inner.persisted).device_token.is_some()
    }

    /// Test support: sets the persisted state-machine inputs directly, as if they had
    /// been read from disk (last refresh, verdict, high-water mark).
    #[doc(hidden)]
    pub fn set_state_inputs(
        &self,
        last_refresh: Option<OffsetDateTime>,
        verdict: Option<Verdict>,
        high_water: Option<OffsetDateTime>,
    ) -> Result<()> {
        {
            let mut p = lock(&self.inner.persisted);
            p.last_refresh = last_refresh;
            p.verdict = verdict.map(|verdict| StoredVerdict {
                verdict,
                reason: "set by the operator".into(),
                sequence: p.max_sequence,
            });
            p.high_water = high_water;
            p.written_high_water = None;
            let now = self.inner.clock.now();
            p.anchor = (
                high_water.map_or(now, |m| m.max(now)),
                self.inner.clock.monotonic(),
            );
        }
        self.rebuild()
    }

    /// Test support: the quota counter of a feature in the current period.
    #[doc(hidden)]
    pub fn set_quota_used(&self, feature: &str, used: u64) -> Result<()> {
        let current = self.current();
        if let Some(period) = current.snapshot.feature(feature).and_then(|s| s.period) {
            let key = period.key(current.report.effective_now);
            self.inner.db.set_quota_used(feature, &key, used)?;
        }
        Ok(())
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

fn create_private_dir(path: &std::path::Path) -> Result<()> {
    licet_host::files::create_private_dir(path).with_context(|| {
        format!(
            "cannot create the private data directory {}",
            path.display()
        )
    })
}
