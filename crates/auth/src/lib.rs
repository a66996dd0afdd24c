//! MOP's gRPC reference service: password logins, opaque bearer tokens with refresh rotation,
//! sessions, login throttling and a server-streamed feed of security events, served over plaintext
//! HTTP/2 (h2c) so OBI can observe it from the kernel. The contract is `proto/mop/auth/v1/auth.proto`
//! and docs/auth.md.
//!
//! Reading order: [`config`] (flags), [`users`] (demo users, argon2id), [`tokens`] (opaque tokens,
//! digests), [`sessions`] (store, rotation, reuse detection), [`throttle`] (failed-login limits),
//! [`events`] (broadcast bus), [`state`] (the operations), [`error`] (→ gRPC codes), [`grpc`] (the
//! AuthService, interceptor, event stream), [`layers`] (request id, deadline, access log), then
//! [`server`] (health, reflection, graceful shutdown).

pub mod clock;
pub mod config;
pub mod error;
pub mod events;
pub mod grpc;
pub mod layers;
pub mod server;
pub mod sessions;
pub mod state;
pub mod throttle;
pub mod tokens;
pub mod users;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use clock::Clock;
pub use config::Config;
pub use server::Auth;

/// Runs the service on `listener` until `shutdown` is cancelled, then drains and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    Auth::new(&config, Clock::default(), shutdown)
        .await?
        .serve(listener)
        .await
}
