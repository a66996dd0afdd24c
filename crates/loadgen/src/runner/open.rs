//! The open model's loop: arrivals at the schedule's intended times, handed to a fixed set of
//! workers through a bounded queue; a full queue drops the arrival and counts it.
//!
//! wrk2's shape: each worker is one connection's worth of sequential requests. An arrival is "sent"
//! when a worker picks it up, so a stalled server shows up in latency-from-intended (queued arrivals
//! wait) but not in latency-from-send — and the schedule is never slowed down silently.

use std::sync::Arc;

use common::rng::SplitMix64;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

use super::{Loop, Sent, arrival_rng, pick, send};

/// The open model's bounds: senders, and arrivals that may wait for one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Queue {
    pub max_in_flight: usize,
    pub workers: usize,
}

/// An arrival waiting for a worker.
struct Arrival {
    step: usize,
    intended: Instant,
    rng: SplitMix64,
}

/// Spawns the workers into `tracker`, then sends every arrival of the schedule (of this segment) at
/// its time; returns after the last one (or on `cancel`), leaving the workers to drain the queue.
pub(super) async fn run(run: &Loop<'_>, queue: Queue) {
    let Loop {
        plan,
        drivers,
        recorder,
        tracker,
        start,
        cancel,
    } = *run;
    let (tx, rx) = mpsc::channel::<Arrival>(queue.max_in_flight.max(1));
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..queue.workers.max(1) {
        let (rx, recorder, drivers) = (Arc::clone(&rx), Arc::clone(recorder), drivers.clone());
        let steps = plan.steps.clone();
        tracker.spawn(async move {
            let mut worker = drivers.worker();
            loop {
                let next = rx.lock().await.recv().await;
                let Some(Arrival {
                    step,
                    intended,
                    mut rng,
                }) = next
                else {
                    break;
                };
                let s = &steps[step];
                let r = send(&mut worker, s, &mut rng, Some(intended)).await;
                recorder.timeline(r.done - start, r.from_intended);
                recorder.record(
                    step,
                    r.from_intended,
                    r.from_send,
                    r.outcome,
                    &s.expect,
                    Sent::trace_id(&r.traceparent, s),
                );
            }
        });
    }
    let offsets = plan.schedule.offsets(plan.arrivals, plan.seed).enumerate();
    for (j, offset) in offsets.filter(|(j, _)| plan.segment.contains(*j as u64)) {
        let intended = start + offset;
        // Sleep only until the *next* arrival is due; after a late wake-up every arrival that is
        // already due goes out immediately (no sleep), so lateness never accumulates.
        if intended > Instant::now() {
            tokio::select! {
                () = tokio::time::sleep_until(intended) => {}
                () = cancel.cancelled() => break,
            }
        } else if cancel.is_cancelled() {
            break;
        }
        let mut rng = arrival_rng(plan.seed, j as u64);
        let step = pick(&plan.steps, &mut rng);
        recorder.planned(step);
        recorder.lateness(Instant::now().saturating_duration_since(intended));
        if tx
            .try_send(Arrival {
                step,
                intended,
                rng,
            })
            .is_err()
        {
            recorder.dropped(step);
        }
    }
}
