//! The closed model's lock-free recording: each thread records into its own [`LocalRecorder`] and
//! moves it into the shared [`Recorder`] every few hundred milliseconds.

use std::collections::BTreeMap;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::{Outcome, Recorder, StepStats, micros, second_histogram, second_of};

/// What one thread records without any lock: the closed model's hot path, where a shared lock per
/// request would be taken ~100 000 times a second from every core. [`Recorder::absorb`] moves it into
/// the shared recorder every few hundred milliseconds, so progress lines stay current.
#[derive(Debug)]
pub struct LocalRecorder {
    steps: Vec<StepStats>,
    /// Arrivals assigned to each step since the last flush.
    planned: Vec<u64>,
    /// Per-second latency from intended time since the last absorb, by second of the run.
    timeline: BTreeMap<u64, Histogram<u64>>,
}

impl LocalRecorder {
    pub fn new(steps: usize) -> Self {
        Self {
            steps: (0..steps).map(|_| StepStats::default()).collect(),
            planned: vec![0; steps],
            timeline: BTreeMap::new(),
        }
    }

    /// Counts an arrival assigned to `step`.
    pub fn planned(&mut self, step: usize) {
        if let Some(n) = self.planned.get_mut(step) {
            *n += 1;
        }
    }

    /// [`Recorder::record`] plus [`Recorder::timeline`] for a completion `at` this offset from the
    /// start of the run. Closed model: a request is sent the moment it is meant to be, so `latency`
    /// is both the latency from intended time and the service time.
    pub fn record(
        &mut self,
        step: usize,
        at: Duration,
        latency: Duration,
        outcome: Outcome,
        expect: &[String],
        trace_id: Option<&str>,
    ) {
        if let Some(s) = self.steps.get_mut(step) {
            s.record(latency, latency, outcome, expect, trace_id);
        }
        let _ = self
            .timeline
            .entry(at.as_secs())
            .or_insert_with(second_histogram)
            .record(micros(latency));
    }
}

impl Recorder {
    /// Moves everything a thread recorded on its own into the shared recorder and empties it.
    pub fn absorb(&self, local: &mut LocalRecorder) {
        for (shared, mine) in self.planned.iter().zip(&mut local.planned) {
            shared.fetch_add(std::mem::take(mine), Ordering::Relaxed);
        }
        for (shared, mine) in self.steps.iter().zip(&mut local.steps) {
            if mine.completed() + mine.dropped > 0 {
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .merge(mine);
                mine.reset();
            }
        }
        let mut timeline = self.timeline.lock().unwrap_or_else(PoisonError::into_inner);
        for (second, h) in std::mem::take(&mut local.timeline) {
            if let Some(shared) = second_of(&mut timeline, Duration::from_secs(second)) {
                let _ = shared.add(&h);
            }
        }
    }
}
