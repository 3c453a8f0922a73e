//! Rate limits as a service: a product's API gateway asks, per request, whether one of
//! a tenant's callers (its `subject`, the product's own API key id) may make one more
//! request under a limit the catalog marks as a rate (`rate = "minute"` on smart
//! parking's `api_rate_per_minute`). The tenant's plan gives the rate; the count is
//! shared by every replica through Redis (see `crate::limits` for the windows and for
//! what happens when Redis is unreachable). The answer carries the IETF
//! `RateLimit-Policy` and `RateLimit` fields; a refusal is a 429 `rate_limited` with
//! `Retry-After`.

use super::tenant_flags::standings;
use super::{Body, Id};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use licet_client::wire::{ErrorBody, ErrorDetail, RateLimitDecision, RateLimitRequest};
use licet_core::amount::Amount;
use licet_core::ids::{FeatureKey, TenantId};
use licet_core::snapshot::{Reason, Value};

/// The scope a tenant API key needs to ask for decisions.
const SCOPE: &str = "subscriptions:read";

/// The IETF rate-limit header fields of a decision (draft-ietf-httpapi-ratelimit-headers):
/// the policy (quota per window) and what is left, with the seconds to the window's end.
fn rate_headers(decision: &RateLimitDecision) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let name = &decision.limit;
    let (Some(quota), Some(remaining), Some(reset)) =
        (decision.quota, decision.remaining, decision.reset_seconds)
    else {
        return headers;
    };
    let mut fields = vec![
        (
            "ratelimit-policy",
            format!("\"{name}\";q={quota};w={}", decision.window_seconds),
        ),
        ("ratelimit", format!("\"{name}\";r={remaining};t={reset}")),
    ];
    if !decision.allowed {
        fields.push(("retry-after", reset.to_string()));
    }
    for (field, value) in fields {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(field, value);
        }
    }
    headers
}

/// May this subject make one more request now? 200 with the decision when it may; 429
/// `rate_limited` when the window's requests are used up.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/rate-limit", tag = "entitlements",
    params(("tenant_id" = String, Path)), request_body = RateLimitRequest,
    responses((status = 200, body = RateLimitDecision), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["subscriptions:read"])))]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
    Body(body): Body<RateLimitRequest>,
) -> Result<Response, ApiError> {
    let tenant = TenantId::new(tenant_id);
    caller.require_tenant(&tenant, SCOPE)?;
    for (field, value) in [("limit", &body.limit), ("subject", &body.subject)] {
        if value.is_empty() || value.len() > 200 || value.chars().any(char::is_control) {
            return Err(ApiError::InvalidRequest(format!(
                "`{field}` must be 1 to 200 printable characters"
            )));
        }
    }
    let key = FeatureKey::new(body.limit.as_str());
    let mut rates = Vec::new();
    for standing in standings(&state, &tenant, None).await? {
        let catalog = state.catalog(&standing.subscription.product).await?;
        let Some(spec) = catalog.spec().features.get(&key) else {
            rates.extend(
                catalog
                    .spec()
                    .features
                    .iter()
                    .filter(|(_, f)| f.rate.is_some())
                    .map(|(k, _)| k.to_string()),
            );
            continue;
        };
        let Some(window) = spec.rate else {
            return Err(ApiError::InvalidRequest(format!(
                "`limit`: {:?} is not a rate in the {} catalog; rates are limits marked `rate = \"minute\"` (or second, hour, day)",
                body.limit, standing.subscription.product
            )));
        };
        // A limit keeps its size in a suspended or ended subscription (it sizes what
        // stays on), but a rate is access to the product's API: a definite "no" from
        // the vendor refuses it.
        if let Some(reason) = standing.closed(state.clock.now()) {
            return Err(ApiError::Forbidden(format!(
                "the tenant's subscription {} does not grant {:?} now ({reason})",
                standing.subscription.id.0, body.limit
            )));
        }
        let decision = standing.snapshot.check_limit(&body.limit, 1);
        let quota = match (decision.reason, decision.value) {
            (Reason::WithinLimit | Reason::LimitReached, Some(Value::Amount(amount))) => *amount,
            (reason, _) => {
                return Err(ApiError::Forbidden(format!(
                    "the tenant's subscription {} does not grant {:?} now ({})",
                    standing.subscription.id.0,
                    body.limit,
                    reason.as_str()
                )));
            }
        };
        let subscription_id = standing.subscription.id.0.clone();
        let answer = match quota {
            Amount::Unlimited => RateLimitDecision {
                allowed: true,
                limit: body.limit.clone(),
                quota: None,
                remaining: None,
                reset_seconds: None,
                window_seconds: window.seconds(),
                subscription_id,
            },
            Amount::Finite(quota) => {
                // Counted per tenant, limit and subject: a plan change keeps the
                // window's count and applies the new rate to it at once.
                let counted = format!("{}:{}:{}", tenant, body.limit, body.subject);
                let decided = state
                    .limiter
                    .decide_rate(&counted, quota, window.seconds(), state.clock.now())
                    .await;
                RateLimitDecision {
                    allowed: decided.allowed,
                    limit: body.limit.clone(),
                    quota: Some(quota),
                    remaining: Some(decided.remaining),
                    reset_seconds: Some(decided.reset),
                    window_seconds: decided.window,
                    subscription_id,
                }
            }
        };
        let headers = rate_headers(&answer);
        if answer.allowed {
            return Ok((StatusCode::OK, headers, Json(answer)).into_response());
        }
        let error = ErrorBody {
            error: ErrorDetail {
                code: "rate_limited".into(),
                message: format!(
                    "{} allows {} requests per {} s for this subject on the tenant's plan; retry in {} s",
                    answer.limit,
                    answer.quota.unwrap_or_default(),
                    answer.window_seconds,
                    answer.reset_seconds.unwrap_or(1)
                ),
                details: Vec::new(),
            },
            verdict: None,
        };
        return Ok((StatusCode::TOO_MANY_REQUESTS, headers, Json(error)).into_response());
    }
    rates.sort();
    rates.dedup();
    Err(ApiError::InvalidRequest(format!(
        "`limit`: {:?} is in none of the tenant's catalogs; its rate limits are: {}",
        body.limit,
        if rates.is_empty() {
            "none".to_owned()
        } else {
            rates.join(", ")
        }
    )))
}
