//! Signing key files.
//!
//! A private key is written as PKCS#8 PEM (so `openssl pkey` can read it) with mode
//! 0600, created exclusively so an existing key is never overwritten. Reading refuses a
//! key that group or others can read: a signing key that leaked is a license forgery
//! kit, and a permission mistake is better caught at start-up than after the fact.
//! Public keys are one line in Licet's text form, `ed25519:<base64>`.

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The private key is readable by group or others.
    #[error(
        "{path}: private key is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not a key of the expected form.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file exists and would be overwritten.
    #[error("{path}: already exists; refusing to overwrite a signing key (move it away first)")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// No randomness for a new key.
    #[error(transparent)]
    Random(#[from] crate::random::RandomError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A new random signing key.
pub fn generate() -> Result<SigningKey, KeyFileError> {
    let mut seed = [0u8; 32];
    crate::random::fill(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a private key with mode 0600. Fails if the file exists.
pub fn write_signing_key(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyFileError::Format {
            path: path.to_owned(),
            message: format!("cannot encode the key: {e}"),
        })?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyFileError::Exists {
                path: path.to_owned(),
            }
        } else {
            KeyFileError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    file.write_all(pem.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Reads a private key, refusing one that group or others can read.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, KeyFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(io(path))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::InsecurePermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let text = fs::read_to_string(path).map_err(io(path))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| KeyFileError::Format {
        path: path.to_owned(),
        message: format!("not a PKCS#8 PEM Ed25519 private key ({e})"),
    })
}

/// Writes a public key in text form (one line).
pub fn write_public_key(path: &Path, key: &VerifyingKey) -> Result<(), KeyFileError> {
    let text = format!("{}\n", licet_core::signing::format_public_key(key));
    fs::write(path, text).map_err(io(path))
}

/// Reads a public key in text form.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, KeyFileError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    licet_core::signing::parse_public_key(&text).map_err(|e| KeyFileError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        let key = generate().unwrap();
        write_signing_key(&path, &key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(read_signing_key(&path).unwrap().to_bytes(), key.to_bytes());
    }

    #[test]
    fn existing_key_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        let first = generate().unwrap();
        write_signing_key(&path, &first).unwrap();
        let err = write_signing_key(&path, &generate().unwrap()).unwrap_err();
        assert!(matches!(err, KeyFileError::Exists { .. }), "{err}");
        assert_eq!(
            read_signing_key(&path).unwrap().to_bytes(),
            first.to_bytes()
        );
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        write_signing_key(&path, &generate().unwrap()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_signing_key(&path).unwrap_err();
        assert!(
            matches!(err, KeyFileError::InsecurePermissions { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
    }

    #[test]
    fn public_key_file_is_one_line_of_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.pub");
        let key = generate().unwrap().verifying_key();
        write_public_key(&path, &key).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("ed25519:") && text.ends_with('\n') && text.lines().count() == 1);
        assert_eq!(read_public_key(&path).unwrap(), key);
    }
}
