//! `licet license issue | verify | inspect`.

use super::{keyring, load_catalog, parse_time, subscription_from, time_or_now};
use crate::args::{Format, IssueArgs};
use crate::output;
use anyhow::{Context, Result};
use licet_core::ids::{DeviceId, LicenseId, TenantId};
use licet_core::license::{self, Expectations, IssueRequest, LicenseError, LicensePayload};
use licet_core::state::{self, LicenseState, StateInput};
use licet_core::time_text;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::Duration;

/// Exit code: invalid signature or format.
const EXIT_INVALID: u8 = 2;
/// Exit code: bound to another device.
const EXIT_OTHER_DEVICE: u8 = 3;
/// Exit code: not usable at the given time (expired, degraded, revoked, not yet valid).
const EXIT_NOT_USABLE: u8 = 4;

pub fn issue(args: &IssueArgs) -> Result<ExitCode> {
    let catalog = load_catalog(&args.catalog)?;
    let key = licet_host::keyfile::read_signing_key(&args.key)?;
    let subscription = subscription_from(&args.subscription)?;
    let issued_at = time_or_now("--issued-at", args.issued_at.as_deref())?;
    let fingerprint = match (&args.fingerprint, &args.request) {
        (Some(fingerprint), _) => fingerprint.clone(),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the activation request {}", path.display())
            })?;
            let request: licet_client::agent::ActivationRequestFile = serde_json::from_str(&text)
                .with_context(|| {
                    format!(
                        "{} is not an activation request; create one on the device with `licet agent activation-request --out req.json`",
                        path.display()
                    )
                })?;
            if request.format != licet_client::agent::ACTIVATION_REQUEST_FORMAT {
                anyhow::bail!(
                    "{}: format {:?} is not supported (expected {:?}); upgrade licet",
                    path.display(),
                    request.format,
                    licet_client::agent::ACTIVATION_REQUEST_FORMAT
                );
            }
            request.fingerprint
        }
        (None, None) => anyhow::bail!("give --fingerprint or --request"),
    };
    let request = IssueRequest {
        catalog: &catalog,
        subscription: &subscription,
        license_id: LicenseId::new(licet_host::random::id("lic_")?),
        subscription_id: None,
        tenant: TenantId::new(&args.tenant),
        device: DeviceId::new(&args.device),
        fingerprint: &fingerprint,
        issued_at,
        term_ends_at: args
            .days
            .map(|days| licet_core::time_after(issued_at, Duration::days(i64::from(days)))),
        trial_started_at: None,
        sequence: args.sequence,
        grace: args.grace_hours.map(|h| Duration::hours(i64::from(h))),
        refresh: args.refresh_hours.map(|h| Duration::hours(i64::from(h))),
    };
    let signed = license::issue(&request, &key)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &signed.armored)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {}: license {} for device {} ({} plan {}), expires {}",
                path.display(),
                signed.payload.license_id,
                signed.payload.device.id,
                signed.payload.product,
                signed.payload.plan,
                time_text(signed.payload.expires_at)
            );
        }
        None => print!("{}", signed.armored),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(
    file: &Path,
    pubkeys: &[PathBuf],
    fingerprint: Option<&str>,
    at: Option<&str>,
    format: Format,
) -> Result<ExitCode> {
    let keyring = keyring(pubkeys)?;
    let now = time_or_now("--at", at)?;
    let text = read_license(file)?;
    let expect = Expectations {
        fingerprint,
        now: Some(now),
        min_sequence: None,
    };
    let verified = match license::verify(&keyring, &text, &expect) {
        Ok(verified) => verified,
        Err(error) => {
            let code = match error {
                LicenseError::WrongDevice { .. } => EXIT_OTHER_DEVICE,
                LicenseError::NotYetValid { .. } => EXIT_NOT_USABLE,
                _ => EXIT_INVALID,
            };
            report_refusal(format, &error, code)?;
            return Ok(ExitCode::from(code));
        }
    };
    let payload = verified.payload();
    let report = state::evaluate(&StateInput {
        license: Some(payload),
        last_refresh: None,
        verdict: None,
        high_water: None,
        now,
    });
    let usable = report.state.is_full_service();
    match format {
        Format::Json => output::print_json(&serde_json::json!({
            "valid": usable,
            "key_id": verified.key_id(),
            "state": report,
            "license": summary(payload),
        }))?,
        Format::Text => {
            let verdict = if usable { "valid" } else { "not usable" };
            println!(
                "{verdict}: license {} is {} at {}",
                payload.license_id,
                report.state,
                time_text(report.effective_now)
            );
            print!("{}", output::license_text(payload));
            println!("  signed by key {}", verified.key_id());
            if let Some(at) = report.refresh_due_at {
                println!("  refresh due  {}", time_text(at));
            }
            if let Some(at) = report.degrades_at {
                println!("  degrades at  {}", time_text(at));
            }
            match report.state {
                LicenseState::Degraded => println!(
                    "  the offline grace is over: only what the degradation policy keeps is on; refresh the license"
                ),
                LicenseState::Expired => println!("  the term is over: renew the subscription"),
                _ => {}
            }
        }
    }
    Ok(if usable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_USABLE)
    })
}

pub fn inspect(file: &Path, format: Format) -> Result<ExitCode> {
    let text = read_license(file)?;
    let (key_id, payload) = license::inspect(&text)?;
    match format {
        Format::Json => output::print_json(&serde_json::json!({
            "verified": false,
            "key_id": key_id,
            "payload": payload,
        }))?,
        Format::Text => {
            println!(
                "license {} (NOT VERIFIED: use `licet license verify` to trust it)",
                payload.license_id
            );
            print!("{}", output::license_text(&payload));
            println!("  claims key   {key_id}");
            print!("{}", output::entitlements_text(&payload.entitlements));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_license(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read license {}", file.display()))
}

fn report_refusal(format: Format, error: &LicenseError, code: u8) -> Result<()> {
    match format {
        Format::Json => output::print_json(&serde_json::json!({
            "valid": false,
            "exit_code": code,
            "error": error.to_string(),
        })),
        Format::Text => {
            eprintln!("invalid: {error}");
            Ok(())
        }
    }
}

fn summary(payload: &LicensePayload) -> serde_json::Value {
    serde_json::json!({
        "license_id": payload.license_id,
        "tenant": payload.tenant,
        "product": payload.product,
        "catalog_version": payload.catalog_version,
        "device": payload.device,
        "plan": payload.plan,
        "addons": payload.addons,
        "trial": payload.trial,
        "sequence": payload.sequence,
        "issued_at": time_text(payload.issued_at),
        "expires_at": time_text(payload.expires_at),
    })
}

/// Re-exported for `licet plan --license`.
pub(super) fn verify_for_plan(
    file: &Path,
    pubkeys: &[PathBuf],
    at: Option<&str>,
) -> Result<(LicensePayload, LicenseState)> {
    let keyring = keyring(pubkeys)?;
    let now = match at {
        Some(at) => parse_time("--at", at)?,
        None => time_or_now("--at", None)?,
    };
    let text = read_license(file)?;
    let verified = license::verify(
        &keyring,
        &text,
        &Expectations {
            fingerprint: None,
            now: Some(now),
            min_sequence: None,
        },
    )
    .with_context(|| format!("license {} refused", file.display()))?;
    let report = state::evaluate(&StateInput {
        license: Some(verified.payload()),
        last_refresh: None,
        verdict: None,
        high_water: None,
        now,
    });
    Ok((verified.payload().clone(), report.state))
}
