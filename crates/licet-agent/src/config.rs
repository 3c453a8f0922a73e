//! The agent's configuration: one typed struct, `deny_unknown_fields`, built from
//! defaults < TOML file < `LICET_AGENT_…` environment < flags by the CLI (with figment;
//! the struct's own `Default` fills what no layer sets). Its `Serialize` is what
//! `print-config` prints, secrets redacted. Loading it has
//! no side effects; the license key and the local API token are secrets and never
//! appear in `Debug` output or logs.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `licet agent` needs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The Licet server (`https://licensing.example.com`). `None`: air-gapped, the
    /// license comes from `licet agent import-license`.
    pub server: Option<String>,
    /// Used once, for the first online activation.
    #[serde(serialize_with = "redacted")]
    pub license_key: Option<SecretString>,
    /// Where the device key, the license and the agent's database live.
    pub data_dir: PathBuf,
    /// The local API's TCP address.
    pub listen: SocketAddr,
    /// Also (or only, with `listen_tcp = false`) serve the local API on this Unix socket.
    pub socket: Option<PathBuf>,
    /// Serve the local API over TCP.
    pub listen_tcp: bool,
    /// A bearer token every local API call must carry (required when `listen` is not a
    /// loopback address).
    #[serde(serialize_with = "redacted")]
    pub api_token: Option<SecretString>,
    /// The vendor's root public keys (`ed25519:<base64>`, the `root.pub` that
    /// `licet keys new-root` wrote). A license or verdict is accepted only when signed by
    /// a key one of these roots certified. This is the device's trust: never learned
    /// from the network.
    pub trusted_roots: Vec<String>,
    /// Signing keys trusted directly, without a certificate (an explicit operator choice
    /// for offline tools and fixed installations; rotation then needs a change here).
    pub trusted_keys: Vec<String>,
    /// DEVELOPMENT ONLY: with no root or key configured, trust whatever signing keys the
    /// server publishes at first activation (and pin them). Anyone who can point the
    /// device at a server of their own can then license it; the agent warns at every
    /// start and on its status page.
    pub dev_trust_on_first_use: bool,
    /// The device's memory in MiB, for the module plan's budget.
    pub device_ram_mb: Option<u64>,
    /// Configuration keys set on this device (e.g. `smtp.host`), for modules that need them.
    pub config_keys: Vec<String>,
    /// A shell command run whenever the module plan changes; the plan is on its stdin
    /// (JSON) and in `LICET_PLAN_JSON`, `LICET_COMPOSE_PROFILES`, `LICET_MODULES`.
    pub on_plan_change: Option<String>,
    /// Publish the snapshot to this Redis (`redis://127.0.0.1:6379`).
    pub redis_url: Option<String>,
    /// The product this device runs (its catalog's `product`, e.g. `gate-control`).
    /// With `server`, the agent fetches the product's signed catalog at first contact
    /// and keeps it, so the catalog's core features and its unlicensed policy (safe
    /// mode) apply before activation and whenever the license is refused. Once
    /// activated, the license names the product.
    pub product: Option<String>,
    /// A signed catalog file (`-----BEGIN LICET CATALOG-----`: the server's
    /// `/v1/products/{product}/catalog/signed`, or `licet catalog sign`) for a device
    /// that cannot reach the server. Like a license it must chain to `trusted_roots`;
    /// a catalog file that does not is refused at start.
    pub catalog: Option<PathBuf>,
    /// The device's name at activation (default: the host name).
    pub name: Option<String>,
    /// Where machine identity is read from (`/` on a real device; tests point it at a
    /// directory of their own).
    pub identity_root: PathBuf,
    /// Usage events kept for upload at most; past it new events are refused (507).
    pub usage_max_backlog: u64,
    /// Seconds any one call to the server may take before it counts as failed (and is
    /// retried with backoff). `0` turns the deadline off: only for tests that drive the
    /// agent with a paused clock, where any timer fires at once; the agent warns.
    pub http_timeout_seconds: u64,
}

impl Default for AgentConfig {
    fn default() -> AgentConfig {
        AgentConfig {
            server: None,
            license_key: None,
            data_dir: PathBuf::from("licet-agent-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8471)),
            socket: None,
            listen_tcp: true,
            api_token: None,
            trusted_roots: Vec::new(),
            trusted_keys: Vec::new(),
            dev_trust_on_first_use: false,
            device_ram_mb: None,
            config_keys: Vec::new(),
            on_plan_change: None,
            redis_url: None,
            product: None,
            catalog: None,
            name: None,
            identity_root: PathBuf::from("/"),
            usage_max_backlog: 5_000_000,
            http_timeout_seconds: 30,
        }
    }
}

/// Serialises a secret as whether it is set, never its value: the one `Serialize` of
/// the configuration is what `licet agent print-config` prints.
fn redacted<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if secret.is_some() {
        "(set)"
    } else {
        "(not set)"
    })
}

impl AgentConfig {
    /// Refuses configurations that would be unsafe or cannot work, with the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.listen_tcp && !self.listen.ip().is_loopback() && self.api_token.is_none() {
            return Err(format!(
                "listen = {} is reachable from other hosts, so the local API needs a token: set api_token (or LICET_AGENT_API_TOKEN), or listen on 127.0.0.1",
                self.listen
            ));
        }
        if self.trusted_roots.is_empty()
            && self.trusted_keys.is_empty()
            && !self.dev_trust_on_first_use
        {
            return Err(
                "no trust anchor: set trusted_roots to the vendor's root public key (the root.pub of `licet keys new-root`; \
                 a development server writes licet-data/root.pub), e.g. --trusted-root root.pub or LICET_AGENT_TRUSTED_ROOT. \
                 For development only, dev_trust_on_first_use = true trusts whatever server the agent first reaches"
                    .into(),
            );
        }
        if !self.listen_tcp && self.socket.is_none() {
            return Err(
                "listen_tcp = false leaves no way to reach the local API: set socket = \"/run/licet/agent.sock\""
                    .into(),
            );
        }
        if let Some(server) = &self.server {
            if !(server.starts_with("http://") || server.starts_with("https://")) {
                return Err(format!(
                    "server = {server:?} is not a URL: use http://host:port or https://host"
                ));
            }
        }
        Ok(())
    }
}
