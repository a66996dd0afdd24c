//! `gateway`: a cache-aside HTTP gateway in front of `catalog`, backed by Redis.
//!
//! It is the Redis reference service of the lab: OBI sees it as an HTTP server (its clients), a Redis
//! client (`GET`/`SET`/`MGET`/… spans) and an HTTP client (calls to `catalog` — the cache misses).
//! Reads go L1 (in-process) → Redis → `catalog`; writes are forwarded to `catalog` and invalidate
//! the cache on every replica through Redis pub/sub.
//!
//! Reading order: [`config`] → [`entry`] (what is cached, byte for byte) → [`keys`] → [`store`]
//! (Redis commands behind the [`breaker`]) → [`l1`] → [`singleflight`] → [`upstream`] (`catalog`) →
//! [`cache`] (the cache-aside logic) → [`invalidation`] (pub/sub) → [`http`] → [`stats`].

pub mod breaker;
pub mod cache;
pub mod config;
pub mod entry;
pub mod error;
pub mod http;
pub mod invalidation;
pub mod keys;
pub mod l1;
pub mod singleflight;
pub mod stats;
pub mod store;
pub mod upstream;

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use cache::Cache;
pub use config::Config;
pub use http::app;

use crate::breaker::Breaker;
use crate::l1::L1;
use crate::stats::Stats;
use crate::store::Redis;
use crate::upstream::Upstream;

/// Builds the cache (no network I/O: Redis connects lazily, so start-up never fails because Redis
/// is down) and spawns the invalidation subscriber, which runs until `shutdown`.
pub fn cache(config: &Config, shutdown: &CancellationToken) -> anyhow::Result<Arc<Cache>> {
    let args = &config.cache;
    let client = redis::Client::open(config.redis_url.as_str())
        .with_context(|| format!("invalid REDIS_URL {}", config::redact(&config.redis_url)))?;
    let stats = Arc::new(Stats::default());
    let redis = Redis::new(
        client.clone(),
        args.redis_response_timeout,
        args.redis_connect_timeout,
        Breaker::new(args.breaker_threshold, args.breaker_cooldown),
        Arc::clone(&stats),
    )?;
    let upstream = Upstream::new(
        &config.catalog_url,
        args.upstream_timeout,
        Arc::clone(&stats),
    )
    .context("building the catalog client")?;
    let l1 = Arc::new(L1::new(args.l1_capacity, args.l1_ttl));
    let cache = Arc::new(Cache::new(
        redis,
        upstream,
        Arc::clone(&l1),
        Arc::clone(&stats),
        args.clone(),
    ));
    tokio::spawn(invalidation::subscribe(
        client,
        cache.keys.channel(),
        l1,
        stats,
        args.redis_connect_timeout,
        shutdown.clone(),
    ));
    Ok(cache)
}

/// Serves the gateway on `listener` until `shutdown` is cancelled, then drains in-flight requests
/// for up to the configured grace period.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let cache = cache(&config, &shutdown)?;
    tracing::info!(
        redis = %config::redact(&config.redis_url),
        catalog = %config.catalog_url,
        "gateway starting"
    );
    let app = app(cache, &config.http, shutdown.clone());
    common::http::serve::serve(listener, app, shutdown, config.common.shutdown_grace).await?;
    Ok(())
}
