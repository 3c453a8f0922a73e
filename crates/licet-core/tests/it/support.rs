//! Shared fixtures: the example catalogs and fixed keys.

use ed25519_dalek::SigningKey;
use licet_core::catalog::Catalog;
use std::path::PathBuf;
use time::OffsetDateTime;
use time::macros::datetime;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example(name: &str) -> Catalog {
    let path = repo_root()
        .join("examples/catalogs")
        .join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Catalog::from_toml(&text, &format!("{name}.toml")).unwrap_or_else(|e| panic!("{e}"))
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
