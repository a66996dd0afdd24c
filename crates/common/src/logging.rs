//! Logging set-up: `tracing` events as JSON lines (or pretty text) on stdout, filtered by `RUST_LOG`.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::args::LogFormat;

/// Installs the global subscriber. `RUST_LOG` filters as usual; without it services log at `info`.
///
/// JSON lines carry `timestamp`, `level`, `target`, the event's fields (flattened, so `request_id`,
/// `route`, `status`, `latency_ms`, `trace_id` are top-level keys) and the enclosing span's fields.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // `try_init` so tests that start several services in one process do not panic on the second call.
    let _ = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().pretty()).try_init(),
    };
}
