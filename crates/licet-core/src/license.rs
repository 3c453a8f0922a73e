//! The license document: what the server (or an offline issuer) grants one device,
//! signed with Ed25519, and the only way to trust one: [`verify`].
//!
//! A [`VerifiedLicense`] can only be built by verification, so code that holds one knows
//! the signature, the device binding, `not_before` and the anti-rollback sequence were
//! all checked. Reading a document without verifying it ([`inspect`]) yields a plain
//! payload that claims nothing.

use crate::catalog::Catalog;
use crate::entitlements::{DegradationPolicy, Entitlements};
use crate::ids::{DeviceId, LicenseId, PlanId, ProductId, TenantId};
use crate::resolve::{AddonGrant, Resolution, ResolveError, Subscription};
use crate::signing::{Armored, EnvelopeError, KeyId, Keyring, seal, to_hex};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// The armor label of a license document.
pub const LICENSE_LABEL: &str = "LICET LICENSE";

/// The payload format version this build writes and understands.
pub const LICENSE_FORMAT: u32 = 1;

/// How far the device clock may run behind `not_before` before a fresh license is
/// refused as not yet valid. Covers ordinary skew between server and device.
pub const NOT_BEFORE_SKEW: Duration = Duration::minutes(5);

/// The signed content of a license.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LicensePayload {
    /// Payload format version.
    pub format: u32,
    /// This document's id.
    pub license_id: LicenseId,
    /// The customer.
    pub tenant: TenantId,
    /// The product.
    pub product: ProductId,
    /// The catalog version the entitlements were resolved from.
    pub catalog_version: String,
    /// The device the license is bound to.
    pub device: DeviceBinding,
    /// The plan.
    pub plan: PlanId,
    /// Add-ons with quantities.
    #[serde(default)]
    pub addons: Vec<AddonGrant>,
    /// The resolved entitlements (serialized as the value itself).
    pub entitlements: Arc<Entitlements>,
    /// Trial details, when the plan was taken as a trial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<TrialInfo>,
    /// When this document was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// Not valid before this time.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of the paid term (or of the trial).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The agent should refresh from this time on.
    #[serde(with = "time::serde::rfc3339")]
    pub refresh_after: OffsetDateTime,
    /// With no successful refresh, the license degrades at this time.
    #[serde(with = "time::serde::rfc3339")]
    pub offline_grace_until: OffsetDateTime,
    /// Per-device monotonic sequence; an agent refuses anything older than it has seen.
    pub sequence: u64,
    /// What stays on in each non-active state.
    pub degradation: Arc<DegradationPolicy>,
}

impl LicensePayload {
    /// How long after a successful refresh the agent should refresh again.
    pub fn refresh_interval(&self) -> Duration {
        self.refresh_after - self.issued_at
    }

    /// How long after a successful refresh the license stays usable with no other one.
    pub fn grace_period(&self) -> Duration {
        self.offline_grace_until - self.issued_at
    }
}

/// The device a license is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceBinding {
    /// The device id.
    pub id: DeviceId,
    /// SHA-256 (hex) of the device fingerprint; see [`fingerprint_hash`].
    pub fingerprint_sha256: String,
}

/// Trial details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialInfo {
    /// Trial length.
    pub days: u32,
    /// When the trial started. Kept by the issuer so that it never restarts.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it ends.
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
}

/// The hash a license stores for a device fingerprint.
pub fn fingerprint_hash(fingerprint: &str) -> String {
    to_hex(&Sha256::digest(fingerprint.as_bytes()))
}

/// What to issue.
#[derive(Clone, Debug)]
pub struct IssueRequest<'a> {
    /// The catalog to resolve against.
    pub catalog: &'a Catalog,
    /// What was bought.
    pub subscription: &'a Subscription,
    /// The new document's id (ids need randomness; the caller makes them).
    pub license_id: LicenseId,
    /// The customer.
    pub tenant: TenantId,
    /// The device.
    pub device: DeviceId,
    /// The device's raw fingerprint; only its hash goes into the document.
    pub fingerprint: &'a str,
    /// Issue time.
    pub issued_at: OffsetDateTime,
    /// End of the paid term. `None`: the trial's end, or the plan's default term.
    pub term_ends_at: Option<OffsetDateTime>,
    /// When the trial started, if it started before (a trial never restarts).
    pub trial_started_at: Option<OffsetDateTime>,
    /// The per-device sequence number of this document.
    pub sequence: u64,
    /// Override of the catalog's grace, e.g. for air-gapped sites that never refresh.
    pub grace: Option<Duration>,
    /// Override of the catalog's refresh interval.
    pub refresh: Option<Duration>,
}

/// A freshly signed license.
#[derive(Clone, Debug)]
pub struct SignedLicense {
    /// The armored text to hand to the device.
    pub armored: String,
    /// What was signed.
    pub payload: LicensePayload,
}

/// Why a license could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The subscription does not fit the catalog.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The payload could not be serialised (not expected with well-formed entitlements).
    #[error("could not encode the license payload: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Resolves and signs a license. Deterministic given its inputs.
pub fn issue(request: &IssueRequest<'_>, key: &SigningKey) -> Result<SignedLicense, IssueError> {
    let resolution = request.catalog.resolve(request.subscription)?;
    issue_resolved(request, &resolution, key)
}

/// [`issue`] with the subscription already resolved against `request.catalog` (an
/// issuer that signs many licenses for one subscription resolves it once). The
/// resolution must be `request.catalog.resolve(request.subscription)`: the document
/// says it came from that catalog.
pub fn issue_resolved(
    request: &IssueRequest<'_>,
    resolution: &Resolution,
    key: &SigningKey,
) -> Result<SignedLicense, IssueError> {
    let issued_at = request.issued_at;
    let trial = resolution.trial_days.map(|days| {
        let started_at = request.trial_started_at.unwrap_or(issued_at);
        TrialInfo {
            days,
            started_at,
            ends_at: crate::time_after(started_at, Duration::days(i64::from(days))),
        }
    });
    let expires_at = match (&request.term_ends_at, &trial) {
        (Some(end), Some(trial)) => (*end).min(trial.ends_at),
        (Some(end), None) => *end,
        (None, Some(trial)) => trial.ends_at,
        (None, None) => crate::time_after(
            issued_at,
            Duration::days(i64::from(resolution.lease.term_days)),
        ),
    };
    let refresh = request
        .refresh
        .unwrap_or_else(|| Duration::hours(i64::from(resolution.lease.refresh_hours)));
    let grace = request
        .grace
        .unwrap_or_else(|| Duration::hours(i64::from(resolution.lease.grace_hours)));
    let payload = LicensePayload {
        format: LICENSE_FORMAT,
        license_id: request.license_id.clone(),
        tenant: request.tenant.clone(),
        product: request.catalog.product().clone(),
        catalog_version: request.catalog.version().to_owned(),
        device: DeviceBinding {
            id: request.device.clone(),
            fingerprint_sha256: fingerprint_hash(request.fingerprint),
        },
        plan: request.subscription.plan.clone(),
        addons: request.subscription.addons.clone(),
        entitlements: resolution.entitlements.clone(),
        trial,
        issued_at,
        not_before: issued_at,
        expires_at,
        refresh_after: crate::time_after(issued_at, refresh),
        offline_grace_until: crate::time_after(issued_at, grace),
        sequence: request.sequence,
        degradation: resolution.degradation.clone(),
    };
    let bytes = serde_json::to_vec(&payload)?;
    Ok(SignedLicense {
        armored: seal(LICENSE_LABEL, &bytes, key),
        payload,
    })
}

/// Why a license was refused. Each cause is distinct so that callers (and the CLI's
/// exit codes) can tell a tampered file from a license for another machine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    /// Not a well-formed armored license.
    #[error("malformed license armor: {0}")]
    MalformedArmor(String),
    /// Base64 or payload JSON is broken.
    #[error("bad license encoding: {0}")]
    BadEncoding(String),
    /// Signed by a key that is not trusted.
    #[error(
        "license signed by unknown key id {0}; trust the issuer's public key (ed25519:…) to accept it"
    )]
    UnknownKeyId(KeyId),
    /// The signature does not match the content.
    #[error("bad license signature: the document was altered or signed by another key")]
    BadSignature,
    /// The signer does not chain to a trusted root, is revoked, or is outside its
    /// certificate's window.
    #[error("license refused: {0}")]
    Untrusted(String),
    /// The license is bound to another device.
    #[error(
        "license is bound to another device (device {device}); activate this device to get its own license"
    )]
    WrongDevice {
        /// The device the license names.
        device: DeviceId,
    },
    /// `not_before` is in the future.
    #[error("license is not valid before {not_before}; check this device's clock")]
    NotYetValid {
        /// When it becomes valid.
        not_before: String,
    },
    /// Older than a license already seen on this device (anti-rollback).
    #[error(
        "license sequence {got} is older than {seen} already seen on this device; an old license cannot replace a newer one"
    )]
    OlderSequence {
        /// The highest sequence seen.
        seen: u64,
        /// This document's sequence.
        got: u64,
    },
    /// A payload format this build does not understand.
    #[error("license format {0} is not supported by this version of Licet; upgrade it")]
    UnsupportedFormat(u32),
}

impl From<EnvelopeError> for LicenseError {
    fn from(error: EnvelopeError) -> Self {
        match error {
            EnvelopeError::MalformedArmor(m) => LicenseError::MalformedArmor(m),
            EnvelopeError::BadEncoding(m) => LicenseError::BadEncoding(m),
            EnvelopeError::UnknownKeyId(id) => LicenseError::UnknownKeyId(id),
            EnvelopeError::BadSignature => LicenseError::BadSignature,
            other @ (EnvelopeError::Uncertified { .. }
            | EnvelopeError::Revoked(_)
            | EnvelopeError::OutsideCertificate { .. }) => {
                LicenseError::Untrusted(other.to_string())
            }
        }
    }
}

/// What a verifier expects of a license beyond a good signature.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expectations<'a> {
    /// This device's raw fingerprint; `None` skips the binding check (inspection tools).
    pub fingerprint: Option<&'a str>,
    /// The verifier's time, for `not_before`; `None` skips the check.
    pub now: Option<OffsetDateTime>,
    /// The highest sequence already accepted on this device.
    pub min_sequence: Option<u64>,
}

/// A license whose signature, binding, start time and sequence were checked.
/// Only [`verify`] constructs one.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedLicense {
    key_id: KeyId,
    payload: LicensePayload,
    armored: String,
}

impl VerifiedLicense {
    /// The key that signed it.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The verified content.
    pub fn payload(&self) -> &LicensePayload {
        &self.payload
    }

    /// The armored text, for storing exactly what was verified.
    pub fn armored(&self) -> &str {
        &self.armored
    }
}

/// Verifies an armored license against trusted keys and expectations.
pub fn verify(
    keyring: &Keyring,
    armored: &str,
    expect: &Expectations<'_>,
) -> Result<VerifiedLicense, LicenseError> {
    let (key_id, bytes) = keyring.open_at(LICENSE_LABEL, armored, expect.now)?;
    let payload = decode_payload(&bytes)?;
    if let Some(fingerprint) = expect.fingerprint {
        if fingerprint_hash(fingerprint) != payload.device.fingerprint_sha256 {
            return Err(LicenseError::WrongDevice {
                device: payload.device.id.clone(),
            });
        }
    }
    if let Some(now) = expect.now {
        if crate::time_after(now, NOT_BEFORE_SKEW) < payload.not_before {
            return Err(LicenseError::NotYetValid {
                not_before: crate::time_text(payload.not_before),
            });
        }
    }
    if let Some(seen) = expect.min_sequence {
        if payload.sequence < seen {
            return Err(LicenseError::OlderSequence {
                seen,
                got: payload.sequence,
            });
        }
    }
    Ok(VerifiedLicense {
        key_id,
        payload,
        armored: armored.to_owned(),
    })
}

/// Reads a license without verifying it: for display only, never for decisions.
pub fn inspect(armored: &str) -> Result<(KeyId, LicensePayload), LicenseError> {
    let parsed = Armored::parse(LICENSE_LABEL, armored)?;
    Ok((parsed.key_id, decode_payload(&parsed.payload)?))
}

fn decode_payload(bytes: &[u8]) -> Result<LicensePayload, LicenseError> {
    #[derive(Deserialize)]
    struct Format {
        format: u32,
    }
    let format: Format = serde_json::from_slice(bytes).map_err(|e| {
        LicenseError::BadEncoding(format!("payload is not a license document: {e}"))
    })?;
    if format.format != LICENSE_FORMAT {
        return Err(LicenseError::UnsupportedFormat(format.format));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| LicenseError::BadEncoding(format!("payload is not a license document: {e}")))
}
