//! Rate limits on Licet's own API, and the home for rate limits as a service later.
//!
//! Each [`Class`] has a quota per minute and is keyed by what it protects: activation
//! attempts and failed credential checks by client address and by key id (guessing a
//! license key or a token secret), every authenticated request by its credential. The
//! algorithm is GCRA from the `governor` crate, in process. With Redis configured the
//! activation and failed-credential counts are shared by every replica: an atomic
//! `INCR` on a per-minute window key (with its expiry), so a client cannot multiply its
//! allowance by spreading requests over replicas. If Redis cannot be reached the
//! in-process limiter still holds (fail open to the local limit, never to no limit):
//! refusing every activation because a cache is down would turn a Redis outage into a
//! licensing outage.
//!
//! What it does not do: limit by anything but these keys, or persist counts.

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use redis::aio::ConnectionManager;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What is being limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Activation attempts (and challenges), per client address.
    Activation,
    /// Failed credential checks or unknown license keys, per client address.
    FailedAuthByAddress,
    /// Failed credential checks, per key id.
    FailedAuthByKey,
    /// Authenticated requests, per credential.
    Credential,
}

/// Requests per minute of each class (the server's configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Activations (and activation challenges) per client address.
    pub activations_per_minute: u32,
    /// Failed credential checks per client address, and per key id (a third of it).
    pub failed_auth_per_minute: u32,
    /// Requests per credential.
    pub requests_per_credential_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            activations_per_minute: 30,
            failed_auth_per_minute: 30,
            requests_per_credential_per_minute: 6000,
        }
    }
}

impl RateLimits {
    /// Requests per minute of `class`.
    pub fn per_minute(&self, class: Class) -> u32 {
        match class {
            Class::Activation => self.activations_per_minute,
            Class::FailedAuthByAddress => self.failed_auth_per_minute,
            Class::FailedAuthByKey => (self.failed_auth_per_minute / 3).max(1),
            Class::Credential => self.requests_per_credential_per_minute,
        }
    }
}

impl Class {
    /// Whether replicas share the count (through Redis, when configured). Guessing is
    /// what spreading requests over replicas would multiply, so those classes are
    /// shared; the per-credential ceiling is overload protection, which each replica
    /// enforces for itself without a Redis round trip on every authenticated request.
    fn shared(self) -> bool {
        !matches!(self, Class::Credential)
    }

    /// The policy's name in the `RateLimit-Policy` header.
    pub fn name(self) -> &'static str {
        match self {
            Class::Activation => "activation",
            Class::FailedAuthByAddress => "failed-auth-address",
            Class::FailedAuthByKey => "failed-auth-key",
            Class::Credential => "credential",
        }
    }
}

/// A refusal: how long to wait, for the `Retry-After` and `RateLimit` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// The class that refused.
    pub class: Class,
    /// Its requests per minute.
    pub per_minute: u32,
    /// Seconds until a request may succeed again (at least 1).
    pub retry_after: u64,
}

/// The limiters of one server process.
pub struct Limiter {
    quotas: RateLimits,
    local: Vec<(Class, DefaultKeyedRateLimiter<String>)>,
    redis: Option<ConnectionManager>,
    checks: AtomicU64,
}

impl Limiter {
    /// In-process limits, shared through Redis when `redis` is given.
    pub fn new(quotas: RateLimits, redis: Option<ConnectionManager>) -> Arc<Limiter> {
        let classes = [
            Class::Activation,
            Class::FailedAuthByAddress,
            Class::FailedAuthByKey,
            Class::Credential,
        ];
        let local = classes
            .into_iter()
            .map(|class| {
                let rate = NonZeroU32::new(quotas.per_minute(class)).unwrap_or(NonZeroU32::MIN);
                (class, RateLimiter::keyed(Quota::per_minute(rate)))
            })
            .collect();
        Arc::new(Limiter {
            quotas,
            local,
            redis,
            checks: AtomicU64::new(0),
        })
    }

    /// Counts one request of `class` for `key` at `now` (the server's clock, which names
    /// the shared window); `Err` when over the limit.
    pub async fn check(
        &self,
        class: Class,
        key: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), Limited> {
        // Forget idle keys now and then, so memory follows the active clients.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            for (_, limiter) in &self.local {
                limiter.retain_recent();
            }
        }
        if let Some(redis) = self.redis.as_ref().filter(|_| class.shared()) {
            let now = u64::try_from(now.unix_timestamp()).unwrap_or(0);
            let per_minute = self.quotas.per_minute(class);
            match shared_count(redis.clone(), class, per_minute, key, now).await {
                Ok(verdict) => return verdict,
                Err(error) => {
                    tracing::warn!(%error, "Redis is unreachable; rate limits fall back to this process");
                }
            }
        }
        let Some((_, limiter)) = self.local.iter().find(|(c, _)| *c == class) else {
            return Ok(());
        };
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Limited {
                class,
                per_minute: self.quotas.per_minute(class),
                retry_after: wait.as_secs().max(1),
            }
        })
    }
}

/// One request counted in Redis, in the current minute's window.
async fn shared_count(
    mut redis: ConnectionManager,
    class: Class,
    per_minute: u32,
    key: &str,
    now: u64,
) -> Result<Result<(), Limited>, redis::RedisError> {
    let window = 60u64;
    let start = now - now % window;
    let redis_key = format!("licet:rl:{}:{key}:{start}", class.name());
    let (count,): (u64,) = tokio::time::timeout(
        Duration::from_millis(500),
        redis::pipe()
            .atomic()
            .incr(&redis_key, 1)
            .expire(&redis_key, i64::try_from(window * 2).unwrap_or(120))
            .ignore()
            .query_async(&mut redis),
    )
    .await
    .map_err(|_| redis::RedisError::from((redis::ErrorKind::IoError, "timed out")))??;
    if count > u64::from(per_minute) {
        return Ok(Err(Limited {
            class,
            per_minute,
            retry_after: (start + window).saturating_sub(now).max(1),
        }));
    }
    Ok(Ok(()))
}
