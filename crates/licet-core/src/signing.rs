//! Ed25519 keys as Licet names and writes them, and the armored signed envelope that
//! license documents (and later other signed answers) travel in.
//!
//! The envelope signs the exact payload bytes and carries them base64-encoded, so
//! verification never re-serialises anything: what was signed is what is checked.
//! Generating keys needs randomness and storing them needs files; both live outside the
//! core (see `licet-host`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// Prefix of the text form of a public key: `ed25519:<standard base64 of 32 bytes>`.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";

/// Identifies a signing key: the first 8 bytes of SHA-256 of the public key, in hex.
///
/// Derived rather than assigned, so the server, the agent and an offline issuer all
/// agree on the id of a key without exchanging anything but the key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// The id of a public key.
    pub fn of(key: &VerifyingKey) -> KeyId {
        let digest = Sha256::digest(key.as_bytes());
        KeyId(to_hex(&digest[..8]))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A malformed public key text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    /// Missing the `ed25519:` prefix.
    #[error("public key must start with \"ed25519:\" followed by base64, got {0:?}")]
    MissingPrefix(String),
    /// Not base64 or not 32 bytes.
    #[error("public key is not the standard base64 of 32 bytes: {0}")]
    Encoding(String),
    /// 32 bytes that are not a valid Ed25519 point.
    #[error("public key is not a valid Ed25519 key")]
    Invalid,
}

/// Writes a public key in Licet's text form.
pub fn format_public_key(key: &VerifyingKey) -> String {
    format!("{PUBLIC_KEY_PREFIX}{}", BASE64.encode(key.as_bytes()))
}

/// Parses a public key in Licet's text form (surrounding whitespace is ignored).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, PublicKeyError> {
    let text = text.trim();
    let encoded = text
        .strip_prefix(PUBLIC_KEY_PREFIX)
        .ok_or_else(|| PublicKeyError::MissingPrefix(text.chars().take(40).collect()))?;
    let bytes = BASE64
        .decode(encoded)
        .map_err(|e| PublicKeyError::Encoding(e.to_string()))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        PublicKeyError::Encoding(format!("{} bytes instead of 32", b.len()))
    })?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| PublicKeyError::Invalid)
}

/// Lowercase hex of some bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Why an armored envelope was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The text is not a well-formed armored block of the expected kind.
    #[error("malformed armor: {0}")]
    MalformedArmor(String),
    /// The armor is well-formed but its base64 is not.
    #[error("bad encoding: {0}")]
    BadEncoding(String),
    /// Signed by a key this keyring does not trust.
    #[error("signed by unknown key id {0}; add its public key to the trusted keys")]
    UnknownKeyId(KeyId),
    /// The signature does not match the payload.
    #[error("bad signature: the document was altered or signed by another key")]
    BadSignature,
    /// The signer's certificate does not chain to a trusted root.
    #[error("signing key {key_id} is not certified by a trusted root: {why}")]
    Uncertified {
        /// The signer.
        key_id: KeyId,
        /// What was wrong with the certificates offered.
        why: String,
    },
    /// The signer is on the root's revocation list.
    #[error("signing key {0} was revoked by the vendor's root; nothing it signs is accepted")]
    Revoked(KeyId),
    /// The signer's certificate does not cover the verification time.
    #[error(
        "signing key {key_id} is certified from {not_before} to {not_after}, not at {at}; the server must sign with a currently certified key"
    )]
    OutsideCertificate {
        /// The signer.
        key_id: KeyId,
        /// Certificate start.
        not_before: String,
        /// Certificate end.
        not_after: String,
        /// The verification time.
        at: String,
    },
}

/// What a verifier trusts: vendor roots (which certify signing keys, see
/// [`crate::trust`]), the newest revocation list of each root, and — only as an explicit
/// operator choice — signing keys trusted directly. Several keys may be trusted at once
/// so that keys can rotate.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: BTreeMap<KeyId, VerifyingKey>,
    roots: BTreeMap<KeyId, VerifyingKey>,
    revocations: BTreeMap<KeyId, Revocations>,
}

/// A root's newest revocation list.
#[derive(Clone, Debug)]
struct Revocations {
    serial: u64,
    revoked: std::collections::BTreeSet<KeyId>,
    armored: String,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Trusts a signing key directly; returns its id.
    pub fn add(&mut self, key: VerifyingKey) -> KeyId {
        let id = KeyId::of(&key);
        self.keys.insert(id.clone(), key);
        id
    }

    /// Trusts a vendor root: any signing key it certifies, inside the certificate's
    /// window and not revoked, is trusted. Returns the root's id.
    pub fn add_root(&mut self, key: VerifyingKey) -> KeyId {
        let id = KeyId::of(&key);
        self.roots.insert(id.clone(), key);
        id
    }

    /// Stops trusting a directly trusted key.
    pub fn retire(&mut self, id: &KeyId) -> bool {
        self.keys.remove(id).is_some()
    }

    /// The directly trusted keys.
    pub fn keys(&self) -> impl Iterator<Item = (&KeyId, &VerifyingKey)> {
        self.keys.iter()
    }

    /// Does this keyring trust anything at all?
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.roots.is_empty()
    }

    /// Takes every revocation list in `text` that a trusted root signed and that is newer
    /// than the one held for that root. Returns the serials taken (empty: nothing new).
    /// Lists signed by unknown keys are ignored; a list that claims a trusted root but
    /// does not verify is an error.
    pub fn accept_revocations(&mut self, text: &str) -> Result<Vec<u64>, crate::trust::TrustError> {
        use crate::trust::{REVOCATIONS_LABEL, TrustError, blocks, decode_revocations};
        let mut taken = Vec::new();
        for armored in blocks(REVOCATIONS_LABEL, text) {
            let Some(root) = self.roots.get(&armored.key_id) else {
                continue;
            };
            root.verify(&armored.payload, &armored.signature)
                .map_err(|_| TrustError::Envelope {
                    what: "the revocation list",
                    source: EnvelopeError::BadSignature,
                })?;
            let list = decode_revocations(&armored.payload)?;
            let held = self.revocations.get(&armored.key_id).map(|r| r.serial);
            if held.is_some_and(|serial| serial >= list.serial) {
                continue;
            }
            let text = armor(
                REVOCATIONS_LABEL,
                &armored.key_id,
                &armored.signature,
                &armored.payload,
            );
            taken.push(list.serial);
            self.revocations.insert(
                armored.key_id.clone(),
                Revocations {
                    serial: list.serial,
                    revoked: list.revoked.into_iter().collect(),
                    armored: text,
                },
            );
        }
        Ok(taken)
    }

    /// The revocation lists held, armored (to persist them).
    pub fn revocation_lists(&self) -> impl Iterator<Item = &str> {
        self.revocations.values().map(|r| r.armored.as_str())
    }

    /// Is this signing key on a held revocation list?
    pub fn is_revoked(&self, id: &KeyId) -> bool {
        self.revocations.values().any(|r| r.revoked.contains(id))
    }

    /// Verifies an armored envelope with the given label and returns the signer's key id
    /// and the exact payload bytes that were signed. Certificate windows are not checked
    /// (see [`Keyring::open_at`]).
    pub fn open(&self, label: &str, text: &str) -> Result<(KeyId, Vec<u8>), EnvelopeError> {
        self.open_at(label, text, None)
    }

    /// Verifies an armored envelope; a certified signer must be inside its certificate's
    /// window at `at` (when given). The certificate is looked for in `text` itself,
    /// after the document (see [`crate::trust::bundle`]).
    pub fn open_at(
        &self,
        label: &str,
        text: &str,
        at: Option<time::OffsetDateTime>,
    ) -> Result<(KeyId, Vec<u8>), EnvelopeError> {
        let armored = Armored::parse(label, text)?;
        if self.is_revoked(&armored.key_id) {
            return Err(EnvelopeError::Revoked(armored.key_id));
        }
        if let Some(key) = self.keys.get(&armored.key_id) {
            key.verify(&armored.payload, &armored.signature)
                .map_err(|_| EnvelopeError::BadSignature)?;
            return Ok((armored.key_id, armored.payload));
        }
        let key = self.certified_key(&armored.key_id, text, at)?;
        key.verify(&armored.payload, &armored.signature)
            .map_err(|_| EnvelopeError::BadSignature)?;
        Ok((armored.key_id, armored.payload))
    }

    /// The key `key_id` as certified by a trusted root in one of the certificates in
    /// `text`.
    fn certified_key(
        &self,
        key_id: &KeyId,
        text: &str,
        at: Option<time::OffsetDateTime>,
    ) -> Result<VerifyingKey, EnvelopeError> {
        use crate::trust::{CERTIFICATE_LABEL, blocks, decode_certificate};
        let uncertified = |why: String| EnvelopeError::Uncertified {
            key_id: key_id.clone(),
            why,
        };
        let mut problem = None;
        for certificate in blocks(CERTIFICATE_LABEL, text) {
            let Some(root) = self.roots.get(&certificate.key_id) else {
                problem = Some(format!(
                    "its certificate is signed by {}, which is not a root this verifier was provisioned with",
                    certificate.key_id
                ));
                continue;
            };
            if root
                .verify(&certificate.payload, &certificate.signature)
                .is_err()
            {
                problem = Some("its certificate's signature does not verify".to_owned());
                continue;
            }
            let Ok(payload) = decode_certificate(&certificate.payload) else {
                problem = Some("its certificate is unreadable".to_owned());
                continue;
            };
            if &payload.key_id != key_id {
                continue;
            }
            if let Some(at) = at {
                let skew = crate::license::NOT_BEFORE_SKEW;
                if crate::time_after(at, skew) < payload.not_before || at > payload.not_after {
                    return Err(EnvelopeError::OutsideCertificate {
                        key_id: key_id.clone(),
                        not_before: crate::time_text(payload.not_before),
                        not_after: crate::time_text(payload.not_after),
                        at: crate::time_text(at),
                    });
                }
            }
            return parse_public_key(&payload.public_key)
                .map_err(|e| uncertified(format!("its certificate holds a bad key: {e}")));
        }
        match problem {
            Some(why) => Err(uncertified(why)),
            None if self.roots.is_empty() => Err(EnvelopeError::UnknownKeyId(key_id.clone())),
            None => Err(uncertified(
                "no certificate for it came with the document".to_owned(),
            )),
        }
    }
}

/// Signs `payload` and wraps it in an armored block labelled `label`
/// (e.g. `LICET LICENSE`).
pub fn seal(label: &str, payload: &[u8], key: &SigningKey) -> String {
    let signature = key.sign(payload);
    armor(label, &KeyId::of(&key.verifying_key()), &signature, payload)
}

/// Writes an armored block from its parts.
fn armor(label: &str, key_id: &KeyId, signature: &Signature, payload: &[u8]) -> String {
    let body = BASE64.encode(payload);
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 256);
    out.push_str(&format!("-----BEGIN {label}-----\n"));
    out.push_str(&format!("Key-Id: {key_id}\n"));
    out.push_str(&format!(
        "Signature: {}\n\n",
        BASE64.encode(signature.to_bytes())
    ));
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// An armored block, parsed but not verified.
#[derive(Clone, Debug)]
pub struct Armored {
    /// Who claims to have signed it.
    pub key_id: KeyId,
    /// The claimed signature.
    pub signature: Signature,
    /// The exact payload bytes.
    pub payload: Vec<u8>,
}

impl Armored {
    /// Parses an armored block labelled `label`. Leading and trailing text (e.g. an
    /// e-mail around a pasted license) is ignored; everything between the markers must be
    /// exactly the headers, a blank line and the base64 body.
    pub fn parse(label: &str, text: &str) -> Result<Armored, EnvelopeError> {
        let malformed = |what: &str| EnvelopeError::MalformedArmor(what.to_owned());
        let block = Block::parse(label, text)?;
        let key_id = block.key_id.ok_or_else(|| malformed("no Key-Id header"))?;
        let signature = block
            .signature
            .ok_or_else(|| malformed("no Signature header"))?;
        let payload = block.payload;
        let signature = BASE64
            .decode(signature)
            .map_err(|e| EnvelopeError::BadEncoding(format!("signature: {e}")))?;
        let signature: [u8; 64] = signature.try_into().map_err(|b: Vec<u8>| {
            EnvelopeError::BadEncoding(format!("signature is {} bytes instead of 64", b.len()))
        })?;
        Ok(Armored {
            key_id,
            signature: Signature::from_bytes(&signature),
            payload,
        })
    }
}

/// One armored block as written: its optional headers and its decoded body.
struct Block {
    key_id: Option<KeyId>,
    signature: Option<String>,
    payload: Vec<u8>,
}

impl Block {
    /// Parses the first block labelled `label` in `text`: the marker line, headers up to
    /// a blank line, the base64 body and the end marker.
    fn parse(label: &str, text: &str) -> Result<Block, EnvelopeError> {
        let malformed = |what: &str| EnvelopeError::MalformedArmor(what.to_owned());
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        lines
            .by_ref()
            .find(|line| line.trim() == begin)
            .ok_or_else(|| malformed(&format!("no \"{begin}\" line")))?;
        let mut key_id = None;
        let mut signature = None;
        for line in lines.by_ref() {
            let line = line.trim();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').ok_or_else(|| {
                malformed(&format!("header line {line:?} is not \"Name: value\""))
            })?;
            match name.trim() {
                "Key-Id" => key_id = Some(KeyId(value.trim().to_owned())),
                "Signature" => signature = Some(value.trim().to_owned()),
                other => return Err(malformed(&format!("unknown header {other:?}"))),
            }
        }
        let mut body = String::new();
        let mut ended = false;
        for line in lines {
            let line = line.trim();
            if line == end {
                ended = true;
                break;
            }
            body.push_str(line);
        }
        if !ended {
            return Err(malformed(&format!("no \"{end}\" line")));
        }
        if body.is_empty() {
            return Err(malformed("empty body"));
        }
        let payload = BASE64
            .decode(body)
            .map_err(|e| EnvelopeError::BadEncoding(format!("body: {e}")))?;
        Ok(Block {
            key_id,
            signature,
            payload,
        })
    }
}

/// Writes an unsigned block labelled `label`: data that a signed document binds by its
/// digest, so that signing the document does not mean hashing the data again.
pub fn attachment(label: &str, payload: &[u8]) -> String {
    let body = BASE64.encode(payload);
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 32);
    out.push_str(&format!("-----BEGIN {label}-----\n\n"));
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The bodies of the unsigned blocks labelled `label` in `text`, in order. Malformed
/// blocks and blocks that carry a signature are skipped: an attachment is trusted only
/// through the digest a verified document gives for it.
pub fn attachments(label: &str, text: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&begin) {
        let tail = &rest[at..];
        if let Ok(block) = Block::parse(label, tail) {
            if block.key_id.is_none() && block.signature.is_none() {
                found.push(block.payload);
            }
        }
        rest = &tail[begin.len()..];
    }
    found
}
