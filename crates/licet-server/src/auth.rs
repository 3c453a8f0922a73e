//! Bearer credentials: admin tokens, tenant API keys and device tokens.
//!
//! A token is `<prefix><id><secret>`: `lct_admin_`, `lct_live_` or `lct_dev_`, then a
//! 16-hex-digit id and a 64-hex-digit secret. The id finds the stored credential; the
//! secret's SHA-256 is compared in constant time with the stored hash. Only the hash
//! is ever stored, and a token is shown once, when it is made. The tenant of a request
//! always comes from its credential, never from the request body.

use crate::error::ApiError;
use crate::limits::Class;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use licet_core::ids::{DeviceId, TenantId};
use licet_core::signing::to_hex;
use licet_store::{Credential, CredentialKind, StoreError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

const ID_LEN: usize = 16;
const SECRET_LEN: usize = 64;

/// The scopes a tenant API key can carry. `write` includes `read`.
pub const SCOPES: [&str; 7] = [
    "subscriptions:read",
    "subscriptions:write",
    "devices:read",
    "devices:write",
    "usage:read",
    "usage:write",
    "invoices:read",
];

fn prefix(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Admin => "lct_admin_",
        CredentialKind::Tenant => "lct_live_",
        CredentialKind::Device => "lct_dev_",
    }
}

fn hash(secret: &str) -> String {
    to_hex(&Sha256::digest(secret.as_bytes()))
}

/// A new token and the credential to store for it.
pub fn mint(
    kind: CredentialKind,
    tenant: Option<&TenantId>,
    device: Option<&DeviceId>,
    scopes: Vec<String>,
    now: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
) -> Result<(String, Credential), ApiError> {
    let id = licet_host::random::id("").map_err(ApiError::internal)?;
    let secret = format!(
        "{}{}",
        licet_host::random::id("").map_err(ApiError::internal)?,
        licet_host::random::id("").map_err(ApiError::internal)?
    );
    let id = id[..ID_LEN].to_owned();
    let token = format!("{}{id}{secret}", prefix(kind));
    let credential = Credential {
        id,
        kind,
        tenant: tenant.cloned(),
        device: device.cloned(),
        scopes,
        secret_hash: hash(&secret),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    Ok((token, credential))
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Caller {
    /// A vendor operator.
    Admin,
    /// A tenant's API key.
    Tenant {
        /// The tenant.
        tenant: TenantId,
        /// Its scopes.
        scopes: Vec<String>,
        /// The key's id.
        key_id: String,
    },
    /// A device. A revoked device token still identifies the device, so that the
    /// device can be told, with a signed verdict, that it was revoked; every route but
    /// refresh refuses it.
    Device {
        /// The device's tenant.
        tenant: TenantId,
        /// The device.
        device: DeviceId,
        /// Whether the token was revoked (the device was deactivated).
        revoked: bool,
        /// The device and its subscription, read with the token in one query.
        session: std::sync::Arc<licet_store::DeviceSession>,
    },
}

impl Caller {
    /// Only admins.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            _ => Err(ApiError::Forbidden(
                "this route needs an admin token (lct_admin_…)".into(),
            )),
        }
    }

    /// Admins, or this tenant's key with `scope` (or its `write` form).
    /// Another tenant's key gets "not found": existence is not revealed.
    pub fn require_tenant(&self, tenant: &TenantId, scope: &str) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Tenant {
                tenant: own,
                scopes,
                ..
            } if own == tenant => {
                let write = scope.replace(":read", ":write");
                if scopes.iter().any(|s| s == scope || *s == write) {
                    Ok(())
                } else {
                    Err(ApiError::Forbidden(format!(
                        "this API key lacks the scope {scope}"
                    )))
                }
            }
            _ => Err(ApiError::NotFound("not found".into())),
        }
    }

    /// The subscription of `device`: from the device token's session when the device
    /// itself calls, else read.
    pub async fn subscription_of(
        &self,
        state: &AppState,
        device: &licet_store::Device,
    ) -> Result<licet_store::Subscription, ApiError> {
        match self {
            Caller::Device { session, .. } if session.device.id == device.id => {
                Ok(session.subscription.clone())
            }
            _ => Ok(state
                .store
                .get_subscription(Some(&device.tenant), &device.subscription)
                .await?),
        }
    }

    /// The tenant a non-admin caller acts for.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Caller::Admin => None,
            Caller::Tenant { tenant, .. } | Caller::Device { tenant, .. } => Some(tenant),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let unauthorized = |why: &str| ApiError::Unauthorized(why.to_owned());
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                unauthorized("missing credentials: send `Authorization: Bearer <token>`")
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let invalid = || unauthorized("invalid, expired or revoked token");
        let (kind, rest) = [
            CredentialKind::Admin,
            CredentialKind::Tenant,
            CredentialKind::Device,
        ]
        .into_iter()
        .find_map(|kind| token.strip_prefix(prefix(kind)).map(|rest| (kind, rest)))
        .ok_or_else(|| unauthorized("not a Licet token (lct_admin_…, lct_live_… or lct_dev_…)"))?;
        if rest.len() != ID_LEN + SECRET_LEN || !rest.is_ascii() {
            return Err(failed(state, parts, None, invalid()).await);
        }
        let (id, secret) = rest.split_at(ID_LEN);
        // A device token comes with its device and subscription (one query, or none
        // when the session is cached and nothing changed): every device route needs them.
        let found = if kind == CredentialKind::Device {
            state
                .sessions
                .find(state.store.as_ref(), id)
                .await
                .map(|session| (session.credential.clone(), Some(session)))
        } else {
            state
                .credentials
                .find(state.store.as_ref(), id)
                .await
                .map(|credential| ((*credential).clone(), None))
        };
        let (credential, session) = match found {
            Ok(found) => found,
            Err(StoreError::NotFound) => {
                return Err(failed(state, parts, Some(id), invalid()).await);
            }
            Err(other) => return Err(other.into()),
        };
        let matches: bool = hash(secret)
            .as_bytes()
            .ct_eq(credential.secret_hash.as_bytes())
            .into();
        if !matches || credential.kind != kind {
            return Err(failed(state, parts, Some(id), invalid()).await);
        }
        let now = state.clock.now();
        if credential.expires_at.is_some_and(|at| at <= now) {
            return Err(invalid());
        }
        // Every credential has a generous ceiling of its own: one leaked or looping
        // client cannot take the server from everyone else.
        state
            .limiter
            .check(Class::Credential, id, now)
            .await
            .map_err(ApiError::RateLimited)?;
        let revoked = credential.revoked_at.is_some();
        match (kind, credential.tenant, credential.device) {
            (CredentialKind::Admin, _, _) if !revoked => Ok(Caller::Admin),
            (CredentialKind::Tenant, Some(tenant), _) if !revoked => Ok(Caller::Tenant {
                tenant,
                scopes: credential.scopes,
                key_id: credential.id,
            }),
            (CredentialKind::Device, Some(tenant), Some(device)) => match session {
                Some(session) => Ok(Caller::Device {
                    tenant,
                    device,
                    revoked,
                    session,
                }),
                None => Err(invalid()),
            },
            _ => Err(invalid()),
        }
    }
}

/// A failed credential check: counted against the client's address and the key id it
/// named, so that guessing secrets is throttled (429) long before it could succeed.
/// Only failures count against a key id, so a guesser cannot lock out the real key.
async fn failed(
    state: &AppState,
    parts: &Parts,
    key_id: Option<&str>,
    error: ApiError,
) -> ApiError {
    let now = state.clock.now();
    let address = client_address(parts);
    let mut limited = state
        .limiter
        .check(Class::FailedAuthByAddress, &address, now)
        .await
        .err();
    if let Some(id) = key_id {
        if let Err(by_key) = state.limiter.check(Class::FailedAuthByKey, id, now).await {
            limited = Some(by_key);
        }
    }
    match limited {
        Some(limited) => {
            tracing::warn!(
                address,
                key_id,
                "throttled repeated failed credential checks"
            );
            ApiError::RateLimited(limited)
        }
        None => error,
    }
}

/// The client's address (the TCP peer), which address-keyed limits count by. Behind a
/// reverse proxy every client has the proxy's address: give the proxy its own limits.
pub fn client_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string())
}

/// The client's address, as an extractor.
#[derive(Clone, Debug)]
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts)))
    }
}

/// An admin caller. As an extractor it runs before the request body is read, so a
/// non-admin is refused before any validation of what it sent.
#[derive(Clone, Copy, Debug)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, ApiError> {
        Caller::from_request_parts(parts, state)
            .await?
            .require_admin()?;
        Ok(Admin)
    }
}
