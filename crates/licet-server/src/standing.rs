//! What a subscription allows as it stands now on the server, with no device: for the
//! products' compatibility routes (one subscription) and for hosted tenants (all of a
//! tenant's subscriptions, cached per tenant).

use crate::error::ApiError;
use crate::issuance::bought;
use crate::state::AppState;
use licet_core::ids::TenantId;
use licet_core::snapshot::Snapshot;
use licet_core::state::LicenseState;
use licet_store::{Subscription, SubscriptionId, SubscriptionStatus};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// The subscription's entitlements as they stand now on the server.
pub(crate) struct Standing {
    pub(crate) snapshot: Snapshot,
    pub(crate) valid: bool,
    pub(crate) valid_until: Option<OffsetDateTime>,
    /// When a trial ends, if the subscription is one.
    pub(crate) trial_end: Option<OffsetDateTime>,
}

pub(crate) async fn standing(
    state: &AppState,
    subscription: &Subscription,
) -> Result<Standing, ApiError> {
    let catalog = state.catalog(&subscription.product).await?;
    let resolution = catalog
        .resolve(&bought(subscription))
        .map_err(|e| ApiError::Conflict {
            code: "subscription_invalid",
            message: format!("the subscription no longer fits the product's catalog: {e}"),
        })?;
    let trial_end = match (resolution.trial_days, subscription.trial_started_at) {
        (Some(days), Some(start)) => Some(licet_core::time_after(
            start,
            Duration::days(i64::from(days)),
        )),
        _ => None,
    };
    let valid_until = match (subscription.term_ends_at, trial_end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let now = state.clock.now();
    let license_state = match subscription.status {
        SubscriptionStatus::Suspended => LicenseState::Suspended,
        SubscriptionStatus::Cancelled => LicenseState::Expired,
        SubscriptionStatus::Active if valid_until.is_some_and(|end| end <= now) => {
            LicenseState::Expired
        }
        SubscriptionStatus::Active => LicenseState::Active,
    };
    Ok(Standing {
        snapshot: Snapshot::build(
            &resolution.entitlements,
            &resolution.degradation,
            license_state,
        ),
        valid: license_state == LicenseState::Active,
        valid_until,
        trial_end,
    })
}

/// A subscription as it stands, with the state its snapshot was built for.
pub(crate) struct HostedStanding {
    pub(crate) subscription: Subscription,
    pub(crate) snapshot: Snapshot,
    pub(crate) trial_end: Option<time::OffsetDateTime>,
}

impl HostedStanding {
    /// Why nothing may be added under this subscription now (a new claim, a count to
    /// reach, a request against a rate): a trial or term that ended, a suspension or a
    /// revocation. Limits keep their size in those states (they size what stays on);
    /// growing needs an active subscription.
    pub(crate) fn closed(&self, now: time::OffsetDateTime) -> Option<&'static str> {
        match self.snapshot.state() {
            LicenseState::Expired if self.trial_end.is_some_and(|end| end <= now) => {
                Some("trial_expired")
            }
            LicenseState::Expired => Some("license_expired"),
            LicenseState::Suspended => Some("license_suspended"),
            LicenseState::Revoked => Some("license_revoked"),
            _ => None,
        }
    }
}

/// Hosted tenants' standings kept in memory, so that a check, an OFREP evaluation or a
/// rate-limit decision reads nothing from the store when nothing it depends on has
/// changed. As the device sessions: an entry is tagged with the store's change
/// generation seen before the read (a subscription made or changed, a catalog uploaded
/// moves it, in every replica), is a miss from another generation, and is trusted for
/// at most a minute whatever happens. It is also a miss from the moment a trial or
/// term it holds ends, so an ended trial is never answered as running.
pub struct TenantCache {
    cache: quick_cache::sync::Cache<String, TenantEntry>,
}

#[derive(Clone)]
struct TenantEntry {
    generation: u64,
    read_at: tokio::time::Instant,
    until: Option<time::OffsetDateTime>,
    standings: Arc<[Arc<HostedStanding>]>,
    bulk: Arc<BulkAnswer>,
}

/// A tenant's answer to a bulk evaluation (ETag and body), made once per cache entry:
/// it depends on nothing but the entry's standings.
pub(crate) type BulkAnswer = std::sync::OnceLock<(String, axum::body::Bytes)>;

impl Default for TenantCache {
    fn default() -> Self {
        TenantCache {
            cache: quick_cache::sync::Cache::new(100_000),
        }
    }
}

/// The tenant's subscriptions as they stand, active ones first (then by creation);
/// with `only`, that subscription alone.
pub(crate) async fn standings(
    state: &AppState,
    tenant: &TenantId,
    only: Option<&SubscriptionId>,
) -> Result<Vec<Arc<HostedStanding>>, ApiError> {
    let (all, _) = all_standings(state, tenant).await?;
    Ok(all
        .iter()
        .filter(|s| only.is_none_or(|only| &s.subscription.id == only))
        .cloned()
        .collect())
}

/// All the tenant's standings, with the slot of its bulk answer.
pub(crate) async fn all_standings(
    state: &AppState,
    tenant: &TenantId,
) -> Result<(Arc<[Arc<HostedStanding>]>, Arc<BulkAnswer>), ApiError> {
    let generation = state.store.changes().generation();
    let now = state.clock.now();
    if let Some(generation) = generation {
        if let Some(entry) = state.tenants.cache.get(tenant.as_str()) {
            if entry.generation == generation
                && entry.read_at.elapsed() < crate::sessions::FRESH_FOR
                && entry.until.is_none_or(|until| now < until)
            {
                return Ok((entry.standings, entry.bulk));
            }
        }
    }
    // A tenant that does not exist is a 404, as on every tenant route.
    state.store.get_tenant(tenant).await?;
    let mut subscriptions = state.store.list_subscriptions(tenant).await?;
    subscriptions.sort_by_key(|s| (s.status != SubscriptionStatus::Active, s.created_at));
    let mut out = Vec::with_capacity(subscriptions.len());
    let mut until: Option<time::OffsetDateTime> = None;
    for subscription in subscriptions {
        let standing = standing(state, &subscription).await?;
        for end in [subscription.term_ends_at, standing.trial_end]
            .into_iter()
            .flatten()
            .filter(|end| *end > now)
        {
            until = Some(until.map_or(end, |u| u.min(end)));
        }
        out.push(Arc::new(HostedStanding {
            subscription,
            snapshot: standing.snapshot,
            trial_end: standing.trial_end,
        }));
    }
    let standings: Arc<[Arc<HostedStanding>]> = out.into();
    let bulk = Arc::new(BulkAnswer::new());
    match generation {
        Some(generation) => state.tenants.cache.insert(
            tenant.as_str().to_owned(),
            TenantEntry {
                generation,
                read_at: tokio::time::Instant::now(),
                until,
                standings: standings.clone(),
                bulk: bulk.clone(),
            },
        ),
        None => {
            state.tenants.cache.remove(tenant.as_str());
        }
    }
    Ok((standings, bulk))
}
