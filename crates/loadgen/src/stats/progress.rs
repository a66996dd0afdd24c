//! A cheap snapshot of a run in progress for the progress bar and the status lines.

use std::sync::PoisonError;
use std::time::Duration;

use super::{Recorder, histogram};

/// A cheap view of a run in progress, for the progress bar and the status lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Arrivals the schedule assigned so far (sent + dropped).
    pub planned: u64,
    pub completed: u64,
    pub expected_errors: u64,
    pub unexpected_errors: u64,
    pub dropped: u64,
    /// Latency from intended time so far, all steps together.
    pub p99: Duration,
    /// How late the generator itself was, p99.
    pub lateness_p99: Duration,
}

impl Progress {
    /// Requests sent and not answered yet (in the closed model: as of the last flush).
    pub fn in_flight(&self) -> u64 {
        self.planned
            .saturating_sub(self.dropped)
            .saturating_sub(self.completed)
    }
}

impl Recorder {
    /// Totals so far, without cloning every step's histograms.
    pub fn progress(&self) -> Progress {
        let mut intended = histogram();
        let mut p = Progress {
            planned: self.planned_counts().iter().sum(),
            ..Progress::default()
        };
        for step in &self.steps {
            let s = step.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = intended.add(&s.intended);
            p.completed += s.completed();
            p.expected_errors += s.expected_errors.values().sum::<u64>();
            p.unexpected_errors += s.unexpected();
            p.dropped += s.dropped;
        }
        p.p99 = Duration::from_micros(intended.value_at_quantile(0.99));
        let lateness = self.lateness.lock().unwrap_or_else(PoisonError::into_inner);
        p.lateness_p99 = Duration::from_micros(lateness.value_at_quantile(0.99));
        p
    }
}
