//! Licet's core: the pure domain shared by the server, the agent and the CLI.
//!
//! It owns what a catalog means ([`catalog`]), what a subscription resolves to
//! ([`resolve`], [`entitlements`]), the signed license document ([`license`],
//! [`signing`]), the license state machine ([`state`]), the fast entitlement view used
//! for checks ([`snapshot`]) and module planning ([`planning`]).
//!
//! It deliberately does no IO, reads no clock and draws no randomness: every function
//! that depends on time takes `now`, and keys and ids are passed in. That is what lets
//! the server and the agent run the same evaluator and never disagree.

pub mod amount;
pub mod catalog;
pub mod entitlements;
pub mod flags;
pub mod ids;
pub mod license;
pub mod resolve;
pub mod signing;
pub mod trust;

/// Formats a time as RFC 3339 for messages; falls back to the debug form, which cannot
/// fail, for times outside RFC 3339's range.
pub fn time_text(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| format!("{at:?}"))
}
pub mod conformance;
pub mod device_proof;
pub mod license_key;
pub mod planning;
pub mod product_document;
pub mod rating;
pub mod snapshot;
pub mod state;
pub mod trial;
pub mod verdict;

/// `at + by`, saturating at the ends of the representable range instead of panicking:
/// a term of "100000 years" must not bring down a server or an agent.
pub fn time_after(at: time::OffsetDateTime, by: time::Duration) -> time::OffsetDateTime {
    at.checked_add(by).unwrap_or(if by.is_negative() {
        time::PrimitiveDateTime::MIN.assume_utc()
    } else {
        time::PrimitiveDateTime::MAX.assume_utc()
    })
}
