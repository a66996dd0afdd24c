//! The one runner: open model (arrivals on a schedule, bounded in flight, drops counted) or closed
//! model (N workers as fast as possible), both feeding the same [`Recorder`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::rng::SplitMix64;
use hdrhistogram::Histogram;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod closed;
mod open;
mod tasks;

use crate::driver::{Drivers, Request, TraceParent, Worker};
use crate::schedule::{Arrivals, Schedule, Segment};
use crate::stats::{Outcome, Recorder, StepStats};

/// One weighted step of a scenario.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub weight: u32,
    pub request: Request,
    /// Outcome classes that are part of the plan (successes and deliberate errors).
    pub expect: Vec<String>,
}

/// How arrivals are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Arrivals follow the schedule and are served by `workers` concurrent senders; at most
    /// `max_in_flight` arrivals may wait for a worker, the rest are dropped (and counted).
    Open {
        max_in_flight: usize,
        workers: usize,
    },
    /// `concurrency` workers send back-to-back for the schedule's duration: "max throughput", and
    /// labelled as such, because a closed loop slows down exactly when the server does.
    Closed { concurrency: usize },
}

/// Everything the runner needs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub schedule: Schedule,
    pub arrivals: Arrivals,
    pub seed: u64,
    pub segment: Segment,
    pub mode: Mode,
    pub steps: Vec<Step>,
    /// How long to wait for in-flight requests after the last arrival.
    pub drain: Duration,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub steps: Vec<StepStats>,
    /// Arrivals assigned to each step (sent + dropped): the plan, for planned-vs-achieved.
    pub planned: Vec<u64>,
    /// How late the generator sent arrivals relative to their intended time.
    pub lateness: Histogram<u64>,
    pub elapsed: Duration,
    /// Requests still running when the drain period ended (abandoned, not recorded).
    pub abandoned: u64,
    /// Latency from intended time per second of the run, all steps together.
    pub timeline: Vec<Histogram<u64>>,
}

/// Runs the plan to completion (or until `cancel`).
pub async fn run(plan: &Plan, drivers: &Drivers, cancel: &CancellationToken) -> RunResult {
    run_with(
        plan,
        drivers,
        Arc::new(Recorder::new(plan.steps.len())),
        cancel,
    )
    .await
}

/// [`run`] into a recorder the caller holds too, e.g. to print progress while the run goes on.
///
/// Three loops, one per way of generating load, all feeding the same recorder: `open::run` (the
/// schedule's arrivals, served by a fixed set of workers), `closed::spawn` (HTTP-only plans at max
/// throughput, one thread per core) and `tasks::spawn` (any other plan at max throughput, as tasks
/// on the caller's runtime). Then `drain` waits for what is in flight and `finish` reads the
/// recorder.
pub async fn run_with(
    plan: &Plan,
    drivers: &Drivers,
    recorder: Arc<Recorder>,
    cancel: &CancellationToken,
) -> RunResult {
    let start = Instant::now();
    let tracker = TaskTracker::new();
    // Set by closed-model threads that stopped waiting for in-flight requests.
    let gave_up = Arc::new(AtomicBool::new(false));
    let run = Loop {
        plan,
        drivers,
        recorder: &recorder,
        tracker: &tracker,
        start,
        cancel,
    };
    match plan.mode {
        Mode::Open {
            max_in_flight,
            workers,
        } => {
            let queue = open::Queue {
                max_in_flight,
                workers,
            };
            open::run(&run, queue).await;
        }
        Mode::Closed { concurrency } if plan.runs_per_core() => {
            let gave_up = Arc::clone(&gave_up);
            let threads = closed::spawn(&run, concurrency);
            tracker.spawn(async move {
                let mut all = true;
                for t in threads {
                    all &= t.await.unwrap_or(false);
                }
                if !all {
                    gave_up.store(true, Ordering::Relaxed);
                }
            });
        }
        Mode::Closed { concurrency } => tasks::spawn(&run, concurrency),
    }
    tracker.close();
    let drained = drain(plan, &tracker, start, cancel).await && !gave_up.load(Ordering::Relaxed);
    finish(&recorder, start, drained)
}

/// What each loop works with: the plan, the clients, where to record, where to spawn its tasks
/// (the drain waits for them), the run's start and the token that stops it.
struct Loop<'a> {
    plan: &'a Plan,
    drivers: &'a Drivers,
    recorder: &'a Arc<Recorder>,
    tracker: &'a TaskTracker,
    start: Instant,
    cancel: &'a CancellationToken,
}

impl Plan {
    /// HTTP-only plans run the closed model on one thread per core (each worker owns its
    /// connections). Other drivers share clients whose background tasks and sockets belong to the
    /// runtime that created them, so those plans stay on the caller's runtime as tasks.
    fn runs_per_core(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.request, Request::Http(_)))
    }
}

/// Waits for the loops' in-flight requests: `drain` after the last arrival (open model) or after the
/// end of the schedule (closed). `true` if everything finished in time.
async fn drain(
    plan: &Plan,
    tracker: &TaskTracker,
    start: Instant,
    cancel: &CancellationToken,
) -> bool {
    let deadline = match plan.mode {
        Mode::Open { .. } => Instant::now() + plan.drain,
        // The threads keep that deadline themselves and then flush what they recorded; this one is
        // a backstop that leaves them time to do so.
        Mode::Closed { .. } if plan.runs_per_core() => {
            start + plan.schedule.duration() + plan.drain + Duration::from_secs(5)
        }
        Mode::Closed { .. } => start + plan.schedule.duration() + plan.drain,
    };
    tokio::select! {
        () = tracker.wait() => true,
        () = tokio::time::sleep_until(deadline) => false,
        () = cancel.cancelled() => {
            // Closed-model threads stop on the same token and then flush what they recorded since
            // their last flush; give them a moment so an interrupted report is complete.
            let _ = tokio::time::timeout(Duration::from_secs(1), tracker.wait()).await;
            false
        }
    }
}

/// What the recorder holds once the loops are done; requests still running count as abandoned
/// unless everything drained.
fn finish(recorder: &Recorder, start: Instant, drained: bool) -> RunResult {
    let elapsed = start.elapsed();
    let (steps, lateness) = recorder.snapshot();
    let planned = recorder.planned_counts();
    let sent: u64 = planned.iter().sum();
    let recorded: u64 = steps.iter().map(|s| s.completed() + s.dropped).sum();
    let abandoned = if drained {
        0
    } else {
        sent.saturating_sub(recorded)
    };
    RunResult {
        timeline: recorder.timeline_snapshot(),
        steps,
        planned,
        lateness,
        elapsed,
        abandoned,
    }
}

/// What one request came back with, measured the same way by every worker of either model.
struct Sent {
    outcome: Outcome,
    /// From the schedule's intended time (the headline; equal to `from_send` in the closed model).
    from_intended: Duration,
    /// From the actual send (service time).
    from_send: Duration,
    done: Instant,
    traceparent: TraceParent,
}

impl Sent {
    /// The trace id to list among the slowest, for protocols that carried it (borrowed from the
    /// traceparent: the hot path does not allocate for it).
    fn trace_id<'a>(traceparent: &'a TraceParent, step: &Step) -> Option<&'a str> {
        step.request
            .carries_trace()
            .then_some(traceparent.trace_id())
    }
}

/// Sends one arrival of `step` through `worker` with a fresh `traceparent` from `rng`. `intended` is
/// the schedule's time for it (open model); `None` in the closed model, where a request is due the
/// moment it is sent.
async fn send(
    worker: &mut Worker,
    step: &Step,
    rng: &mut SplitMix64,
    intended: Option<Instant>,
) -> Sent {
    let traceparent = TraceParent::new(rng);
    let sent = Instant::now();
    let outcome = worker.call(&step.request, rng, traceparent.as_str()).await;
    let done = Instant::now();
    let (from_intended, from_send) = latencies(&outcome, intended.unwrap_or(sent), sent, done);
    Sent {
        outcome,
        from_intended,
        from_send,
        done,
        traceparent,
    }
}

/// Latency from intended time and from send time for an arrival meant at `intended`, sent at `sent`
/// and done at `done`. A held stream is done when its hold ends, but what a subscriber waits for is
/// its first message, so that is its latency.
fn latencies(
    outcome: &Outcome,
    intended: Instant,
    sent: Instant,
    done: Instant,
) -> (Duration, Duration) {
    let from_send = outcome
        .stream
        .and_then(|s| s.first)
        .map_or(done - sent, |first| first.min(done - sent));
    (
        sent.saturating_duration_since(intended) + from_send,
        from_send,
    )
}

/// Each arrival has its own generator derived from the seed and its index, so the request it sends
/// does not depend on timing or on which task ran first: the same seed replays the same traffic.
fn arrival_rng(seed: u64, index: u64) -> SplitMix64 {
    let mut mix = SplitMix64(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    SplitMix64(mix.next_u64())
}

/// Weighted choice of a step.
fn pick(steps: &[Step], rng: &mut SplitMix64) -> usize {
    let total: u64 = steps.iter().map(|s| u64::from(s.weight)).sum();
    let mut ticket = rng.below(total.max(1));
    for (i, s) in steps.iter().enumerate() {
        let w = u64::from(s.weight);
        if ticket < w {
            return i;
        }
        ticket -= w;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::StreamStats;

    #[test]
    fn a_held_streams_latency_is_its_first_message_not_its_hold() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let (intended, sent, done) = (t0, t0 + ms(5), t0 + ms(1_005));
        let mut outcome = Outcome {
            class: "grpc:OK".into(),
            success: true,
            stream: None,
        };
        assert_eq!(
            latencies(&outcome, intended, sent, done),
            (ms(1_005), ms(1_000))
        );
        outcome.stream = Some(StreamStats {
            first: Some(ms(30)),
            messages: 7,
            held: ms(1_000),
        });
        assert_eq!(latencies(&outcome, intended, sent, done), (ms(35), ms(30)));
        // No message during the hold: the whole hold was the wait.
        outcome.stream = Some(StreamStats {
            first: None,
            messages: 0,
            held: ms(1_000),
        });
        assert_eq!(
            latencies(&outcome, intended, sent, done),
            (ms(1_005), ms(1_000))
        );
    }
}
