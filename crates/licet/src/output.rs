//! Text rendering of core results for people; JSON output is serde's.

use anyhow::Result;
use licet_core::entitlements::{Entitlements, Grant};
use licet_core::license::LicensePayload;
use licet_core::planning::ModulePlan;
use licet_core::time_text;
use std::fmt::Write as _;

pub fn print_json(value: &serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn license_text(payload: &LicensePayload) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  product      {} (catalog {})",
        payload.product, payload.catalog_version
    );
    let _ = writeln!(out, "  tenant       {}", payload.tenant);
    let _ = writeln!(out, "  device       {}", payload.device.id);
    let mut plan = payload.plan.to_string();
    for addon in &payload.addons {
        let _ = write!(plan, " + {}×{}", addon.id, addon.quantity);
    }
    let _ = writeln!(out, "  plan         {plan}");
    if let Some(trial) = &payload.trial {
        let _ = writeln!(
            out,
            "  trial        {} days, {} → {}",
            trial.days,
            time_text(trial.started_at),
            time_text(trial.ends_at)
        );
    }
    let _ = writeln!(out, "  sequence     {}", payload.sequence);
    let _ = writeln!(out, "  issued at    {}", time_text(payload.issued_at));
    let _ = writeln!(out, "  expires at   {}", time_text(payload.expires_at));
    let _ = writeln!(
        out,
        "  grace until  {}",
        time_text(payload.offline_grace_until)
    );
    out
}

pub fn entitlements_text(entitlements: &Entitlements) -> String {
    let mut features = String::new();
    let mut limits = String::new();
    let mut quotas = String::new();
    let mut config = String::new();
    for (key, grant) in &entitlements.features {
        match grant {
            Grant::Boolean {
                granted,
                core,
                quantity,
            } => {
                let state = match (core, granted) {
                    (true, _) => "on  (core)".to_owned(),
                    (false, true) => match quantity {
                        Some(q) => format!("on  (×{q})"),
                        None => "on".to_owned(),
                    },
                    (false, false) => "off".to_owned(),
                };
                let _ = writeln!(features, "  {key:<36} {state}");
            }
            Grant::Limit { max, unit } => {
                let _ = writeln!(
                    limits,
                    "  {key:<36} {max} {}",
                    unit.as_deref().unwrap_or_default()
                );
            }
            Grant::Quota {
                allowance,
                period,
                unit,
                overage,
            } => {
                let _ = writeln!(
                    quotas,
                    "  {key:<36} {allowance} {unit} per {period:?} (overage: {overage:?})"
                );
            }
            Grant::Config { value } => {
                let _ = writeln!(config, "  {key:<36} {value}");
            }
        }
    }
    let mut out = String::new();
    for (title, body) in [
        ("Features", features),
        ("Limits", limits),
        ("Quotas", quotas),
        ("Config", config),
    ] {
        if !body.is_empty() {
            let _ = writeln!(out, "{title}:\n{body}");
        }
    }
    if !entitlements.modules.is_empty() {
        let names: Vec<&str> = entitlements.modules.keys().map(|m| m.as_str()).collect();
        let _ = writeln!(out, "Modules: {}", names.join(", "));
    }
    if let Some(classes) = &entitlements.classes {
        let _ = write!(out, "Classes: {} allowed", classes.allowed.len());
        if !classes.defaults.is_empty() {
            let _ = write!(out, "; defaults {}", classes.defaults.join(", "));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Devices per subscription: {}",
        entitlements.max_devices
    );
    out
}

pub fn plan_text(plan: &ModulePlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Enabled, in start order:");
    if plan.enabled.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for module in &plan.enabled {
        let _ = writeln!(
            out,
            "  {:<24} {:>6} MB RAM {:>6} MB GPU  profile {:<14} service {}",
            module.id,
            module.ram_mb,
            module.gpu_mb,
            module.compose_profile.as_deref().unwrap_or("-"),
            module.compose_service.as_deref().unwrap_or("-"),
        );
    }
    if !plan.refused.is_empty() {
        let _ = writeln!(out, "Refused:");
        for refused in &plan.refused {
            let _ = writeln!(out, "  {:<24} {}", refused.id, refused.reason.message());
        }
    }
    let _ = writeln!(out, "Compose profiles: {}", list(&plan.compose_profiles));
    let _ = writeln!(out, "Compose services: {}", list(&plan.compose_services));
    let budget = match (plan.device_ram_mb, plan.fits_in_memory) {
        (Some(ram), Some(true)) => format!(" (device has {ram} MB: fits)"),
        (Some(ram), _) => format!(" (device has {ram} MB: DOES NOT FIT)"),
        _ => String::new(),
    };
    let _ = writeln!(out, "RAM total: {} MB{budget}", plan.ram_mb_total);
    let _ = writeln!(out, "GPU total: {} MB", plan.gpu_mb_total);
    if !plan.compose_profiles.is_empty() {
        let profiles: Vec<String> = plan
            .compose_profiles
            .iter()
            .map(|p| format!("--profile {p}"))
            .collect();
        let _ = writeln!(
            out,
            "Start with: docker compose {} up -d",
            profiles.join(" ")
        );
    }
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}
