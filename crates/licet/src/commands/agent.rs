//! `licet agent` and its subcommands: run the agent, write an air-gapped activation
//! request, import a license, show the plan or the state of the stored license.

use super::process::{init_logging, shutdown_signal};
use crate::args::{AgentAction, AgentArgs, Format};
use crate::output;
use anyhow::{Context, Result};
use licet_agent::{Agent, AgentConfig};
use licet_host::clock::SystemClock;
use secrecy::SecretString;
use std::process::ExitCode;
use std::sync::Arc;

/// Merges defaults < `--config` file < environment < flags (clap already put the
/// environment under the flags).
fn config(args: &AgentArgs) -> Result<AgentConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str(&text)
                .with_context(|| format!("invalid agent configuration in {}", path.display()))?
        }
        None => AgentConfig::default(),
    };
    if let Some(server) = &args.server {
        config.server = Some(server.clone());
    }
    if let Some(key) = &args.license_key {
        config.license_key = Some(SecretString::from(key.clone()));
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(socket) = &args.socket {
        config.socket = Some(socket.clone());
    }
    if let Some(token) = &args.api_token {
        config.api_token = Some(SecretString::from(token.clone()));
    }
    if let Some(ram) = args.device_ram_mb {
        config.device_ram_mb = Some(ram);
    }
    if let Some(command) = &args.on_plan_change {
        config.on_plan_change = Some(command.clone());
    }
    if let Some(url) = &args.redis_url {
        config.redis_url = Some(url.clone());
    }
    for path in &args.trusted_roots {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the root public key {}", path.display()))?;
        config.trusted_roots.push(text.trim().to_owned());
    }
    if args.dev_trust_on_first_use {
        config.dev_trust_on_first_use = true;
    }
    for path in &args.pubkeys {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the public key {}", path.display()))?;
        config.trusted_keys.push(text.trim().to_owned());
    }
    Ok(config)
}

pub fn run(args: &AgentArgs) -> Result<ExitCode> {
    let config = config(args)?;
    match &args.action {
        Some(AgentAction::PrintConfig) => {
            config.validate().map_err(anyhow::Error::msg)?;
            println!("{}", toml::to_string(&config.redacted())?);
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
                .import_license(&text, *new_device)
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
