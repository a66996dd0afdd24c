//! The closed model as tasks on the caller's runtime: for plans with other drivers than HTTP, whose
//! shared clients (gRPC channels, the SQL pool, Redis and Kafka connections) belong to the runtime
//! that created them and so cannot move to per-core threads (see `closed.rs` for those).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use super::{Loop, Sent, arrival_rng, pick, send};

/// Spawns `concurrency` workers into `tracker`, each sending back to back until the schedule's end.
/// Latency from intended time equals latency from send: in a closed loop a request is due the
/// moment it is sent.
pub(super) fn spawn(run: &Loop<'_>, concurrency: usize) {
    let (plan, start) = (run.plan, run.start);
    let end = start + plan.schedule.duration();
    let next = Arc::new(AtomicU64::new(0));
    for _ in 0..concurrency.max(1) {
        let (recorder, next) = (Arc::clone(run.recorder), Arc::clone(&next));
        let (cancel, mut worker) = (run.cancel.clone(), run.drivers.worker());
        let (steps, seed) = (plan.steps.clone(), plan.seed);
        run.tracker.spawn(async move {
            while Instant::now() < end && !cancel.is_cancelled() {
                let mut rng = arrival_rng(seed, next.fetch_add(1, Ordering::Relaxed));
                let step = pick(&steps, &mut rng);
                recorder.planned(step);
                let s = &steps[step];
                let r = send(&mut worker, s, &mut rng, None).await;
                recorder.timeline(r.done - start, r.from_send);
                recorder.record(
                    step,
                    r.from_send,
                    r.from_send,
                    r.outcome,
                    &s.expect,
                    Sent::trace_id(&r.traceparent, s),
                );
            }
        });
    }
}
