//! Starting a server for a test, and the fixtures every test needs.

use licet_client::Client;
use licet_client::wire::{ActivationRequest, SubscriptionCreate, SubscriptionView, TenantView};
use licet_host::clock::SystemClock;
use licet_server::ServerConfig;
use secrecy::SecretString;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;

pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub base: String,
    pub admin_token: String,
    pub admin: Client,
    pub anon: Client,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
    /// A PostgreSQL schema to drop when the test passed.
    schema: Option<(String, String)>,
}

/// The PostgreSQL URL for tests, in a fresh schema (returned with the base URL and the
/// schema, to drop it after); `None` outside CI when unset.
pub async fn postgres_url() -> Option<(String, String, String)> {
    use sqlx::Connection as _;
    let url = match std::env::var("LICET_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but LICET_TEST_POSTGRES_URL is not set: the server must be tested on PostgreSQL in CI"
            )
        }
        _ => return None,
    };
    let schema = licet_host::random::id("licet_test_").unwrap();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    Some((
        format!("{url}{separator}options[search_path]={schema}"),
        url,
        schema,
    ))
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
}

impl TestServer {
    pub async fn start(backend: Backend) -> Option<TestServer> {
        TestServer::start_clocked(backend, Arc::new(SystemClock)).await
    }

    /// A server whose clock the test sets.
    pub async fn start_clocked(
        backend: Backend,
        clock: Arc<dyn licet_host::clock::Clock>,
    ) -> Option<TestServer> {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, schema) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let (url, base, schema) = postgres_url().await?;
                (Some(url), Some((base, schema)))
            }
        };
        if database_url.is_some() {
            provision_signing_key(&dir.path().join("data"), clock.now());
        }
        let config = ServerConfig {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: database_url.map(SecretString::from),
            catalog_dir: Some(repo().join("examples/catalogs")),
            heartbeat_interval_seconds: 60,
            // Tests activate many devices from one address; limits are tested alone.
            rate_limits: licet_server::limits::RateLimits {
                activations_per_minute: 100_000,
                failed_auth_per_minute: 100_000,
                requests_per_credential_per_minute: 1_000_000,
            },
            ..ServerConfig::default()
        };
        let mut server = TestServer::start_with_clock(&config, dir, clock).await;
        server.schema = schema;
        Some(server)
    }

    /// A server for a configuration the test made (e.g. its own database).
    pub async fn start_with_config(config: &ServerConfig, dir: tempfile::TempDir) -> TestServer {
        TestServer::start_with_clock(config, dir, Arc::new(SystemClock)).await
    }

    async fn start_with_clock(
        config: &ServerConfig,
        dir: tempfile::TempDir,
        clock: Arc<dyn licet_host::clock::Clock>,
    ) -> TestServer {
        let prepared = licet_server::prepare(config, clock).await.unwrap();
        let token = prepared
            .bootstrap_token
            .expect("a fresh database creates the bootstrap admin");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, signal) = oneshot::channel::<()>();
        let app = licet_server::router(prepared.state);
        let task = tokio::spawn(async move {
            licet_server::serve(app, listener, async {
                let _ = signal.await;
            })
            .await
            .unwrap();
        });
        let anon = Client::new(&base);
        TestServer {
            admin: anon.with_token(&token),
            admin_token: token,
            anon,
            base,
            shutdown,
            task,
            _dir: dir,
            schema: None,
        }
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task.await.unwrap();
        if let Some((url, schema)) = &self.schema {
            drop_schema(url, schema).await;
        }
    }

    /// A tenant with one subscription; returns the tenant and the subscription (with key).
    pub async fn tenant_with(&self, product: &str, plan: &str) -> (TenantView, SubscriptionView) {
        let tenant = self.admin.create_tenant("Acme").await.unwrap();
        let subscription = self
            .admin
            .create_subscription(
                &tenant.id,
                &SubscriptionCreate {
                    product_id: product.into(),
                    plan: plan.into(),
                    addons: vec![],
                    trial: false,
                    modules: None,
                    term_days: None,
                },
            )
            .await
            .unwrap();
        (tenant, subscription)
    }

    /// Raw HTTP, for shapes the typed client cannot send.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::new()
    }
}

/// The vendor root of the keys [`provision_signing_key`] makes.
pub fn test_root() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[77; 32])
}

/// Gives a data directory a signing key certified by [`test_root`], as an operator
/// provisions every replica (the server invents no key on PostgreSQL).
pub fn provision_signing_key(data_dir: &std::path::Path, now: time::OffsetDateTime) {
    licet_host::files::create_private_dir(data_dir).unwrap();
    let key = licet_host::keyfile::generate().unwrap();
    licet_host::keyfile::write_signing_key(&data_dir.join("signing.key"), &key).unwrap();
    let certificate = licet_core::trust::certify(
        &test_root(),
        &key.verifying_key(),
        now,
        now - time::Duration::days(1),
        now + time::Duration::days(365),
    )
    .unwrap();
    std::fs::write(data_dir.join("signing.cert"), certificate).unwrap();
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn device_key() -> String {
    licet_core::signing::format_public_key(
        &ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key(),
    )
}

pub fn activation(key: &str, fingerprint: &str) -> ActivationRequest {
    ActivationRequest {
        license_key: key.to_owned(),
        fingerprint: fingerprint.to_owned(),
        device_public_key: device_key(),
        name: format!("box {fingerprint}"),
        hardware: Some(serde_json::json!({"ram_mb": 8192})),
        proof: None,
    }
}
