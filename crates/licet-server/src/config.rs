//! The server's configuration. Loading it has no side effects; the CLI merges defaults,
//! a TOML file, `LICET_…` environment variables and flags into one of these (with
//! figment). Its `Serialize` is what `print-config` prints, secrets redacted.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `licet server` can be told.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where the SQLite database and the signing key live.
    #[serde(default = "ServerConfig::default_data_dir")]
    pub data_dir: PathBuf,
    /// The address to listen on.
    #[serde(default = "ServerConfig::default_listen")]
    pub listen: SocketAddr,
    /// `postgres://…` to use PostgreSQL instead of the embedded SQLite. A secret: it may
    /// hold a password, so it never appears in `Debug` output or logs.
    #[serde(default, serialize_with = "redacted")]
    pub database_url: Option<SecretString>,
    /// A directory of catalog files to load at start.
    #[serde(default)]
    pub catalog_dir: Option<PathBuf>,
    /// Seconds between device heartbeats, told to agents.
    #[serde(default = "ServerConfig::default_heartbeat")]
    pub heartbeat_interval_seconds: u64,
    /// The signing key (PKCS#8 PEM, mode 0600) every replica signs with. Default:
    /// `signing.key` in the data directory (created there on SQLite only).
    #[serde(default)]
    pub signing_key: Option<PathBuf>,
    /// The vendor root's certificate for the signing key. Default: `signing.cert` in the
    /// data directory (on SQLite, made with a development root when missing).
    #[serde(default)]
    pub signing_certificate: Option<PathBuf>,
    /// The vendor root's newest revocation list, sent with every license and verdict.
    /// Default: `revocations.txt` in the data directory, if present.
    #[serde(default)]
    pub revocations: Option<PathBuf>,
    /// Redis (`redis://…`) for rate limits shared across replicas; unset: in-process.
    #[serde(default, serialize_with = "redacted")]
    pub redis_url: Option<SecretString>,
    /// Rate limits on this API (`[rate_limits]` in the file).
    #[serde(default)]
    pub rate_limits: crate::limits::RateLimits,
    /// Requests served at once; beyond this the server answers 503 with
    /// `Retry-After` at once (agents back off and retry) instead of queueing without
    /// bound. `/healthz`, `/readyz` and `/metrics` are always answered.
    #[serde(default = "ServerConfig::default_max_in_flight")]
    pub max_in_flight: usize,
    /// Months of usage detail (every stored event) kept, counting the current one;
    /// older months are dropped (a partition on PostgreSQL). Invoices, late usage,
    /// charts, totals and quotas read rollups and counters, which are kept. 0 keeps
    /// the detail forever.
    #[serde(default = "ServerConfig::default_usage_detail_months")]
    pub usage_detail_months: u32,
}

/// Serialises a secret as `[redacted]`, never its value: the one `Serialize` of the
/// configuration is what `licet server print-config` prints.
fn redacted<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => serializer.serialize_some("[redacted]"),
        None => serializer.serialize_none(),
    }
}

impl ServerConfig {
    fn default_data_dir() -> PathBuf {
        PathBuf::from("licet-data")
    }
    fn default_listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8470))
    }
    fn default_heartbeat() -> u64 {
        300
    }
    fn default_max_in_flight() -> usize {
        512
    }
    fn default_usage_detail_months() -> u32 {
        13
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: Self::default_data_dir(),
            listen: Self::default_listen(),
            database_url: None,
            catalog_dir: None,
            heartbeat_interval_seconds: Self::default_heartbeat(),
            signing_key: None,
            signing_certificate: None,
            revocations: None,
            redis_url: None,
            rate_limits: crate::limits::RateLimits::default(),
            max_in_flight: Self::default_max_in_flight(),
            usage_detail_months: Self::default_usage_detail_months(),
        }
    }
}
