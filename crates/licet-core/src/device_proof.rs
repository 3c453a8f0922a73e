//! Proof that a device holds its key: the server hands out a short-lived nonce it
//! signed itself, the device signs the nonce together with its fingerprint, and the
//! server checks both signatures. Re-activating an existing device needs this proof, so
//! knowing a device's license key, fingerprint and public key (none of which is secret)
//! is not enough to take its place.
//!
//! The nonce is stateless: any replica holding the signing key can check it, and
//! nothing is stored. Within its short life a captured proof could be replayed, which
//! only an observer of the device's TLS traffic could do.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use time::OffsetDateTime;

/// Why a proof was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The nonce was not made by this server, or is malformed.
    #[error("the nonce was not issued by this server; ask POST /v1/activations/challenge for one")]
    ForeignNonce,
    /// The nonce is too old.
    #[error("the nonce expired; ask POST /v1/activations/challenge for a new one")]
    Expired,
    /// The device's signature does not verify with the key it claims.
    #[error("the proof is not signed by the device key given in `device_public_key`")]
    BadSignature,
}

const NONCE_CONTEXT: &[u8] = b"licet activation nonce v1\n";
const PROOF_CONTEXT: &[u8] = b"licet activation proof v1\n";

/// A nonce that expires at `expires_at`, signed by the server's key. `random` makes
/// every nonce distinct.
pub fn issue_nonce(server: &SigningKey, expires_at: OffsetDateTime, random: [u8; 16]) -> String {
    let mut body = Vec::with_capacity(24);
    body.extend_from_slice(&expires_at.unix_timestamp().to_be_bytes());
    body.extend_from_slice(&random);
    let signature = server.sign(&[NONCE_CONTEXT, &body].concat());
    format!("{}.{}", B64.encode(&body), B64.encode(signature.to_bytes()))
}

/// Checks a nonce this server issued and that it has not expired at `now`.
pub fn check_nonce(
    server: &VerifyingKey,
    nonce: &str,
    now: OffsetDateTime,
) -> Result<(), ProofError> {
    let (body, signature) = nonce.split_once('.').ok_or(ProofError::ForeignNonce)?;
    let body = B64.decode(body).map_err(|_| ProofError::ForeignNonce)?;
    let signature: [u8; 64] = B64
        .decode(signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(ProofError::ForeignNonce)?;
    server
        .verify(
            &[NONCE_CONTEXT, &body].concat(),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| ProofError::ForeignNonce)?;
    let expires: [u8; 8] = body
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or(ProofError::ForeignNonce)?;
    if now.unix_timestamp() > i64::from_be_bytes(expires) {
        return Err(ProofError::Expired);
    }
    Ok(())
}

fn proof_message(nonce: &str, fingerprint: &str) -> Vec<u8> {
    // The fingerprint is hashed so that the message has a fixed shape whatever it holds.
    let digest = crate::license::fingerprint_hash(fingerprint);
    [PROOF_CONTEXT, nonce.as_bytes(), b"\n", digest.as_bytes()].concat()
}

/// The device's proof for `nonce`: its signature, base64url.
pub fn prove(device: &SigningKey, nonce: &str, fingerprint: &str) -> String {
    B64.encode(device.sign(&proof_message(nonce, fingerprint)).to_bytes())
}

/// Checks a device's proof with the key it claims.
pub fn check_proof(
    device: &VerifyingKey,
    nonce: &str,
    fingerprint: &str,
    proof: &str,
) -> Result<(), ProofError> {
    let signature: [u8; 64] = B64
        .decode(proof.trim())
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(ProofError::BadSignature)?;
    device
        .verify(
            &proof_message(nonce, fingerprint),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| ProofError::BadSignature)
}
