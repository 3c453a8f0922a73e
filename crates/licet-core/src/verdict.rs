//! Signed verdicts: the server's definite "no" (revoked, suspended, cancelled).
//!
//! An agent must obey a verdict at once but must never mistake a proxy's 403 or a
//! captive portal for one. So a verdict is signed like a license, names the device, and
//! echoes the nonce the agent sent with its refresh, so an old verdict cannot be
//! replayed later (e.g. after the subscription resumed).

use crate::ids::DeviceId;
use crate::signing::{EnvelopeError, KeyId, Keyring, seal};
use crate::state::Verdict;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The armor label of a verdict.
pub const VERDICT_LABEL: &str = "LICET VERDICT";

/// The signed content of a verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictPayload {
    /// Format version (1).
    pub format: u32,
    /// The device it is about.
    pub device: DeviceId,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, for humans.
    pub reason: String,
    /// When it was given.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// The nonce of the request it answers.
    #[serde(default)]
    pub nonce: Option<String>,
    /// The device's license sequence when the verdict was given: only a license (or
    /// verdict) with a higher sequence, i.e. newer from the server, lifts it. A license
    /// the device already held can never undo it.
    #[serde(default)]
    pub sequence: u64,
}

/// Why a verdict was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerdictError {
    /// Not a verdict signed by a trusted key.
    #[error("verdict refused: {0}")]
    Envelope(#[from] EnvelopeError),
    /// Well signed but not decodable.
    #[error("verdict refused: payload is not a verdict: {0}")]
    Encoding(String),
    /// About another device.
    #[error("verdict refused: it is about device {0}, not this one")]
    OtherDevice(DeviceId),
    /// Answers another request (a replay).
    #[error("verdict refused: it answers another request (nonce mismatch)")]
    Replayed,
}

/// Signs a verdict.
pub fn seal_verdict(
    payload: &VerdictPayload,
    key: &SigningKey,
) -> Result<String, serde_json::Error> {
    Ok(seal(VERDICT_LABEL, &serde_json::to_vec(payload)?, key))
}

/// Verifies a verdict for this device and request; a certified signer must be inside
/// its certificate's window at `now`.
pub fn open_verdict(
    keyring: &Keyring,
    text: &str,
    device: &DeviceId,
    nonce: Option<&str>,
    now: OffsetDateTime,
) -> Result<(KeyId, VerdictPayload), VerdictError> {
    let (key_id, bytes) = keyring.open_at(VERDICT_LABEL, text, Some(now))?;
    let payload: VerdictPayload =
        serde_json::from_slice(&bytes).map_err(|e| VerdictError::Encoding(e.to_string()))?;
    if &payload.device != device {
        return Err(VerdictError::OtherDevice(payload.device));
    }
    if payload.nonce.as_deref() != nonce {
        return Err(VerdictError::Replayed);
    }
    Ok((key_id, payload))
}
