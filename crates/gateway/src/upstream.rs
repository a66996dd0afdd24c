//! The HTTP client side: reads and writes forwarded to `catalog` over plain HTTP/1.1 (reqwest without
//! TLS, so OBI sees every call as an HTTP client span — the misses of the cache).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use http::{HeaderMap, Method, header};

use crate::entry::Entry;
use crate::stats::{Stats, bump};

/// Why `catalog` could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Connection refused, reset or timed out → 503.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
    /// `catalog` answered something we cannot use → 502.
    #[error("invalid answer from catalog: {0}")]
    BadGateway(String),
}

/// What a forwarded write returned, to be relayed unchanged.
#[derive(Debug)]
pub struct WriteAnswer {
    pub entry: Entry,
    pub location: Option<String>,
}

/// A `catalog` client.
#[derive(Debug, Clone)]
pub struct Upstream {
    client: reqwest::Client,
    base: String,
    stats: Arc<Stats>,
}

impl Upstream {
    pub fn new(base: &str, timeout: Duration, stats: Arc<Stats>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(1)))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            stats,
        })
    }

    /// `GET <catalog><path_and_query>`.
    pub async fn get(&self, path_and_query: &str) -> Result<Entry, UpstreamError> {
        let request = self.client.get(format!("{}{path_and_query}", self.base));
        Ok(self.send(request).await?.entry)
    }

    /// Forwards a write with its body, `Content-Type` and `If-Match`.
    pub async fn write(
        &self,
        method: Method,
        path: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<WriteAnswer, UpstreamError> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body);
        for name in [header::CONTENT_TYPE, header::IF_MATCH] {
            for value in headers.get_all(&name) {
                request = request.header(&name, value);
            }
        }
        self.send(request).await
    }

    /// `catalog`'s own readiness.
    pub async fn ready(&self) -> Result<(), String> {
        let response = self
            .client
            .get(format!("{}/ready", self.base))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .map_err(|e| format!("catalog unreachable: {e}"))?;
        match response.status().as_u16() {
            200 => Ok(()),
            s => Err(format!("catalog not ready ({s})")),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<WriteAnswer, UpstreamError> {
        bump(&self.stats.upstream_calls);
        let response = request.send().await.map_err(classify)?;
        let headers = response.headers().clone();
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &http::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let (content_type, etag, location) = (
            text(header::CONTENT_TYPE),
            text(header::ETAG),
            text(header::LOCATION),
        );
        let body = response.bytes().await.map_err(classify)?;
        Ok(WriteAnswer {
            entry: Entry {
                status,
                content_type,
                etag,
                body,
            },
            location,
        })
    }
}

/// An answer that is not valid HTTP is a bad gateway (502); every other failure — refused, reset, closed
/// early, timed out — means catalog is unavailable (503, worth retrying). The client sees a short reason;
/// the full error (with catalog's address) goes to the log only.
fn classify(e: reqwest::Error) -> UpstreamError {
    tracing::warn!(error = %e, source = ?std::error::Error::source(&e), "catalog call failed");
    let unparsable = e.is_decode()
        || sources(&e)
            .filter_map(|s| s.downcast_ref::<hyper::Error>())
            .any(|h| h.is_parse() || h.is_parse_status() || h.is_parse_too_large());
    if unparsable {
        UpstreamError::BadGateway("catalog sent an invalid HTTP response".into())
    } else if e.is_timeout() {
        UpstreamError::Unavailable("catalog did not answer in time".into())
    } else {
        UpstreamError::Unavailable("catalog is unreachable".into())
    }
}

/// The error's chain of causes, outermost first.
fn sources<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}
