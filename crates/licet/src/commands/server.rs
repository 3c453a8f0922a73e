//! `licet server`, `licet server init`, `licet server print-config`.

use super::process::{init_logging, shutdown_signal};
use crate::args::{ServerAction, ServerArgs};
use anyhow::{Context, Result};
use licet_host::clock::SystemClock;
use licet_server::ServerConfig;
use std::process::ExitCode;
use std::sync::Arc;

/// The flags given (clap has already put each `LICET_…` variable under its flag).
#[derive(serde::Serialize)]
struct Given<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<&'a std::path::Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<std::net::SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    catalog_dir: Option<&'a std::path::Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    heartbeat_interval_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_key: Option<&'a std::path::Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_certificate: Option<&'a std::path::Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocations: Option<&'a std::path::Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_in_flight: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_detail_months: Option<u32>,
}

/// Layers defaults < `--config` file < environment < flags (figment; clap has put the
/// environment under the flags), then reads them as a `ServerConfig`, whose unknown
/// keys are refused.
fn config(args: &ServerArgs) -> Result<ServerConfig> {
    use figment::Figment;
    use figment::providers::{Format as _, Serialized, Toml};
    let mut layers = Figment::new();
    if let Some(path) = &args.config {
        layers = layers.merge(Toml::file_exact(path));
    }
    let given = Given {
        data_dir: args.data_dir.as_deref(),
        listen: args.listen,
        catalog_dir: args.catalog_dir.as_deref(),
        database_url: args.database_url.as_deref(),
        heartbeat_interval_seconds: args.heartbeat_interval_seconds,
        signing_key: args.signing_key.as_deref(),
        signing_certificate: args.signing_certificate.as_deref(),
        revocations: args.revocations.as_deref(),
        redis_url: args.redis_url.as_deref(),
        max_in_flight: args.max_in_flight,
        usage_detail_months: args.usage_detail_months,
    };
    layers
        .merge(Serialized::defaults(given))
        .extract()
        .map_err(|e| anyhow::anyhow!("invalid server configuration: {e}"))
}

pub fn run(args: &ServerArgs) -> Result<ExitCode> {
    let config = config(args)?;
    if let Some(ServerAction::PrintConfig) = args.action {
        if config.database_url.is_none() {
            println!(
                "# database_url unset: SQLite at {}",
                config.data_dir.join("licet.db").display()
            );
        }
        print!("{}", toml::to_string(&config)?);
        return Ok(ExitCode::SUCCESS);
    }
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        if let Some(ServerAction::ResetAdminToken) = args.action {
            let token = licet_server::reset_admin_token(&config, Arc::new(SystemClock)).await?;
            println!("every earlier admin token is revoked; the new one (shown once):");
            println!("{token}");
            return Ok(ExitCode::SUCCESS);
        }
        let prepared = licet_server::prepare(&config, Arc::new(SystemClock)).await?;
        if let Some(ServerAction::Init) = args.action {
            println!("data directory: {}", config.data_dir.display());
            println!("signing key id: {}", prepared.key_id);
            if let Some(root) = &prepared.dev_root {
                println!("development root (provision agents with --trusted-root): {}", root.display());
            }
            match prepared.bootstrap_token {
                Some(token) => println!("{token}"),
                None => anyhow::bail!(
                    "an admin token already exists for this database; it is shown only once, when created"
                ),
            }
            return Ok(ExitCode::SUCCESS);
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr().context("no local address")?;
        let shutdown = shutdown_signal()?;
        if let Some(token) = &prepared.bootstrap_token {
            println!("Bootstrap admin token (shown once; store it now):");
            println!("{token}");
        }
        if let Some(root) = &prepared.dev_root {
            println!(
                "Created a DEVELOPMENT root: agents trust it with --trusted-root {} (production: keep the root offline, see `licet keys new-root`)",
                root.display()
            );
        }
        println!("licet server listening on http://{address} (signing key {})", prepared.key_id);
        tracing::info!(%address, key_id = %prepared.key_id, "listening");
        let retention = licet_server::retention::spawn(prepared.state.clone(), config.usage_detail_months);
        licet_server::serve(licet_server::router(prepared.state), listener, shutdown).await?;
        retention.abort();
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}
