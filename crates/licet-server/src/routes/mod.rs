//! The HTTP routes, one module per resource, and the router that mounts them.

pub mod catalogs;
pub mod claims;
pub mod compat;
pub mod devices;
pub mod imports;
pub mod invoices;
pub mod rate_limits;
pub mod subscriptions;
pub mod system;
pub mod tenant_flags;
pub mod tenants;
pub mod usage;

use crate::error::ApiError;
pub use licet_http::{Body, Id, Query};

/// Formats a time for the wire.
pub fn time_text(at: time::OffsetDateTime) -> String {
    licet_core::time_text(at)
}

/// Checks a free-text field's length.
pub fn bounded(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::InvalidRequest(format!(
            "`{field}` must not be empty"
        )));
    }
    if value.chars().count() > max {
        return Err(ApiError::InvalidRequest(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    Ok(())
}
