//! The closed model's workers: one OS thread per core, each with its own single-threaded runtime,
//! its own connections and its own [`LocalRecorder`] — oha's and wrk's shape for max throughput.
//!
//! Why not tasks on the shared multi-threaded runtime: there every request paid for work stealing,
//! cross-thread wake-ups and a shared lock in the recorder; measured against catalog that made the
//! generator, not the server, the bottleneck (see docs/benchmarks.md, loadgen).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::LocalSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Loop, Plan, Sent, arrival_rng, pick, send};
use crate::driver::Drivers;
use crate::stats::{LocalRecorder, Recorder};

/// How often each thread moves what it recorded into the shared recorder (for progress lines).
const FLUSH: Duration = Duration::from_millis(250);

/// Starts the threads; each answers once, `true` if all its workers finished before the drain
/// deadline (`false` if it gave up on in-flight requests or was cancelled).
pub(super) fn spawn(run: &Loop<'_>, concurrency: usize) -> Vec<oneshot::Receiver<bool>> {
    let Loop {
        plan,
        drivers,
        recorder,
        start,
        cancel,
        ..
    } = *run;
    let concurrency = concurrency.max(1);
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(concurrency);
    let end = start + plan.schedule.duration();
    let mut done = Vec::with_capacity(threads);
    for t in 0..threads {
        let workers = concurrency / threads + usize::from(t < concurrency % threads);
        let (tx, rx) = oneshot::channel();
        let shared = Shared {
            plan: plan.clone(),
            drivers: drivers.clone(),
            recorder: Arc::clone(recorder),
            first: t as u64,
            stride: threads as u64,
            cancel: cancel.clone(),
            start,
            end,
        };
        let spawned = std::thread::Builder::new()
            .name(format!("loadgen-closed-{t}"))
            .spawn(move || {
                let _ = tx.send(shared.run(workers));
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a closed-model thread");
        }
        done.push(rx);
    }
    done
}

/// What every thread needs, cloned once per thread.
struct Shared {
    plan: Plan,
    drivers: Drivers,
    recorder: Arc<Recorder>,
    /// This thread's arrival indices are `first, first + stride, …` (no shared counter: one
    /// contended cache line per request costs more than it seems at 100 000 requests a second).
    first: u64,
    stride: u64,
    cancel: CancellationToken,
    start: Instant,
    end: Instant,
}

impl Shared {
    fn run(self, workers: usize) -> bool {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "cannot build a closed-model runtime");
                return false;
            }
        };
        let this = Rc::new(self);
        let local = Rc::new(RefCell::new(LocalRecorder::new(this.plan.steps.len())));
        let set = LocalSet::new();
        let next = Rc::new(Cell::new(this.first));
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let worker = Rc::clone(&this).worker(Rc::clone(&local), Rc::clone(&next));
                set.spawn_local(worker)
            })
            .collect();
        rt.block_on(set.run_until(async move {
            let flusher = tokio::task::spawn_local({
                let (this, local) = (Rc::clone(&this), Rc::clone(&local));
                async move {
                    loop {
                        tokio::time::sleep(FLUSH).await;
                        this.flush(&mut local.borrow_mut());
                    }
                }
            });
            let all = async {
                for h in handles {
                    let _ = h.await;
                }
            };
            let drained = tokio::select! {
                () = all => true,
                () = tokio::time::sleep_until(this.end + this.plan.drain) => false,
                () = this.cancel.cancelled() => false,
            };
            flusher.abort();
            this.flush(&mut local.borrow_mut());
            drained
        }))
    }

    /// Moves this thread's records and planned counts into the shared recorder.
    fn flush(&self, local: &mut LocalRecorder) {
        self.recorder.absorb(local);
    }

    /// One worker: back to back until the end of the schedule.
    async fn worker(self: Rc<Self>, local: Rc<RefCell<LocalRecorder>>, next: Rc<Cell<u64>>) {
        let steps = &self.plan.steps;
        let mut worker = self.drivers.worker();
        while Instant::now() < self.end && !self.cancel.is_cancelled() {
            let j = next.replace(next.get() + self.stride);
            let mut rng = arrival_rng(self.plan.seed, j);
            let step = pick(steps, &mut rng);
            local.borrow_mut().planned(step);
            let s = &steps[step];
            let r = send(&mut worker, s, &mut rng, None).await;
            local.borrow_mut().record(
                step,
                r.done - self.start,
                r.from_send,
                r.outcome,
                &s.expect,
                Sent::trace_id(&r.traceparent, s),
            );
        }
    }
}
