//! Counters since start, served as JSON on `GET /cache/stats` (no metrics exporter: OBI derives the
//! hit ratio from the wire; these counters are for humans and tests).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use utoipa::ToSchema;

/// Every counter the gateway keeps.
#[derive(Debug, Default)]
pub struct Stats {
    pub hits: AtomicU64,
    pub l1_hits: AtomicU64,
    pub misses: AtomicU64,
    pub bypasses: AtomicU64,
    pub upstream_calls: AtomicU64,
    pub invalidations_sent: AtomicU64,
    pub invalidations_received: AtomicU64,
    pub l1_clears: AtomicU64,
    pub redis_errors: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsBody {
    /// Reads answered from Redis.
    pub hits: u64,
    /// Reads answered from the in-process L1.
    pub l1_hits: u64,
    /// Reads that had to ask `catalog` (single-flight joiners included).
    pub misses: u64,
    /// Reads answered straight from `catalog` because Redis was unusable.
    pub bypasses: u64,
    /// HTTP calls this gateway made to `catalog` (reads and writes).
    pub upstream_calls: u64,
    /// Invalidation messages published.
    pub invalidations_sent: u64,
    /// Invalidation messages received on the channel (own ones included).
    pub invalidations_received: u64,
    /// Times the whole L1 was dropped after (re)subscribing, because messages may have been missed.
    pub l1_clears: u64,
    /// Failed or timed-out Redis commands.
    pub redis_errors: u64,
}

pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    pub fn snapshot(&self) -> StatsBody {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsBody {
            hits: get(&self.hits),
            l1_hits: get(&self.l1_hits),
            misses: get(&self.misses),
            bypasses: get(&self.bypasses),
            upstream_calls: get(&self.upstream_calls),
            invalidations_sent: get(&self.invalidations_sent),
            invalidations_received: get(&self.invalidations_received),
            l1_clears: get(&self.l1_clears),
            redis_errors: get(&self.redis_errors),
        }
    }
}
