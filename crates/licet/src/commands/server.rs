//! `licet server`, `licet server init`, `licet server print-config`.

use super::process::{init_logging, shutdown_signal};
use crate::args::{ServerAction, ServerArgs};
use anyhow::{Context, Result};
use licet_host::clock::SystemClock;
use licet_server::ServerConfig;
use secrecy::SecretString;
use std::process::ExitCode;
use std::sync::Arc;

/// Merges defaults < `--config` file < environment < flags (clap already put the
/// environment under the flags).
fn config(args: &ServerArgs) -> Result<ServerConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str(&text)
                .with_context(|| format!("invalid server configuration in {}", path.display()))?
        }
        None => ServerConfig::default(),
    };
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = &args.catalog_dir {
        config.catalog_dir = Some(dir.clone());
    }
    if let Some(url) = &args.database_url {
        config.database_url = Some(SecretString::from(url.clone()));
    }
    if let Some(seconds) = args.heartbeat_interval_seconds {
        config.heartbeat_interval_seconds = seconds;
    }
    if let Some(path) = &args.signing_key {
        config.signing_key = Some(path.clone());
    }
    if let Some(path) = &args.signing_certificate {
        config.signing_certificate = Some(path.clone());
    }
    if let Some(path) = &args.revocations {
        config.revocations = Some(path.clone());
    }
    if let Some(url) = &args.redis_url {
        config.redis_url = Some(SecretString::from(url.clone()));
    }
    Ok(config)
}

pub fn run(args: &ServerArgs) -> Result<ExitCode> {
    let config = config(args)?;
    if let Some(ServerAction::PrintConfig) = args.action {
        println!("data_dir = {:?}", config.data_dir.display().to_string());
        println!("listen = \"{}\"", config.listen);
        match &config.database_url {
            Some(_) => println!("database_url = \"[redacted]\""),
            None => println!(
                "# database_url unset: SQLite at {}",
                config.data_dir.join("licet.db").display()
            ),
        }
        if let Some(dir) = &config.catalog_dir {
            println!("catalog_dir = {:?}", dir.display().to_string());
        }
        println!(
            "heartbeat_interval_seconds = {}",
            config.heartbeat_interval_seconds
        );
        let path = |p: &Option<std::path::PathBuf>, default: &str| match p {
            Some(p) => format!("{:?}", p.display().to_string()),
            None => format!("# default: {}", config.data_dir.join(default).display()),
        };
        println!("signing_key = {}", path(&config.signing_key, "signing.key"));
        println!(
            "signing_certificate = {}",
            path(&config.signing_certificate, "signing.cert")
        );
        println!(
            "revocations = {}",
            path(&config.revocations, "revocations.txt")
        );
        if config.redis_url.is_some() {
            println!("redis_url = \"[redacted]\"");
        }
        println!("[rate_limits]");
        println!(
            "activations_per_minute = {}",
            config.rate_limits.activations_per_minute
        );
        println!(
            "failed_auth_per_minute = {}",
            config.rate_limits.failed_auth_per_minute
        );
        println!(
            "requests_per_credential_per_minute = {}",
            config.rate_limits.requests_per_credential_per_minute
        );
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
        licet_server::serve(licet_server::router(prepared.state), listener, shutdown).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}
