//! Entitlements of hosted tenants, with no device: a check route for a tenant and the
//! OpenFeature Remote Evaluation Protocol, so that a hosted back-end asks "may tenant T
//! add its 101st space?" with a stock OpenFeature SDK. The answers come from the same
//! evaluator as a device's (`Snapshot` and `licet_core::flags`), over the tenant's
//! subscriptions as they stand on the server now.
//!
//! A tenant with several subscriptions is answered, feature by feature, by its active
//! subscription whose catalog has the feature (an inactive one only when no active one
//! has it).

use super::{Body, Id};
use crate::auth::Caller;
use crate::error::ApiError;
pub(crate) use crate::standing::{HostedStanding as Standing, standings};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licet_client::agent::ofrep::{
    BulkEvaluation, Evaluation, EvaluationFailure, EvaluationRequest,
};
use licet_client::wire::{ErrorBody, TenantCheck, TenantCheckAnswer, TrialStatus};
use licet_core::catalog::FeatureKind;
use licet_core::ids::TenantId;
use licet_core::snapshot::{QuotaDecision, Value};
use licet_core::state::LicenseState;
use licet_store::{ExternalUsageEvent, StoreError, SubscriptionId};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The scope a tenant API key needs to read its entitlements.
const SCOPE: &str = "subscriptions:read";

/// A check's value as the wire shows it: `Value`'s own serialization, as the agent's.
fn value_json(value: Option<&Value>) -> serde_json::Value {
    value
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// May the tenant use a feature now (and for a limit, may its count reach `amount`)?
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/check", tag = "entitlements",
    params(("tenant_id" = String, Path)), request_body = TenantCheck,
    responses((status = 200, body = TenantCheckAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["subscriptions:read"])))]
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
    Body(body): Body<TenantCheck>,
) -> Result<Json<TenantCheckAnswer>, ApiError> {
    let tenant = TenantId::new(tenant_id);
    caller.require_tenant(&tenant, SCOPE)?;
    if body.feature.is_empty() || body.feature.len() > 200 {
        return Err(ApiError::InvalidRequest(
            "`feature` must be a feature key of 1 to 200 characters".into(),
        ));
    }
    if let Some(amount) = body
        .amount
        .filter(|a| *a > licet_core::amount::MAX_WIRE_INTEGER)
    {
        return Err(ApiError::InvalidRequest(format!(
            "`amount` {amount} is above {}, the largest amount Licet counts",
            licet_core::amount::MAX_WIRE_INTEGER
        )));
    }
    if let Some(key) = &body.idempotency_key {
        if key.is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
            return Err(ApiError::InvalidRequest(
                "`idempotency_key` must be 1 to 200 printable characters".into(),
            ));
        }
    }
    for standing in standings(&state, &tenant, None).await? {
        let Some(status) = standing.snapshot.feature(&body.feature) else {
            continue;
        };
        if let (Some(amount), FeatureKind::Quota) = (body.amount, status.kind) {
            return use_quota(&state, &tenant, &standing, &body, amount)
                .await
                .map(Json);
        }
        let decision = match body.amount {
            Some(amount) => standing.snapshot.check_limit(&body.feature, amount),
            None => standing.snapshot.check(&body.feature),
        };
        // Reaching a count is growing: not in a closed subscription.
        let closed = body.amount.and_then(|_| standing.closed(state.clock.now()));
        return Ok(Json(TenantCheckAnswer {
            allowed: decision.allowed && closed.is_none(),
            reason: closed.unwrap_or(decision.reason.as_str()).to_owned(),
            value: value_json(decision.value),
            subscription_id: Some(standing.subscription.id.0.clone()),
            trial: trial_status(&state, &standing),
            remaining: None,
            overage: None,
        }));
    }
    Ok(Json(TenantCheckAnswer {
        allowed: false,
        reason: "not_in_catalog".into(),
        value: serde_json::Value::Null,
        subscription_id: None,
        trial: None,
        remaining: None,
        overage: None,
    }))
}

fn trial_status(state: &AppState, standing: &Standing) -> Option<TrialStatus> {
    standing.trial_end.map(|end| TrialStatus {
        ends_at: licet_core::time_text(end),
        days_left: u32::try_from(licet_core::trial::days_left(end - state.clock.now()))
            .unwrap_or(0),
    })
}

/// The source of the usage a tenant check records.
const CHECK_SOURCE: &str = "licet:tenant-check";

/// Uses `amount` of a quota for the tenant: decided against the period's count as the
/// server holds it, and what is allowed (overage included, where the catalog bills it)
/// is recorded as the quota's meter's usage on the subscription, so it is counted and
/// invoiced like any usage. Checks for one subscription and meter take turns in this
/// process, so two of them cannot both take the last units; across replicas they do
/// not (each may pass the last units once; what passed is billed).
async fn use_quota(
    state: &AppState,
    tenant: &TenantId,
    standing: &Standing,
    body: &TenantCheck,
    amount: u64,
) -> Result<TenantCheckAnswer, ApiError> {
    let subscription = &standing.subscription;
    let answer =
        |allowed: bool, reason: &str, decision: Option<&QuotaDecision>| TenantCheckAnswer {
            allowed,
            reason: reason.to_owned(),
            value: decision.map_or(serde_json::Value::Null, |d| {
                value_json(Some(&Value::Amount(d.allowance)))
            }),
            subscription_id: Some(subscription.id.0.clone()),
            trial: trial_status(state, standing),
            remaining: decision.and_then(|d| serde_json::to_value(d.remaining).ok()),
            overage: decision.map(|d| d.overage),
        };
    if let Some(reason) = standing.closed(state.clock.now()) {
        return Ok(answer(false, reason, None));
    }
    let catalog = state.catalog(&subscription.product).await?;
    let turn = state
        .quota_turns
        .turn(&format!("{}:{}", subscription.id.0, body.feature));
    let _turn = turn.lock().await;
    let now = state.clock.now();
    let counted = crate::routes::usage::quota_status(state, &catalog, subscription, now).await?;
    let Some(quota) = counted.iter().find(|q| q.feature == body.feature) else {
        return Err(ApiError::Conflict {
            code: "quota_not_metered",
            message: format!(
                "no meter of the {} catalog consumes the quota {:?}; add `quota = {:?}` to the meter that counts it",
                subscription.product, body.feature, body.feature
            ),
        });
    };
    let event_id = match &body.idempotency_key {
        Some(key) => format!("{}:{key}", body.feature),
        None => licet_host::random::id("chk_").map_err(ApiError::internal)?,
    };
    // A use already recorded under this key: answered as counted, not counted again.
    let counted_before = |used: u64| {
        let now = standing.snapshot.check_quota(&body.feature, used, 0);
        answer(
            true,
            "already_counted",
            Some(&QuotaDecision { overage: 0, ..now }),
        )
    };
    if body.idempotency_key.is_some()
        && state
            .store
            .external_event_stored(tenant, CHECK_SOURCE, &event_id)
            .await?
    {
        return Ok(counted_before(quota.used));
    }
    let decision = standing
        .snapshot
        .check_quota(&body.feature, quota.used, amount);
    if !decision.allowed {
        return Ok(answer(false, decision.reason.as_str(), Some(&decision)));
    }
    let stored = state
        .store
        .ingest_external_usage(
            tenant,
            &[ExternalUsageEvent {
                subscription: subscription.id.clone(),
                source: CHECK_SOURCE.into(),
                event_id,
                meter: quota.meter.clone(),
                quantity: amount,
                unit: None,
                camera_id: None,
                resource_id: None,
                cost_minor: None,
                occurred_at: now,
                attributes: None,
            }],
            now,
        )
        .await?;
    if stored.first() == Some(&false) {
        // Recorded meanwhile by another replica under the same key.
        return Ok(counted_before(quota.used.saturating_add(amount)));
    }
    Ok(answer(true, decision.reason.as_str(), Some(&decision)))
}

fn failure(status: StatusCode, key: &str, code: &str, details: String) -> Response {
    (
        status,
        Json(EvaluationFailure {
            key: key.to_owned(),
            error_code: code.to_owned(),
            error_details: details,
        }),
    )
        .into_response()
}

/// Who is evaluated: the tenant (and maybe one subscription) the context's
/// `targetingKey` names, which must be the API key's own; the key's tenant without one.
async fn target(
    state: &AppState,
    caller: &Caller,
    body: &[u8],
) -> Result<(TenantId, Option<SubscriptionId>), (StatusCode, &'static str, String)> {
    let bad = |code: &'static str, details: String| (StatusCode::BAD_REQUEST, code, details);
    let targeting = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let request: EvaluationRequest = serde_json::from_slice(body).map_err(|e| {
            bad(
                "PARSE_ERROR",
                format!("the body is not an OFREP request: {e}; send {{\"context\": {{\"targetingKey\": \"ten_…\"}}}}"),
            )
        })?;
        match request.context {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Object(context)) => match context.get("targetingKey") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(key)) if !key.is_empty() && key.len() <= 200 => {
                    Some(key.clone())
                }
                Some(_) => {
                    return Err(bad(
                        "INVALID_CONTEXT",
                        "`context.targetingKey` must be a tenant or subscription id".into(),
                    ));
                }
            },
            Some(_) => {
                return Err(bad("INVALID_CONTEXT", "`context` must be an object".into()));
            }
        }
    };
    let own = caller.tenant().cloned();
    let not_found = |key: &str| {
        (
            StatusCode::NOT_FOUND,
            "TARGETING_KEY_MISSING",
            format!("no tenant or subscription {key:?} is yours to evaluate"),
        )
    };
    let Some(key) = targeting else {
        return match own {
            Some(tenant) => Ok((tenant, None)),
            None => Err(bad(
                "TARGETING_KEY_MISSING",
                "the admin token evaluates a tenant named by `context.targetingKey`".into(),
            )),
        };
    };
    let as_tenant = TenantId::new(&key);
    // The key's own tenant exists (its key does); the admin's target is looked up.
    if own.as_ref() == Some(&as_tenant)
        || (own.is_none() && state.store.get_tenant(&as_tenant).await.is_ok())
    {
        return Ok((as_tenant, None));
    }
    match state
        .store
        .get_subscription(own.as_ref(), &SubscriptionId(key.clone()))
        .await
    {
        Ok(subscription) => Ok((subscription.tenant.clone(), Some(subscription.id))),
        Err(StoreError::NotFound) => Err(not_found(&key)),
        Err(other) => {
            tracing::error!(error = %other, "cannot read the subscription an OFREP request names");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "GENERAL",
                "the server cannot read its store now; try again".into(),
            ))
        }
    }
}

fn evaluation(key: &str, standing: &Standing) -> Option<Evaluation> {
    let status = standing.snapshot.feature(key)?;
    let state = standing.snapshot.state();
    let flag = licet_core::flags::flag(status, state);
    Some(Evaluation {
        key: key.to_owned(),
        value: flag.value,
        reason: flag.reason.to_owned(),
        variant: flag.variant.to_owned(),
        metadata: serde_json::json!({
            "licet_reason": status.reason.as_str(),
            "licet_state": state.as_str(),
            "licet_subscription": standing.subscription.id.0,
        }),
    })
}

/// `POST /ofrep/v1/evaluate/flags/{key}` for a hosted tenant.
#[utoipa::path(post, path = "/ofrep/v1/evaluate/flags/{key}", tag = "ofrep", params(("key" = String, Path, description = "A feature key (or alias) of the tenant's catalogs")),
    request_body(content = Option<EvaluationRequest>, description = "OFREP context; `targetingKey` names the tenant or one of its subscriptions (required with the admin token)"),
    responses((status = 200, body = Evaluation), (status = 400, body = Object, description = "An `EvaluationFailure` (`PARSE_ERROR`, `INVALID_CONTEXT`, `TARGETING_KEY_MISSING`), or the error shape for a request no route reads (a NUL character)"), (status = 404, body = EvaluationFailure), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["subscriptions:read"])))]
pub async fn evaluate_flag(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(key): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let (tenant, only) = match target(&state, &caller, &body).await {
        Ok(target) => target,
        Err((status, code, details)) => return Ok(failure(status, &key, code, details)),
    };
    caller.require_tenant(&tenant, SCOPE)?;
    for standing in standings(&state, &tenant, only.as_ref()).await? {
        if let Some(evaluation) = evaluation(&key, &standing) {
            return Ok(Json(evaluation).into_response());
        }
    }
    Ok(failure(
        StatusCode::NOT_FOUND,
        &key,
        "FLAG_NOT_FOUND",
        format!("{key:?} is not a feature of the tenant's catalogs"),
    ))
}

/// The ETag of a tenant's flags: moves with any change of its subscriptions (plan,
/// add-ons, status) and of their catalogs.
fn etag(standings: &[Arc<Standing>]) -> String {
    let mut hasher = Sha256::new();
    for standing in standings {
        let s = &standing.subscription;
        hasher.update(s.id.0.as_bytes());
        hasher.update(s.plan.as_str().as_bytes());
        for addon in &s.addons {
            hasher.update(addon.id.as_str().as_bytes());
            hasher.update(addon.quantity.to_be_bytes());
        }
        hasher.update(standing.snapshot.state().as_str().as_bytes());
        hasher.update(licet_core::time_text(s.updated_at).as_bytes());
        // In key order: the snapshot's map has none of its own.
        let mut features: Vec<_> = standing.snapshot.features().collect();
        features.sort_by(|a, b| a.0.cmp(b.0));
        for (key, status) in features {
            hasher.update(key.as_bytes());
            hasher.update(format!("{:?}/{}", status.value, status.reason.as_str()).as_bytes());
        }
    }
    let digest = hasher.finalize();
    format!("\"{}\"", licet_core::signing::to_hex(&digest[..16]))
}

/// `POST /ofrep/v1/evaluate/flags` for a hosted tenant: every flag, with an ETag;
/// `If-None-Match` with the current ETag answers 304.
#[utoipa::path(post, path = "/ofrep/v1/evaluate/flags", tag = "ofrep",
    request_body(content = Option<EvaluationRequest>, description = "OFREP context; `targetingKey` names the tenant or one of its subscriptions (required with the admin token)"),
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of an earlier answer")),
    responses((status = 200, body = BulkEvaluation, headers(("ETag" = String))), (status = 304, description = "Not modified since the ETag"), (status = 400, body = Object, description = "`{errorCode, errorDetails}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = Object, description = "`{errorCode, errorDetails}`"), (status = 413, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["subscriptions:read"])))]
pub async fn evaluate_all(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let (tenant, only) = match target(&state, &caller, &body).await {
        Ok(target) => target,
        Err((status, code, details)) => {
            return Ok((
                status,
                Json(serde_json::json!({ "errorCode": code, "errorDetails": details })),
            )
                .into_response());
        }
    };
    caller.require_tenant(&tenant, SCOPE)?;
    // The whole tenant's answer is made once per cached standing; one subscription's
    // (a targetingKey naming it) each time.
    let (etag, body) = match only {
        None => {
            let (all, bulk) = crate::standing::all_standings(&state, &tenant).await?;
            bulk.get_or_init(|| bulk_answer(&all, &tenant)).clone()
        }
        Some(only) => bulk_answer(&standings(&state, &tenant, Some(&only)).await?, &tenant),
    };
    let etag_value = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        [
            (header::ETAG, etag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response())
}

/// The bulk evaluation of `standings`: its ETag and its JSON body.
fn bulk_answer(standings: &[Arc<Standing>], tenant: &TenantId) -> (String, axum::body::Bytes) {
    let etag = etag(standings);
    let mut flags: Vec<Evaluation> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for standing in standings {
        for (key, _) in standing.snapshot.features() {
            if seen.insert(key.to_owned()) {
                if let Some(evaluation) = evaluation(key, standing) {
                    flags.push(evaluation);
                }
            }
        }
    }
    flags.sort_by(|a, b| a.key.cmp(&b.key));
    let state_text = standings
        .first()
        .map_or(LicenseState::Unactivated, |s| s.snapshot.state())
        .as_str();
    let body = serde_json::to_vec(&BulkEvaluation {
        flags,
        metadata: serde_json::json!({ "licet_state": state_text, "licet_tenant": tenant.as_str() }),
    })
    .unwrap_or_default();
    (etag, body.into())
}
