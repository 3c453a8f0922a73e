//! What a cache in front of the store needs to know: that something it may hold has
//! changed, in this process or in another replica.
//!
//! A write that changes what a device session holds (a subscription's plan or status,
//! a device's deactivation or re-activation, which revokes its token) or a catalog
//! moves the [`Changes`] generation after its commit. On PostgreSQL the same
//! transaction sends `NOTIFY licet_changes`, which PostgreSQL delivers at commit to
//! every replica's listener, and each moves its own generation when it hears it. A
//! cache tags what it read with the generation it saw *before* reading, and an entry
//! whose tag is not the current generation is a miss: so nothing read before a change
//! is served after the change is known.
//!
//! While a replica's listener is down it cannot hear other replicas' changes:
//! [`Changes::generation`] then answers `None` and caches must read through. After it
//! reconnects, the generation moves (whatever was missed in between is forgotten).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The change generation of one store.
#[derive(Debug)]
pub struct Changes {
    generation: AtomicU64,
    heard: AtomicBool,
}

impl Changes {
    /// A generation that hears every change from the start (one process on the
    /// database: nothing can change behind its back).
    pub(crate) fn hearing() -> Changes {
        Changes {
            generation: AtomicU64::new(0),
            heard: AtomicBool::new(true),
        }
    }

    /// A generation that hears nothing until its listener says so.
    pub(crate) fn deaf() -> Changes {
        Changes {
            generation: AtomicU64::new(0),
            heard: AtomicBool::new(false),
        }
    }

    /// The current generation, or `None` while changes by other replicas may go
    /// unheard (a cache must then read through).
    pub fn generation(&self) -> Option<u64> {
        // SeqCst pairs the flag with the counter: a reader never sees "heard" with a
        // generation from before the listener's reconnect.
        let generation = self.generation.load(Ordering::SeqCst);
        self.heard.load(Ordering::SeqCst).then_some(generation)
    }

    /// Something changed: everything read before now is stale.
    pub(crate) fn moved(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether changes by other replicas are heard from now on. Either way the
    /// generation moves: what was read while deaf is not trusted later.
    pub(crate) fn hear(&self, heard: bool) {
        self.heard.store(heard, Ordering::SeqCst);
        self.moved();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_or_a_lost_listener_makes_earlier_reads_stale() {
        let changes = Changes::deaf();
        assert_eq!(changes.generation(), None, "deaf until the listener runs");
        changes.hear(true);
        let seen = changes.generation().unwrap();
        changes.moved();
        assert_ne!(changes.generation(), Some(seen));
        let seen = changes.generation().unwrap();
        changes.hear(false);
        assert_eq!(changes.generation(), None);
        changes.hear(true);
        assert_ne!(changes.generation(), Some(seen), "a reconnect forgets");
    }
}
