//! The cache-aside logic: L1 → Redis → single-flight → `catalog`, and the write-side invalidation.
//!
//! A read first asks the in-process L1, then Redis; on a miss, concurrent callers for the same key
//! share one flight whose leader re-checks Redis (a flight that just finished may have filled it)
//! before calling `catalog` and storing the answer with a jittered TTL. When Redis is unusable the
//! read goes straight to `catalog` (`BYPASS`) — still single-flighted, so an outage does not turn
//! into a stampede on `catalog`.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use rand::Rng;

use crate::config::CacheArgs;
use crate::entry::{CacheStatus, Entry};
use crate::error::Error;
use crate::invalidation;
use crate::keys::Keys;
use crate::l1::{L1, L1Key};
use crate::singleflight::Group;
use crate::stats::{Stats, bump};
use crate::store::{Redis, Unavailable, Write};
use crate::upstream::{Upstream, UpstreamError};

/// A read answer: the entry and where it came from.
pub type Answer = Result<(Arc<Entry>, CacheStatus), UpstreamError>;

/// What a cached read asks for.
#[derive(Debug, Clone)]
pub enum Read {
    Item(u64),
    /// `GET /products?<canonical query>`.
    List(String),
    /// `GET /search?<canonical query>`.
    Search(String),
}

impl Read {
    fn l1_key(&self) -> L1Key {
        match self {
            Self::Item(id) => L1Key::Item(*id),
            Self::List(q) => L1Key::Collection(format!("list?{q}")),
            Self::Search(q) => L1Key::Collection(format!("search?{q}")),
        }
    }

    fn upstream_path(&self) -> String {
        match self {
            Self::Item(id) => format!("/products/{id}"),
            Self::List(q) => format!("/products?{q}"),
            Self::Search(q) => format!("/search?{q}"),
        }
    }
}

/// The gateway's cache: both levels, the upstream client and the counters.
pub struct Cache {
    pub redis: Redis,
    pub upstream: Upstream,
    pub l1: Arc<L1>,
    pub keys: Keys,
    pub stats: Arc<Stats>,
    flights: Group<Answer>,
    args: CacheArgs,
}

impl Cache {
    pub fn new(
        redis: Redis,
        upstream: Upstream,
        l1: Arc<L1>,
        stats: Arc<Stats>,
        args: CacheArgs,
    ) -> Self {
        Self {
            redis,
            upstream,
            l1,
            keys: Keys::new(&args.key_prefix),
            stats,
            flights: Group::default(),
            args,
        }
    }

    /// A cache-aside read.
    pub async fn read(&self, what: &Read) -> Answer {
        let l1_key = what.l1_key();
        if let Some(entry) = self.l1.get(&l1_key) {
            bump(&self.stats.l1_hits);
            return Ok((entry, CacheStatus::HitL1));
        }
        // Read before asking Redis: an invalidation arriving from now on must win over our fill.
        let epoch = self.l1.epoch();
        let Ok(key) = self.redis_key(what).await else {
            return self.bypass(what).await;
        };
        match self.redis.get(&key).await {
            Ok(Some(bytes)) => {
                if let Some(entry) = Entry::decode(&bytes) {
                    bump(&self.stats.hits);
                    let entry = Arc::new(entry);
                    self.l1.fill(l1_key, Arc::clone(&entry), epoch);
                    return Ok((entry, CacheStatus::Hit));
                }
                tracing::warn!(%key, "undecodable cache entry; refetching");
            }
            Ok(None) => {}
            Err(Unavailable) => return self.bypass(what).await,
        }
        let answer = self
            .flights
            .run(&key, || self.fill(what, &key, epoch))
            .await;
        if let Ok((entry, status)) = &answer {
            bump(match status {
                CacheStatus::Hit => &self.stats.hits,
                _ => &self.stats.misses,
            });
            if entry.is_cacheable() {
                self.l1.fill(l1_key, Arc::clone(entry), epoch);
            }
        }
        answer
    }

    /// The leader of a flight: re-check Redis, else fetch from `catalog` and store.
    ///
    /// If an invalidation arrived while we were fetching (the epoch moved), the answer may predate
    /// the write that caused it: it is returned to the callers but not stored, so a racing write
    /// cannot leave an old version in Redis for a whole TTL.
    async fn fill(&self, what: &Read, key: &str, epoch: u64) -> Answer {
        if let Ok(Some(bytes)) = self.redis.get(key).await
            && let Some(entry) = Entry::decode(&bytes)
        {
            return Ok((Arc::new(entry), CacheStatus::Hit));
        }
        let entry = self.upstream.get(&what.upstream_path()).await?;
        if entry.is_cacheable() && self.l1.epoch() == epoch {
            // A failed SET is already counted and fed to the breaker; the answer is still good.
            let _ = self
                .redis
                .set(key, entry.encode(), self.ttl_for(what, &entry))
                .await;
        }
        Ok((Arc::new(entry), CacheStatus::Miss))
    }

    async fn bypass(&self, what: &Read) -> Answer {
        bump(&self.stats.bypasses);
        let path = what.upstream_path();
        self.flights
            .run(&format!("bypass {path}"), || async {
                let entry = self.upstream.get(&path).await?;
                Ok((Arc::new(entry), CacheStatus::Bypass))
            })
            .await
    }

    async fn redis_key(&self, what: &Read) -> Result<String, Unavailable> {
        Ok(match what {
            Read::Item(id) => self.keys.item(*id),
            Read::List(q) => {
                let generation = self.redis.get_u64(&self.keys.generation()).await?;
                self.keys.collection("list", generation, q)
            }
            Read::Search(q) => {
                let generation = self.redis.get_u64(&self.keys.generation()).await?;
                self.keys.collection("search", generation, q)
            }
        })
    }

    fn ttl_for(&self, what: &Read, entry: &Entry) -> Duration {
        let base = match what {
            _ if entry.is_negative() => self.args.negative_ttl,
            Read::Item(_) => self.args.item_ttl,
            Read::List(_) => self.args.list_ttl,
            Read::Search(_) => self.args.search_ttl,
        };
        jitter(base, self.args.ttl_jitter_percent)
    }

    /// `GET /products/batch`: one `MGET`, misses fetched concurrently, written back in one
    /// `MULTI`/`EXEC`. Returns the entries in `ids` order.
    pub async fn batch(
        &self,
        ids: &[u64],
    ) -> Result<(Vec<(u64, Arc<Entry>)>, CacheStatus), UpstreamError> {
        let keys: Vec<String> = ids.iter().map(|id| self.keys.item(*id)).collect();
        let Ok(values) = self.redis.mget(&keys).await else {
            bump(&self.stats.bypasses);
            let fetched = self.fetch_many(ids.to_vec()).await?;
            return Ok((fetched, CacheStatus::Bypass));
        };
        let mut found: Vec<Option<Arc<Entry>>> = values
            .iter()
            .map(|v| v.as_deref().and_then(Entry::decode).map(Arc::new))
            .collect();
        let missing: Vec<u64> = ids
            .iter()
            .zip(&found)
            .filter(|(_, e)| e.is_none())
            .map(|(id, _)| *id)
            .collect();
        let status = if missing.is_empty() {
            CacheStatus::Hit
        } else {
            CacheStatus::Miss
        };
        let missing_count = missing.len();
        let fetched = self.fetch_many(missing).await?;
        let writes: Vec<Write> = fetched
            .iter()
            .filter(|(_, e)| e.is_cacheable())
            .map(|(id, e)| {
                (
                    self.keys.item(*id),
                    e.encode(),
                    self.ttl_for(&Read::Item(*id), e),
                )
            })
            .collect();
        let _ = self.redis.set_many(&writes).await;
        for (id, entry) in fetched {
            if let Some(slot) = ids.iter().position(|i| *i == id) {
                found[slot] = Some(entry);
            }
        }
        let misses = missing_count as u64;
        self.stats
            .hits
            .fetch_add(ids.len() as u64 - misses, Relaxed);
        self.stats.misses.fetch_add(misses, Relaxed);
        let entries = ids
            .iter()
            .zip(found)
            .filter_map(|(id, e)| Some((*id, e?)))
            .collect();
        Ok((entries, status))
    }

    /// `POST /cache/warm`: fetch `from..=to` from `catalog` (bounded concurrency) and store the
    /// products found in one `MULTI`/`EXEC`. Returns (stored, not found).
    pub async fn warm(&self, from: u64, to: u64) -> Result<(u64, u64), Error> {
        let fetched = self.fetch_many((from..=to).collect()).await?;
        let writes: Vec<Write> = fetched
            .iter()
            .filter(|(_, e)| e.status == 200)
            .map(|(id, e)| {
                (
                    self.keys.item(*id),
                    e.encode(),
                    self.ttl_for(&Read::Item(*id), e),
                )
            })
            .collect();
        let stored = writes.len() as u64;
        let not_found = fetched.iter().filter(|(_, e)| e.is_negative()).count() as u64;
        self.redis.set_many(&writes).await?;
        Ok((stored, not_found))
    }

    /// Fetches products concurrently (at most `fetch_concurrency` at a time); fails on the first
    /// unreachable/invalid answer.
    async fn fetch_many(&self, ids: Vec<u64>) -> Result<Vec<(u64, Arc<Entry>)>, UpstreamError> {
        futures::stream::iter(ids)
            .map(|id| async move {
                let entry = self.upstream.get(&Read::Item(id).upstream_path()).await?;
                Ok::<_, UpstreamError>((id, Arc::new(entry)))
            })
            .buffer_unordered(self.args.fetch_concurrency.max(1))
            .try_collect()
            .await
    }

    /// After a successful write of product `id`: evict it here, then `DEL` + `INCR` generation +
    /// `PUBLISH` so every replica evicts it too. `bump_generation` is false for a manual item
    /// invalidation, which leaves lists alone.
    pub async fn invalidate(&self, id: u64, bump_generation: bool) -> Result<(), Unavailable> {
        self.l1.evict_item(id);
        let generation = self.keys.generation();
        let result = self
            .redis
            .invalidate(
                &self.keys.item(id),
                bump_generation.then_some(generation.as_str()),
                &self.keys.channel(),
                &invalidation::message(id),
            )
            .await;
        if result.is_err() {
            tracing::warn!(
                product_id = id,
                "could not invalidate in redis; entries may be stale until their TTL"
            );
        }
        result
    }
}

/// `base` ± `percent` %, uniformly, in milliseconds.
pub fn jitter(base: Duration, percent: u8) -> Duration {
    let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
    let spread = base_ms / 100 * u64::from(percent.min(100));
    let ms =
        rand::rng().random_range(base_ms.saturating_sub(spread)..=base_ms.saturating_add(spread));
    Duration::from_millis(ms.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let ttls: Vec<Duration> = (0..200)
            .map(|_| jitter(Duration::from_secs(60), 10))
            .collect();
        assert!(
            ttls.iter()
                .all(|t| (54_000..=66_000).contains(&t.as_millis()))
        );
        assert!(ttls.iter().any(|t| *t != ttls[0]));
        assert_eq!(jitter(Duration::from_secs(5), 0), Duration::from_secs(5));
    }
}
