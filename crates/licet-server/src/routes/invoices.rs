//! Invoices per tenant and month: a preview of any month (what would be billed if it
//! were issued now), issuing an ended month, and the issued ones. The rating is the
//! core's; `crate::invoicing` gathers its inputs.

use super::{Body, Id, Query};
use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::invoicing::{self, bounds, parse_period};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use licet_client::wire::{ErrorBody, InvoiceIssue, InvoiceView, TenantInvoices};
use licet_core::ids::TenantId;
use licet_core::rating::BillingMonth;
use licet_store::{ConflictKind, StoreError, Subscription};
use serde::Deserialize;

/// `?period=YYYY-MM`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// The month, `YYYY-MM`.
    pub period: String,
}

/// The tenant's subscriptions that existed before the month ended.
async fn billed(
    state: &AppState,
    tenant: &TenantId,
    month: BillingMonth,
) -> Result<Vec<Subscription>, ApiError> {
    state.store.get_tenant(tenant).await?;
    let (_, end) = bounds(month)?;
    Ok(state
        .store
        .list_subscriptions(tenant)
        .await?
        .into_iter()
        .filter(|s| s.created_at < end)
        .collect())
}

/// The issued invoice for `month`, as stored at issue time, if there is one.
async fn issued(
    state: &AppState,
    subscription: &Subscription,
    month: BillingMonth,
) -> Result<Option<InvoiceView>, ApiError> {
    let period = month.to_string();
    let Some(record) = state
        .store
        .list_invoices(&subscription.id)
        .await?
        .into_iter()
        .find(|i| i.period == period)
    else {
        return Ok(None);
    };
    if let Some(document) = record.document.as_deref() {
        if let Ok(view) = serde_json::from_str::<InvoiceView>(document) {
            return Ok(Some(view));
        }
    }
    // Issued, but the document was not written (the process stopped in between): the
    // claims are fixed, so rating them again gives the same invoice.
    let view = invoicing::invoice(state, subscription, month, Some(record.issued_at)).await?;
    store_document(state, subscription, &view).await?;
    Ok(Some(view))
}

async fn store_document(
    state: &AppState,
    subscription: &Subscription,
    view: &InvoiceView,
) -> Result<(), ApiError> {
    let document = serde_json::to_string(view).map_err(ApiError::internal)?;
    state
        .store
        .put_invoice_document(&subscription.id, &view.period, &document)
        .await?;
    Ok(())
}

/// What a month's invoices would be if issued now (issued months: as issued).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/invoices/preview", tag = "invoices",
    params(("tenant_id" = String, Path), PeriodQuery),
    responses((status = 200, body = TenantInvoices), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["invoices:read"])))]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
    Query(query): Query<PeriodQuery>,
) -> Result<Json<TenantInvoices>, ApiError> {
    let tenant = TenantId::new(&tenant_id);
    caller.require_tenant(&tenant, "invoices:read")?;
    let month = parse_period(&query.period)?;
    let mut invoices = Vec::new();
    for subscription in billed(&state, &tenant, month).await? {
        let view = match issued(&state, &subscription, month).await? {
            Some(view) => view,
            None => invoicing::invoice(&state, &subscription, month, None).await?,
        };
        invoices.push(view);
    }
    Ok(Json(TenantInvoices {
        tenant_id: tenant.to_string(),
        period: month.to_string(),
        invoices,
    }))
}

/// Issues an ended month's invoices (admin). Issuing the same month again answers the
/// invoices as issued; a month before one already issued is refused.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/invoices", tag = "invoices",
    params(("tenant_id" = String, Path)), request_body = InvoiceIssue,
    responses((status = 200, body = TenantInvoices), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn issue(
    State(state): State<AppState>,
    _admin: Admin,
    Id(tenant_id): Id<String>,
    Body(body): Body<InvoiceIssue>,
) -> Result<Json<TenantInvoices>, ApiError> {
    let tenant = TenantId::new(&tenant_id);
    let month = parse_period(&body.period)?;
    let (_, end) = bounds(month)?;
    let now = state.clock.now();
    if now < end {
        return Err(ApiError::Conflict {
            code: "period_open",
            message: format!(
                "{month} ends at {}; preview it with GET /v1/tenants/{tenant}/invoices/preview?period={month} until then",
                licet_core::time_text(end)
            ),
        });
    }
    let subscriptions = billed(&state, &tenant, month).await?;
    // Months are issued in order: a skipped month would never bill its plan price.
    for subscription in &subscriptions {
        let issued: Vec<String> = state
            .store
            .list_invoices(&subscription.id)
            .await?
            .into_iter()
            .map(|i| i.period)
            .collect();
        let mut earlier = BillingMonth::containing(subscription.created_at);
        while earlier < month {
            if !issued.contains(&earlier.to_string())
                && issued.iter().all(|p| *p < earlier.to_string())
            {
                return Err(ApiError::Conflict {
                    code: "invoice_gap",
                    message: format!(
                        "{earlier} is not issued yet for subscription {}; issue the months in order, {earlier} first",
                        subscription.id
                    ),
                });
            }
            earlier = earlier.next();
        }
    }
    let mut invoices = Vec::new();
    for subscription in subscriptions {
        match state
            .store
            .issue_invoice(&subscription.id, &month.to_string(), end, now)
            .await
        {
            Ok(()) => {
                let view = invoicing::invoice(&state, &subscription, month, Some(now)).await?;
                store_document(&state, &subscription, &view).await?;
                invoices.push(view);
            }
            Err(StoreError::Conflict(ConflictKind::InvoiceIssued)) => {
                match issued(&state, &subscription, month).await? {
                    Some(view) => invoices.push(view),
                    None => {
                        return Err(ApiError::Conflict {
                            code: "invoice_issued",
                            message: format!(
                                "a month after {month} is already invoiced for subscription {}; \
                                 its usage is on that invoice as late usage",
                                subscription.id
                            ),
                        });
                    }
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(Json(TenantInvoices {
        tenant_id: tenant.to_string(),
        period: month.to_string(),
        invoices,
    }))
}

/// Every issued invoice of the tenant, oldest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/invoices", tag = "invoices",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = Vec<InvoiceView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["invoices:read"])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
) -> Result<Json<Vec<InvoiceView>>, ApiError> {
    let tenant = TenantId::new(&tenant_id);
    caller.require_tenant(&tenant, "invoices:read")?;
    state.store.get_tenant(&tenant).await?;
    let mut views = Vec::new();
    for subscription in state.store.list_subscriptions(&tenant).await? {
        for record in state.store.list_invoices(&subscription.id).await? {
            if let Some(month) = BillingMonth::parse(&record.period) {
                if let Some(view) = issued(&state, &subscription, month).await? {
                    views.push(view);
                }
            }
        }
    }
    views.sort_by(|a, b| a.period.cmp(&b.period));
    Ok(Json(views))
}
