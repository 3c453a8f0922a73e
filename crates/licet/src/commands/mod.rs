//! The subcommands, and the conversions from arguments to core types they share.

mod agent;
mod catalog;
mod import;
mod invoice;
mod keys;
mod license;
mod plan;
mod process;
#[cfg(feature = "server")]
mod server;

use crate::args::{
    CatalogCommand, Cli, Command, InvoiceCommand, KeysCommand, LicenseCommand, SubscriptionArgs,
};
use anyhow::{Context, Result, bail};
use licet_core::catalog::Catalog;
use licet_core::ids::{AddonId, ModuleId, PlanId};
use licet_core::resolve::{AddonGrant, Subscription};
use licet_core::signing::Keyring;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        #[cfg(feature = "server")]
        Command::Server(args) => server::run(&args),
        Command::Keys(KeysCommand::New { out }) => keys::new(&out),
        Command::Keys(KeysCommand::NewRoot { out }) => keys::new_root(&out),
        Command::Keys(KeysCommand::Certify {
            root,
            key,
            not_before,
            days,
            out,
        }) => keys::certify(&root, &key, not_before.as_deref(), days, out.as_deref()),
        Command::Keys(KeysCommand::Revoke {
            root,
            key_ids,
            serial,
            out,
        }) => keys::revoke(&root, &key_ids, serial, out.as_deref()),
        Command::Keys(KeysCommand::Show { file }) => keys::show(&file),
        Command::Catalog(CatalogCommand::Check { files }) => catalog::check(&files),
        Command::Catalog(CatalogCommand::Show {
            file,
            subscription,
            format,
        }) => catalog::show(&file, &subscription, format),
        Command::Catalog(CatalogCommand::Sign(args)) => catalog::sign(&args),
        Command::License(LicenseCommand::Issue(args)) => license::issue(&args),
        Command::License(LicenseCommand::Verify {
            file,
            pubkeys,
            fingerprint,
            at,
            format,
        }) => license::verify(
            &file,
            &pubkeys,
            fingerprint.as_deref(),
            at.as_deref(),
            format,
        ),
        Command::License(LicenseCommand::Inspect { file, format }) => {
            license::inspect(&file, format)
        }
        Command::Plan(args) => plan::run(&args),
        Command::Agent(args) => agent::run(&args),
        Command::Invoice(InvoiceCommand::Preview(args)) => invoice::run(&args, false),
        Command::Invoice(InvoiceCommand::Issue(args)) => invoice::run(&args, true),
        Command::Import(args) => import::run(&args),
    }
}

/// Loads and validates a catalog; the error lists every problem.
fn load_catalog(path: &Path) -> Result<Catalog> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read catalog {}", path.display()))?;
    Catalog::from_toml(&text, &path.display().to_string())
        .map_err(|errors| anyhow::anyhow!("{errors}"))
}

/// Parses `NAME` or `NAME:QTY`.
fn parse_addon(text: &str) -> Result<AddonGrant> {
    let (name, quantity) = match text.split_once(':') {
        Some((name, quantity)) => {
            let quantity: u64 = quantity.parse().with_context(|| {
                format!("--addon {text:?}: quantity {quantity:?} is not a whole number; write NAME or NAME:QTY")
            })?;
            (name, quantity)
        }
        None => (text, 1),
    };
    if name.is_empty() {
        bail!("--addon {text:?}: the add-on name is empty; write NAME or NAME:QTY");
    }
    Ok(AddonGrant {
        id: AddonId::new(name),
        quantity,
    })
}

fn subscription(
    plan: &str,
    addons: &[String],
    trial: bool,
    modules: &[String],
) -> Result<Subscription> {
    Ok(Subscription {
        plan: PlanId::new(plan),
        addons: addons
            .iter()
            .map(|a| parse_addon(a))
            .collect::<Result<_>>()?,
        trial,
        modules: (!modules.is_empty()).then(|| modules.iter().map(ModuleId::new).collect()),
    })
}

fn subscription_from(args: &SubscriptionArgs) -> Result<Subscription> {
    subscription(&args.plan, &args.addons, args.trial, &args.modules)
}

/// Parses an RFC 3339 time given on the command line.
fn parse_time(flag: &str, text: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).with_context(|| {
        format!("{flag} {text:?} is not an RFC 3339 time such as 2026-11-23T12:00:00Z")
    })
}

/// The given time, or now from the system clock.
fn time_or_now(flag: &str, text: Option<&str>) -> Result<OffsetDateTime> {
    use licet_host::clock::{Clock, SystemClock};
    match text {
        Some(text) => parse_time(flag, text),
        None => Ok(SystemClock.now()),
    }
}

fn keyring(pubkeys: &[PathBuf]) -> Result<Keyring> {
    let mut keyring = Keyring::new();
    for path in pubkeys {
        let key = licet_host::keyfile::read_public_key(path)?;
        keyring.add(key);
    }
    Ok(keyring)
}
