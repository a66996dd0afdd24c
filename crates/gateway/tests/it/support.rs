//! Test harness: a counting `catalog`, gateways, Redis helpers and polling with a deadline.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::{self, Next};
use catalog::Store;
use common::args::{CommonArgs, LogFormat};
use common::http::layers::HttpArgs;
use gateway::config::{CacheArgs, Config};
use serde_json::Value;
use testkit::server::Server;
pub use testkit::server::client;

/// Products in the test catalog (ids 1..=100).
pub const PRODUCTS: u64 = 100;

/// A real `catalog` on 127.0.0.1:0 whose every API request is counted by path and query.
pub struct Catalog {
    pub url: String,
    calls: Arc<Mutex<HashMap<String, u64>>>,
    server: Option<Server>,
}

impl Catalog {
    pub async fn start() -> Self {
        Self::with_latency(Duration::ZERO).await
    }

    /// Every counted request waits `latency` before catalog answers (a slow upstream, so that
    /// concurrent misses really overlap).
    pub async fn with_latency(latency: Duration) -> Self {
        let store = Arc::new(Store::seeded(PRODUCTS, 42));
        let http = HttpArgs {
            rate_limit_per_second: 0,
            ..HttpArgs::default()
        };
        let calls: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let counter = Arc::clone(&calls);
        let server = Server::start(move |listener, shutdown| {
            let app = catalog::app(store, &http, shutdown.clone()).layer(middleware::from_fn(
                move |req: Request, next: Next| {
                    let counter = Arc::clone(&counter);
                    async move {
                        let path = req.uri().path().to_owned();
                        if path != "/ready" && path != "/health" {
                            let key = req
                                .uri()
                                .path_and_query()
                                .map_or(path, |pq| pq.as_str().to_owned());
                            *counter.lock().unwrap().entry(key).or_default() += 1;
                            if !latency.is_zero() {
                                tokio::time::sleep(latency).await;
                            }
                        }
                        next.run(req).await
                    }
                },
            ));
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .into_future()
        })
        .await;
        Self {
            url: server.url.clone(),
            calls,
            server: Some(server),
        }
    }

    /// Requests catalog received for exactly this path (and query).
    pub fn calls(&self, path_and_query: &str) -> u64 {
        self.calls
            .lock()
            .unwrap()
            .get(path_and_query)
            .copied()
            .unwrap_or(0)
    }

    /// All API requests catalog received.
    pub fn total(&self) -> u64 {
        self.calls.lock().unwrap().values().sum()
    }

    /// Stops catalog: its port refuses connections afterwards.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.unwrap();
        }
    }
}

/// A prefix no other test uses, so tests can share one Redis.
pub fn prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn config(redis_url: &str, catalog_url: &str, key_prefix: &str) -> Config {
    Config {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        redis_url: redis_url.to_owned(),
        catalog_url: catalog_url.to_owned(),
        cache: CacheArgs {
            key_prefix: key_prefix.to_owned(),
            ..CacheArgs::default()
        },
        http: HttpArgs {
            rate_limit_per_second: 0,
            ..HttpArgs::default()
        },
        common: CommonArgs {
            log_format: LogFormat::Json,
            shutdown_grace: Duration::from_secs(5),
        },
        command: None,
    }
}

/// A gateway on 127.0.0.1:0 (the one testkit harness), stopped when dropped.
pub struct Gateway {
    pub url: String,
    _server: Server,
}

impl Gateway {
    /// Starts a gateway and waits until its invalidation subscription is up (the subscriber clears
    /// the L1 once when it subscribes; waiting makes L1 assertions deterministic).
    pub async fn start(config: Config) -> Self {
        let gw = Self::start_unsubscribed(config).await;
        eventually(
            Duration::from_secs(10),
            "the invalidation subscription",
            || async { (gw.stats().await["l1_clears"].as_u64() >= Some(1)).then_some(()) },
        )
        .await;
        gw
    }

    /// Starts a gateway without waiting for Redis (for tests where Redis is down).
    pub async fn start_unsubscribed(config: Config) -> Self {
        let server =
            Server::start(|listener, shutdown| gateway::run(config, listener, shutdown)).await;
        Self {
            url: server.url.clone(),
            _server: server,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        fetch(&self.url(path)).await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        Reply::from(req.send().await.unwrap()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn stats(&self) -> Value {
        self.get("/cache/stats").await.json()
    }
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn from(res: reqwest::Response) -> Self {
        Self {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: res.bytes().await.unwrap().to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn x_cache(&self) -> &str {
        self.header("x-cache").unwrap_or("-")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Asserts a problem+json answer with this status.
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{status}: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.json()["status"], status);
    }
}

/// `GET url`, read completely.
pub async fn fetch(url: &str) -> Reply {
    Reply::from(client().get(url).send().await.unwrap()).await
}

/// catalog's own answer for a path, to compare bodies byte for byte.
pub async fn direct(catalog: &Catalog, path: &str) -> Reply {
    fetch(&format!("{}{path}", catalog.url)).await
}

/// A plain connection to Redis for assertions.
pub async fn redis(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// `INFO commandstats` as `command → calls`.
pub async fn command_calls(conn: &mut redis::aio::MultiplexedConnection) -> HashMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Polls `check` until it returns `Some`, failing after `deadline` (no fixed sleeps: the poll
/// interval is short and the deadline only bounds a failure).
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The shared test Redis URL.
pub fn shared_redis() -> String {
    testkit::redis::RedisServer::shared()
        .unwrap()
        .url()
        .to_owned()
}
