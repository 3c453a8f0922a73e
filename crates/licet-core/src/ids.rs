//! Newtype identifiers, so a tenant id can never be passed where a device id belongs.
//!
//! Every id is an opaque string on the wire. This module does not decide how ids are
//! generated (that needs randomness, which the core does not have); it only names them.

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string as this id.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

string_id!(
    /// A vendor's customer.
    TenantId
);
string_id!(
    /// An edge device, as registered with the server.
    DeviceId
);
string_id!(
    /// A product, e.g. `gate-control`; one catalog per product.
    ProductId
);
string_id!(
    /// A plan (tier) inside a catalog, e.g. `professional`.
    PlanId
);
string_id!(
    /// An add-on or growth pack inside a catalog, e.g. `advanced_analytics`.
    AddonId
);
string_id!(
    /// A feature key inside a catalog, e.g. `module.map_view` or `max_cameras`.
    FeatureKey
);
string_id!(
    /// A deployable module inside a catalog, e.g. `vehicle.make`.
    ModuleId
);
string_id!(
    /// One issued license document.
    LicenseId
);
string_id!(
    /// A usage meter (event type), e.g. `api_call`.
    MeterId
);
