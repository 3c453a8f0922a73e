//! A product's catalog signed for its devices: how an agent learns its product (core
//! features, the unlicensed and invalid-license policy, i.e. safe mode) before it has
//! a license, from the server at first contact or from a file on an air-gapped site.
//!
//! The document carries the catalog's TOML text as the vendor wrote it, signed like a
//! license (the same envelope, keys and certificates), so a device accepts only what
//! chains to a root the vendor provisioned: a catalog file a local process writes
//! cannot widen what an unlicensed device may do. Of two documents for one product the
//! one issued later wins, so an old one cannot be put back.

use crate::catalog::Catalog;
use crate::ids::ProductId;
use crate::signing::{EnvelopeError, KeyId, Keyring, seal};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The armor label of a signed catalog.
pub const CATALOG_LABEL: &str = "LICET CATALOG";

/// The payload format this build writes and reads.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Payload {
    format: u32,
    product: ProductId,
    version: String,
    #[serde(with = "time::serde::rfc3339")]
    issued_at: OffsetDateTime,
    /// The catalog's TOML text.
    catalog: String,
}

/// A catalog whose signature was checked. Only [`open_catalog`] makes one.
#[derive(Clone, Debug)]
pub struct SignedCatalog {
    catalog: Catalog,
    issued_at: OffsetDateTime,
    key_id: KeyId,
}

impl SignedCatalog {
    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// When it was signed: of two documents for a product, the later one is kept.
    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }

    /// The key that signed it.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }
}

/// Why a signed catalog was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogDocumentError {
    /// The envelope did not verify (unknown key, bad signature, not certified…).
    #[error("the signed catalog does not verify: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The payload is not a catalog document.
    #[error("the signed catalog's payload is unreadable: {0}")]
    Encoding(String),
    /// The catalog text inside does not load.
    #[error("the signed catalog's text is not a valid catalog: {0}")]
    Catalog(String),
    /// The payload's product or version disagrees with the catalog inside.
    #[error("the signed catalog says product {said} version {version}, but its text is another")]
    Mismatch {
        /// The product the payload names.
        said: ProductId,
        /// The version the payload names.
        version: String,
    },
}

/// Signs a catalog's text for devices. `catalog` must be `text` loaded.
pub fn seal_catalog(
    text: &str,
    catalog: &Catalog,
    issued_at: OffsetDateTime,
    key: &SigningKey,
) -> Result<String, serde_json::Error> {
    let payload = Payload {
        format: FORMAT,
        product: catalog.product().clone(),
        version: catalog.version().to_owned(),
        issued_at,
        catalog: text.to_owned(),
    };
    Ok(seal(CATALOG_LABEL, &serde_json::to_vec(&payload)?, key))
}

/// Verifies a signed catalog against trusted keys; a certified signer must be inside
/// its certificate's window at `at` (when given).
pub fn open_catalog(
    keyring: &Keyring,
    text: &str,
    at: Option<OffsetDateTime>,
) -> Result<SignedCatalog, CatalogDocumentError> {
    let (key_id, bytes) = keyring.open_at(CATALOG_LABEL, text, at)?;
    let payload: Payload = serde_json::from_slice(&bytes)
        .map_err(|e| CatalogDocumentError::Encoding(e.to_string()))?;
    if payload.format != FORMAT {
        return Err(CatalogDocumentError::Encoding(format!(
            "format {} is not one this version of Licet reads; upgrade it",
            payload.format
        )));
    }
    let source = format!("signed catalog of {}", payload.product);
    let catalog = Catalog::from_toml(&payload.catalog, &source)
        .map_err(|e| CatalogDocumentError::Catalog(e.to_string()))?;
    if catalog.product() != &payload.product || catalog.version() != payload.version {
        return Err(CatalogDocumentError::Mismatch {
            said: payload.product,
            version: payload.version,
        });
    }
    Ok(SignedCatalog {
        catalog,
        issued_at: payload.issued_at,
        key_id,
    })
}
