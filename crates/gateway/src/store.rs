//! The Redis side: every command the gateway sends, each behind the circuit breaker and a deadline.
//!
//! Commands go through redis-rs's `ConnectionManager` (one multiplexed connection that reconnects by
//! itself), created lazily so the gateway starts even when Redis is down. Every call returns
//! `Err(Unavailable)` instead of waiting when the breaker is open, and counts as a breaker failure
//! when it errors or misses its deadline — callers then fall back to `catalog` (`X-Cache: BYPASS`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisResult};

use crate::breaker::Breaker;
use crate::stats::{Stats, bump};

/// Redis cannot be used right now (breaker open, error or timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("redis unavailable")]
pub struct Unavailable;

/// One value to store: key, bytes, TTL.
pub type Write = (String, Vec<u8>, Duration);

/// The gateway's Redis client.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    breaker: Arc<Breaker>,
    stats: Arc<Stats>,
    deadline: Duration,
}

impl Redis {
    /// Creates the (lazy) connection manager; never touches the network.
    pub fn new(
        client: redis::Client,
        response_timeout: Duration,
        connect_timeout: Duration,
        breaker: Breaker,
        stats: Arc<Stats>,
    ) -> anyhow::Result<Self> {
        // One quick retry at most: the breaker, not the connection manager, decides when to try again,
        // so a dead Redis costs a request at most about one connect timeout.
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(response_timeout))
            .set_connection_timeout(Some(connect_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            conn,
            breaker: Arc::new(breaker),
            stats,
            // Belt and braces over redis-rs's own timeouts: connect + (retry) + response.
            deadline: connect_timeout * 2 + response_timeout,
        })
    }

    pub fn breaker_closed(&self) -> bool {
        self.breaker.is_closed()
    }

    /// Runs one command (or pipeline) under the breaker and the deadline.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if !self.breaker.allow() {
            return Err(Unavailable);
        }
        match tokio::time::timeout(self.deadline, f(self.conn.clone())).await {
            Ok(Ok(v)) => {
                self.breaker.success();
                Ok(v)
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "redis command failed");
                self.fail()
            }
            Err(_) => {
                tracing::debug!("redis command timed out");
                self.fail()
            }
        }
    }

    fn fail<T>(&self) -> Result<T, Unavailable> {
        bump(&self.stats.redis_errors);
        self.breaker.failure();
        Err(Unavailable)
    }

    /// `GET key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Unavailable> {
        self.call(|mut c| async move { c.get(key).await }).await
    }

    /// `GET` of a counter (missing → 0).
    pub async fn get_u64(&self, key: &str) -> Result<u64, Unavailable> {
        self.call(|mut c| async move { c.get::<_, Option<u64>>(key).await })
            .await
            .map(Option::unwrap_or_default)
    }

    /// `SET key value EX ttl`.
    pub async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), Unavailable> {
        let cmd = set_px(key, &value, ttl);
        self.call(|mut c| async move { cmd.query_async::<()>(&mut c).await })
            .await
    }

    /// One `MGET` for all keys.
    pub async fn mget(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Unavailable> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.call(|mut c| async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await })
            .await
    }

    /// All writes in ONE atomic pipeline (`MULTI`, `SET … EX` × n, `EXEC`): one round trip.
    pub async fn set_many(&self, writes: &[Write]) -> Result<(), Unavailable> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (key, value, ttl) in writes {
            pipe.add_command(set_px(key, value, *ttl)).ignore();
        }
        self.call(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
    }

    /// After a write: `DEL` the item, `INCR` the generation (when given), `PUBLISH` the message —
    /// pipelined, one round trip.
    pub async fn invalidate(
        &self,
        item: &str,
        generation: Option<&str>,
        channel: &str,
        message: &str,
    ) -> Result<(), Unavailable> {
        let mut pipe = redis::pipe();
        pipe.del(item).ignore();
        if let Some(generation) = generation {
            pipe.incr(generation, 1).ignore();
        }
        pipe.publish(channel, message).ignore();
        self.call(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await?;
        bump(&self.stats.invalidations_sent);
        Ok(())
    }

    /// `PING`, for readiness.
    pub async fn ping(&self) -> Result<(), Unavailable> {
        self.call(|mut c| async move { redis::cmd("PING").query_async::<()>(&mut c).await })
            .await
    }
}

/// `SET key value PX ttl` — spelled out (rather than `PSETEX`) so OBI and `INFO commandstats` show
/// a plain `SET`; milliseconds so the ±10 % jitter is not rounded away.
fn set_px(key: &str, value: &[u8], ttl: Duration) -> redis::Cmd {
    let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value).arg("PX").arg(millis);
    cmd
}
