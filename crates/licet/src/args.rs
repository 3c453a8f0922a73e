//! Command-line arguments. The flag names are a contract: installers script them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "licet",
    version,
    about = "Licensing, entitlements and usage metering for edge AI products",
    long_about = None,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Licet server (SQLite under ./licet-data by default).
    #[cfg(feature = "server")]
    #[command(after_help = SERVER_EXAMPLES)]
    Server(ServerArgs),
    /// Create and inspect signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check catalogs and show what a plan resolves to.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Issue, verify and inspect license documents (also for air-gapped sites).
    #[command(subcommand)]
    License(LicenseCommand),
    /// Show the module plan for a device: what runs, in what order, what is refused.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Run the Licet agent on an edge device (local API on 127.0.0.1:8471 by default).
    #[command(after_help = AGENT_EXAMPLES)]
    Agent(AgentArgs),
    /// Preview or issue a tenant's monthly invoices on a Licet server.
    #[command(subcommand)]
    Invoice(InvoiceCommand),
    /// Import existing customers and their license keys (any format) from a CSV or
    /// JSON file into a Licet server.
    #[command(after_help = IMPORT_EXAMPLES)]
    Import(ImportArgs),
}

const IMPORT_EXAMPLES: &str =
    "The CSV file has a header line; its columns are customer (or tenant_id), product_id,
plan, license_key, and optionally addons (id:quantity;…), trial (true/false) and
term_ends_at (RFC 3339). A JSON file is an array of objects with the same fields
(addons as [{\"id\": …, \"quantity\": …}]).

Exit codes: 0 every row imported (or already was), 3 some rows refused (listed), 1 error.

Examples:
  licet import customers.csv --dry-run --server http://127.0.0.1:8470 --token lct_admin_…
  LICET_SERVER=http://127.0.0.1:8470 LICET_TOKEN=lct_admin_… licet import customers.csv";

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file: CSV or JSON (told by its extension, or by --input).
    pub file: std::path::PathBuf,
    /// The Licet server's URL.
    #[arg(long, env = "LICET_SERVER", value_name = "URL")]
    pub server: String,
    /// An admin token.
    #[arg(
        long,
        env = "LICET_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    /// Check every row and report what would be refused and why; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The file's format, when its extension does not say.
    #[arg(long, value_enum)]
    pub input: Option<ImportInput>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The format of an import file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportInput {
    /// Comma-separated, with a header line.
    Csv,
    /// A JSON array of rows.
    Json,
}

const INVOICE_EXAMPLES: &str = "Examples:
  licet invoice preview --server http://127.0.0.1:8470 --token lct_admin_… --tenant ten_… --period 2026-11
  LICET_SERVER=http://127.0.0.1:8470 LICET_TOKEN=lct_admin_… licet invoice issue --tenant ten_… --period 2026-10 --format json";

#[derive(Debug, Subcommand)]
pub enum InvoiceCommand {
    /// Print a month's invoices as they would be issued now: each line with the
    /// quantity that produced it, and late usage of earlier months.
    #[command(after_help = INVOICE_EXAMPLES)]
    Preview(InvoiceArgs),
    /// Issue an ended month's invoices (admin token), and print them.
    #[command(after_help = INVOICE_EXAMPLES)]
    Issue(InvoiceArgs),
}

#[derive(Debug, Args)]
pub struct InvoiceArgs {
    /// The Licet server's URL.
    #[arg(long, env = "LICET_SERVER", value_name = "URL")]
    pub server: String,
    /// An admin token, or the tenant's API key with `invoices:read` (preview only).
    #[arg(
        long,
        env = "LICET_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// The month, YYYY-MM.
    #[arg(long, value_name = "YYYY-MM")]
    pub period: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

const AGENT_EXAMPLES: &str = "Examples:
  licet agent --server https://licensing.example.com --license-key LCT-7KQ2M-PX9TD-... --data-dir /var/lib/licet-agent
  licet agent --server http://127.0.0.1:8470 --data-dir ./agent-data     # later starts: no key needed
  licet agent activation-request --data-dir ./agent-data --out req.json  # air-gapped, step 1
  licet agent import-license gate-1.lic --data-dir ./agent-data --pubkey keys/signing.pub  # step 3
  licet agent plan --data-dir ./agent-data --format json
  licet agent print-config

Precedence: defaults < --config FILE (TOML) < LICET_AGENT_* environment < flags.";

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub action: Option<AgentAction>,
    /// A TOML file with any of the agent's settings (see the README).
    #[arg(long, env = "LICET_AGENT_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The Licet server's URL.
    #[arg(long, env = "LICET_AGENT_SERVER", global = true, value_name = "URL")]
    pub server: Option<String>,
    /// License key for the first online activation.
    #[arg(
        long,
        env = "LICET_AGENT_LICENSE_KEY",
        global = true,
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub license_key: Option<String>,
    /// Directory for the device key, the license and the agent database [default: licet-agent-data].
    #[arg(long, env = "LICET_AGENT_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the local API [default: 127.0.0.1:8471].
    #[arg(long, env = "LICET_AGENT_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Also serve the local API on this Unix socket.
    #[arg(long, env = "LICET_AGENT_SOCKET", global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Bearer token for the local API (required when --listen is not loopback).
    #[arg(
        long,
        env = "LICET_AGENT_API_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub api_token: Option<String>,
    /// The device's memory in MiB, for the module plan.
    #[arg(
        long,
        env = "LICET_AGENT_DEVICE_RAM_MB",
        global = true,
        value_name = "M"
    )]
    pub device_ram_mb: Option<u64>,
    /// Run this shell command when the module plan changes (plan JSON on stdin).
    #[arg(
        long,
        env = "LICET_AGENT_ON_PLAN_CHANGE",
        global = true,
        value_name = "CMD"
    )]
    pub on_plan_change: Option<String>,
    /// Publish the snapshot to this Redis (redis://127.0.0.1:6379).
    #[arg(long, env = "LICET_AGENT_REDIS_URL", global = true, value_name = "URL")]
    pub redis_url: Option<String>,
    /// The vendor's root public key file (root.pub); repeat to trust several roots.
    /// Licenses must be signed by a key the root certified.
    #[arg(
        long = "trusted-root",
        env = "LICET_AGENT_TRUSTED_ROOT",
        global = true,
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub trusted_roots: Vec<PathBuf>,
    /// A signing public key file trusted directly, without a certificate; repeat to
    /// trust several.
    #[arg(long = "pubkey", global = true, value_name = "FILE")]
    pub pubkeys: Vec<PathBuf>,
    /// DEVELOPMENT ONLY: trust the signing keys of the first server reached (anyone who
    /// can redirect the device can then license it). Warns at every start.
    #[arg(long, env = "LICET_AGENT_DEV_TRUST_ON_FIRST_USE", global = true)]
    pub dev_trust_on_first_use: bool,
}

#[derive(Debug, Subcommand)]
pub enum AgentAction {
    /// Write an air-gapped activation request (fingerprint and device public key).
    ActivationRequest {
        /// Where to write it (stdout if omitted).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import a license file (air-gapped activation or renewal).
    ImportLicense {
        /// The armored license file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Accept a license for a different device id (re-activation).
        #[arg(long)]
        new_device: bool,
    },
    /// Show the module plan from the stored license.
    Plan {
        /// Plan as if this many cameras were registered.
        #[arg(long)]
        cameras: Option<u32>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show the state of the stored license (offline).
    Status,
    /// Print the effective configuration (secrets redacted) and exit.
    PrintConfig,
}

#[cfg(feature = "server")]
const SERVER_EXAMPLES: &str = "Examples:
  licet server                                  # SQLite in ./licet-data, http://127.0.0.1:8470
  licet server --catalog-dir examples/catalogs  # load the example catalogs at start
  LICET_DATABASE_URL=postgres://licet@db/licet licet server --listen 0.0.0.0:8470
  licet server init --data-dir /var/lib/licet   # for scripts: prints the admin token last
  licet server print-config                     # the effective configuration, redacted

Precedence: defaults < --config FILE (TOML) < LICET_* environment < flags.";

#[cfg(feature = "server")]
#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub action: Option<ServerAction>,
    /// A TOML file with any of the keys `licet server print-config` shows (unknown keys
    /// are refused).
    #[arg(long, env = "LICET_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and the signing key [default: licet-data].
    #[arg(long, env = "LICET_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8470].
    #[arg(long, env = "LICET_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Load every *.toml catalog in this directory at start.
    #[arg(long, env = "LICET_CATALOG_DIR", global = true, value_name = "DIR")]
    pub catalog_dir: Option<PathBuf>,
    /// postgres://… to use PostgreSQL instead of SQLite.
    #[arg(
        long,
        env = "LICET_DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Seconds between device heartbeats [default: 300].
    #[arg(
        long,
        env = "LICET_HEARTBEAT_INTERVAL_SECONDS",
        global = true,
        value_name = "S"
    )]
    pub heartbeat_interval_seconds: Option<u64>,
    /// Requests served at once; beyond it, 503 with Retry-After [default: 512].
    #[arg(long, env = "LICET_MAX_IN_FLIGHT", global = true, value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// Months of usage detail (every event) kept; older months are dropped, invoices
    /// and charts come from rollups; 0 keeps it all [default: 13].
    #[arg(
        long,
        env = "LICET_USAGE_DETAIL_MONTHS",
        global = true,
        value_name = "N"
    )]
    pub usage_detail_months: Option<u32>,
    /// The signing key every replica signs with (PKCS#8 PEM, 0600) [default: DATA_DIR/signing.key].
    #[arg(long, env = "LICET_SIGNING_KEY", global = true, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// The root's certificate for the signing key [default: DATA_DIR/signing.cert].
    #[arg(
        long,
        env = "LICET_SIGNING_CERTIFICATE",
        global = true,
        value_name = "FILE"
    )]
    pub signing_certificate: Option<PathBuf>,
    /// The root's newest revocation list [default: DATA_DIR/revocations.txt if present].
    #[arg(long, env = "LICET_REVOCATIONS", global = true, value_name = "FILE")]
    pub revocations: Option<PathBuf>,
    /// redis://… to share rate limits across replicas (default: in-process limits).
    #[arg(
        long,
        env = "LICET_REDIS_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub redis_url: Option<String>,
}

#[cfg(feature = "server")]
#[derive(Debug, Subcommand)]
pub enum ServerAction {
    /// Create the data directory, the signing key and the bootstrap admin token, print
    /// the token as the last line of stdout, and exit.
    Init,
    /// Print the effective configuration (secrets redacted) and exit.
    PrintConfig,
    /// Revoke every admin token and print a new one as the last line (recovers a lost
    /// token; needs the data directory or the database URL, not a running server).
    ResetAdminToken,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new Ed25519 signing key pair: DIR/signing.key (mode 0600) and DIR/signing.pub.
    #[command(
        after_help = "Example:\n  licet keys new --out ./keys\n\nPrints the key id. signing.pub holds one line, ed25519:<base64>, the form every Licet API uses."
    )]
    New {
        /// Directory to write the key pair into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Create the vendor's root key pair: DIR/root.key (0600) and DIR/root.pub. Keep the
    /// root offline; provision devices with root.pub (agent --trusted-root).
    #[command(
        after_help = "Example:\n  licet keys new-root --out /media/offline/licet-root\n\nPrints the root's key id."
    )]
    NewRoot {
        /// Directory to write the root key pair into (created 0700 if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Certify a signing key with the root, for a validity window. The server sends the
    /// certificate with every license; devices need no change when the key rotates.
    #[command(after_help = CERTIFY_EXAMPLES)]
    Certify {
        /// The root's private key.
        #[arg(long, value_name = "FILE")]
        root: PathBuf,
        /// The signing key's public key file (ed25519:<base64>).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Valid from this time (RFC 3339) [default: now].
        #[arg(long, value_name = "RFC3339")]
        not_before: Option<String>,
        /// Valid for this many days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Write the certificate here (default: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write a root-signed revocation list naming signing keys that must no longer be
    /// trusted. Configure the server with it (revocations); every refresh carries it.
    #[command(after_help = REVOKE_EXAMPLES)]
    Revoke {
        /// The root's private key.
        #[arg(long, value_name = "FILE")]
        root: PathBuf,
        /// A signing key id to revoke; repeat for several. Include every key revoked
        /// before: the newest list replaces the older ones.
        #[arg(long = "key-id", value_name = "ID", required = true)]
        key_ids: Vec<String>,
        /// The list's serial; must be higher than any list issued before.
        #[arg(long)]
        serial: u64,
        /// Write the list here (default: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Show what a certificate or revocation list says (without trusting it).
    Show {
        /// The file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

const CERTIFY_EXAMPLES: &str = "Examples:
  licet keys new --out ./keys-2027
  licet keys certify --root /media/offline/licet-root/root.key --key ./keys-2027/signing.pub \\
      --days 400 --out ./keys-2027/signing.cert
  # then on every replica: signing_key = keys-2027/signing.key, signing_certificate = keys-2027/signing.cert";

const REVOKE_EXAMPLES: &str = "Example:
  licet keys revoke --root /media/offline/licet-root/root.key --key-id 3f9a0c1d2e4b5a69 --serial 2 \\
      --out revocations.txt";

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Validate catalog files; exit 1 and list every problem if any is invalid.
    #[command(after_help = "Example:\n  licet catalog check examples/catalogs/*.toml")]
    Check {
        /// Catalog files (TOML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Show the entitlements a plan (with add-ons, trial or modules) resolves to.
    #[command(
        after_help = "Examples:\n  licet catalog show examples/catalogs/brinkbyte-vision.toml --plan base --addon advanced_analytics:3\n  licet catalog show examples/catalogs/brinkbyte-vision.toml --plan base --trial --format json"
    )]
    Show {
        /// Catalog file (TOML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        subscription: SubscriptionArgs,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Sign a catalog for devices that cannot reach the server (the agent's `catalog`
    /// setting): its core features and unlicensed policy then apply before a license.
    #[command(
        after_help = "Example:\n  licet catalog sign examples/catalogs/gate-control.toml --key keys/signing.key \\\n    --certificate keys/signing.cert --out gate-control.catalog"
    )]
    Sign(CatalogSignArgs),
}

#[derive(Debug, Args)]
pub struct CatalogSignArgs {
    /// Catalog file (TOML).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Private signing key (PKCS#8 PEM, mode 0600).
    #[arg(long)]
    pub key: PathBuf,
    /// The key's certificate from the vendor's root (`licet keys certify`), bundled
    /// so that devices trusting the root accept it.
    #[arg(long)]
    pub certificate: Option<PathBuf>,
    /// Write the signed catalog here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SubscriptionArgs {
    /// Plan (tier) id from the catalog.
    #[arg(long, value_name = "PLAN")]
    pub plan: String,
    /// Add-on, optionally with a quantity (NAME or NAME:QTY); repeat for several.
    #[arg(long = "addon", value_name = "NAME[:QTY]")]
    pub addons: Vec<String>,
    /// Take the plan as its trial.
    #[arg(long)]
    pub trial: bool,
    /// Explicit module list replacing the tiers' modules; repeat for several.
    #[arg(long = "module", value_name = "MODULE")]
    pub modules: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Issue a signed license offline (for air-gapped sites, or scripted issuance).
    #[command(after_help = ISSUE_EXAMPLES)]
    Issue(Box<IssueArgs>),
    /// Verify a license: signature, device binding and state at a time.
    ///
    /// Exit codes: 0 valid (active or stale), 2 invalid signature or format (including
    /// an untrusted key), 3 bound to another device, 4 expired, degraded or otherwise not
    /// usable at that time, 1 any other error.
    #[command(
        after_help = "Examples:\n  licet license verify device.lic --pubkey keys/signing.pub\n  licet license verify device.lic --pubkey keys/signing.pub --fingerprint \"$(cat /etc/machine-id)\" --at 2027-01-01T00:00:00Z"
    )]
    Verify {
        /// The license file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Trusted public key file (ed25519:<base64>); repeat to trust several.
        #[arg(long = "pubkey", required = true, value_name = "FILE")]
        pubkeys: Vec<PathBuf>,
        /// This device's fingerprint; the license must be bound to it.
        #[arg(long)]
        fingerprint: Option<String>,
        /// Evaluate at this time (RFC 3339) instead of now.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print what a license says, WITHOUT verifying it.
    #[command(after_help = "Example:\n  licet license inspect device.lic")]
    Inspect {
        /// The license file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

const ISSUE_EXAMPLES: &str = "Examples:
  licet license issue --catalog examples/catalogs/gate-control.toml --key keys/signing.key \\
      --tenant acme --device gate-1 --fingerprint \"$(cat /etc/machine-id)\" --plan standard --out gate-1.lic
  licet license issue --catalog examples/catalogs/brinkbyte-vision.toml --key keys/signing.key \\
      --tenant acme --device cam-box-7 --fingerprint abc123 --plan base --trial
  # Air-gapped site that will never refresh: grace as long as the term.
  licet license issue ... --plan standard --days 365 --grace-hours 8760";

const PLAN_EXAMPLES: &str = "Examples:
  licet plan --catalog examples/catalogs/gate-control.toml --plan standard --cameras 1 --device-ram-mb 8192
  licet plan --catalog examples/catalogs/gate-control.toml --plan professional --cameras 2 \\
      --config-keys twilio_sid,twilio_token,twilio_from --format json
  licet plan --catalog examples/catalogs/gate-control.toml --license gate-1.lic --pubkey keys/signing.pub --cameras 2";

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Catalog file (TOML) to resolve the plan against.
    #[arg(long, value_name = "FILE")]
    pub catalog: PathBuf,
    /// Private signing key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Tenant (customer) id.
    #[arg(long)]
    pub tenant: String,
    /// Device id.
    #[arg(long)]
    pub device: String,
    /// The device's fingerprint (as `licet agent` computes it) ...
    #[arg(long, required_unless_present = "request", conflicts_with = "request")]
    pub fingerprint: Option<String>,
    /// ... or the activation request file `licet agent activation-request` wrote.
    #[arg(long, value_name = "FILE")]
    pub request: Option<PathBuf>,
    #[command(flatten)]
    pub subscription: SubscriptionArgs,
    /// Term length in days (default: the trial length, or the plan's term).
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Offline grace in hours (default: the catalog's lease).
    #[arg(long, value_name = "H")]
    pub grace_hours: Option<u32>,
    /// Refresh interval in hours (default: the catalog's lease).
    #[arg(long, value_name = "H")]
    pub refresh_hours: Option<u32>,
    /// Per-device sequence number; must exceed any license the device already has.
    #[arg(long, default_value_t = 1)]
    pub sequence: u64,
    /// Issue time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339")]
    pub issued_at: Option<String>,
    /// Write the armored license here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Catalog file (TOML).
    #[arg(long, value_name = "FILE")]
    pub catalog: PathBuf,
    /// Plan from a license file (verified with --pubkey) ...
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "plan",
        requires = "pubkeys"
    )]
    pub license: Option<PathBuf>,
    /// ... trusting this public key file; repeat to trust several.
    #[arg(long = "pubkey", value_name = "FILE")]
    pub pubkeys: Vec<PathBuf>,
    /// ... or from a plan in the catalog.
    #[arg(long, value_name = "PLAN", required_unless_present = "license")]
    pub plan: Option<String>,
    /// Add-on for --plan (NAME or NAME:QTY); repeat for several.
    #[arg(long = "addon", value_name = "NAME[:QTY]", requires = "plan")]
    pub addons: Vec<String>,
    /// Take --plan as its trial.
    #[arg(long, requires = "plan")]
    pub trial: bool,
    /// Explicit module list for --plan; repeat for several.
    #[arg(long = "module", value_name = "MODULE", requires = "plan")]
    pub modules: Vec<String>,
    /// Cameras on the device.
    #[arg(long, default_value_t = 0)]
    pub cameras: u32,
    /// The device's memory in MiB, to check the budget.
    #[arg(long, value_name = "M")]
    pub device_ram_mb: Option<u64>,
    /// Configuration keys set on the device, comma-separated.
    #[arg(long, value_name = "k1,k2", value_delimiter = ',')]
    pub config_keys: Vec<String>,
    /// Evaluate a license's state at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339", requires = "license")]
    pub at: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For scripts.
    Json,
}
