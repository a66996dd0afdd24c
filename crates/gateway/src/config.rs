//! `gateway`'s configuration: flags with environment fallbacks (`gateway --help` lists them).

use std::net::SocketAddr;
use std::time::Duration;

use common::args::{Command, CommonArgs, parse_duration};
use common::http::layers::HttpArgs;

/// A cache-aside gateway in front of `catalog`: Redis (L2) plus a small in-process L1, with pub/sub
/// invalidation between replicas — MOP's Redis reference service.
#[derive(Clone, clap::Parser)]
#[command(name = "gateway", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8084")]
    pub listen_addr: SocketAddr,

    /// Redis server (plain RESP, no TLS), e.g. `redis://127.0.0.1:6379/0`.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/0")]
    pub redis_url: String,

    /// Base URL of the `catalog` service (plain HTTP).
    #[arg(long, env = "CATALOG_URL", default_value = "http://127.0.0.1:8081")]
    pub catalog_url: String,

    #[command(flatten)]
    pub cache: CacheArgs,

    #[command(flatten)]
    pub http: HttpArgs,

    #[command(flatten)]
    pub common: CommonArgs,

    /// Something to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `REDIS_URL` may carry a password: `Debug` shows it redacted.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen_addr", &self.listen_addr)
            .field("redis_url", &redact(&self.redis_url))
            .field("catalog_url", &self.catalog_url)
            .field("cache", &self.cache)
            .field("http", &self.http)
            .field("common", &self.common)
            .finish()
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`; URLs without credentials are unchanged.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

/// Cache tuning: TTLs, the L1, Redis timeouts and the circuit breaker.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    /// Prefix of every Redis key and of the invalidation channel (lets several gateways or tests
    /// share one Redis without seeing each other's entries).
    #[arg(long, env = "KEY_PREFIX", default_value = "gw")]
    pub key_prefix: String,

    /// TTL of a cached product (`GET /products/{id}`), before jitter.
    #[arg(long, env = "ITEM_TTL", default_value = "60s", value_parser = parse_duration)]
    pub item_ttl: Duration,

    /// TTL of a cached product page (`GET /products`), before jitter.
    #[arg(long, env = "LIST_TTL", default_value = "15s", value_parser = parse_duration)]
    pub list_ttl: Duration,

    /// TTL of a cached search result (`GET /search`), before jitter.
    #[arg(long, env = "SEARCH_TTL", default_value = "10s", value_parser = parse_duration)]
    pub search_ttl: Duration,

    /// TTL of a cached upstream 404 (negative caching), before jitter.
    #[arg(long, env = "NEGATIVE_TTL", default_value = "5s", value_parser = parse_duration)]
    pub negative_ttl: Duration,

    /// Random spread applied to every TTL, in percent (10 → 60 s becomes 54–66 s), so keys written
    /// together do not all expire together.
    #[arg(long, env = "TTL_JITTER_PERCENT", default_value_t = 10)]
    pub ttl_jitter_percent: u8,

    /// Entries kept in the in-process L1 (0 disables the L1).
    #[arg(long, env = "L1_CAPACITY", default_value_t = 10_000)]
    pub l1_capacity: u64,

    /// Lifetime of an L1 entry; a safety net, since pub/sub evicts changed entries at once.
    #[arg(long, env = "L1_TTL", default_value = "5s", value_parser = parse_duration)]
    pub l1_ttl: Duration,

    /// How long a Redis command may wait for its reply before it counts as failed.
    #[arg(long, env = "REDIS_RESPONSE_TIMEOUT", default_value = "250ms", value_parser = parse_duration)]
    pub redis_response_timeout: Duration,

    /// How long connecting to Redis may take.
    #[arg(long, env = "REDIS_CONNECT_TIMEOUT", default_value = "500ms", value_parser = parse_duration)]
    pub redis_connect_timeout: Duration,

    /// Consecutive Redis failures that open the circuit breaker (Redis is then skipped).
    #[arg(long, env = "BREAKER_THRESHOLD", default_value_t = 3)]
    pub breaker_threshold: u32,

    /// How long the open breaker skips Redis before one probe request tries it again.
    #[arg(long, env = "BREAKER_COOLDOWN", default_value = "2s", value_parser = parse_duration)]
    pub breaker_cooldown: Duration,

    /// Timeout of one call to `catalog`.
    #[arg(long, env = "UPSTREAM_TIMEOUT", default_value = "3s", value_parser = parse_duration)]
    pub upstream_timeout: Duration,

    /// Concurrent `catalog` calls made by one batch or warm-up request.
    #[arg(long, env = "FETCH_CONCURRENCY", default_value_t = 16)]
    pub fetch_concurrency: usize,
}

impl Default for CacheArgs {
    /// The flags' own defaults (see [`common::args::defaults`]).
    fn default() -> Self {
        common::args::defaults()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn passwords_are_redacted_and_defaults_parse() {
        assert_eq!(
            redact("redis://u:secret@h:6379/0"),
            "redis://u:***@h:6379/0"
        );
        assert_eq!(redact("redis://:secret@h"), "redis://:***@h");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
        let config = Config::try_parse_from(["gateway", "--redis-url", "redis://:pw@h"]).unwrap();
        assert!(!format!("{config:?}").contains("pw"));
        assert_eq!(config.listen_addr.port(), 8084);
        assert_eq!(config.cache.item_ttl, Duration::from_secs(60));
    }
}
