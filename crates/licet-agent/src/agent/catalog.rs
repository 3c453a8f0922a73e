//! The product's signed catalog on the device: what applies before a license, and when
//! the license is refused (core features, the unlicensed policy: safe mode).
//!
//! It is read at start from the database (where the last one fetched is kept) and from
//! the `catalog` file of an air-gapped install, and fetched from the server at first
//! contact and again when a license names a catalog version the device does not hold.
//! Every copy is verified against the provisioned trust like a license; of two for a
//! product the one issued later is kept, so an older document cannot be put back.

use super::*;
use licet_core::product_document::{SignedCatalog, open_catalog};

/// Where the database keeps the signed catalog's text.
pub(super) const CATALOG_META: &str = "signed_catalog";

/// The signed catalog to use at start: the newer of the stored one and the configured
/// file. A stored one that no longer verifies (the trust changed) is dropped with a
/// warning; a configured file that does not verify stops the agent, since the operator
/// asked for it.
pub(super) fn load(
    config: &AgentConfig,
    db: &Db,
    keyring: &Keyring,
    now: OffsetDateTime,
) -> Result<Option<Arc<SignedCatalog>>> {
    let stored = match db.meta(CATALOG_META)? {
        None => None,
        Some(text) => match open_catalog(keyring, &text, Some(now)) {
            Ok(signed) => Some(signed),
            Err(error) => {
                tracing::warn!(%error, "the stored catalog no longer verifies; it is not used");
                None
            }
        },
    };
    let from_file = match &config.catalog {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the catalog {}", path.display()))?;
            let signed = open_catalog(keyring, &text, Some(now)).map_err(|e| {
                anyhow::anyhow!(
                    "the catalog {} was refused: {e}. It must be a signed catalog \
                     (-----BEGIN LICET CATALOG-----) from the server's \
                     /v1/products/{{product}}/catalog/signed or `licet catalog sign`, by a key \
                     the trusted roots certified",
                    path.display()
                )
            })?;
            if let Some(product) = &config.product {
                if signed.catalog().product().as_str() != product {
                    anyhow::bail!(
                        "the catalog {} is for product {}, but product = {product:?}",
                        path.display(),
                        signed.catalog().product()
                    );
                }
            }
            Some((signed, text))
        }
    };
    Ok(match (stored, from_file) {
        (Some(stored), Some((file, _)))
            if stored.catalog().product() == file.catalog().product()
                && stored.issued_at() >= file.issued_at() =>
        {
            Some(Arc::new(stored))
        }
        (_, Some((file, text))) => {
            db.set_meta(&[(CATALOG_META, Some(&text))])?;
            Some(Arc::new(file))
        }
        (stored, None) => stored.map(Arc::new),
    })
}

/// What the device would fetch now: its product, and the catalog version its license
/// names (none before a license).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CatalogWanted {
    pub(crate) product: String,
    pub(crate) version: Option<String>,
}

impl Agent {
    /// The signed catalog in use, if any.
    pub fn signed_catalog(&self) -> Option<Arc<SignedCatalog>> {
        lock(&self.inner.catalog).clone()
    }

    /// The catalog the device lacks, if it lacks one: none is held for its product, or
    /// its license names another version than the one held. `None` when there is
    /// nothing to fetch or no product is known.
    pub(crate) fn catalog_wanted(&self) -> Option<CatalogWanted> {
        let license = self.current().license.clone();
        let product = license
            .as_ref()
            .map(|l| l.product.to_string())
            .or_else(|| self.inner.config.product.clone())?;
        let version = license.map(|l| l.catalog_version);
        let held = self.signed_catalog();
        let fits = held.as_ref().is_some_and(|held| {
            held.catalog().product().as_str() == product
                && version
                    .as_deref()
                    .is_none_or(|v| held.catalog().version() == v)
        });
        (!fits).then_some(CatalogWanted { product, version })
    }

    /// Fetches the product's signed catalog from the server and keeps it when it
    /// verifies and is newer than the one held. Returns whether it changed.
    pub async fn fetch_catalog(&self, product: &str) -> Result<bool> {
        let client = self
            .client()
            .ok_or_else(|| anyhow::anyhow!("no server is configured"))?;
        let text = client
            .signed_catalog(product)
            .await
            .with_context(|| format!("cannot fetch the signed catalog of {product}"))?;
        self.absorb_revocations(&text);
        let signed = {
            let p = lock(&self.inner.persisted);
            let at = self
                .expectations(&p, DeviceIdentity::Same)
                .now
                .unwrap_or_else(|| self.inner.clock.now());
            open_catalog(&p.keyring, &text, Some(at)).map_err(|e| {
                anyhow::anyhow!("the server's catalog of {product} was refused: {e}")
            })?
        };
        if signed.catalog().product().as_str() != product {
            anyhow::bail!(
                "asked for the catalog of {product}, the server sent {}'s",
                signed.catalog().product()
            );
        }
        let newer = self.signed_catalog().is_none_or(|held| {
            held.catalog().product() != signed.catalog().product()
                || signed.issued_at() > held.issued_at()
        });
        if !newer {
            return Ok(false);
        }
        self.inner.db.set_meta(&[(CATALOG_META, Some(&text))])?;
        tracing::info!(
            product,
            version = signed.catalog().version(),
            "kept the product's signed catalog"
        );
        *lock(&self.inner.catalog) = Some(Arc::new(signed));
        self.rebuild()?;
        Ok(true)
    }
}
