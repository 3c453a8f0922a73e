//! `licet keys`.

use anyhow::{Context, Result};
use licet_core::signing::KeyId;
use licet_host::keyfile;
use std::path::Path;
use std::process::ExitCode;

/// Creates `DIR/signing.key` (0600) and `DIR/signing.pub`, and prints the key id.
pub fn new(out: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let private_path = out.join("signing.key");
    let public_path = out.join("signing.pub");
    if public_path.exists() {
        anyhow::bail!(
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
