//! `licet agent` and its subcommands: run the agent, write an air-gapped activation
//! request, import a license, show the plan or the state of the stored license.

use super::process::{init_logging, shutdown_signal};
use crate::args::{AgentAction, AgentArgs, Format};
use crate::output;
use anyhow::{Context, Result};
use licet_agent::{Agent, AgentConfig};
use licet_host::clock::SystemClock;
use std::process::ExitCode;
use std::sync::Arc;

/// The flags given (clap has already put each `LICET_AGENT_…` variable under its flag).
#[derive(serde::Serialize)]
struct Given<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<&'a std::path::Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<std::net::SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    socket: Option<&'a std::path::Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_ram_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_plan_change: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_url: Option<&'a str>,
    /// Added to the file's roots and keys, not instead of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    trusted_roots: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    trusted_keys: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dev_trust_on_first_use: bool,
}

/// The contents of public key files named on the command line.
fn read_keys(paths: &[std::path::PathBuf], what: &str) -> Result<Vec<String>> {
    paths
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_owned())
                .with_context(|| format!("cannot read the {what} {}", path.display()))
        })
        .collect()
}

/// Layers defaults < `--config` file < environment < flags (figment; clap has put the
/// environment under the flags; root and key lists from flags are appended), then
/// reads them as an `AgentConfig`, whose unknown keys are refused.
fn config(args: &AgentArgs) -> Result<AgentConfig> {
    use figment::Figment;
    use figment::providers::{Format as _, Serialized, Toml};
    let mut layers = Figment::new();
    if let Some(path) = &args.config {
        layers = layers.merge(Toml::file_exact(path));
    }
    let given = Given {
        server: args.server.as_deref(),
        license_key: args.license_key.as_deref(),
        data_dir: args.data_dir.as_deref(),
        listen: args.listen,
        socket: args.socket.as_deref(),
        api_token: args.api_token.as_deref(),
        device_ram_mb: args.device_ram_mb,
        on_plan_change: args.on_plan_change.as_deref(),
        redis_url: args.redis_url.as_deref(),
        trusted_roots: read_keys(&args.trusted_roots, "root public key")?,
        trusted_keys: read_keys(&args.pubkeys, "public key")?,
        dev_trust_on_first_use: args.dev_trust_on_first_use,
    };
    layers
        .admerge(Serialized::defaults(given))
        .extract()
        .map_err(|e| anyhow::anyhow!("invalid agent configuration: {e}"))
}

pub fn run(args: &AgentArgs) -> Result<ExitCode> {
    let config = config(args)?;
    match &args.action {
        Some(AgentAction::PrintConfig) => {
            config.validate().map_err(anyhow::Error::msg)?;
            println!("{}", toml::to_string(&config)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(AgentAction::ActivationRequest { out }) => {
            let agent = Agent::open(config, Arc::new(SystemClock))?;
            let text = serde_json::to_string_pretty(&agent.activation_request())?;
            match out {
                Some(path) => {
                    std::fs::write(path, format!("{text}\n"))
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "wrote {}; issue a license for it with `licet license issue --request {} …`",
                        path.display(),
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(AgentAction::ImportLicense { file, new_device }) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let agent = Agent::open(config, Arc::new(SystemClock))?;
            let payload = agent
                .import_license(
                    &text,
                    if *new_device {
                        licet_agent::DeviceIdentity::New
                    } else {
                        licet_agent::DeviceIdentity::Same
                    },
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "imported license {} (device {}, plan {}, sequence {}); state: {}",
                payload.license_id,
                payload.device.id,
                payload.plan,
                payload.sequence,
                agent.current().report.state
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(AgentAction::Plan { cameras, format }) => {
            let agent = Agent::open(config, Arc::new(SystemClock))?;
            let plan = agent.plan(*cameras, None);
            match format {
                Format::Json => output::print_json(&serde_json::to_value(&plan)?)?,
                Format::Text => print!("{}", output::plan_text(&plan)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(AgentAction::Status) => {
            let agent = Agent::open(config, Arc::new(SystemClock))?;
            let current = agent.current();
            println!("state: {}", current.report.state);
            println!("{}", current.detail);
            Ok(ExitCode::SUCCESS)
        }
        None => serve(config),
    }
}

fn serve(config: AgentConfig) -> Result<ExitCode> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let agent = Agent::open(config, Arc::new(SystemClock))?;
        let listener = if agent.config().listen_tcp {
            let address = agent.config().listen;
            Some(
                tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address}"))?,
            )
        } else {
            None
        };
        let shutdown = shutdown_signal()?;
        if let Some(listener) = &listener {
            let address = listener.local_addr().context("no local address")?;
            println!(
                "licet agent listening on http://{address} (state: {})",
                agent.current().report.state
            );
            tracing::info!(%address, "listening");
        }
        licet_agent::serve(agent, listener, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}
