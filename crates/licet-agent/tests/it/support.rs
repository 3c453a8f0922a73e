//! A real Licet server for agent tests, on its own thread and runtime (so the agent's
//! tests may pause tokio time without stalling the server's database pool), and agents
//! in temporary data directories with their own machine identity.

use licet_agent::{Agent, AgentConfig};
use licet_client::Client;
use licet_client::wire::{SubscriptionCreate, SubscriptionView};
use licet_host::clock::{Clock, ManualClock};
use licet_server::ServerConfig;
use std::path::PathBuf;
use std::sync::Arc;
use time::OffsetDateTime;
use time::macros::datetime;

pub const START: OffsetDateTime = datetime!(2026-11-02 09:00 UTC);

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A server on a thread of its own; dropped → stopped.
pub struct TestServer {
    pub base: String,
    pub admin: Client,
    /// The bootstrap admin token, on the first start of a data directory.
    pub admin_token: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The database a test's server keeps its data in: SQLite in the server's data
/// directory, or a fresh schema of the PostgreSQL database `LICET_TEST_POSTGRES_URL`
/// names (kept across restarts of the server, as a real database is).
#[derive(Clone, Debug)]
pub struct Database(Option<String>);

impl Database {
    pub fn sqlite() -> Database {
        Database(None)
    }

    pub fn is_postgres(&self) -> bool {
        self.0.is_some()
    }

    /// A fresh PostgreSQL schema; `None` when no PostgreSQL is configured outside CI.
    pub fn postgres() -> Option<Database> {
        let url = match std::env::var("LICET_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
                "CI=true but LICET_TEST_POSTGRES_URL is not set: the replayed clients must run against a server on PostgreSQL in CI"
            ),
            _ => return None,
        };
        let schema = licet_host::random::id("licet_agent_test_").unwrap();
        let create = url.clone();
        let statement = format!("CREATE SCHEMA {schema}");
        // On a thread of its own: the caller may be inside a (paused) runtime.
        std::thread::spawn(move || {
            use sqlx::Connection as _;
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let mut conn = sqlx::PgConnection::connect(&create).await.unwrap();
                    sqlx::query(&statement).execute(&mut conn).await.unwrap();
                });
        })
        .join()
        .unwrap();
        let separator = if url.contains('?') { '&' } else { '?' };
        Some(Database(Some(format!(
            "{url}{separator}options[search_path]={schema}"
        ))))
    }
}

impl TestServer {
    /// Starts a server whose clock is `clock`, on a free port (or on `port`), keeping
    /// its database in `data_dir`.
    pub fn start(clock: Arc<ManualClock>, port: u16, data_dir: PathBuf) -> TestServer {
        TestServer::start_on(&Database::sqlite(), clock, port, data_dir)
    }

    /// [`TestServer::start`] on `database`.
    pub fn start_on(
        database: &Database,
        clock: Arc<ManualClock>,
        port: u16,
        data_dir: PathBuf,
    ) -> TestServer {
        provision_signing_key(&data_dir, clock.now());
        let config = ServerConfig {
            data_dir,
            listen: format!("127.0.0.1:{port}").parse().unwrap(),
            database_url: database.0.clone().map(secrecy::SecretString::from),
            catalog_dir: Some(repo().join("examples/catalogs")),
            heartbeat_interval_seconds: 300,
            ..ServerConfig::default()
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let clock: Arc<dyn Clock> = clock;
                let prepared = licet_server::prepare(&config, clock).await.unwrap();
                let token = prepared.bootstrap_token.clone();
                let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
                let base = format!("http://{}", listener.local_addr().unwrap());
                ready_tx.send((base, token)).unwrap();
                licet_server::serve(licet_server::router(prepared.state), listener, async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
            });
        });
        let (base, token) = ready_rx.recv().unwrap();
        // No request deadline: tests run on tokio's paused clock (see `Device::config`).
        let client = Client::with_http(&base, reqwest::Client::new());
        TestServer {
            admin: match &token {
                Some(token) => client.with_token(token),
                None => client,
            },
            admin_token: token,
            base,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Stops the server (the agent then sees connection refused).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    /// A tenant with a subscription; returns the subscription (with its license key).
    pub async fn subscription(&self, product: &str, plan: &str, trial: bool) -> SubscriptionView {
        let tenant = self.admin.create_tenant("Acme Parking").await.unwrap();
        self.admin
            .create_subscription(
                &tenant.id,
                &SubscriptionCreate {
                    product_id: product.into(),
                    plan: plan.into(),
                    addons: vec![],
                    trial,
                    modules: None,
                    term_days: None,
                },
            )
            .await
            .unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A device: a data directory and a machine identity of its own.
pub struct Device {
    pub dir: tempfile::TempDir,
}

impl Device {
    pub fn new(machine_id: &str) -> Device {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("root/etc")).unwrap();
        std::fs::write(
            dir.path().join("root/etc/machine-id"),
            format!("{machine_id}\n"),
        )
        .unwrap();
        Device { dir }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The example catalog of `product` signed by [`signing_key`] (as `licet catalog
    /// sign` writes it), in a file of this device's.
    pub fn signed_catalog(&self, product: &str) -> PathBuf {
        let source = repo().join(format!("examples/catalogs/{product}.toml"));
        let text = std::fs::read_to_string(source).unwrap();
        let catalog = licet_core::catalog::Catalog::from_toml(&text, product).unwrap();
        let (key, _) = signing_key();
        let signed = licet_core::product_document::seal_catalog(
            &text,
            &catalog,
            time::macros::datetime!(2026-01-01 00:00 UTC),
            &key,
        )
        .unwrap();
        let path = self.dir.path().join(format!("{product}.catalog"));
        std::fs::write(&path, signed).unwrap();
        path
    }

    pub fn config(&self, server: Option<&str>) -> AgentConfig {
        AgentConfig {
            server: server.map(str::to_owned),
            data_dir: self.data_dir(),
            identity_root: self.dir.path().join("root"),
            listen: "127.0.0.1:0".parse().unwrap(),
            trusted_roots: vec![test_root().1],
            // Tests drive the agent with tokio's paused clock, under which any request
            // deadline would fire at once; timeouts are tested with a real process.
            http_timeout_seconds: 0,
            ..AgentConfig::default()
        }
    }

    pub fn open(&self, config: AgentConfig, clock: Arc<ManualClock>) -> Agent {
        Agent::open(config, clock).unwrap()
    }
}

/// A running local API for an agent; dropped → stopped.
pub struct LocalApi {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LocalApi {
    /// Serves `agent` (with its background tasks) on a free loopback port.
    pub async fn start(agent: Agent) -> LocalApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            licet_agent::serve(agent, Some(listener), async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
        LocalApi {
            base,
            http: reqwest::Client::new(),
            stop: Some(stop_tx),
            task: Some(task),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// Stops serving: in-flight requests finish and state is persisted.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

/// The vendor root every test device trusts.
pub fn test_root() -> (ed25519_dalek::SigningKey, String) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    let public = licet_core::signing::format_public_key(&key.verifying_key());
    (key, public)
}

/// Gives a server data directory a fresh signing key certified by [`test_root`] for a
/// year from `now` (once: a restarted server keeps its key).
pub fn provision_signing_key(data_dir: &std::path::Path, now: OffsetDateTime) {
    if data_dir.join("signing.cert").exists() {
        return;
    }
    install_signing_key(
        data_dir,
        &licet_host::keyfile::generate().unwrap(),
        &test_root().0,
        now - time::Duration::days(1),
        now + time::Duration::days(365),
    );
}

/// Writes `key` as a server's signing key, certified by `root` for a window, replacing
/// what was there (a rotation, as an operator does it between restarts).
pub fn install_signing_key(
    data_dir: &std::path::Path,
    key: &ed25519_dalek::SigningKey,
    root: &ed25519_dalek::SigningKey,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) {
    licet_host::files::create_private_dir(data_dir).unwrap();
    let _ = std::fs::remove_file(data_dir.join("signing.key"));
    licet_host::keyfile::write_signing_key(&data_dir.join("signing.key"), key).unwrap();
    let certificate = licet_core::trust::certify(
        root,
        &key.verifying_key(),
        not_before,
        not_before,
        not_after,
    )
    .unwrap();
    std::fs::write(data_dir.join("signing.cert"), certificate).unwrap();
}

/// A fixed signing key for offline issuance, and its public key text.
pub fn signing_key() -> (ed25519_dalek::SigningKey, String) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let public = licet_core::signing::format_public_key(&key.verifying_key());
    (key, public)
}

/// Waits until the agent reaches `state`; fails after a minute of real time. (With
/// paused tokio time a tokio timeout cannot bound this: idle moments spent waiting for
/// real network IO advance tokio time timer by timer, hours in milliseconds.)
#[allow(clippy::disallowed_methods)] // A watchdog in real time, not a deadline of the product.
pub async fn wait_for_state(agent: &Agent, state: licet_core::state::LicenseState) {
    let started = std::time::Instant::now();
    let mut changes = agent.changes();
    while agent.current().report.state != state {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the agent never reached {state}; it is {}: {}",
            agent.current().report.state,
            agent.current().detail
        );
        tokio::select! {
            _ = changes.changed() => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// An agent with no server that trusts [`signing_key`], with a license for `plan` of
/// the example catalog `product` issued at `issued_at` and imported.
pub fn offline_agent(
    device: &Device,
    product: &str,
    subscription: licet_core::resolve::Subscription,
    clock: Arc<ManualClock>,
    adjust: impl FnOnce(&mut AgentConfig),
) -> Agent {
    let (_, public) = signing_key();
    let mut config = device.config(None);
    config.trusted_keys = vec![public];
    config.catalog = Some(device.signed_catalog(product));
    adjust(&mut config);
    let agent = device.open(config, clock.clone());
    if agent.current().license.is_none() {
        let armored = license_for(&agent, product, &subscription, 1, clock.now());
        agent
            .import_license(&armored, licet_agent::DeviceIdentity::Same)
            .unwrap();
    }
    agent
}

/// A license from [`signing_key`] for `agent`'s device (`device-1`), as an offline
/// issuer would write it.
pub fn license_for(
    agent: &Agent,
    product: &str,
    subscription: &licet_core::resolve::Subscription,
    sequence: u64,
    issued_at: OffsetDateTime,
) -> String {
    let (key, _) = signing_key();
    let path = repo().join(format!("examples/catalogs/{product}.toml"));
    let catalog =
        licet_core::catalog::Catalog::from_toml(&std::fs::read_to_string(&path).unwrap(), product)
            .unwrap();
    licet_core::license::issue(
        &licet_core::license::IssueRequest {
            catalog: &catalog,
            subscription,
            license_id: licet_core::ids::LicenseId::new(format!("lic_test_{sequence}")),
            subscription_id: None,
            tenant: licet_core::ids::TenantId::new("acme"),
            device: licet_core::ids::DeviceId::new("device-1"),
            fingerprint: &agent.fingerprint().value,
            issued_at,
            term_ends_at: None,
            trial_started_at: None,
            sequence,
            grace: None,
            refresh: None,
        },
        &key,
    )
    .unwrap()
    .armored
}

pub fn trial(plan: &str) -> licet_core::resolve::Subscription {
    licet_core::resolve::Subscription {
        trial: true,
        ..licet_core::resolve::Subscription::plan(plan)
    }
}
