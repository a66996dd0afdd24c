//! Serving a router with the lab's shutdown contract: on cancellation stop accepting, let in-flight
//! requests finish for up to the grace period, then return.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves `app` on `listener` until `shutdown` is cancelled, then drains.
///
/// When the token is cancelled axum closes the listener (new connections are refused) and asks idle
/// keep-alive connections to close; requests already running continue. If they have not finished
/// after `grace`, this returns anyway and the remaining connections are dropped with the runtime.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned())
    .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = shutdown.cancelled() => {}
    }
    match tokio::time::timeout(grace, server).await {
        Ok(result) => {
            tracing::info!("in-flight requests drained; server stopped");
            result
        }
        Err(_) => {
            tracing::warn!(grace = %humantime::format_duration(grace), "grace period over; dropping unfinished requests");
            Ok(())
        }
    }
}
