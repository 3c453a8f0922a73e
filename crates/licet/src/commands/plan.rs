//! `licet plan`.

use super::{load_catalog, subscription};
use crate::args::{Format, PlanArgs};
use crate::output;
use anyhow::{Result, bail};
use licet_core::planning::DeviceFacts;
use licet_core::snapshot::Snapshot;
use licet_core::state::LicenseState;
use std::collections::BTreeSet;
use std::process::ExitCode;

pub fn run(args: &PlanArgs) -> Result<ExitCode> {
    let catalog = load_catalog(&args.catalog)?;
    let (snapshot, source) = match (&args.license, &args.plan) {
        (Some(file), _) => {
            let (payload, state) =
                super::license::verify_for_plan(file, &args.pubkeys, args.at.as_deref())?;
            if payload.product != *catalog.product() {
                bail!(
                    "license is for product {}, but the catalog is {}; pass the product's catalog",
                    payload.product,
                    catalog.product()
                );
            }
            let source = format!(
                "license {} (plan {}, state {state})",
                payload.license_id, payload.plan
            );
            (Snapshot::from_license(&payload, state), source)
        }
        (None, Some(plan)) => {
            let subscription = subscription(plan, &args.addons, args.trial, &args.modules)?;
            let resolution = catalog.resolve(&subscription)?;
            let snapshot = Snapshot::build(
                &resolution.entitlements,
                &resolution.degradation,
                LicenseState::Active,
            );
            (
                snapshot,
                format!("plan {plan}{}", if args.trial { " (trial)" } else { "" }),
            )
        }
        (None, None) => bail!("give --plan PLAN, or --license FILE with --pubkey FILE"),
    };
    let config_keys: BTreeSet<String> = args
        .config_keys
        .iter()
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect();
    let plan = snapshot.plan(&DeviceFacts {
        cameras: args.cameras,
        ram_mb: args.device_ram_mb,
        config_keys: &config_keys,
    });
    match args.format {
        Format::Json => output::print_json(&serde_json::json!({
            "product": catalog.product(),
            "source": source,
            "cameras": args.cameras,
            "plan": plan,
        }))?,
        Format::Text => {
            println!(
                "Module plan for {} — {source}, {} camera(s)",
                catalog.product(),
                args.cameras
            );
            print!("{}", output::plan_text(&plan));
        }
    }
    Ok(ExitCode::SUCCESS)
}
