//! The license document: what the server (or an offline issuer) grants one device,
//! signed with Ed25519, and the only way to trust one: [`verify`].
//!
//! A [`VerifiedLicense`] can only be built by verification, so code that holds one knows
//! the signature, the device binding, `not_before` and the anti-rollback sequence were
//! all checked. Reading a document without verifying it ([`inspect`]) yields a plain
//! payload that claims nothing.
//!
//! A document (format 2) is two blocks. The signed one, the *lease*, holds what changes
//! on every issue (id, device binding, times, sequence) and the SHA-256 of the other,
//! the *grant*: what was granted (tenant, plan, entitlements, degradation), which
//! changes only when the purchase or the catalog does and is the same for every device
//! of a subscription. Signing therefore hashes a few hundred bytes
//! however large the catalog, an issuer can encode a grant once and sign many leases
//! over it, and a device that already holds the grant can be sent the lease alone
//! ([`SignedLicense::lease_only`], [`with_held_grant`]). The grant block is unsigned and
//! trusted only through the digest in the verified lease. Format 1 documents (one
//! signed block with everything) are still read.

use crate::catalog::Catalog;
use crate::entitlements::{DegradationPolicy, Entitlements};
use crate::ids::{DeviceId, LicenseId, PlanId, ProductId, TenantId};
use crate::resolve::{AddonGrant, Resolution, ResolveError, Subscription};
use crate::signing::{
    Armored, EnvelopeError, KeyId, Keyring, attachment, attachments, seal, to_hex,
};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// The armor label of a license document.
pub const LICENSE_LABEL: &str = "LICET LICENSE";

/// The armor label of a license's grant block (see the module documentation).
pub const GRANT_LABEL: &str = "LICET LICENSE GRANT";

/// The payload format version this build writes. It reads this one and format 1.
pub const LICENSE_FORMAT: u32 = 2;

/// The format of documents with everything in one signed block.
const SINGLE_BLOCK_FORMAT: u32 = 1;

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
    /// The issuer's id of the subscription, if it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
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
    /// The issuer's id of the subscription, when there is one (a server's
    /// `sub_…`): carried in the grant for the products' screens that show it.
    pub subscription_id: Option<String>,
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
    /// The armored text to hand to the device: the lease block, then the grant block.
    pub armored: String,
    /// What was signed.
    pub payload: LicensePayload,
    /// Where the grant block starts in `armored`.
    lease_len: usize,
}

impl SignedLicense {
    /// The lease block alone, for a device that holds this license's grant already
    /// (it completes the document with [`with_held_grant`]).
    pub fn lease_only(&self) -> &str {
        &self.armored[..self.lease_len]
    }
}

/// The part of a license that changes only when what the device was granted changes,
/// encoded once (see the module documentation). Made by [`grant`].
#[derive(Clone, Debug)]
pub struct Grant {
    fields: GrantFields,
    block: String,
    sha256: String,
}

impl Grant {
    /// SHA-256 (hex) of the grant's bytes, as the lease names it.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// The grant's content, in the order it is written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct GrantFields {
    tenant: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subscription: Option<String>,
    product: ProductId,
    catalog_version: String,
    plan: PlanId,
    #[serde(default)]
    addons: Vec<AddonGrant>,
    entitlements: Arc<Entitlements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trial: Option<TrialInfo>,
    degradation: Arc<DegradationPolicy>,
}

/// The signed block of a format 2 document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Lease {
    format: u32,
    license_id: LicenseId,
    device: DeviceBinding,
    /// SHA-256 (hex) of the grant block's bytes.
    grant_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    refresh_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    offline_grace_until: OffsetDateTime,
    sequence: u64,
}

impl Lease {
    fn join(self, grant: GrantFields) -> LicensePayload {
        LicensePayload {
            format: self.format,
            license_id: self.license_id,
            tenant: grant.tenant,
            subscription: grant.subscription,
            product: grant.product,
            catalog_version: grant.catalog_version,
            device: self.device,
            plan: grant.plan,
            addons: grant.addons,
            entitlements: grant.entitlements,
            trial: grant.trial,
            issued_at: self.issued_at,
            not_before: self.not_before,
            expires_at: self.expires_at,
            refresh_after: self.refresh_after,
            offline_grace_until: self.offline_grace_until,
            sequence: self.sequence,
            degradation: grant.degradation,
        }
    }
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
    issue_with_grant(request, resolution, &grant(request, resolution)?, key)
}

/// Encodes what `request` grants (its tenant, plan, trial and the resolved
/// entitlements, but not the device: every device of a subscription shares a grant),
/// for [`issue_with_grant`]. The same inputs give the same grant, so an issuer may keep
/// it for as long as they do not change — including the trial's start, which is the
/// issue time when `request.trial_started_at` is `None`.
pub fn grant(request: &IssueRequest<'_>, resolution: &Resolution) -> Result<Grant, IssueError> {
    let trial = resolution.trial_days.map(|days| {
        let started_at = request.trial_started_at.unwrap_or(request.issued_at);
        TrialInfo {
            days,
            started_at,
            ends_at: crate::time_after(started_at, Duration::days(i64::from(days))),
        }
    });
    let fields = GrantFields {
        tenant: request.tenant.clone(),
        subscription: request.subscription_id.clone(),
        product: request.catalog.product().clone(),
        catalog_version: request.catalog.version().to_owned(),
        plan: request.subscription.plan.clone(),
        addons: request.subscription.addons.clone(),
        entitlements: resolution.entitlements.clone(),
        trial,
        degradation: resolution.degradation.clone(),
    };
    let bytes = serde_json::to_vec(&fields)?;
    Ok(Grant {
        fields,
        sha256: to_hex(&Sha256::digest(&bytes)),
        block: attachment(GRANT_LABEL, &bytes),
    })
}

/// [`issue_resolved`] over a grant made by [`grant`] for the same request (up to its
/// id, issue time and sequence): only the lease is encoded and signed.
pub fn issue_with_grant(
    request: &IssueRequest<'_>,
    resolution: &Resolution,
    grant: &Grant,
    key: &SigningKey,
) -> Result<SignedLicense, IssueError> {
    let issued_at = request.issued_at;
    let expires_at = match (&request.term_ends_at, &grant.fields.trial) {
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
    let lease = Lease {
        format: LICENSE_FORMAT,
        license_id: request.license_id.clone(),
        device: DeviceBinding {
            id: request.device.clone(),
            fingerprint_sha256: fingerprint_hash(request.fingerprint),
        },
        grant_sha256: grant.sha256.clone(),
        issued_at,
        not_before: issued_at,
        expires_at,
        refresh_after: crate::time_after(issued_at, refresh),
        offline_grace_until: crate::time_after(issued_at, grace),
        sequence: request.sequence,
    };
    let mut armored = seal(LICENSE_LABEL, &serde_json::to_vec(&lease)?, key);
    let lease_len = armored.len();
    armored.push_str(&grant.block);
    Ok(SignedLicense {
        armored,
        payload: lease.join(grant.fields.clone()),
        lease_len,
    })
}

/// Completes a lease-only answer ([`SignedLicense::lease_only`]) with the grant of the
/// license the device holds. `text` is returned as it is when it has a grant of its
/// own; verifying the result checks that the grant is the one the lease names.
pub fn with_held_grant(text: &str, held: &VerifiedLicense) -> String {
    match &held.grant_block {
        Some(block) if !text.contains(&format!("-----BEGIN {GRANT_LABEL}-----")) => {
            let mut out = String::with_capacity(text.len() + block.len() + 1);
            out.push_str(text);
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(block);
            out
        }
        _ => text.to_owned(),
    }
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
    /// The grant the signed lease names is not in the document.
    #[error(
        "the license's grant block is missing or altered: its SHA-256 must be {0}, as its signed part says"
    )]
    GrantMismatch(String),
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
    /// The grant block (format 2), to complete a lease-only refresh with.
    grant_block: Option<String>,
    grant_sha256: Option<String>,
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

    /// SHA-256 (hex) of the license's grant, to tell the issuer which grant the device
    /// holds; `None` for a format 1 document.
    pub fn grant_sha256(&self) -> Option<&str> {
        self.grant_sha256.as_deref()
    }
}

/// Verifies an armored license against trusted keys and expectations.
pub fn verify(
    keyring: &Keyring,
    armored: &str,
    expect: &Expectations<'_>,
) -> Result<VerifiedLicense, LicenseError> {
    let (key_id, bytes) = keyring.open_at(LICENSE_LABEL, armored, expect.now)?;
    let Decoded { payload, grant } = decode_payload(&bytes, armored)?;
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
    let (grant_block, grant_sha256) = grant.map_or((None, None), |(bytes, sha256)| {
        (Some(attachment(GRANT_LABEL, &bytes)), Some(sha256))
    });
    Ok(VerifiedLicense {
        key_id,
        payload,
        armored: armored.to_owned(),
        grant_block,
        grant_sha256,
    })
}

/// Reads a license without verifying it: for display only, never for decisions.
pub fn inspect(armored: &str) -> Result<(KeyId, LicensePayload), LicenseError> {
    let parsed = Armored::parse(LICENSE_LABEL, armored)?;
    Ok((
        parsed.key_id,
        decode_payload(&parsed.payload, armored)?.payload,
    ))
}

/// A decoded document, with its grant's bytes and digest when it has one.
struct Decoded {
    payload: LicensePayload,
    grant: Option<(Vec<u8>, String)>,
}

/// Decodes the signed block's bytes; a format 2 lease is joined with the grant block
/// in `text` whose digest it names.
fn decode_payload(bytes: &[u8], text: &str) -> Result<Decoded, LicenseError> {
    #[derive(Deserialize)]
    struct Format {
        format: u32,
    }
    let not_license = |e: serde_json::Error| {
        LicenseError::BadEncoding(format!("payload is not a license document: {e}"))
    };
    let format: Format = serde_json::from_slice(bytes).map_err(not_license)?;
    match format.format {
        SINGLE_BLOCK_FORMAT => Ok(Decoded {
            payload: serde_json::from_slice(bytes).map_err(not_license)?,
            grant: None,
        }),
        LICENSE_FORMAT => {
            let lease: Lease = serde_json::from_slice(bytes).map_err(not_license)?;
            let grant = attachments(GRANT_LABEL, text)
                .into_iter()
                .find(|grant| to_hex(&Sha256::digest(grant)) == lease.grant_sha256)
                .ok_or_else(|| LicenseError::GrantMismatch(lease.grant_sha256.clone()))?;
            let fields: GrantFields = serde_json::from_slice(&grant).map_err(not_license)?;
            let sha256 = lease.grant_sha256.clone();
            Ok(Decoded {
                payload: lease.join(fields),
                grant: Some((grant, sha256)),
            })
        }
        other => Err(LicenseError::UnsupportedFormat(other)),
    }
}
