//! `POST /v1/imports`: a vendor's existing customers and license keys, moved into Licet
//! in bulk (what `licet import` sends, a part of a file at a time).
//!
//! Each row is checked and imported on its own: a refused row is reported with its
//! line and why, and the others still go in. A dry run checks every row the same way
//! and writes nothing. A row whose key was imported before for the same customer,
//! product and plan is counted as already imported, so an interrupted import can be run
//! again. Keys are kept as their hashes, like Licet's own.

use super::Body;
use super::subscriptions::{addons, validate};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use licet_client::wire::{
    ErrorBody, IMPORT_ROWS_MAX, ImportRefusal, ImportReport, ImportRequest, ImportRow,
};
use licet_core::ids::{ModuleId, PlanId, ProductId, TenantId};
use licet_core::license_key::TypedKey;
use licet_store::{
    ConflictKind, StoreError, Subscription, SubscriptionId, SubscriptionStatus, Tenant,
};
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;

/// Imports customers' subscriptions with the keys they already have.
#[utoipa::path(post, path = "/v1/imports", tag = "subscriptions", request_body = ImportRequest,
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn import(
    State(state): State<AppState>,
    _admin: Admin,
    Body(body): Body<ImportRequest>,
) -> Result<Json<ImportReport>, ApiError> {
    if body.rows.is_empty() || body.rows.len() > IMPORT_ROWS_MAX {
        return Err(ApiError::InvalidRequest(format!(
            "`rows` holds 1 to {IMPORT_ROWS_MAX} rows; send a longer file in parts (licet import does)"
        )));
    }
    // Numbers past 2^53 - 1 are refused where they enter, as everywhere in Licet: the
    // whole request, naming the row, since such a file was not written by a person.
    let max = licet_core::amount::MAX_WIRE_INTEGER;
    if let Some((index, _)) = body.rows.iter().enumerate().find(|(_, row)| {
        row.line.is_some_and(|l| l > max) || row.addons.iter().any(|a| a.quantity > max)
    }) {
        return Err(ApiError::InvalidRequest(format!(
            "row {}: `line` and add-on quantities are at most {max}",
            index + 1
        )));
    }
    let mut run = Run {
        state: &state,
        now: state.clock.now(),
        dry_run: body.dry_run,
        tenants: Tenants::read(&state).await?,
        keys: HashMap::new(),
    };
    let mut report = ImportReport {
        dry_run: body.dry_run,
        imported: 0,
        already_imported: 0,
        tenants_created: 0,
        refused: Vec::new(),
    };
    for (index, row) in body.rows.iter().enumerate() {
        let line = row
            .line
            .unwrap_or_else(|| u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1));
        match run.row(row, line).await {
            Ok(Outcome::Imported { tenant_created }) => {
                report.imported += 1;
                report.tenants_created += u64::from(tenant_created);
            }
            Ok(Outcome::AlreadyImported) => report.already_imported += 1,
            Err(Refused::Row(code, message)) => report.refused.push(ImportRefusal {
                line,
                license_key_hint: hint(&row.license_key),
                code: code.to_owned(),
                message,
            }),
            Err(Refused::Failed(error)) => return Err(error),
        }
    }
    tracing::info!(
        dry_run = report.dry_run,
        imported = report.imported,
        already_imported = report.already_imported,
        refused = report.refused.len(),
        "import"
    );
    Ok(Json(report))
}

/// The last four characters of whatever was sent as a key, to find the row by.
fn hint(text: &str) -> String {
    let chars: Vec<char> = text.trim().chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

enum Outcome {
    Imported { tenant_created: bool },
    AlreadyImported,
}

/// A row refused (with its stable code and why), or a failure of the server that ends
/// the request.
enum Refused {
    Row(&'static str, String),
    Failed(ApiError),
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Self {
        Refused::Failed(error.into())
    }
}

/// The tenants by name, as read at the start and grown by the import (on a dry run,
/// with the tenants it would create).
struct Tenants {
    by_name: HashMap<String, Vec<TenantId>>,
    ids: HashSet<TenantId>,
    /// Tenants made by this import (created, or on a dry run, to be).
    new: HashSet<TenantId>,
}

impl Tenants {
    async fn read(state: &AppState) -> Result<Tenants, ApiError> {
        let mut tenants = Tenants {
            by_name: HashMap::new(),
            ids: HashSet::new(),
            new: HashSet::new(),
        };
        for tenant in state.store.list_tenants().await? {
            tenants.add(tenant.name.trim(), tenant.id);
        }
        Ok(tenants)
    }

    fn add(&mut self, name: &str, id: TenantId) {
        self.ids.insert(id.clone());
        self.by_name.entry(name.to_owned()).or_default().push(id);
    }
}

/// One import request in progress.
struct Run<'a> {
    state: &'a AppState,
    now: OffsetDateTime,
    dry_run: bool,
    tenants: Tenants,
    /// Keys (by hash) imported by an earlier row of this request, and its line.
    keys: HashMap<String, u64>,
}

impl Run<'_> {
    async fn row(&mut self, row: &ImportRow, line: u64) -> Result<Outcome, Refused> {
        let refuse = |code: &'static str, message: String| Err(Refused::Row(code, message));
        let key = match TypedKey::parse(&row.license_key) {
            Ok(key) => key,
            Err(e) => return refuse("invalid_license_key", format!("`license_key`: {e}")),
        };
        let hash = key.hash();
        if let Some(first) = self.keys.get(&hash) {
            return refuse(
                "duplicate_license_key",
                format!(
                    "the same license key is on line {first}; a key belongs to one subscription"
                ),
            );
        }
        let term_ends_at = match &row.term_ends_at {
            None => None,
            Some(text) => {
                match OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
                    Ok(end) if end <= self.now => {
                        return refuse(
                            "term_ended",
                            format!(
                                "`term_ends_at` {text} has passed: there is nothing left to activate"
                            ),
                        );
                    }
                    Ok(end) => Some(end),
                    Err(_) => {
                        return refuse(
                            "invalid_term",
                            format!(
                                "`term_ends_at` {text:?} is not an RFC 3339 time, e.g. 2027-06-30T00:00:00Z"
                            ),
                        );
                    }
                }
            }
        };
        let (tenant, name) = match self.tenant_of(row) {
            Ok(found) => found,
            Err(refusal) => return Err(refusal),
        };
        let subscription = Subscription {
            id: SubscriptionId(
                licet_host::random::id("sub_")
                    .map_err(|e| Refused::Failed(ApiError::internal(e)))?,
            ),
            tenant: tenant.clone(),
            product: ProductId::new(row.product_id.trim()),
            plan: PlanId::new(row.plan.trim()),
            addons: addons(&row.addons),
            trial: row.trial,
            modules: None::<Vec<ModuleId>>,
            status: SubscriptionStatus::Active,
            license_key_hint: key.hint(),
            trial_started_at: row.trial.then_some(self.now),
            term_ends_at,
            created_at: self.now,
            updated_at: self.now,
        };
        match validate(self.state, &subscription).await {
            Ok(()) => {}
            Err(ApiError::NotFound(message)) => return refuse("unknown_product", message),
            Err(ApiError::InvalidRequest(message)) => {
                return refuse("subscription_invalid", message);
            }
            Err(other) => return Err(Refused::Failed(other)),
        }
        match self.state.store.find_subscription_by_key(&hash).await {
            Ok(existing) => {
                return if existing.tenant == tenant
                    && existing.product == subscription.product
                    && existing.plan == subscription.plan
                {
                    self.keys.insert(hash, line);
                    Ok(Outcome::AlreadyImported)
                } else {
                    refuse(
                        "license_key_taken",
                        format!(
                            "this license key already belongs to subscription {} (tenant {}, plan {}); \
                             a key belongs to one subscription",
                            existing.id.0, existing.tenant, existing.plan
                        ),
                    )
                };
            }
            Err(StoreError::NotFound) => {}
            Err(other) => return Err(other.into()),
        }
        let tenant_created = match name {
            Some(name) if !self.tenants.ids.contains(&tenant) => {
                if !self.dry_run {
                    self.state
                        .store
                        .create_tenant(&Tenant {
                            id: tenant.clone(),
                            name: name.clone(),
                            created_at: self.now,
                        })
                        .await?;
                }
                self.tenants.add(&name, tenant.clone());
                self.tenants.new.insert(tenant.clone());
                true
            }
            _ => false,
        };
        if !self.dry_run {
            match self
                .state
                .store
                .create_subscription(&subscription, &hash)
                .await
            {
                Ok(()) => {}
                Err(StoreError::Conflict(ConflictKind::DuplicateLicenseKey)) => {
                    return refuse(
                        "license_key_taken",
                        "this license key was given to another subscription meanwhile".into(),
                    );
                }
                Err(other) => return Err(other.into()),
            }
        }
        self.keys.insert(hash, line);
        Ok(Outcome::Imported { tenant_created })
    }

    /// The row's tenant, and the customer's name when it may have to be created.
    fn tenant_of(&self, row: &ImportRow) -> Result<(TenantId, Option<String>), Refused> {
        let refuse = |code: &'static str, message: String| Err(Refused::Row(code, message));
        if let Some(id) = &row.tenant_id {
            let id = TenantId::new(id.trim());
            return if self.tenants.ids.contains(&id) {
                Ok((id, None))
            } else {
                refuse("unknown_tenant", format!("no tenant has the id {id}"))
            };
        }
        let name = row.customer.as_deref().map(str::trim).unwrap_or_default();
        if name.is_empty() || name.chars().count() > 200 {
            return refuse(
                "missing_customer",
                "give the customer's name (`customer`, 1 to 200 characters) or an existing `tenant_id`".into(),
            );
        }
        match self.tenants.by_name.get(name).map(Vec::as_slice) {
            None | Some([]) => {
                let id = licet_host::random::id("ten_")
                    .map_err(|e| Refused::Failed(ApiError::internal(e)))?;
                Ok((TenantId::new(id), Some(name.to_owned())))
            }
            Some([one]) => Ok((one.clone(), None)),
            Some(several) => refuse(
                "ambiguous_customer",
                format!(
                    "{} tenants are named {name:?}; give the row a `tenant_id`",
                    several.len()
                ),
            ),
        }
    }
}
