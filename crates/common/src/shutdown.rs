//! Shutdown signalling: SIGTERM (what Kubernetes sends on rollout) or SIGINT (Ctrl-C) cancels a token
//! that every part of a service watches.

use tokio_util::sync::CancellationToken;

/// Returns a token that is cancelled on the first SIGTERM or SIGINT.
///
/// The signal handlers are installed before this returns, so a signal arriving during start-up is
/// not lost. Must be called from inside a Tokio runtime.
pub fn on_signal() -> std::io::Result<CancellationToken> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutdown requested; draining in-flight work");
        cancel.cancel();
    });
    Ok(token)
}
