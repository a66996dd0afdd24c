//! The HTTP driver: plain HTTP/1.1 (no TLS, so OBI sees every request) on hyper connections that
//! each worker owns — one keep-alive connection per target and worker, as wrk and oha hold them.
//!
//! Why not a pooled client (reqwest): a shared pool costs a lock, a checkout and a cross-task wake-up
//! per request, and the connection runs in a task of its own. Profiling the closed model against
//! catalog put the generator at ~14.5 µs of CPU per request with reqwest, most of it that machinery
//! and the allocations around it; a worker that owns its connection and drives it inline (the same
//! task polls the request and the connection) needs a fraction of that.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use common::rng::SplitMix64;
use http::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

use crate::stats::Outcome;

/// One HTTP request template. `{rand:LO:HI}` in `url` or `body` becomes a seeded integer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpStep {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    /// JSON body, sent with `Content-Type: application/json`.
    #[serde(default)]
    pub body: Option<String>,
}

pub fn default_method() -> String {
    "GET".into()
}

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// By default a whole request — connect, send, the full response body — must finish within this.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// One open connection and the future that drives it.
struct Conn {
    authority: Authority,
    sender: SendRequest<Full<Bytes>>,
    conn: Connection<TokioIo<TcpStream>, Full<Bytes>>,
    /// Whether a request already completed on it: only a reused connection may have been closed by
    /// the server while idle, so only then is a failure before any response retried.
    reused: bool,
    /// The connection future has completed; it must not be polled again (nor reused).
    closed: bool,
}

/// A worker's HTTP connections, one per target authority (a scenario usually has one to four).
pub struct Connections {
    open: Vec<Conn>,
    timeout: Duration,
}

impl Connections {
    /// No connection yet; each request (connect included) must complete within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            open: Vec::new(),
            timeout,
        }
    }
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connections")
            .field("open", &self.open.len())
            .finish()
    }
}

/// Why a request failed, before it becomes an outcome class.
enum Failure {
    Url,
    Connect,
    /// The connection failed before a response arrived.
    Request(hyper::Error),
    /// The connection ended before the response did.
    Closed,
    Body,
}

impl Failure {
    /// Whether a failure on a reused connection may be retried on a fresh one.
    fn retryable(&self, idempotent: bool) -> bool {
        match self {
            Failure::Request(e) if e.is_canceled() => true,
            Failure::Request(e) => idempotent && (e.is_closed() || e.is_incomplete_message()),
            Failure::Closed => idempotent,
            Failure::Url | Failure::Connect | Failure::Body => false,
        }
    }
}

fn outcome(class: impl Into<Cow<'static, str>>, success: bool) -> Outcome {
    Outcome {
        class: class.into(),
        success,
        stream: None,
    }
}

impl Connections {
    pub async fn call(
        &mut self,
        step: &HttpStep,
        rng: &mut SplitMix64,
        traceparent: &str,
    ) -> Outcome {
        let url = super::fill(&step.url, rng);
        let body = step.body.as_ref().map(|b| super::fill(b, rng));
        match tokio::time::timeout(self.timeout, self.send(step, url, body, traceparent)).await {
            Ok(Ok(status)) => outcome(status_class(status), status.is_success()),
            Ok(Err(Failure::Url)) => outcome("io:url", false),
            Ok(Err(Failure::Connect)) => outcome("io:connect", false),
            Ok(Err(Failure::Body)) => outcome("io:body", false),
            Ok(Err(Failure::Closed)) => outcome("io:closed", false),
            Ok(Err(Failure::Request(_))) => outcome("io:other", false),
            // The connection was inside the dropped future, so it is closed: the next request
            // opens a fresh one rather than reuse a connection in an unknown state.
            Err(_) => outcome("io:timeout", false),
        }
    }

    async fn send(
        &mut self,
        step: &HttpStep,
        url: String,
        body: Option<String>,
        traceparent: &str,
    ) -> Result<StatusCode, Failure> {
        let uri = Uri::try_from(url).map_err(|_| Failure::Url)?;
        let Some(authority) = uri
            .authority()
            .filter(|_| uri.scheme() == Some(&Scheme::HTTP))
            .cloned()
        else {
            // No TLS client on purpose (OBI cannot see inside it), so `https` is a bad URL here.
            return Err(Failure::Url);
        };
        let method = Method::from_bytes(step.method.as_bytes()).unwrap_or(Method::GET);
        let idempotent = method.is_idempotent();
        let path = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let traceparent = HeaderValue::from_str(traceparent).ok();
        let host = HeaderValue::from_str(authority.as_str()).ok();
        let body = body.map(Bytes::from);
        let build = || {
            let mut req = Request::new(body.clone().map(Full::new).unwrap_or_default());
            *req.method_mut() = method.clone();
            // Origin form plus Host, as any HTTP/1.1 client sends it.
            *req.uri_mut() = Uri::from(path.clone());
            let headers = req.headers_mut();
            if let Some(host) = &host {
                headers.insert(HOST, host.clone());
            }
            if let Some(tp) = &traceparent {
                headers.insert(TRACEPARENT, tp.clone());
            }
            if body.is_some() {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            req
        };
        let mut conn = match self.take(&authority) {
            Some(conn) => conn,
            None => connect(authority.clone()).await?,
        };
        let status = match exchange(&mut conn, build()).await {
            Ok(status) => status,
            // A keep-alive connection the server closed while it sat idle: retry once on a new
            // one, as pooled clients do. Safe when the request was never written (`canceled`); when
            // it may have been, only for idempotent methods — a POST is never sent twice.
            Err(e) if conn.reused && e.retryable(idempotent) => {
                conn = connect(authority).await?;
                exchange(&mut conn, build()).await?
            }
            Err(e) => return Err(e),
        };
        conn.reused = true;
        if !conn.closed {
            self.open.push(conn);
        }
        Ok(status)
    }

    fn take(&mut self, authority: &Authority) -> Option<Conn> {
        let i = self.open.iter().position(|c| &c.authority == authority)?;
        Some(self.open.swap_remove(i))
    }
}

/// `http:NNN`, without formatting a string for the statuses a run sees all the time.
fn status_class(status: StatusCode) -> Cow<'static, str> {
    match status.as_u16() {
        200 => "http:200".into(),
        201 => "http:201".into(),
        202 => "http:202".into(),
        204 => "http:204".into(),
        400 => "http:400".into(),
        401 => "http:401".into(),
        403 => "http:403".into(),
        404 => "http:404".into(),
        409 => "http:409".into(),
        422 => "http:422".into(),
        429 => "http:429".into(),
        500 => "http:500".into(),
        503 => "http:503".into(),
        code => format!("http:{code}").into(),
    }
}

async fn connect(authority: Authority) -> Result<Conn, Failure> {
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let stream = TcpStream::connect((host, authority.port_u16().unwrap_or(80)))
        .await
        .map_err(|_| Failure::Connect)?;
    // Requests are small and latency is the measurement: never wait for Nagle.
    stream.set_nodelay(true).map_err(|_| Failure::Connect)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| Failure::Connect)?;
    Ok(Conn {
        authority,
        sender,
        conn,
        reused: false,
        closed: false,
    })
}

/// Sends one request and reads the whole response, polling the connection in the same task (no
/// spawned connection task, so no cross-task wake-ups per request).
async fn exchange(c: &mut Conn, req: Request<Full<Bytes>>) -> Result<StatusCode, Failure> {
    let Conn {
        sender,
        conn,
        closed,
        ..
    } = c;
    let response = async {
        sender.ready().await.map_err(Failure::Request)?;
        let res = sender.send_request(req).await.map_err(Failure::Request)?;
        let status = res.status();
        // Read the body so the connection can be reused and the latency includes the transfer.
        let mut body = res.into_body();
        while let Some(frame) = body.frame().await {
            frame.map_err(|_| Failure::Body)?;
        }
        Ok(status)
    };
    tokio::pin!(response);
    if *closed {
        return Err(Failure::Closed);
    }
    tokio::select! {
        biased;
        r = &mut response => r,
        // The connection ended (the server hung up, or an I/O error). Whatever the request future
        // still holds is ready now or never: a finished connection wakes no one (a `ready()` on
        // it would wait forever), so poll it once more and otherwise call the connection closed.
        _ = conn => {
            *closed = true;
            tokio::select! {
                biased;
                r = &mut response => r,
                () = std::future::ready(()) => Err(Failure::Closed),
            }
        }
    }
}
