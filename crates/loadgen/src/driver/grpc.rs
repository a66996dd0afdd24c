//! The gRPC driver: `mop.auth.v1.AuthService` over h2c (one multiplexed connection per target, as a
//! real client would hold), including a long-lived `StreamEvents`.
//!
//! Sessions come from two bounded pools. `validate` reuses tokens from a pool that nothing else
//! touches, so its tokens stay valid; `refresh` takes a session from the other pool and returns the
//! rotated pair, `logout` takes one and ends it, and `login` adds to it. When a pool is empty the
//! arrival logs in first — and that login is part of its latency, because it is what it had to do.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use common::rng::SplitMix64;
use proto::auth::v1 as pb;
use proto::auth::v1::auth_service_client::AuthServiceClient;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::stats::{Outcome, StreamStats};

/// Which RPC a step calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Call {
    Login,
    Validate,
    Refresh,
    Logout,
    /// `StreamEvents` as the given (admin) user, held open for `hold` counting messages; latency = time
    /// to the first message (or the whole hold if none came).
    Stream,
}

/// One gRPC step. `username`/`password` are templates (`user-{rand:2:100:4}`); the password defaults
/// to the demo convention (`user-0042` → `pass-0042`), so a deliberate bad password must be explicit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcStep {
    /// `http://host:port` of the auth service.
    pub addr: String,
    pub call: Call,
    #[serde(default = "default_user")]
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    /// How long `stream` keeps the stream open.
    #[serde(default = "default_hold", with = "humantime_serde")]
    pub hold: Duration,
}

pub fn default_user() -> String {
    "user-{rand:2:100:4}".into()
}

pub fn default_hold() -> Duration {
    Duration::from_secs(10)
}

/// Most sessions kept for reuse: enough to spread load, bounded so a long run cannot grow memory.
const POOL_MAX: usize = 256;

#[derive(Debug, Clone)]
struct Session {
    access: String,
    refresh: String,
}

#[derive(Debug, Default)]
pub struct GrpcDriver {
    channels: Mutex<HashMap<String, Channel>>,
    /// Read-only sessions for `validate`.
    validate_pool: Mutex<Vec<Session>>,
    /// Sessions that `refresh` rotates and `logout` ends.
    pool: Mutex<Vec<Session>>,
}

impl GrpcDriver {
    fn client(&self, addr: &str) -> Result<AuthServiceClient<Channel>, Status> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = channels.get(addr) {
            return Ok(AuthServiceClient::new(c.clone()));
        }
        let endpoint = Endpoint::from_shared(addr.to_owned())
            .map_err(|e| Status::invalid_argument(format!("bad address {addr:?}: {e}")))?;
        // Lazy: connects on first use and reconnects after failures, like a long-lived client.
        let channel = endpoint
            .connect_timeout(Duration::from_secs(5))
            .connect_lazy();
        channels.insert(addr.to_owned(), channel.clone());
        Ok(AuthServiceClient::new(channel))
    }

    pub async fn call(&self, step: &GrpcStep, rng: &mut SplitMix64, traceparent: &str) -> Outcome {
        let mut stream = None;
        let result = self.call_inner(step, rng, traceparent, &mut stream).await;
        let (class, success) = match result {
            Ok(()) => ("grpc:OK".into(), true),
            Err(status) => (
                format!("grpc:{}", proto::code_name(status.code())).into(),
                false,
            ),
        };
        Outcome {
            class,
            success,
            stream,
        }
    }

    /// One call; a `stream` call also fills `held` with what its stream delivered (even when it ends
    /// in an error, the messages before it were received).
    async fn call_inner(
        &self,
        step: &GrpcStep,
        rng: &mut SplitMix64,
        traceparent: &str,
        held: &mut Option<StreamStats>,
    ) -> Result<(), Status> {
        let started = Instant::now();
        let mut client = self.client(&step.addr)?;
        match step.call {
            Call::Login => {
                let session = self.login(&mut client, step, rng, traceparent).await?;
                self.give_back(session);
            }
            Call::Validate => {
                let access = match self.borrow(rng) {
                    Some(access) => access,
                    None => {
                        let session = self.login(&mut client, step, rng, traceparent).await?;
                        let access = session.access.clone();
                        push_bounded(&self.validate_pool, session);
                        access
                    }
                };
                let req = pb::ValidateTokenRequest {
                    access_token: access,
                };
                client
                    .validate_token(with_meta(req, traceparent, None))
                    .await?;
            }
            Call::Refresh => {
                let session = match self.take() {
                    Some(s) => s,
                    None => self.login(&mut client, step, rng, traceparent).await?,
                };
                let req = pb::RefreshTokenRequest {
                    refresh_token: session.refresh,
                };
                let res = client
                    .refresh_token(with_meta(req, traceparent, None))
                    .await?
                    .into_inner();
                if let Some(t) = res.tokens {
                    self.give_back(Session {
                        access: t.access_token,
                        refresh: t.refresh_token,
                    });
                }
            }
            Call::Logout => {
                let session = match self.take() {
                    Some(s) => s,
                    None => self.login(&mut client, step, rng, traceparent).await?,
                };
                client
                    .logout(with_meta(
                        pb::LogoutRequest {},
                        traceparent,
                        Some(&session.access),
                    ))
                    .await?;
            }
            Call::Stream => {
                let admin = self.login(&mut client, step, rng, traceparent).await?;
                let req = with_meta(
                    pb::StreamEventsRequest { types: Vec::new() },
                    traceparent,
                    Some(&admin.access),
                );
                let mut stream = client.stream_events(req).await?.into_inner();
                // Held for `hold` from the moment it is open, counting every message; the first one
                // is the latency (what a subscriber waits for), the count gives messages/s.
                let opened = Instant::now();
                let until = opened + step.hold;
                let stats = held.insert(StreamStats::default());
                let ended = loop {
                    match tokio::time::timeout_at(until, stream.next()).await {
                        Ok(Some(Ok(_))) => {
                            stats.messages += 1;
                            stats.first.get_or_insert_with(|| started.elapsed());
                        }
                        Ok(Some(Err(status))) => break Err(status),
                        Ok(None) if stats.messages == 0 => {
                            break Err(Status::new(
                                Code::Unavailable,
                                "stream ended before any event",
                            ));
                        }
                        // Ended by the server after some events, or the hold is over.
                        Ok(None) | Err(_) => break Ok(()),
                    }
                };
                stats.held = opened.elapsed();
                ended?;
            }
        }
        Ok(())
    }

    async fn login(
        &self,
        client: &mut AuthServiceClient<Channel>,
        step: &GrpcStep,
        rng: &mut SplitMix64,
        traceparent: &str,
    ) -> Result<Session, Status> {
        let username = super::fill(&step.username, rng);
        let password = match &step.password {
            Some(p) => super::fill(p, rng),
            None => username.replacen("user-", "pass-", 1),
        };
        let res = client
            .login(with_meta(
                pb::LoginRequest { username, password },
                traceparent,
                None,
            ))
            .await?
            .into_inner();
        let tokens = res
            .tokens
            .ok_or_else(|| Status::internal("login answered without tokens"))?;
        Ok(Session {
            access: tokens.access_token,
            refresh: tokens.refresh_token,
        })
    }

    /// A random access token from the validate pool.
    fn borrow(&self, rng: &mut SplitMix64) -> Option<String> {
        let pool = self
            .validate_pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let len = u64::try_from(pool.len()).ok().filter(|n| *n > 0)?;
        pool.get(usize::try_from(rng.below(len)).ok()?)
            .map(|s| s.access.clone())
    }

    fn take(&self) -> Option<Session> {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn give_back(&self, session: Session) {
        push_bounded(&self.pool, session);
    }
}

fn push_bounded(pool: &Mutex<Vec<Session>>, session: Session) {
    let mut pool = pool.lock().unwrap_or_else(PoisonError::into_inner);
    if pool.len() < POOL_MAX {
        pool.push(session);
    }
}

/// Adds `traceparent` (OBI reuses it) and, when given, the bearer token.
fn with_meta<T>(message: T, traceparent: &str, bearer: Option<&str>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    if let Ok(v) = traceparent.parse() {
        req.metadata_mut().insert("traceparent", v);
    }
    if let Some(Ok(v)) = bearer.map(|t| format!("Bearer {t}").parse()) {
        req.metadata_mut().insert("authorization", v);
    }
    req
}
