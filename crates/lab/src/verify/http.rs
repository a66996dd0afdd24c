//! The one HTTP GET verify and bench-obi need: plain HTTP/1.0 to Prometheus' and Tempo's query APIs on
//! loopback (the kind lab publishes them on 127.0.0.1). No client library: one request, the server
//! closes the connection, so there is no chunked encoding to decode and nothing to pool.
//!
//! Private to verify until the `kindrun` stream's crate::prom lands in main (CONTRACT.md); the lead
//! dedupes [`super::prom`] against it.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A query against a few hundred series answers in milliseconds; a busy kind node may take seconds.
const TIMEOUT: Duration = Duration::from_secs(30);

/// `GET base + path_and_query` → the body of a 2xx response.
pub async fn get(base: &str, path_and_query: &str) -> anyhow::Result<String> {
    let authority = base
        .strip_prefix("http://")
        .with_context(|| format!("{base}: only plain http:// URLs (the lab runs no TLS)"))?
        .trim_end_matches('/');
    let request = format!(
        "GET {path_and_query} HTTP/1.0\r\nHost: {authority}\r\nAccept: application/json\r\n\r\n"
    );
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(authority).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .with_context(|| format!("{base}{path_and_query}: no answer within {TIMEOUT:?}"))?
        .with_context(|| format!("{base}{path_and_query}: cannot connect or read"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("{base}{path_and_query}: not an HTTP response"))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{base}{path_and_query}: no status line"))?;
    if !(200..300).contains(&status) {
        bail!("{base}{path_and_query}: HTTP {status}: {}", body.trim());
    }
    Ok(body.to_owned())
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (a PromQL or TraceQL query
/// as one query-string value).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
