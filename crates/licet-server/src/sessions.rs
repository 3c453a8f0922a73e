//! Device sessions (a device token with its device and subscription) kept in memory,
//! so that a device request reads nothing from the store when nothing it depends on
//! has changed.
//!
//! Each entry is tagged with the store's change generation seen *before* the read
//! ([`licet_store::Changes`]); a write that changes a session (a plan or status change,
//! a deactivation, a re-activation revoking the token) moves the generation after its
//! commit in this replica, and through PostgreSQL's `NOTIFY` in every other one. An
//! entry from another generation is a miss, and while a replica cannot hear other
//! replicas every request reads through. What may be served stale is bounded by how
//! long a notification takes to arrive (milliseconds on one network), and by
//! [`FRESH_FOR`] whatever happens.
//!
//! The token's secret is still compared on every request: the cache holds the stored
//! hash, never a decision.

use licet_store::{Changes, DeviceSession, Store, StoreError};
use quick_cache::sync::Cache;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The longest an entry is trusted, even if no change was heard.
pub const FRESH_FOR: Duration = Duration::from_secs(60);

/// Sessions kept at most (about 1 KiB each): a 100,000-device fleet fits.
pub const CAPACITY: usize = 200_000;

/// The cache of device sessions, by token id.
pub struct Sessions {
    changes: Arc<Changes>,
    cache: Cache<String, Entry>,
}

#[derive(Clone)]
struct Entry {
    generation: u64,
    read_at: Instant,
    session: Arc<DeviceSession>,
}

impl Sessions {
    /// An empty cache in front of a store with these `changes`.
    pub fn new(changes: Arc<Changes>) -> Sessions {
        Sessions {
            changes,
            cache: Cache::new(CAPACITY),
        }
    }

    /// The session of the device token `id`: from memory when nothing changed since it
    /// was read, else from the store.
    pub async fn find(
        &self,
        store: &dyn Store,
        id: &str,
    ) -> Result<Arc<DeviceSession>, StoreError> {
        let generation = self.changes.generation();
        if let Some(generation) = generation {
            if let Some(entry) = self.cache.get(id) {
                if entry.generation == generation && entry.read_at.elapsed() < FRESH_FOR {
                    return Ok(entry.session);
                }
            }
        }
        let session = Arc::new(store.find_device_session(id).await?);
        match generation {
            Some(generation) => self.cache.insert(
                id.to_owned(),
                Entry {
                    generation,
                    read_at: Instant::now(),
                    session: session.clone(),
                },
            ),
            None => {
                self.cache.remove(id);
            }
        }
        Ok(session)
    }
}

/// Admin tokens and tenant API keys kept in memory by id, as the device sessions are:
/// tagged with the change generation seen before the read (a key's revocation and an
/// admin token's rotation move it, in every replica), a miss from another generation
/// or after [`FRESH_FOR`]. As for sessions, the secret is compared on every request.
pub struct Credentials {
    changes: Arc<Changes>,
    cache: Cache<String, CredentialEntry>,
}

#[derive(Clone)]
struct CredentialEntry {
    generation: u64,
    read_at: Instant,
    credential: Arc<licet_store::Credential>,
}

impl Credentials {
    /// An empty cache in front of a store with these `changes`.
    pub fn new(changes: Arc<Changes>) -> Credentials {
        Credentials {
            changes,
            cache: Cache::new(CAPACITY),
        }
    }

    /// The credential `id`: from memory when nothing changed since it was read, else
    /// from the store.
    pub async fn find(
        &self,
        store: &dyn Store,
        id: &str,
    ) -> Result<Arc<licet_store::Credential>, StoreError> {
        let generation = self.changes.generation();
        if let Some(generation) = generation {
            if let Some(entry) = self.cache.get(id) {
                if entry.generation == generation && entry.read_at.elapsed() < FRESH_FOR {
                    return Ok(entry.credential);
                }
            }
        }
        let credential = Arc::new(store.find_credential(id).await?);
        match generation {
            Some(generation) => self.cache.insert(
                id.to_owned(),
                CredentialEntry {
                    generation,
                    read_at: Instant::now(),
                    credential: credential.clone(),
                },
            ),
            None => {
                self.cache.remove(id);
            }
        }
        Ok(credential)
    }
}
