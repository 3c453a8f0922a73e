//! Bodies of `POST /v1/imports`: customers and their existing license keys, moved
//! into Licet in bulk.

use super::AddonQuantity;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Rows a request carries at most; `licet import` sends a file in parts of this size.
pub const IMPORT_ROWS_MAX: usize = 500;

/// `POST /v1/imports` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// Check every row and report what would happen, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The rows, at most [`IMPORT_ROWS_MAX`].
    pub rows: Vec<ImportRow>,
}

/// One customer's subscription with the key they already have.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRow {
    /// Where the row came from (a file's line), echoed in refusals.
    #[serde(default)]
    #[schema(value_type = Option<u64>, maximum = 9007199254740991.0)]
    pub line: Option<u64>,
    /// The customer's name: the tenant of that name, created when there is none.
    #[serde(default)]
    pub customer: Option<String>,
    /// An existing tenant, instead of a name.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Product (with an uploaded catalog).
    pub product_id: String,
    /// Plan id from the catalog.
    pub plan: String,
    /// Add-ons.
    #[serde(default)]
    pub addons: Vec<AddonQuantity>,
    /// The key the customer has, in its own format (e.g. `FXSGHT-…`), or a Licet key.
    pub license_key: String,
    /// Taken as the plan's trial, starting now.
    #[serde(default)]
    pub trial: bool,
    /// End of the paid term (RFC 3339), when it has one.
    #[serde(default)]
    pub term_ends_at: Option<String>,
}

/// What an import did, or would do on a dry run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// Rows that made (or would make) a subscription.
    pub imported: u64,
    /// Rows whose key was imported before for the same customer, product and plan:
    /// nothing to do, so a file can be imported again after an interruption.
    pub already_imported: u64,
    /// Tenants created (or that would be) for customers by name.
    pub tenants_created: u64,
    /// Every refused row, and why.
    pub refused: Vec<ImportRefusal>,
}

/// A row that was not imported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportRefusal {
    /// The row's `line`, or its position in the request (from 1) when it had none.
    pub line: u64,
    /// The key's last four characters, to find the row.
    pub license_key_hint: String,
    /// Stable code, e.g. `license_key_taken`.
    pub code: String,
    /// Why, and how to fix the row.
    pub message: String,
}
