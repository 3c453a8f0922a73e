//! `licet catalog check`, `licet catalog show` and `licet catalog sign`.

use super::{load_catalog, subscription_from, time_or_now};
use crate::args::{CatalogSignArgs, Format, SubscriptionArgs};
use crate::output;
use anyhow::{Context, Result};
use licet_core::catalog::Catalog;
use licet_core::product_document::seal_catalog;
use std::path::PathBuf;
use std::process::ExitCode;

/// Validates every file; reports every problem of every file before exiting.
pub fn check(files: &[PathBuf]) -> Result<ExitCode> {
    let mut failed = 0;
    for path in files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("{name}: cannot read: {error}");
                failed += 1;
                continue;
            }
        };
        match Catalog::from_toml(&text, &name) {
            Ok(catalog) => {
                let spec = catalog.spec();
                println!(
                    "ok {name}: {} {} ({} features, {} modules, {} plans, {} add-ons, {} prices)",
                    spec.product,
                    spec.version,
                    spec.features.len(),
                    spec.modules.len(),
                    spec.plans.len(),
                    spec.addons.len(),
                    spec.prices.len()
                );
            }
            Err(errors) => {
                failed += 1;
                eprint!("{errors}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} catalog(s) invalid", files.len());
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Prints what a subscription resolves to.
pub fn show(file: &std::path::Path, args: &SubscriptionArgs, format: Format) -> Result<ExitCode> {
    let catalog = load_catalog(file)?;
    let subscription = subscription_from(args)?;
    let resolution = catalog.resolve(&subscription)?;
    match format {
        Format::Json => output::print_json(&serde_json::json!({
            "product": catalog.product(),
            "catalog_version": catalog.version(),
            "subscription": subscription,
            "trial_days": resolution.trial_days,
            "lease": resolution.lease,
            "entitlements": resolution.entitlements,
            "degradation": resolution.degradation,
        }))?,
        Format::Text => {
            println!(
                "{} {} — plan {}{}",
                catalog.product(),
                catalog.version(),
                subscription.plan,
                if subscription.trial { " (trial)" } else { "" }
            );
            if let Some(days) = resolution.trial_days {
                println!("Trial: {days} days");
            }
            print!("{}", output::entitlements_text(&resolution.entitlements));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Signs a catalog for devices, with the signing key's certificate when given.
pub fn sign(args: &CatalogSignArgs) -> Result<ExitCode> {
    let catalog = load_catalog(&args.file)?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read catalog {}", args.file.display()))?;
    let key = licet_host::keyfile::read_signing_key(&args.key)?;
    let certificate = args
        .certificate
        .as_ref()
        .map(|path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the certificate {}", path.display()))
        })
        .transpose()?;
    let signed = seal_catalog(&text, &catalog, time_or_now("--at", None)?, &key)?;
    let bundled = licet_core::trust::bundle(&signed, certificate.as_deref(), None);
    match &args.out {
        Some(path) => {
            std::fs::write(path, &bundled)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {}: catalog {} {} signed for devices",
                path.display(),
                catalog.product(),
                catalog.version()
            );
        }
        None => print!("{bundled}"),
    }
    Ok(ExitCode::SUCCESS)
}
