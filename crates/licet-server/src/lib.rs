//! The Licet server: multi-tenant HTTP API for catalogs, tenants, subscriptions,
//! device activation and signed licenses.
//!
//! [`prepare`] opens the store (SQLite under the data directory, or PostgreSQL),
//! loads or creates the signing key, loads catalogs and creates the bootstrap admin
//! token on first start; [`router`] builds the axum app; [`serve`] runs it until the
//! shutdown future completes, letting in-flight requests finish. The server keeps no
//! state of its own between requests, so N replicas over one PostgreSQL are one server.

pub mod auth;
pub mod config;
pub mod error;
mod invoicing;
mod issuance;
pub mod limits;
pub mod metering;
pub mod metrics;
mod observed;
mod openapi;
pub mod retention;
pub mod routes;
pub mod sequences;
pub mod sessions;
pub mod signer;
mod standing;
pub mod state;

pub use config::ServerConfig;
pub use state::AppState;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use licet_core::ids::ProductId;
use licet_core::signing::KeyId;
use licet_host::clock::Clock;
use licet_store::{CredentialKind, SigningKeyRecord};
use secrecy::ExposeSecret;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Request bodies larger than this are refused (catalogs are the largest bodies).
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// A server ready to serve.
pub struct Prepared {
    /// The handler state.
    pub state: AppState,
    /// The bootstrap admin token, when this start created it (shown once).
    pub bootstrap_token: Option<String>,
    /// The signing key's id.
    pub key_id: KeyId,
    /// The public key file of a development root this start created (SQLite only).
    pub dev_root: Option<std::path::PathBuf>,
}

/// Opens everything the server needs. Creates the data directory (0700) and the
/// bootstrap admin on first start; on SQLite also the signing key (0600) and a
/// development root that certifies it (see [`signer`]).
pub async fn prepare(config: &ServerConfig, clock: Arc<dyn Clock>) -> Result<Prepared> {
    licet_host::files::create_private_dir(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let now = clock.now();
    // The signing material is checked before the database is touched: a replica that
    // would sign with the wrong key must not start at all.
    let (signer, created) = signer::Signer::load(config, config.database_url.is_none(), now)?;
    let store = open_store(config).await?;
    let key_id = signer.key_id().clone();
    store
        .register_signing_key(&SigningKeyRecord {
            key_id: key_id.to_string(),
            public_key: signer.public_key(),
            created_at: now,
        })
        .await
        .context("cannot register the signing key")?;
    let redis = match &config.redis_url {
        None => None,
        Some(url) => Some(connect_redis(url.expose_secret()).await?),
    };
    let metrics = Arc::new(metrics::Metrics::default());
    let sessions = Arc::new(sessions::Sessions::new(store.changes()));
    let credentials = Arc::new(sessions::Credentials::new(store.changes()));
    let state = AppState::new(state::Shared {
        store: observed::Observed::wrap(store, metrics.latency.clone()),
        signer: Arc::new(signer),
        limiter: limits::Limiter::new(config.rate_limits, redis),
        quota_turns: Default::default(),
        tenants: Default::default(),
        clock,
        catalogs: Default::default(),
        resolutions: Default::default(),
        grants: Default::default(),
        revisions: Default::default(),
        sessions,
        credentials,
        sequences: Default::default(),
        metrics,
        heartbeat_interval_seconds: config.heartbeat_interval_seconds,
        admission: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
    });
    if let Some(dir) = &config.catalog_dir {
        load_catalogs(&state, dir).await?;
    }
    let (token, credential) = auth::mint(CredentialKind::Admin, None, None, vec![], now, None)
        .map_err(|e| anyhow::anyhow!("cannot mint the bootstrap token: {e:?}"))?;
    let bootstrap_token = state
        .store
        .create_bootstrap_admin(&credential)
        .await
        .context("cannot create the bootstrap admin")?
        .then_some(token);
    Ok(Prepared {
        state,
        bootstrap_token,
        key_id,
        dev_root: created.dev_root,
    })
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Connects to Redis for shared rate limits. A Redis that is configured but unreachable
/// at start is an error (a typo should not silently weaken the limits); one that goes
/// away later only makes the limits local (see [`limits`]).
async fn connect_redis(url: &str) -> Result<redis::aio::ConnectionManager> {
    let client = redis::Client::open(url).map_err(|e| {
        anyhow::anyhow!(
            "redis_url is not a Redis URL: {}",
            redact_all(&e.to_string(), url)
        )
    })?;
    let connect = redis::aio::ConnectionManager::new(client);
    match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
        Ok(Ok(manager)) => Ok(manager),
        Ok(Err(error)) => anyhow::bail!(
            "cannot reach Redis at {}: {}",
            redact(url),
            redact_all(&error.to_string(), url)
        ),
        Err(_) => anyhow::bail!("cannot reach Redis at {} within 5 s", redact(url)),
    }
}

/// Opens (and migrates) the configured database; an SQLite file is made 0600.
async fn open_store(config: &ServerConfig) -> Result<Arc<dyn licet_store::Store>> {
    let (url, sqlite_file) = match &config.database_url {
        Some(url) => (url.expose_secret().to_owned(), None),
        None => {
            let file = config.data_dir.join("licet.db");
            (format!("sqlite://{}", file.display()), Some(file))
        }
    };
    let store = licet_store::open(&url).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot open the database ({}): {}",
            redact(&url),
            redact_all(&e.to_string(), &url)
        )
    })?;
    if let Some(file) = sqlite_file {
        licet_host::files::make_private_file(&file)
            .with_context(|| format!("cannot make {} private", file.display()))?;
    }
    Ok(store)
}

/// Recovers the admin: revokes every admin token and returns a new one. Needs what only
/// an operator has — the data directory or the database URL — and no running server.
pub async fn reset_admin_token(config: &ServerConfig, clock: Arc<dyn Clock>) -> Result<String> {
    let store = open_store(config).await?;
    let now = clock.now();
    let (token, credential) = auth::mint(CredentialKind::Admin, None, None, vec![], now, None)
        .map_err(|e| anyhow::anyhow!("cannot mint an admin token: {e:?}"))?;
    store
        .replace_admin_tokens(&credential, now)
        .await
        .context("cannot replace the admin tokens")?;
    tracing::warn!(
        "the admin token was reset from the command line; earlier admin tokens are revoked"
    );
    Ok(token)
}

/// `text` with every occurrence of the URL's password replaced (a driver's error may
/// quote the URL it was given).
fn redact_all(text: &str, url: &str) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .and_then(|(user_info, _)| user_info.split_once(':'))
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty());
    match password {
        Some(password) => text.replace(url, &redact(url)).replace(password, "…"),
        None => text.to_owned(),
    }
}

async fn load_catalogs(state: &AppState, dir: &Path) -> Result<()> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the catalog directory {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let catalog = licet_core::catalog::Catalog::from_toml(&text, &path.display().to_string())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let product: &ProductId = catalog.product();
        state
            .store
            .put_catalog(product, catalog.version(), &text, state.clock.now())
            .await
            .with_context(|| {
                format!(
                    "cannot load {}: version {} of {product} is already stored with other content; raise `version`",
                    path.display(),
                    catalog.version()
                )
            })?;
        tracing::info!(product = %product, version = catalog.version(), "loaded catalog");
    }
    Ok(())
}

/// The application.
pub fn router(state: AppState) -> Router {
    routes_and_document(state).0
}

/// The application and its OpenAPI document, made from one declaration: every route is
/// registered with `routes!`, which takes its path, method and documentation from the
/// handler's `#[utoipa::path]`.
pub fn routes_and_document(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    use routes::{
        catalogs, claims, compat, devices, imports, invoices, rate_limits, subscriptions, system,
        tenant_flags, tenants, usage,
    };
    use utoipa::OpenApi as _;
    use utoipa_axum::routes;
    let (routes, document) =
        utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
            .routes(routes!(system::healthz))
            .routes(routes!(system::readyz))
            .routes(routes!(system::metrics))
            .routes(routes!(licet_http::document))
            .routes(routes!(system::signing_keys))
            .routes(routes!(system::signing_key))
            .routes(routes!(catalogs::list_products))
            .routes(routes!(catalogs::put_catalog))
            .routes(routes!(catalogs::signed_catalog))
            .routes(routes!(tenants::create_tenant, tenants::list_tenants))
            .routes(routes!(tenants::get_tenant))
            .routes(routes!(
                subscriptions::create_subscription,
                subscriptions::list_subscriptions
            ))
            .routes(routes!(devices::list_devices))
            .routes(routes!(
                subscriptions::get_subscription,
                subscriptions::change_subscription
            ))
            .routes(routes!(imports::import))
            .routes(routes!(tenant_flags::check))
            .routes(routes!(rate_limits::decide))
            .routes(routes!(claims::claim, claims::list))
            .routes(routes!(claims::release))
            .routes(routes!(tenant_flags::evaluate_flag))
            .routes(routes!(tenant_flags::evaluate_all))
            .routes(routes!(subscriptions::suspend))
            .routes(routes!(subscriptions::resume))
            .routes(routes!(subscriptions::cancel))
            .routes(routes!(devices::activate))
            .routes(routes!(devices::challenge))
            .routes(routes!(devices::get_device, devices::deactivate))
            .routes(routes!(devices::refresh))
            .routes(routes!(devices::heartbeat))
            .routes(routes!(usage::upload))
            .routes(routes!(devices::list_cameras))
            .routes(routes!(usage::series))
            .routes(routes!(usage::cloudevents))
            .routes(routes!(usage::quotas))
            .routes(routes!(invoices::issue, invoices::list))
            .routes(routes!(invoices::preview))
            .routes(routes!(tenants::create_api_key))
            .routes(routes!(tenants::revoke_api_key))
            .routes(routes!(tenants::list_api_keys))
            .routes(routes!(tenants::rotate_admin_token))
            // BrinkByte billing service, for BrinkByte's existing edge code.
            .routes(routes!(compat::brinkbyte_validate))
            .routes(routes!(compat::brinkbyte_entitlement))
            .routes(routes!(compat::brinkbyte_heartbeat))
            .routes(routes!(compat::brinkbyte_usage_batch))
            .routes(routes!(compat::brinkbyte_health))
            // Foxsight license server, for Foxsight VMS installations.
            .routes(routes!(compat::foxsight_activate))
            .routes(routes!(compat::foxsight_validate))
            .routes(routes!(compat::foxsight_heartbeat))
            .split_for_parts();
    let app = routes
        .layer(axum::Extension(licet_http::Document::new(&document)))
        .fallback(not_found)
        // Innermost: sees the decompressed body, before any handler.
        .layer(middleware::from_fn(refuse_nul))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        // Agents gzip their usage uploads; the body limit above applies to the
        // decompressed bytes, so a small bomb cannot grow past it.
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        // A bug must cost one request a 500, never the connection or the process.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(middleware::from_fn_with_state(
            state.metrics.latency.clone(),
            licet_http::observe::measure,
        ))
        .layer(middleware::from_fn(licet_http::observe::log_failures))
        // Before any work: past the bound, 503 at once instead of a queue (counted by
        // the response counters outside it).
        .layer(middleware::from_fn_with_state(
            state.admission.clone(),
            admit,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        // Outermost: whatever a layer below answered, a client gets the error shape.
        .layer(middleware::from_fn(error::ensure_shape))
        .with_state(state);
    // Outermost: a request id and a span for every request, whatever answers it.
    (licet_http::observe::traced(app), document)
}

/// Admission control: a request is served only with a permit, held until its answer
/// is complete; with none left it is answered 503 (with `Retry-After`) at once, so
/// overload costs clients a retry instead of costing the server memory and every
/// client its latency. `/healthz`, `/readyz` and `/metrics` need no permit: an overloaded server
/// is alive, and its operator must see why.
async fn admit(
    State(admission): State<Arc<tokio::sync::Semaphore>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    if matches!(request.uri().path(), "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    match admission.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => axum::response::IntoResponse::into_response(error::ApiError::Overloaded),
    }
}

/// Refuses NUL characters anywhere in a request (path, query, JSON body): PostgreSQL
/// cannot store them in text, and no Licet field has a use for them. Reads the body
/// once (it is bounded by [`BODY_LIMIT_BYTES`]) and hands the same bytes on.
/// The compatibility routes answer in their product's shape, this refusal included.
async fn refuse_nul(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let refuse = |error: error::ApiError| routes::compat::in_shape_of(&path, error);
    let nul = || {
        refuse(error::ApiError::InvalidRequest(
            "the request contains a NUL character (\\u0000 or %00); remove it".into(),
        ))
    };
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("");
    if target.to_ascii_lowercase().contains("%00") {
        return nul();
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return refuse(error::ApiError::TooLarge(format!(
                "the request body is larger than {BODY_LIMIT_BYTES} bytes (after decompression)"
            )));
        }
    };
    if has_nul(&bytes) {
        return nul();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// A raw NUL byte, or a JSON `\u0000` escape (one not itself escaped as `\\u0000`).
fn has_nul(bytes: &[u8]) -> bool {
    if bytes.contains(&0) {
        return true;
    }
    let mut backslashes = 0usize;
    for (i, byte) in bytes.iter().enumerate() {
        if *byte == b'\\' {
            backslashes += 1;
            continue;
        }
        if *byte == b'u'
            && backslashes % 2 == 1
            && bytes.get(i + 1..i + 5).is_some_and(|h| h == b"0000")
        {
            return true;
        }
        backslashes = 0;
    }
    false
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    use axum::response::IntoResponse as _;
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a handler panicked");
    error::ApiError::Internal(format!("panic: {detail}")).into_response()
}

async fn not_found() -> error::ApiError {
    error::ApiError::NotFound("no such route; see /openapi.json".into())
}

/// Counts responses by status class.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    state.metrics.response(response.status().as_u16());
    response
}

/// Serves until `shutdown` completes; in-flight requests finish first.
pub async fn serve(
    app: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // The client's address is what activation and failed-credential limits key on.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("the server stopped with an error")
}
