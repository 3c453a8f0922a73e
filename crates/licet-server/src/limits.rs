//! Rate limits on Licet's own API, and rate limits as a service for the products.
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
//! Rate limits as a service ([`Limiter::decide_rate`]): a product's API gateway asks,
//! per request, whether a subject (its own API key id) of a tenant may make one more
//! request under a catalog limit marked as a rate (smart parking's
//! `api_rate_per_minute`). The count is a fixed window aligned to the window's length
//! (a minute starts at :00), so the answer carries what the IETF `RateLimit` fields
//! say: the quota, what is left and the seconds to the window's end. With Redis it is
//! one atomic `INCR` + `EXPIRE` per decision, shared by every replica. Without Redis, or
//! when Redis does not answer within 500 ms (it is then left alone for 5 s, so an outage
//! costs one timeout per 5 s rather than one per request), the same windows are counted
//! in this process: fail open to a local limit, never to no limit. A product's API must not go
//! down with Licet's cache, and a client spread over N replicas then gets at most N
//! times its rate until Redis is back; refusing everything instead would turn a cache
//! outage into an outage of every tenant's API.
//!
//! What it does not do: persist counts (a window is at most a day, and Redis keys
//! expire after two windows).

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

/// A rate-limit decision for one request of a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request is within the rate.
    pub allowed: bool,
    /// Requests per window.
    pub quota: u64,
    /// Requests left in this window after this one.
    pub remaining: u64,
    /// Seconds until the window ends (at least 1).
    pub reset: u64,
    /// The window's length in seconds.
    pub window: u64,
    /// Whether the count is shared by the replicas (Redis answered).
    pub shared: bool,
}

/// Windows counted in this process when Redis is not configured or not answering:
/// key → (window start, window length, count).
#[derive(Default)]
struct LocalWindows {
    counts: std::sync::Mutex<std::collections::HashMap<String, (u64, u64, u64)>>,
}

impl LocalWindows {
    fn count(&self, key: &str, start: u64, window: u64, now: u64) -> u64 {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        // Forget ended windows when the map grows, so memory follows active subjects.
        if counts.len() >= 4096 {
            counts.retain(|_, (begun, length, _)| *begun + *length > now);
        }
        let slot = counts.entry(key.to_owned()).or_insert((start, window, 0));
        if slot.0 != start || slot.1 != window {
            *slot = (start, window, 0);
        }
        slot.2 = slot.2.saturating_add(1);
        slot.2
    }
}

/// The limiters of one server process.
pub struct Limiter {
    quotas: RateLimits,
    local: Vec<(Class, DefaultKeyedRateLimiter<String>)>,
    windows: LocalWindows,
    redis: Option<ConnectionManager>,
    /// Milliseconds since `started` until which Redis is not asked after it failed: a
    /// Redis that is down costs one timeout per [`REDIS_BACKOFF`], not one per request.
    redis_resting_until: AtomicU64,
    started: tokio::time::Instant,
    checks: AtomicU64,
}

/// How long Redis is left alone after it failed to answer.
const REDIS_BACKOFF: Duration = Duration::from_secs(5);

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
            windows: LocalWindows::default(),
            redis,
            redis_resting_until: AtomicU64::new(0),
            started: tokio::time::Instant::now(),
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
        if let Some(redis) = self.usable_redis().filter(|_| class.shared()) {
            let now = u64::try_from(now.unix_timestamp()).unwrap_or(0);
            let per_minute = self.quotas.per_minute(class);
            match shared_count(redis.clone(), class, per_minute, key, now).await {
                Ok(verdict) => return verdict,
                Err(error) => self.redis_failed(&error),
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

impl Limiter {
    /// Redis, unless it is not configured or resting after a failure.
    fn usable_redis(&self) -> Option<&ConnectionManager> {
        let resting = self.redis_resting_until.load(Ordering::Relaxed);
        self.redis.as_ref().filter(|_| resting <= self.millis())
    }

    /// Milliseconds since this limiter was made: Redis's rest is a real duration,
    /// whatever clock the server's decisions use.
    fn millis(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Leaves Redis alone for [`REDIS_BACKOFF`] after a failure.
    fn redis_failed(&self, error: &redis::RedisError) {
        let rest = u64::try_from(REDIS_BACKOFF.as_millis()).unwrap_or(u64::MAX);
        let until = self.millis().saturating_add(rest);
        self.redis_resting_until.store(until, Ordering::Relaxed);
        tracing::warn!(%error, "Redis is unreachable; rate limits are counted in this process for {} s", REDIS_BACKOFF.as_secs());
    }

    /// Counts one request of `key` (tenant, limit and subject) against `quota` requests
    /// per `window` seconds at `now`, and decides it.
    pub async fn decide_rate(
        &self,
        key: &str,
        quota: u64,
        window: u64,
        now: time::OffsetDateTime,
    ) -> RateDecision {
        let window = window.max(1);
        let now = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let start = now - now % window;
        let redis_key = format!("licet:rate:{key}:{window}:{start}");
        let mut shared = false;
        let mut count = None;
        if let Some(redis) = self.usable_redis() {
            match window_count(redis.clone(), &redis_key, window).await {
                Ok(n) => {
                    shared = true;
                    count = Some(n);
                }
                Err(error) => self.redis_failed(&error),
            }
        }
        let count = match count {
            Some(count) => count,
            None => self.windows.count(key, start, window, now),
        };
        RateDecision {
            allowed: count <= quota,
            quota,
            remaining: quota.saturating_sub(count),
            reset: (start + window).saturating_sub(now).max(1),
            window,
            shared,
        }
    }
}

/// One request counted in Redis in a window: the window's count after it.
async fn window_count(
    mut redis: ConnectionManager,
    redis_key: &str,
    window: u64,
) -> Result<u64, redis::RedisError> {
    let (count,): (u64,) = tokio::time::timeout(
        Duration::from_millis(500),
        redis::pipe()
            .atomic()
            .incr(redis_key, 1)
            .expire(redis_key, i64::try_from(window * 2).unwrap_or(i64::MAX))
            .ignore()
            .query_async(&mut redis),
    )
    .await
    .map_err(|_| redis::RedisError::from((redis::ErrorKind::IoError, "timed out")))??;
    Ok(count)
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
