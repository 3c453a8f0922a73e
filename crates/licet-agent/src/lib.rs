//! The Licet agent: offline-first license enforcement on an edge device.
//!
//! It owns the device's side of licensing: activation (online or by file exchange),
//! the stored license and the state machine's persisted inputs ([`agent`]), the
//! background refresh and heartbeat ([`background`]), and the local API that vendor
//! applications ask "may I?" ([`api`], [`ofrep`], [`compat`], [`page`]). Rust
//! applications linked with the agent use [`Entitlements`] directly.
//!
//! Every entitlement rule lives in `licet-core`; the agent only feeds it the verified
//! license, the time and the server's verdicts, and serves its answers from memory.

pub mod agent;
pub mod api;
pub mod background;
pub mod compat;
pub mod config;
pub mod db;
pub mod error;
pub mod identity;
pub mod ofrep;
pub mod openapi;
pub mod page;
pub mod publish;
pub mod schema;
pub mod usage;

pub use agent::{Agent, DeviceIdentity, Entitlements};
pub use config::AgentConfig;

use anyhow::{Context, Result};
use api::{ApiState, Counters};
use axum::Router;
use licet_host::clock::Clock;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Request bodies larger than this are refused (413).
pub const BODY_LIMIT: usize = 256 * 1024;

/// The local API.
pub fn router(agent: Agent) -> Router {
    routes_and_document(agent).0
}

/// The local API and its OpenAPI document, made from one declaration: every route is
/// registered with `routes!`, which takes its path, method and documentation from the
/// handler's `#[utoipa::path]`.
pub fn routes_and_document(agent: Agent) -> (Router, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi as _;
    use utoipa_axum::routes;
    let state = ApiState {
        agent,
        counters: Arc::new(Counters::default()),
        latency: licet_http::observe::Latency::new(
            "licet_agent",
            "operation",
            "Time of the agent's own operations (usage_commit: events on disk, fsync included)",
        ),
    };
    let (routes, document) =
        utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
            .routes(routes!(page::status_page))
            .routes(routes!(api::health))
            .routes(routes!(api::metrics))
            .routes(routes!(licet_http::document))
            .routes(routes!(api::status))
            .routes(routes!(api::entitlements))
            .routes(routes!(api::check_feature))
            .routes(routes!(api::register_camera, api::list_cameras))
            .routes(routes!(api::remove_camera))
            .routes(routes!(api::assign_growth_packs))
            .routes(routes!(api::filter_classes))
            .routes(routes!(api::check_component))
            .routes(routes!(api::plan))
            .routes(routes!(api::sync))
            .routes(routes!(api::activate))
            .routes(routes!(api::activation_request))
            .routes(routes!(api::import_license))
            .routes(routes!(api::record_usage))
            .routes(routes!(api::usage))
            .routes(routes!(ofrep::evaluate_all))
            .routes(routes!(ofrep::evaluate_flag))
            // Foxsight's local license API.
            .routes(routes!(compat::foxsight_activate))
            .routes(routes!(compat::foxsight_get_status))
            .routes(routes!(compat::foxsight_validate))
            .routes(routes!(compat::foxsight_feature))
            .routes(routes!(compat::foxsight_heartbeat))
            // BrinkByte's edge license API.
            .routes(routes!(compat::brinkbyte_status))
            .routes(routes!(compat::brinkbyte_validate_camera))
            .routes(routes!(compat::brinkbyte_entitlements))
            .routes(routes!(compat::brinkbyte_heartbeat))
            .routes(routes!(compat::brinkbyte_usage))
            .routes(routes!(compat::brinkbyte_cameras))
            .routes(routes!(compat::bbvision_license))
            .routes(routes!(compat::bbvision_growth_packs))
            .routes(routes!(compat::bbvision_available_packs))
            .routes(routes!(compat::bbvision_subscription))
            .routes(routes!(compat::bbvision_usage))
            .split_for_parts();
    let app = routes
        .layer(axum::Extension(licet_http::Document::new(&document)))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.latency.clone(),
            licet_http::observe::measure,
        ))
        .layer(axum::middleware::from_fn(licet_http::observe::log_failures))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::require_token,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::require_local_host,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        // Outermost: a 413 from the body limit or a 405 still has the error shape.
        .layer(axum::middleware::from_fn(api::ensure_shape))
        .with_state(state);
    // Outermost: a request id and a span for every request, whatever answers it.
    (licet_http::observe::traced(app), document)
}

async fn not_found() -> error::ApiError {
    error::ApiError::NotFound("no such route; see /openapi.json".into())
}

/// Opens the agent, activates it with the configured license key if it has no license
/// yet (in the background, retried with backoff while the server is unreachable; the
/// local API answers "unactivated" meanwhile),
/// starts the background tasks and serves the local API until `shutdown` resolves.
/// In-flight requests finish and the time high-water mark is written before it returns.
pub async fn run(
    config: AgentConfig,
    clock: Arc<dyn Clock>,
    listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let agent = Agent::open(config, clock)?;
    serve(agent, listener, shutdown).await
}

/// How long in-flight work may take to finish after the shutdown signal.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// [`run`] for an agent that is already open.
pub async fn serve(
    agent: Agent,
    listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = background::spawn(&agent, stop_rx.clone());
    let state = agent.current().report.state;
    if state == licet_core::state::LicenseState::Unactivated && !agent.is_registered_online() {
        if let Some(key) = agent.config().license_key.clone() {
            tasks.push(tokio::spawn(background::activate_until_done(
                agent.clone(),
                key,
                stop_rx.clone(),
            )));
        }
    }
    let app = router(agent.clone());

    let mut servers = Vec::new();
    if let Some(listener) = listener {
        let mut stop = stop_rx.clone();
        let app = app.clone();
        servers.push(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
                .context("the local API server failed")
        }));
    }
    #[cfg(unix)]
    if let Some(path) = agent.config().socket.clone() {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // A socket left by a previous run would make bind fail.
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on the socket {}", path.display()))?;
        let mut stop = stop_rx.clone();
        servers.push(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
                .context("the local API socket server failed")
        }));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    // Everything gets a short grace to finish what it is doing; whatever still waits
    // after it (a call to a server that never answers, a client that keeps its
    // connection open) is cancelled, so SIGTERM ends the agent within seconds.
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    for mut server in servers {
        match tokio::time::timeout_at(deadline, &mut server).await {
            Ok(joined) => joined.context("the local API task panicked")??,
            Err(_) => {
                tracing::warn!("cancelled local API connections still open at shutdown");
                server.abort();
            }
        }
    }
    for mut task in tasks {
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            tracing::warn!("cancelled a background task still waiting at shutdown");
            task.abort();
        }
    }
    agent.persist()?;
    tracing::info!("agent stopped; state persisted");
    Ok(())
}
