//! The in-process L1: a small bounded cache (moka) with a short TTL in front of Redis.
//!
//! Items and collections (lists, searches) live in two caches because a write evicts one item but
//! *every* collection. An `epoch`, bumped before each eviction, closes the classic fill race: a
//! reader that fetched a value from Redis just before an invalidation arrived must not put it into
//! the L1 after the eviction ran, so [`L1::fill`] re-checks the epoch after inserting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;

use crate::entry::Entry;

/// Which L1 cache an entry belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum L1Key {
    Item(u64),
    /// A list or search page, keyed by its canonical query.
    Collection(String),
}

pub struct L1 {
    items: Option<Cache<u64, Arc<Entry>>>,
    collections: Option<Cache<String, Arc<Entry>>>,
    epoch: AtomicU64,
}

impl L1 {
    /// `capacity` 0 disables the L1.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            items: build(capacity, ttl),
            collections: build(capacity, ttl),
            epoch: AtomicU64::new(0),
        }
    }

    pub fn get(&self, key: &L1Key) -> Option<Arc<Entry>> {
        match key {
            L1Key::Item(id) => self.items.as_ref()?.get(id),
            L1Key::Collection(q) => self.collections.as_ref()?.get(q),
        }
    }

    /// The epoch to pass to [`fill`](Self::fill); read it *before* asking Redis.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Stores `entry` unless an invalidation happened since `epoch` was read.
    pub fn fill(&self, key: L1Key, entry: Arc<Entry>, epoch: u64) {
        match &key {
            L1Key::Item(id) => {
                if let Some(c) = &self.items {
                    c.insert(*id, entry);
                }
            }
            L1Key::Collection(q) => {
                if let Some(c) = &self.collections {
                    c.insert(q.clone(), entry);
                }
            }
        }
        // Eviction bumps the epoch *then* evicts; if we still see the old epoch here, any eviction
        // comes after our insert and removes it. If we see a new one, we remove it ourselves.
        if self.epoch() != epoch {
            self.evict_key(&key);
        }
    }

    /// A product changed: drop it and every collection.
    pub fn evict_item(&self, id: u64) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.evict_key(&L1Key::Item(id));
        if let Some(c) = &self.collections {
            c.invalidate_all();
        }
    }

    /// Messages may have been missed (pub/sub reconnect): drop everything.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(c) = &self.items {
            c.invalidate_all();
        }
        if let Some(c) = &self.collections {
            c.invalidate_all();
        }
    }

    fn evict_key(&self, key: &L1Key) {
        match key {
            L1Key::Item(id) => {
                if let Some(c) = &self.items {
                    c.invalidate(id);
                }
            }
            L1Key::Collection(q) => {
                if let Some(c) = &self.collections {
                    c.invalidate(q);
                }
            }
        }
    }
}

fn build<K, V>(capacity: u64, ttl: Duration) -> Option<Cache<K, V>>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    (capacity > 0).then(|| {
        Cache::builder()
            .max_capacity(capacity)
            .time_to_live(ttl)
            .build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;

    fn entry() -> Arc<Entry> {
        Arc::new(Entry {
            status: 200,
            content_type: None,
            etag: None,
            body: Bytes::from_static(b"{}"),
        })
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_dropped() {
        let l1 = L1::new(10, Duration::from_secs(60));
        let epoch = l1.epoch();
        l1.evict_item(99); // an invalidation arrives while the reader talks to Redis
        l1.fill(L1Key::Item(1), entry(), epoch);
        assert!(l1.get(&L1Key::Item(1)).is_none());
        l1.fill(L1Key::Item(1), entry(), l1.epoch());
        assert!(l1.get(&L1Key::Item(1)).is_some());
    }

    #[test]
    fn a_product_change_evicts_it_and_every_collection() {
        let l1 = L1::new(10, Duration::from_secs(60));
        for key in [
            L1Key::Item(1),
            L1Key::Item(2),
            L1Key::Collection("list?page=1".into()),
        ] {
            l1.fill(key, entry(), l1.epoch());
        }
        l1.evict_item(1);
        assert!(l1.get(&L1Key::Item(1)).is_none());
        assert!(l1.get(&L1Key::Item(2)).is_some());
        assert!(l1.get(&L1Key::Collection("list?page=1".into())).is_none());
        l1.clear();
        assert!(l1.get(&L1Key::Item(2)).is_none());
        let off = L1::new(0, Duration::from_secs(60));
        off.fill(L1Key::Item(1), entry(), off.epoch());
        assert!(
            off.get(&L1Key::Item(1)).is_none(),
            "capacity 0 disables the L1"
        );
    }
}
