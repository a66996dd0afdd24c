//! The one test harness for MOP's services: bind `127.0.0.1:0`, hand the listener and a shutdown
//! token to the service's `run` (or any future shaped like it), give the test its address, URL and a
//! client, and stop it by cancelling the token and waiting for the drain.
//!
//! Every service's lib exposes `run(config, listener, shutdown) -> anyhow::Result<()>` (lab.md,
//! "Start-up"), so one harness serves them all, and hand-written servers in tests too:
//!
//! ```text
//! let server = Server::start(|listener, shutdown| catalog::run(config, listener, shutdown)).await;
//! let body = server.client().get(server.at("/health")).send().await?;
//! server.stop().await.unwrap(); // cancel, then wait until run() returned
//! ```
//!
//! Binding happens *before* the service starts, so its address is known at once and a connection
//! made right away waits in the listen backlog instead of being refused: no sleep, no retry. A
//! service that needs the token before it can serve (auth builds its state with it) binds first with
//! [`Bound::new`], then [`Bound::serve`]s. Dropping a [`Server`] cancels its token, so a test that
//! ends early never leaves a service running into the next one.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long one request of [`client`] may take: a hang guard, not a timing assertion.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A listener on `127.0.0.1:0` and the token its service will be stopped with, before the service
/// runs.
pub struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Bound {
    /// Binds a fresh port on loopback (panics if none can be bound: this is test support).
    pub async fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("the listener's address");
        Self {
            listener,
            addr,
            shutdown: CancellationToken::new(),
        }
    }

    /// The address the service will serve on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token that [`Server::stop`] will cancel, for services that take it before they serve.
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Spawns `run(listener, shutdown)` on the current runtime.
    pub fn serve<F, Fut, E>(self, run: F) -> Server
    where
        F: FnOnce(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let running = run(self.listener, self.shutdown.clone());
        // `{:#}` prints an anyhow error with its causes: the message a failing test shows.
        let task = tokio::spawn(async move { running.await.map_err(|e| format!("{e:#}")) });
        Server {
            addr: self.addr,
            url: format!("http://{}", self.addr),
            client: client(),
            shutdown: self.shutdown,
            task: Some(task),
        }
    }
}

/// A service running in this process on `127.0.0.1:<port>`; dropping it cancels its token.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>` (also the gRPC endpoint: h2c has the same URL).
    pub url: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), String>>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and spawns `run(listener, shutdown)`: e.g.
    /// `Server::start(|l, s| orders::run(config, l, s))`.
    pub async fn start<F, Fut, E>(run: F) -> Self
    where
        F: FnOnce(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        Bound::new().await.serve(run)
    }

    /// The URL of `path` on this server (`server.at("/health")`).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// An HTTP client for this server (plain HTTP/1.1, 30 s per request).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Starts the shutdown (what SIGTERM does to the binary) without waiting for it.
    pub fn cancel(&self) {
        self.shutdown.cancel();
    }

    /// Whether `run` has returned.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits until `run` returns and gives its result; a panic in the service is resumed here, so the
    /// test fails with the service's own message. Waiting twice is an error.
    pub async fn wait(&mut self) -> Result<(), String> {
        let task = self
            .task
            .take()
            .ok_or_else(|| "the server was already waited for".to_owned())?;
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(format!("the server task was cancelled: {e}")),
        }
    }

    /// Cancels the token and waits for the drain: `Ok` when `run` returned `Ok`.
    pub async fn stop(mut self) -> Result<(), String> {
        self.cancel();
        self.wait().await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The HTTP client tests use against services: plain HTTP/1.1 (no TLS stack is linked), every
/// request bounded by 30 s so a hung service fails the test instead of hanging it.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .expect("a reqwest client without TLS builds")
}
