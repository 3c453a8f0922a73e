//! `licet keys`: signing keys, the vendor's root, certificates and revocation lists.
//!
//! The root is meant to live on an offline machine: `new-root`, `certify` and `revoke`
//! need only files, never a server.

use anyhow::{Context, Result, bail};
use licet_core::signing::KeyId;
use licet_core::trust::{self, RevocationPayload};
use licet_host::keyfile;
use std::path::Path;
use std::process::ExitCode;

/// Creates `DIR/signing.key` (0600) and `DIR/signing.pub`, and prints the key id.
pub fn new(out: &Path) -> Result<ExitCode> {
    key_pair(out, "signing")
}

/// Creates `DIR/root.key` (0600) and `DIR/root.pub`, and prints the root's key id.
pub fn new_root(out: &Path) -> Result<ExitCode> {
    key_pair(out, "root")
}

fn key_pair(out: &Path, name: &str) -> Result<ExitCode> {
    licet_host::files::create_private_dir(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    let private_path = out.join(format!("{name}.key"));
    let public_path = out.join(format!("{name}.pub"));
    if public_path.exists() {
        bail!(
            "{} already exists; refusing to replace a key pair (choose another --out directory)",
            public_path.display()
        );
    }
    let key = keyfile::generate()?;
    keyfile::write_signing_key(&private_path, &key)?;
    keyfile::write_public_key(&public_path, &key.verifying_key())?;
    println!("{}", KeyId::of(&key.verifying_key()));
    Ok(ExitCode::SUCCESS)
}

/// Certifies a signing key with the root for `days` from `not_before`.
pub fn certify(
    root: &Path,
    key: &Path,
    not_before: Option<&str>,
    days: u32,
    out: Option<&Path>,
) -> Result<ExitCode> {
    if days == 0 {
        bail!("--days 0 certifies nothing; give the number of days the key may sign");
    }
    let root = keyfile::read_signing_key(root)?;
    let key = keyfile::read_public_key(key)?;
    let now = super::time_or_now("--not-before", None)?;
    let not_before = match not_before {
        Some(text) => super::parse_time("--not-before", text)?,
        None => now,
    };
    let not_after = licet_core::time_after(not_before, time::Duration::days(i64::from(days)));
    let certificate = trust::certify(&root, &key, now, not_before, not_after)?;
    write_or_print(out, &certificate)?;
    eprintln!(
        "certified {} from {} to {} (root {})",
        KeyId::of(&key),
        licet_core::time_text(not_before),
        licet_core::time_text(not_after),
        KeyId::of(&root.verifying_key())
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a root-signed revocation list.
pub fn revoke(
    root: &Path,
    key_ids: &[String],
    serial: u64,
    out: Option<&Path>,
) -> Result<ExitCode> {
    let root = keyfile::read_signing_key(root)?;
    let mut revoked = Vec::new();
    for id in key_ids {
        let id = id.trim();
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("--key-id {id:?} is not a key id (16 hex digits, as `licet keys new` prints)");
        }
        revoked.push(serde_json::from_value::<KeyId>(serde_json::Value::String(
            id.to_ascii_lowercase(),
        ))?);
    }
    let list = trust::seal_revocations(
        &root,
        &RevocationPayload {
            format: 1,
            serial,
            issued_at: super::time_or_now("", None)?,
            revoked,
        },
    )?;
    write_or_print(out, &list)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a certificate's or revocation list's content.
pub fn show(file: &Path) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    if let Ok((root, cert)) = trust::inspect_certificate(&text) {
        println!("certificate (NOT verified) signed by root {root}");
        println!("  key        {} ({})", cert.key_id, cert.public_key);
        println!("  not before {}", licet_core::time_text(cert.not_before));
        println!("  not after  {}", licet_core::time_text(cert.not_after));
        return Ok(ExitCode::SUCCESS);
    }
    let (root, list) = trust::inspect_revocations(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is neither a certificate nor a revocation list: {e}",
            file.display()
        )
    })?;
    println!(
        "revocation list (NOT verified) signed by root {root}, serial {}",
        list.serial
    );
    for id in list.revoked {
        println!("  revoked {id}");
    }
    Ok(ExitCode::SUCCESS)
}

fn write_or_print(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
