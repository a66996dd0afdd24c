//! The gRPC server of `auth`: building the instance (demo users hashed), serving AuthService with
//! health and reflection on one h2c listener, and the graceful shutdown sequence.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use proto::auth::v1::auth_service_server::AuthServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::clock::Clock;
use crate::config::Config;
use crate::grpc::{AuthApi, BearerInterceptor};
use crate::layers;
use crate::state::State;

/// Largest metadata (header list) a client may send: tokens are 43 bytes, so 16 KiB is generous and
/// keeps a hostile client from parking megabytes of headers on us.
const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

/// A built (users hashed) but not yet serving instance; tests keep its [`Clock`] to move time.
#[derive(Debug)]
pub struct Auth {
    config: Config,
    state: Arc<State>,
}

impl Auth {
    /// Prepares the service: hashes the demo users' passwords (the slow part of start-up).
    pub async fn new(
        config: &Config,
        clock: Clock,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let started = std::time::Instant::now();
        let state = State::new(config, clock, shutdown)
            .await
            .context("creating demo users")?;
        tracing::info!(
            users = state.users.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "demo users ready"
        );
        Ok(Self {
            config: config.clone(),
            state: Arc::new(state),
        })
    }

    /// The clock the service decides expiry and throttling by.
    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// Serves until the shutdown token is cancelled, then:
    ///
    /// 1. health turns NOT_SERVING, new AuthService calls get UNAVAILABLE, event streams end with
    ///    UNAVAILABLE;
    /// 2. for `--drain-delay` the listener stays open (so load balancers see NOT_SERVING rather than
    ///    connection refused while they catch up);
    /// 3. the listener closes and open connections get HTTP/2 GOAWAY; calls in flight finish;
    /// 4. after `--shutdown-grace` in total, whatever is still running is dropped.
    pub async fn serve(self, listener: TcpListener) -> anyhow::Result<()> {
        let Self { config, state } = self;
        let shutdown = state.shutdown.clone();
        let addr = listener.local_addr().context("listener address")?;

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<AuthServiceServer<AuthApi>>().await;
        // Both reflection versions: v1 is current, but many tools still speak only v1alpha (Python's
        // grpcio-reflection client, Postman, older grpcurl and Evans).
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(proto::AUTH_FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_v1 = reflection()
            .build_v1()
            .context("building the reflection service")?;
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .context("building the v1alpha reflection service")?;
        let auth = AuthServiceServer::new(AuthApi::new(Arc::clone(&state)))
            .max_decoding_message_size(config.max_message_bytes)
            .max_encoding_message_size(config.max_message_bytes);
        let auth = InterceptedService::new(auth, BearerInterceptor::new(Arc::clone(&state)));

        tokio::spawn(Arc::clone(&state).sweep_periodically(config.sweep_interval));

        let stop_accepting = CancellationToken::new();
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let server = Server::builder()
            .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
            .layer(layers::ObserveLayer)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(auth)
            .serve_with_incoming_shutdown(incoming, stop_accepting.clone().cancelled_owned());
        tokio::pin!(server);
        tracing::info!(%addr, "listening (gRPC over h2c)");

        tokio::select! {
            result = &mut server => return result.context("gRPC server failed"),
            () = shutdown.cancelled() => {}
        }
        let grace = config.common.shutdown_grace;
        let give_up = tokio::time::Instant::now() + grace;
        health.set_not_serving::<AuthServiceServer<AuthApi>>().await;
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        tracing::info!(
            drain_delay_s = config.drain_delay.as_secs_f64(),
            grace_s = grace.as_secs_f64(),
            "shutting down: health NOT_SERVING, new calls get UNAVAILABLE"
        );
        let delay = config.drain_delay.min(grace);
        if delay > Duration::ZERO {
            tokio::select! {
                result = &mut server => return result.context("gRPC server failed"),
                () = tokio::time::sleep(delay) => {}
            }
        }
        stop_accepting.cancel();
        match tokio::time::timeout_at(give_up, server).await {
            Ok(result) => {
                tracing::info!("in-flight calls drained; server stopped");
                result.context("gRPC server failed")
            }
            Err(_) => {
                tracing::warn!(
                    grace_s = grace.as_secs_f64(),
                    "grace period over; dropping unfinished calls"
                );
                Ok(())
            }
        }
    }
}
