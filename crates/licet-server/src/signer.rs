//! The key material the server signs with: the online signing key, the certificate a
//! vendor root made for it, and the newest revocation list of that root.
//!
//! Every replica must sign with the same configured material: agents trust the vendor's
//! root, not a server, so a key a replica invented for itself would be refused by every
//! device. On PostgreSQL (the scale-out path) the server therefore refuses to start
//! without a configured key and certificate. On the embedded SQLite default — one
//! process, a developer's or a small site's — it creates, once, a development root and a
//! certified key in the data directory, and says loudly that the root belongs offline.
//!
//! What it does not do: rotate keys by itself. An operator certifies a new key with the
//! offline root (`licet keys certify`), points every replica at it and restarts them;
//! devices need no change because the certificate travels with every license.

use crate::config::ServerConfig;
use anyhow::{Context, Result, bail};
use ed25519_dalek::SigningKey;
use licet_core::signing::{KeyId, format_public_key};
use licet_core::trust::{self, bundle, inspect_certificate, inspect_revocations};
use licet_host::keyfile;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// How long the development root certifies the key it creates.
const DEV_CERTIFICATE_DAYS: i64 = 365;

/// The signing key with its certificate and revocation list.
pub struct Signer {
    key: SigningKey,
    key_id: KeyId,
    certificate: String,
    revocations: Option<String>,
}

/// Where the key material lives, from the configuration.
struct Paths {
    key: PathBuf,
    certificate: PathBuf,
    revocations: PathBuf,
    root_key: PathBuf,
    root_public: PathBuf,
}

impl Paths {
    fn of(config: &ServerConfig) -> Paths {
        let dir = &config.data_dir;
        Paths {
            key: config
                .signing_key
                .clone()
                .unwrap_or_else(|| dir.join("signing.key")),
            certificate: config
                .signing_certificate
                .clone()
                .unwrap_or_else(|| dir.join("signing.cert")),
            revocations: config
                .revocations
                .clone()
                .unwrap_or_else(|| dir.join("revocations.txt")),
            root_key: dir.join("root.key"),
            root_public: dir.join("root.pub"),
        }
    }
}

/// What loading created, for the operator to hear about.
#[derive(Debug, Default)]
pub struct Created {
    /// A development root was created here (its public key file).
    pub dev_root: Option<PathBuf>,
}

impl Signer {
    /// Loads the configured material. With `may_create` (the SQLite default), creates a
    /// signing key, and a development root that certifies it, where none exist.
    pub fn load(
        config: &ServerConfig,
        may_create: bool,
        now: OffsetDateTime,
    ) -> Result<(Signer, Created)> {
        let paths = Paths::of(config);
        let mut created = Created::default();
        let missing_help = "every replica must sign with the same key certified by your root: \
            create the root offline (`licet keys new-root --out ROOT_DIR`), a signing key \
            (`licet keys new --out KEY_DIR`), certify it (`licet keys certify --root ROOT_DIR/root.key \
            --key KEY_DIR/signing.pub --days 365 --out KEY_DIR/signing.cert`), and set \
            signing_key and signing_certificate (or LICET_SIGNING_KEY, LICET_SIGNING_CERTIFICATE)";
        let key = if paths.key.exists() {
            keyfile::read_signing_key(&paths.key)?
        } else if may_create {
            let key = keyfile::generate()?;
            keyfile::write_signing_key(&paths.key, &key)?;
            tracing::info!(path = %paths.key.display(), "created a new signing key");
            key
        } else {
            bail!(
                "no signing key at {} and the server does not invent one on PostgreSQL: {missing_help}",
                paths.key.display()
            );
        };
        let key_id = KeyId::of(&key.verifying_key());
        if !paths.certificate.exists() {
            if !may_create {
                bail!(
                    "no certificate for signing key {key_id} at {}: {missing_help}",
                    paths.certificate.display()
                );
            }
            certify_with_development_root(&paths, &key, now)?;
            created.dev_root = Some(paths.root_public.clone());
        }
        let certificate = std::fs::read_to_string(&paths.certificate)
            .with_context(|| format!("cannot read {}", paths.certificate.display()))?;
        let (_, payload) = inspect_certificate(&certificate)
            .map_err(|e| anyhow::anyhow!("{}: {e}", paths.certificate.display()))?;
        if payload.key_id != key_id {
            bail!(
                "{} certifies key {}, but the signing key {} is {key_id}; configure the matching pair",
                paths.certificate.display(),
                payload.key_id,
                paths.key.display()
            );
        }
        if now > payload.not_after {
            bail!(
                "the certificate of signing key {key_id} ({}) expired at {}; devices refuse what it signs. \
                 Certify a new signing key with the root (`licet keys certify`) and configure it",
                paths.certificate.display(),
                licet_core::time_text(payload.not_after)
            );
        }
        if payload.not_after - now < Duration::days(30) {
            tracing::warn!(
                key_id = %key_id,
                not_after = %licet_core::time_text(payload.not_after),
                "the signing key's certificate expires within 30 days; certify a new key and rotate"
            );
        }
        let revocations = match std::fs::read_to_string(&paths.revocations) {
            Ok(text) => {
                let (_, list) = inspect_revocations(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", paths.revocations.display()))?;
                if list.revoked.contains(&key_id) {
                    bail!(
                        "signing key {key_id} is on the revocation list {} (serial {}); configure a certified key that is not revoked",
                        paths.revocations.display(),
                        list.serial
                    );
                }
                Some(text)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot read {}", paths.revocations.display()));
            }
        };
        Ok((
            Signer {
                key,
                key_id,
                certificate,
                revocations,
            },
            created,
        ))
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Its id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// Its public key in text form.
    pub fn public_key(&self) -> String {
        format_public_key(&self.key.verifying_key())
    }

    /// The root-signed certificate of the key.
    pub fn certificate(&self) -> &str {
        &self.certificate
    }

    /// A signed document with the certificate (and revocation list) that make it
    /// verifiable from the root alone.
    pub fn bundle(&self, document: &str) -> String {
        bundle(
            document,
            Some(&self.certificate),
            self.revocations.as_deref(),
        )
    }
}

/// Gives a data directory what the SQLite default creates on first start: a signing key
/// and a development root (`root.key`, `root.pub`) that certifies it. Returns the root's
/// public key file. For PostgreSQL replicas, run it once and copy the key material to
/// every replica (or, better, make the root offline with `licet keys`).
pub fn provision_development(data_dir: &Path, now: OffsetDateTime) -> Result<PathBuf> {
    let config = ServerConfig {
        data_dir: data_dir.to_owned(),
        ..ServerConfig::default()
    };
    licet_host::files::create_private_dir(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let (_, created) = Signer::load(&config, true, now)?;
    Ok(created
        .dev_root
        .unwrap_or_else(|| Paths::of(&config).root_public))
}

fn certify_with_development_root(
    paths: &Paths,
    key: &SigningKey,
    now: OffsetDateTime,
) -> Result<()> {
    let root = if paths.root_key.exists() {
        keyfile::read_signing_key(&paths.root_key)?
    } else {
        let root = keyfile::generate()?;
        keyfile::write_signing_key(&paths.root_key, &root)?;
        keyfile::write_public_key(&paths.root_public, &root.verifying_key())?;
        root
    };
    let certificate = trust::certify(
        &root,
        &key.verifying_key(),
        now,
        now,
        licet_core::time_after(now, Duration::days(DEV_CERTIFICATE_DAYS)),
    )?;
    write_new(&paths.certificate, &certificate)?;
    tracing::warn!(
        root = %paths.root_public.display(),
        "created a DEVELOPMENT root key in the data directory and certified the signing key with it; \
         agents must be provisioned with its public key (--trusted-root). In production, keep the root \
         offline (`licet keys new-root`) and configure signing_key and signing_certificate"
    );
    Ok(())
}

/// Writes a new file (never replacing one) readable by its owner and group.
fn write_new(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
