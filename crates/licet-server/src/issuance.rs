//! Signing licenses and verdicts for devices, with the core's `issue` and
//! `seal_verdict`; this module only gathers the inputs from the store.

use crate::error::ApiError;
use crate::metrics::bump;
use crate::sequences::Floor;
use crate::state::AppState;
use licet_core::ids::LicenseId;
use licet_core::license::{self, IssueRequest};
use licet_core::resolve::Subscription as Bought;
use licet_core::state::Verdict;
use licet_core::verdict::{VerdictPayload, seal_verdict};
use licet_store::{Device, Subscription, SubscriptionStatus};

/// What was bought, in core terms.
pub(crate) fn bought(subscription: &Subscription) -> Bought {
    Bought {
        plan: subscription.plan.clone(),
        addons: subscription.addons.clone(),
        trial: subscription.trial,
        modules: subscription.modules.clone(),
    }
}

/// Signs a new license for a device, with a sequence above `floor` (see
/// [`crate::sequences`]). When the device says it holds the license's grant already
/// (`held_grant`, its SHA-256), the answer is the signed lease alone.
pub async fn license_for(
    state: &AppState,
    subscription: &Subscription,
    device: &Device,
    floor: Floor,
    held_grant: Option<&str>,
) -> Result<(String, u64), ApiError> {
    let catalog = state.catalog(&subscription.product).await?;
    let bought = bought(subscription);
    // A subscription that no longer resolves (its plan was removed from a newer catalog)
    // is a vendor-side inconsistency the device cannot fix.
    let unfit = |e: &dyn std::fmt::Display| ApiError::Conflict {
        code: "subscription_invalid",
        message: format!(
            "the subscription no longer fits the product's catalog: {e}; change its plan"
        ),
    };
    let resolution = state
        .resolution(&catalog, &bought)?
        .map_err(|e| unfit(&e))?;
    let sequence = state.sequences.above(state.store.as_ref(), floor).await?;
    let request = IssueRequest {
        catalog: &catalog,
        subscription: &bought,
        license_id: LicenseId::new(licet_host::random::id("lic_").map_err(ApiError::internal)?),
        subscription_id: Some(subscription.id.0.clone()),
        tenant: subscription.tenant.clone(),
        device: device.id.clone(),
        fingerprint: &device.fingerprint,
        issued_at: state.clock.now(),
        term_ends_at: subscription.term_ends_at,
        trial_started_at: subscription.trial_started_at,
        sequence,
        grace: None,
        refresh: None,
    };
    let grant = state.grant(&request, &resolution)?;
    let signed = license::issue_with_grant(&request, &resolution, &grant, state.signer.key())
        .map_err(ApiError::internal)?;
    bump(&state.metrics.licenses_issued);
    let text = if held_grant == Some(grant.sha256()) {
        signed.lease_only()
    } else {
        &signed.armored
    };
    Ok((state.signer.bundle(text), sequence))
}

/// Why a subscription that is not active refuses a device: the verdict, the stable
/// code and the message, in one place for activation and refresh alike.
pub fn inactive(status: SubscriptionStatus) -> Option<(Verdict, &'static str, &'static str)> {
    match status {
        SubscriptionStatus::Active => None,
        SubscriptionStatus::Suspended => Some((
            Verdict::Suspended,
            "subscription_suspended",
            "the subscription is suspended; contact the vendor to resume it",
        )),
        SubscriptionStatus::Cancelled => Some((
            Verdict::Cancelled,
            "subscription_cancelled",
            "the subscription was cancelled",
        )),
    }
}

/// The refusal for a subscription that is not active, with a signed verdict.
pub async fn refusal(
    state: &AppState,
    device: &Device,
    status: SubscriptionStatus,
    nonce: Option<String>,
    floor: Floor,
) -> Result<ApiError, ApiError> {
    let (verdict, code, message) =
        inactive(status).ok_or_else(|| ApiError::internal("refusal for an active subscription"))?;
    signed_refusal(
        state,
        device,
        Refusal {
            verdict,
            code,
            message,
        },
        nonce,
        floor,
    )
    .await
}

/// A definite "no": the verdict, its stable code and why.
pub struct Refusal<'a> {
    /// The verdict.
    pub verdict: Verdict,
    /// The stable error code.
    pub code: &'static str,
    /// Why, for humans.
    pub message: &'a str,
}

/// A refusal with a signed verdict for `device`. The verdict takes a sequence number
/// above `floor` like a license: only a license issued after it lifts it.
pub async fn signed_refusal(
    state: &AppState,
    device: &Device,
    refusal: Refusal<'_>,
    nonce: Option<String>,
    floor: Floor,
) -> Result<ApiError, ApiError> {
    let Refusal {
        verdict,
        code,
        message,
    } = refusal;
    let sequence = state.sequences.above(state.store.as_ref(), floor).await?;
    let armored = seal_verdict(
        &VerdictPayload {
            format: 1,
            device: device.id.clone(),
            verdict,
            reason: message.to_owned(),
            issued_at: state.clock.now(),
            nonce,
            sequence,
        },
        state.signer.key(),
    )
    .map(|armored| state.signer.bundle(&armored))
    .map_err(ApiError::internal)?;
    bump(&state.metrics.verdicts);
    Ok(ApiError::Refused {
        code,
        message: message.to_owned(),
        verdict: Some(armored),
    })
}
