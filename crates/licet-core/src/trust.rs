//! The chain of trust: a vendor's offline root key certifies the online signing keys,
//! and revokes them.
//!
//! A device is provisioned with the vendor's root public key(s) and nothing else. The
//! server holds a signing key and its [certificate](CertificatePayload), a root-signed
//! statement "this key may sign licenses and verdicts between these two times"; it sends
//! the certificate with every license and verdict, appended to the armored document
//! (see [`bundle`]). A verifier accepts a document only if its signer is a key it trusts
//! directly (an explicit operator choice, e.g. `licet license verify --pubkey`) or a key
//! certified by one of its roots, inside the certificate's window, and not named in the
//! newest root-signed [revocation list](RevocationPayload) it has seen.
//!
//! So rotating the online key needs no change on any device (the new key comes with its
//! certificate), a server the vendor did not certify cannot mint anything a device
//! accepts, and a compromised signing key is retired by letting its certificate expire
//! or, at once, by a revocation list that every refresh carries. Revocation lists only
//! move forward: one with a serial lower than or equal to the one held is ignored.
//!
//! What this module does not do: hold private root keys (that is the vendor's offline
//! machine, through `licet keys`), read files or the clock (callers pass `at`).

use crate::signing::{Armored, EnvelopeError, KeyId, parse_public_key, seal};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The armor label of a signing key certificate.
pub const CERTIFICATE_LABEL: &str = "LICET KEY CERTIFICATE";

/// The armor label of a revocation list.
pub const REVOCATIONS_LABEL: &str = "LICET KEY REVOCATIONS";

/// What a root certifies: one signing key and the window in which it may sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificatePayload {
    /// Format version (1).
    pub format: u32,
    /// The certified key, in `ed25519:<base64>` form.
    pub public_key: String,
    /// Its id (derived from the key; checked on opening).
    pub key_id: KeyId,
    /// When the certificate was made.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// The key signs nothing a verifier accepts before this time…
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// …nor after this one.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

/// The root's list of signing keys that must no longer be trusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationPayload {
    /// Format version (1).
    pub format: u32,
    /// Grows with every list the root signs; a verifier keeps the highest it has seen.
    pub serial: u64,
    /// When the list was made.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// The revoked signing keys.
    pub revoked: Vec<KeyId>,
}

/// A certificate or revocation list that cannot be trusted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// Not signed by a provisioned root, or malformed.
    #[error("{what} is not signed by a trusted root: {source}")]
    Envelope {
        /// A certificate or a revocation list.
        what: &'static str,
        /// Why.
        source: EnvelopeError,
    },
    /// Signed by a root but not decodable.
    #[error("{what} is signed by a root but unreadable: {message}")]
    Encoding {
        /// A certificate or a revocation list.
        what: &'static str,
        /// Why.
        message: String,
    },
}

/// Certifies `key` for the window `[not_before, not_after]` with a root key.
pub fn certify(
    root: &SigningKey,
    key: &VerifyingKey,
    issued_at: OffsetDateTime,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<String, serde_json::Error> {
    let payload = CertificatePayload {
        format: 1,
        public_key: crate::signing::format_public_key(key),
        key_id: KeyId::of(key),
        issued_at,
        not_before,
        not_after,
    };
    Ok(seal(
        CERTIFICATE_LABEL,
        &serde_json::to_vec(&payload)?,
        root,
    ))
}

/// Signs a revocation list with a root key.
pub fn seal_revocations(
    root: &SigningKey,
    payload: &RevocationPayload,
) -> Result<String, serde_json::Error> {
    Ok(seal(REVOCATIONS_LABEL, &serde_json::to_vec(payload)?, root))
}

/// Reads a certificate without checking who signed it (for display and for the server
/// to check that its configured certificate matches its key).
pub fn inspect_certificate(text: &str) -> Result<(KeyId, CertificatePayload), TrustError> {
    let armored =
        Armored::parse(CERTIFICATE_LABEL, text).map_err(|source| TrustError::Envelope {
            what: "the certificate",
            source,
        })?;
    Ok((armored.key_id, decode_certificate(&armored.payload)?))
}

/// Reads a revocation list without checking who signed it.
pub fn inspect_revocations(text: &str) -> Result<(KeyId, RevocationPayload), TrustError> {
    let armored =
        Armored::parse(REVOCATIONS_LABEL, text).map_err(|source| TrustError::Envelope {
            what: "the revocation list",
            source,
        })?;
    Ok((armored.key_id, decode_revocations(&armored.payload)?))
}

pub(crate) fn decode_certificate(bytes: &[u8]) -> Result<CertificatePayload, TrustError> {
    let payload: CertificatePayload =
        serde_json::from_slice(bytes).map_err(|e| TrustError::Encoding {
            what: "the certificate",
            message: e.to_string(),
        })?;
    let key = parse_public_key(&payload.public_key).map_err(|e| TrustError::Encoding {
        what: "the certificate",
        message: e.to_string(),
    })?;
    if payload.format != 1 || KeyId::of(&key) != payload.key_id {
        return Err(TrustError::Encoding {
            what: "the certificate",
            message: "its key id does not match its key, or its format is unknown".into(),
        });
    }
    Ok(payload)
}

pub(crate) fn decode_revocations(bytes: &[u8]) -> Result<RevocationPayload, TrustError> {
    let payload: RevocationPayload =
        serde_json::from_slice(bytes).map_err(|e| TrustError::Encoding {
            what: "the revocation list",
            message: e.to_string(),
        })?;
    if payload.format != 1 {
        return Err(TrustError::Encoding {
            what: "the revocation list",
            message: format!("format {} is not supported", payload.format),
        });
    }
    Ok(payload)
}

/// Appends the signer's certificate (and the newest revocation list, if any) to an
/// armored document, so that it travels as one self-contained text: in an HTTP answer,
/// in the agent's database, or as a file carried to an air-gapped site.
pub fn bundle(document: &str, certificate: Option<&str>, revocations: Option<&str>) -> String {
    let mut out = String::with_capacity(document.len() + 1024);
    out.push_str(document);
    for extra in [certificate, revocations].into_iter().flatten() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(extra);
    }
    out
}

/// Every block labelled `label` in `text`, parsed but not verified. Malformed blocks are
/// skipped: a bundle is judged by the blocks that verify.
pub(crate) fn blocks(label: &str, text: &str) -> Vec<Armored> {
    let begin = format!("-----BEGIN {label}-----");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&begin) {
        let tail = &rest[at..];
        if let Ok(armored) = Armored::parse(label, tail) {
            found.push(armored);
        }
        rest = &tail[begin.len()..];
    }
    found
}
