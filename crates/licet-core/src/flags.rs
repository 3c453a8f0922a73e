//! A feature as OpenFeature sees it: the flag value, reason and variant that the
//! agent's and the server's OFREP endpoints answer, from one snapshot status.
//!
//! Values: a boolean feature is its allowed flag; a limit or quota is its number (an
//! unlimited amount is 2^53 − 1, the largest integer every JSON client reads exactly, so
//! `count < limit` keeps working); a config feature is its value. Reasons: `STATIC`
//! while the license is fresh, `STALE` while it is served past its refresh, `DISABLED`
//! when the state's degradation policy turned a licensed feature off.

use crate::amount::Amount;
use crate::snapshot::{FeatureStatus, Reason, Value};
use crate::state::LicenseState;

/// The value an unlimited amount evaluates to.
pub const UNLIMITED: u64 = (1 << 53) - 1;

/// One flag's evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    /// The value.
    pub value: serde_json::Value,
    /// OpenFeature's reason.
    pub reason: &'static str,
    /// A name for the value.
    pub variant: &'static str,
}

/// Evaluates a feature's status in `state` as a flag.
pub fn flag(status: &FeatureStatus, state: LicenseState) -> Flag {
    let value = match &status.value {
        Value::Bool(on) => serde_json::Value::Bool(*on),
        Value::Amount(Amount::Finite(n)) => serde_json::Value::from(*n),
        Value::Amount(Amount::Unlimited) => serde_json::Value::from(UNLIMITED),
        Value::Config(value) => value.clone(),
    };
    let cut_by_state = matches!(
        status.reason,
        Reason::LicenseDegraded
            | Reason::LicenseExpired
            | Reason::LicenseRevoked
            | Reason::LicenseSuspended
            | Reason::NotActivated
    );
    let reason = if cut_by_state {
        "DISABLED"
    } else if state == LicenseState::Stale {
        "STALE"
    } else {
        "STATIC"
    };
    let variant = match &status.value {
        Value::Bool(true) => "on",
        Value::Bool(false) => "off",
        Value::Amount(Amount::Unlimited) => "unlimited",
        Value::Amount(_) => "limited",
        Value::Config(_) => "configured",
    };
    Flag {
        value,
        reason,
        variant,
    }
}
