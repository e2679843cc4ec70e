//! Credentials by username, read from the database on first use and kept until an account or
//! key changes, so that authenticating a request costs no query.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::domain::account::Credential;

/// The most usernames the cache holds.
const LIMIT: usize = 10_000;

/// `generation` moves on with every change, so a lookup that raced with a change does not
/// cache what it read.
#[derive(Default)]
pub(super) struct CredentialCache {
    generation: AtomicU64,
    map: RwLock<HashMap<String, Arc<Credential>>>,
}

impl CredentialCache {
    pub fn get(&self, user: &str) -> Option<Arc<Credential>> {
        self.map.read().ok()?.get(user).cloned()
    }

    /// The generation to hand to [`CredentialCache::insert`] with what is read next.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches `found`, read during `generation`, unless something changed since.
    pub fn insert(&self, user: &str, found: Arc<Credential>, generation: u64) {
        if let Ok(mut map) = self.map.write() {
            if self.generation() == generation && map.len() < LIMIT {
                map.insert(user.to_string(), found);
            }
        }
    }

    /// Forgets every credential; applied after any write to accounts or keys commits.
    pub fn clear(&self) {
        if let Ok(mut map) = self.map.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            map.clear();
        }
    }
}
