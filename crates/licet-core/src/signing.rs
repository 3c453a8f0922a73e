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
}

/// The public keys a verifier trusts, by key id. Several ids may be trusted at once so
/// that keys can rotate: old ids stay verifiable until removed.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: BTreeMap<KeyId, VerifyingKey>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Trusts a key; returns its id.
    pub fn add(&mut self, key: VerifyingKey) -> KeyId {
        let id = KeyId::of(&key);
        self.keys.insert(id.clone(), key);
        id
    }

    /// Stops trusting a key.
    pub fn retire(&mut self, id: &KeyId) -> bool {
        self.keys.remove(id).is_some()
    }

    /// The trusted keys.
    pub fn keys(&self) -> impl Iterator<Item = (&KeyId, &VerifyingKey)> {
        self.keys.iter()
    }

    /// Verifies an armored envelope with the given label and returns the signer's key id
    /// and the exact payload bytes that were signed.
    pub fn open(&self, label: &str, text: &str) -> Result<(KeyId, Vec<u8>), EnvelopeError> {
        let armored = Armored::parse(label, text)?;
        let key = self
            .keys
            .get(&armored.key_id)
            .ok_or_else(|| EnvelopeError::UnknownKeyId(armored.key_id.clone()))?;
        key.verify(&armored.payload, &armored.signature)
            .map_err(|_| EnvelopeError::BadSignature)?;
        Ok((armored.key_id, armored.payload))
    }
}

/// Signs `payload` and wraps it in an armored block labelled `label`
/// (e.g. `LICET LICENSE`).
pub fn seal(label: &str, payload: &[u8], key: &SigningKey) -> String {
    let signature = key.sign(payload);
    let key_id = KeyId::of(&key.verifying_key());
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
        let key_id = key_id.ok_or_else(|| malformed("no Key-Id header"))?;
        let signature = signature.ok_or_else(|| malformed("no Signature header"))?;
        if body.is_empty() {
            return Err(malformed("empty body"));
        }
        let signature = BASE64
            .decode(signature)
            .map_err(|e| EnvelopeError::BadEncoding(format!("signature: {e}")))?;
        let signature: [u8; 64] = signature.try_into().map_err(|b: Vec<u8>| {
            EnvelopeError::BadEncoding(format!("signature is {} bytes instead of 64", b.len()))
        })?;
        let payload = BASE64
            .decode(body)
            .map_err(|e| EnvelopeError::BadEncoding(format!("body: {e}")))?;
        Ok(Armored {
            key_id,
            signature: Signature::from_bytes(&signature),
            payload,
        })
    }
}
