//! `licet catalog check` and `licet catalog show`.

use super::{load_catalog, subscription_from};
use crate::args::{Format, SubscriptionArgs};
use crate::output;
use anyhow::Result;
use licet_core::catalog::Catalog;
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
