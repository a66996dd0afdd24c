//! Recording results without storing samples: HDR histograms per step (intended-time latency,
//! service time) plus outcome counts, and the generator's own lateness.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;

mod local;
mod progress;

pub use local::LocalRecorder;
pub use progress::Progress;

/// Histograms cover 1 µs to 60 s at 3 significant digits (loadgen.md); longer values are clamped.
const MAX_MICROS: u64 = 60_000_000;

pub(crate) fn histogram() -> Histogram<u64> {
    // Constant, valid bounds: this cannot fail for any input, so it is an invariant, not an error path.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_MICROS, 3)
        .expect("1 µs..60 s at 3 significant digits is a valid histogram")
}

pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS)
}

/// How one request ended, from the step's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The class, e.g. `http:200`, `http:404`, `grpc:UNAUTHENTICATED`, `io:connect` (borrowed for
    /// the common ones, so the hot path does not allocate a string per request).
    pub class: Cow<'static, str>,
    /// Whether the class counts as success (2xx, gRPC OK) before `expect` is applied.
    pub success: bool,
    /// For a held stream (gRPC `StreamEvents`): what it delivered.
    pub stream: Option<StreamStats>,
}

/// What one held stream delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamStats {
    /// From the start of the call (login, open) to the first message; `None` if none came during
    /// the hold. This — not the hold — is the request's latency.
    pub first: Option<Duration>,
    /// Messages received while the stream was held.
    pub messages: u64,
    /// How long the stream was held open.
    pub held: Duration,
}

/// Everything recorded for one step.
#[derive(Debug, Clone)]
pub struct StepStats {
    /// Completion − intended send time: what a user waits, including queueing in the generator.
    pub intended: Histogram<u64>,
    /// Completion − actual send time: what the server took.
    pub service: Histogram<u64>,
    pub ok: u64,
    /// Successful outcomes by class (e.g. `redis:HIT` vs `redis:MISS`, `http:200` vs `http:201`).
    pub ok_classes: BTreeMap<String, u64>,
    /// Errors the scenario planned for, by class.
    pub expected_errors: BTreeMap<String, u64>,
    /// Everything else that was not `ok`, by class.
    pub unexpected_errors: BTreeMap<String, u64>,
    /// Arrivals not sent because `max_in_flight` requests were already outstanding.
    pub dropped: u64,
    /// The slowest requests (by intended latency) with their trace ids, slowest first.
    pub slowest: Vec<(Duration, String)>,
    /// Held streams: messages received, and total time held (summed over streams).
    pub messages: u64,
    pub stream_time: Duration,
    /// Whether any request of this step was a held stream (so the report shows stream figures).
    pub streams: u64,
}

impl Default for StepStats {
    fn default() -> Self {
        Self {
            intended: histogram(),
            service: histogram(),
            ok: 0,
            ok_classes: BTreeMap::new(),
            expected_errors: BTreeMap::new(),
            unexpected_errors: BTreeMap::new(),
            dropped: 0,
            slowest: Vec::new(),
            messages: 0,
            stream_time: Duration::ZERO,
            streams: 0,
        }
    }
}

/// How many slow trace ids a step keeps.
pub const SLOWEST_KEPT: usize = 5;

impl StepStats {
    pub fn completed(&self) -> u64 {
        self.ok
            + self.expected_errors.values().sum::<u64>()
            + self.unexpected_errors.values().sum::<u64>()
    }

    pub fn unexpected(&self) -> u64 {
        self.unexpected_errors.values().sum()
    }

    pub(crate) fn record(
        &mut self,
        intended: Duration,
        service: Duration,
        outcome: Outcome,
        expect: &[String],
        trace_id: Option<&str>,
    ) {
        let _ = self.intended.record(micros(intended));
        let _ = self.service.record(micros(service));
        if let Some(stream) = outcome.stream {
            self.streams += 1;
            self.messages += stream.messages;
            self.stream_time += stream.held;
        }
        let expected = expect.iter().any(|e| class_matches(e, &outcome.class));
        match (expected, outcome.success) {
            (true, true) => {
                self.ok += 1;
                count(&mut self.ok_classes, outcome.class);
            }
            (true, false) => count(&mut self.expected_errors, outcome.class),
            (false, _) => count(&mut self.unexpected_errors, outcome.class),
        }
        if let Some(trace_id) = trace_id {
            let slow_enough = self.slowest.len() < SLOWEST_KEPT
                || self.slowest.last().is_some_and(|(d, _)| intended > *d);
            if slow_enough {
                self.slowest.push((intended, trace_id.to_owned()));
                self.slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
                self.slowest.truncate(SLOWEST_KEPT);
            }
        }
    }

    /// Back to empty, keeping the histograms' memory (a flush must not allocate 2 × 136 KiB).
    pub fn reset(&mut self) {
        self.intended.reset();
        self.service.reset();
        self.ok = 0;
        self.ok_classes.clear();
        self.expected_errors.clear();
        self.unexpected_errors.clear();
        self.dropped = 0;
        self.slowest.clear();
        self.messages = 0;
        self.stream_time = Duration::ZERO;
        self.streams = 0;
    }

    /// Adds `other` into `self` (for totals).
    pub fn merge(&mut self, other: &StepStats) {
        let _ = self.intended.add(&other.intended);
        let _ = self.service.add(&other.service);
        self.ok += other.ok;
        for (k, v) in &other.ok_classes {
            *self.ok_classes.entry(k.clone()).or_default() += v;
        }
        self.dropped += other.dropped;
        self.messages += other.messages;
        self.stream_time += other.stream_time;
        self.streams += other.streams;
        for (k, v) in &other.expected_errors {
            *self.expected_errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.unexpected_errors {
            *self.unexpected_errors.entry(k.clone()).or_default() += v;
        }
        self.slowest.extend(other.slowest.iter().cloned());
        self.slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
        self.slowest.truncate(SLOWEST_KEPT);
    }
}

/// Counts one `class`, allocating its key only the first time it is seen.
fn count(counts: &mut BTreeMap<String, u64>, class: Cow<'static, str>) {
    match counts.get_mut(class.as_ref()) {
        Some(n) => *n += 1,
        None => {
            counts.insert(class.into_owned(), 1);
        }
    }
}

/// `expect` entries match a class exactly (`http:404`), by family (`http:4xx`), or without the
/// protocol prefix (`404`, `UNAUTHENTICATED`).
pub fn class_matches(expect: &str, class: &str) -> bool {
    let bare = class.split_once(':').map_or(class, |(_, c)| c);
    let pat = expect.split_once(':').map_or(expect, |(_, c)| c);
    if expect.contains(':')
        && class.split_once(':').map(|(p, _)| p) != expect.split_once(':').map(|(p, _)| p)
    {
        return false;
    }
    if let Some(prefix) = pat.strip_suffix("xx") {
        return bare.len() == 3 && bare.starts_with(prefix);
    }
    pat == bare
}

/// Shared recorder: one lock per step, held for a few hundred nanoseconds per completed request.
/// (No channel to a collector task — oha lost ~10 % throughput that way.)
#[derive(Debug)]
pub struct Recorder {
    steps: Vec<Mutex<StepStats>>,
    /// Arrivals assigned to each step (sent + dropped).
    planned: Vec<AtomicU64>,
    lateness: Mutex<Histogram<u64>>,
    /// Latency from intended time per second of the run (all steps), for the latency-over-time plot.
    /// Two significant digits: a long run keeps one small histogram per second, not one per sample.
    timeline: Mutex<Vec<Histogram<u64>>>,
}

impl Recorder {
    pub fn new(steps: usize) -> Self {
        Self {
            steps: (0..steps)
                .map(|_| Mutex::new(StepStats::default()))
                .collect(),
            planned: (0..steps).map(|_| AtomicU64::new(0)).collect(),
            lateness: Mutex::new(histogram()),
            timeline: Mutex::new(Vec::new()),
        }
    }

    pub fn record(
        &self,
        step: usize,
        intended: Duration,
        service: Duration,
        outcome: Outcome,
        expect: &[String],
        trace_id: Option<&str>,
    ) {
        if let Some(s) = self.steps.get(step) {
            s.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(intended, service, outcome, expect, trace_id);
        }
    }

    pub fn dropped(&self, step: usize) {
        if let Some(s) = self.steps.get(step) {
            s.lock().unwrap_or_else(PoisonError::into_inner).dropped += 1;
        }
    }

    /// How late the generator itself sent an arrival (actual − intended send time).
    pub fn lateness(&self, late: Duration) {
        let _ = self
            .lateness
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(micros(late));
    }

    /// Adds a completion `at` this offset from the start of the run to the per-second timeline.
    pub fn timeline(&self, at: Duration, intended: Duration) {
        let mut timeline = self.timeline.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = second_of(&mut timeline, at) {
            let _ = h.record(micros(intended));
        }
    }

    /// Counts an arrival the schedule assigned to `step` (whether it is then sent or dropped).
    pub fn planned(&self, step: usize) {
        if let Some(n) = self.planned.get(step) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Arrivals assigned to each step so far.
    pub fn planned_counts(&self) -> Vec<u64> {
        self.planned
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }

    /// The per-second histograms recorded so far.
    pub fn timeline_snapshot(&self) -> Vec<Histogram<u64>> {
        self.timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn snapshot(&self) -> (Vec<StepStats>, Histogram<u64>) {
        let steps = self
            .steps
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .collect();
        (
            steps,
            self.lateness
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The per-second histogram for offset `at`, created (with any gap before it) on first use.
pub(crate) fn second_of(
    timeline: &mut Vec<Histogram<u64>>,
    at: Duration,
) -> Option<&mut Histogram<u64>> {
    let second = usize::try_from(at.as_secs()).unwrap_or(usize::MAX);
    // Bounded by the run's length (plus drain); a bogus offset cannot allocate without limit.
    if second > 7 * 24 * 3600 {
        return None;
    }
    while timeline.len() <= second {
        timeline.push(second_histogram());
    }
    timeline.get_mut(second)
}

/// Two significant digits: a long run keeps one small histogram per second, not one per sample.
pub(crate) fn second_histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("valid constant bounds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_exactly_by_family_or_without_prefix() {
        assert!(class_matches("http:404", "http:404"));
        assert!(class_matches("404", "http:404"));
        assert!(class_matches("4xx", "http:429"));
        assert!(class_matches("http:2xx", "http:204"));
        assert!(!class_matches("grpc:404", "http:404"));
        assert!(!class_matches("2xx", "http:404"));
        assert!(class_matches("UNAUTHENTICATED", "grpc:UNAUTHENTICATED"));
    }

    #[test]
    fn outcomes_are_split_into_ok_expected_and_unexpected() {
        let r = Recorder::new(1);
        let expect = vec!["2xx".to_owned(), "404".to_owned()];
        let ms = Duration::from_millis;
        r.record(
            0,
            ms(5),
            ms(4),
            Outcome {
                class: "http:200".into(),
                success: true,
                stream: None,
            },
            &expect,
            Some("a"),
        );
        r.record(
            0,
            ms(9),
            ms(1),
            Outcome {
                class: "http:404".into(),
                success: false,
                stream: None,
            },
            &expect,
            Some("b"),
        );
        r.record(
            0,
            ms(7),
            ms(7),
            Outcome {
                class: "http:500".into(),
                success: false,
                stream: None,
            },
            &expect,
            Some("c"),
        );
        r.dropped(0);
        let (steps, _) = r.snapshot();
        let s = &steps[0];
        assert_eq!(
            (s.ok, s.completed(), s.unexpected(), s.dropped),
            (1, 3, 1, 1)
        );
        assert_eq!(s.expected_errors["http:404"], 1);
        assert_eq!(
            s.slowest
                .iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>(),
            ["b", "c", "a"]
        );
    }
}
