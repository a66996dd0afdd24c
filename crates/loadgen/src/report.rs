//! The end-of-run report: a per-step table for people, the same numbers as JSON for machines
//! (with the HDR histograms serialised so runs can be compared), and threshold checks.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use serde::Serialize;

use crate::runner::{RunResult, Step};
use crate::stats::StepStats;
use crate::threshold::Threshold;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let ms = |v: u64| v as f64 / 1000.0;
        if h.is_empty() {
            return Self {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
            };
        }
        Self {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// One step's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub name: String,
    /// Arrivals the schedule assigned to this step.
    pub planned: u64,
    pub completed: u64,
    pub ok: u64,
    /// Successful outcomes by class.
    pub ok_classes: std::collections::BTreeMap<String, u64>,
    pub expected_errors: std::collections::BTreeMap<String, u64>,
    pub unexpected_errors: std::collections::BTreeMap<String, u64>,
    pub dropped: u64,
    /// Planned and achieved rates over the run, per second.
    pub planned_rate: f64,
    pub achieved_rate: f64,
    /// Completion − intended send time (the headline: what a user waits).
    pub latency_from_intended_ms: Percentiles,
    /// Completion − actual send time (service time).
    pub latency_from_send_ms: Percentiles,
    /// Trace ids of the slowest requests, slowest first, with their latency from intended time.
    pub slowest: Vec<SlowTrace>,
    /// HDR histograms (V2 + deflate, base64) in microseconds, for comparing runs.
    pub histogram_intended: String,
    pub histogram_send: String,
    /// Only for steps that hold streams (gRPC `stream`): what the streams delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamReport>,
}

/// Messages received on a step's held streams.
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    /// Streams opened and held.
    pub streams: u64,
    /// Messages received on all of them.
    pub messages: u64,
    /// Messages ÷ the run's elapsed time: the delivery rate of all the step's streams together.
    pub messages_per_s: f64,
    /// Messages ÷ the total time the streams were held: what one subscriber receives per second.
    pub messages_per_stream_s: f64,
    /// Total time the streams were held, summed over streams.
    pub held_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowTrace {
    pub trace_id: String,
    pub latency_ms: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    /// `open` (arrivals on a schedule) or `closed` (max throughput: N workers back to back).
    pub model: String,
    pub seed: u64,
    pub elapsed_s: f64,
    pub steps: Vec<StepReport>,
    pub total: StepReport,
    /// How late the generator itself sent arrivals: high values mean the *generator* was overloaded,
    /// not the server.
    pub generator_lateness_ms: Percentiles,
    /// Requests still running when the drain period ended.
    pub abandoned: u64,
    pub thresholds: Vec<ThresholdResult>,
    /// Latency from intended time per second of the run, all steps together.
    pub timeline: Vec<TimelinePoint>,
    /// The percentile curve of the totals: what fraction of requests waited how long.
    pub percentile_curve: Vec<CurvePoint>,
}

/// One second of the run.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    pub second: u64,
    pub completed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One point of the percentile curve.
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    pub percentile: f64,
    pub intended_ms: f64,
    pub send_ms: f64,
}

/// Percentiles drawn on the curve (more points where the tail is).
const CURVE: [f64; 10] = [
    50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0,
];

#[allow(clippy::cast_precision_loss)]
fn ms(v: u64) -> f64 {
    v as f64 / 1000.0
}

#[derive(Debug, Clone, Serialize)]
pub struct ThresholdResult {
    pub threshold: String,
    pub actual: String,
    pub passed: bool,
}

fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(buf),
        Err(_) => String::new(),
    }
}

fn step_report(name: &str, s: &StepStats, planned: u64, elapsed: Duration) -> StepReport {
    let secs = elapsed.as_secs_f64().max(1e-9);
    #[allow(clippy::cast_precision_loss)]
    let (planned_rate, achieved_rate) = (planned as f64 / secs, s.completed() as f64 / secs);
    StepReport {
        name: name.to_owned(),
        planned,
        completed: s.completed(),
        ok: s.ok,
        ok_classes: s.ok_classes.clone(),
        expected_errors: s.expected_errors.clone(),
        unexpected_errors: s.unexpected_errors.clone(),
        dropped: s.dropped,
        planned_rate,
        achieved_rate,
        latency_from_intended_ms: Percentiles::of(&s.intended),
        latency_from_send_ms: Percentiles::of(&s.service),
        slowest: s
            .slowest
            .iter()
            .map(|(d, t)| SlowTrace {
                trace_id: t.clone(),
                latency_ms: d.as_secs_f64() * 1000.0,
            })
            .collect(),
        histogram_intended: encode(&s.intended),
        histogram_send: encode(&s.service),
        stream: (s.streams > 0).then(|| {
            let held = s.stream_time.as_secs_f64();
            #[allow(clippy::cast_precision_loss)]
            let messages = s.messages as f64;
            StreamReport {
                streams: s.streams,
                messages: s.messages,
                messages_per_s: messages / secs,
                messages_per_stream_s: if held > 0.0 { messages / held } else { 0.0 },
                held_s: held,
            }
        }),
    }
}

impl Report {
    pub fn new(
        scenario: &str,
        model: &str,
        seed: u64,
        steps: &[Step],
        result: &RunResult,
        thresholds: &[Threshold],
    ) -> Self {
        let mut total = StepStats::default();
        for s in &result.steps {
            total.merge(s);
        }
        let reports = steps
            .iter()
            .zip(&result.steps)
            .zip(&result.planned)
            .map(|((step, stats), planned)| {
                step_report(&step.name, stats, *planned, result.elapsed)
            })
            .collect();
        let percentile_curve = CURVE
            .iter()
            .map(|p| CurvePoint {
                percentile: *p,
                intended_ms: ms(total.intended.value_at_percentile(*p)),
                send_ms: ms(total.service.value_at_percentile(*p)),
            })
            .collect();
        let timeline = result
            .timeline
            .iter()
            .enumerate()
            .map(|(second, h)| TimelinePoint {
                second: second as u64,
                completed: h.len(),
                p50_ms: ms(h.value_at_quantile(0.5)),
                p99_ms: ms(h.value_at_quantile(0.99)),
                max_ms: ms(h.max()),
            })
            .collect();
        let total = step_report("total", &total, result.planned.iter().sum(), result.elapsed);
        let mut report = Report {
            scenario: scenario.to_owned(),
            model: model.to_owned(),
            seed,
            elapsed_s: result.elapsed.as_secs_f64(),
            steps: reports,
            total,
            generator_lateness_ms: Percentiles::of(&result.lateness),
            abandoned: result.abandoned,
            thresholds: Vec::new(),
            timeline,
            percentile_curve,
        };
        report.thresholds = thresholds.iter().map(|t| t.check(&report.total)).collect();
        report
    }

    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|t| t.passed)
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scenario {} ({} model, seed {}), {:.1} s",
            self.scenario, self.model, self.seed, self.elapsed_s
        );
        let _ = writeln!(
            out,
            "{:<26} {:>8} {:>8} {:>7} {:>7} {:>7} {:>15} | {:>8} {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8}",
            "step",
            "planned",
            "ok",
            "exp.err",
            "unexp",
            "dropped",
            "rate plan/done",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "send p50",
            "send p99"
        );
        let _ = writeln!(
            out,
            "{:<26} {:>63} | {:^48} | {:^17}",
            "", "", "latency from intended time (ms)", "from send (ms)"
        );
        for s in self.steps.iter().chain(std::iter::once(&self.total)) {
            let (l, v) = (&s.latency_from_intended_ms, &s.latency_from_send_ms);
            let _ = writeln!(
                out,
                "{:<26} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7.1}/{:<7.1} | {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} | {:>8.2} {:>8.2}",
                truncate(&s.name, 26),
                s.planned,
                s.ok,
                s.expected_errors.values().sum::<u64>(),
                s.unexpected_errors.values().sum::<u64>(),
                s.dropped,
                s.planned_rate,
                s.achieved_rate,
                l.p50,
                l.p90,
                l.p99,
                l.p999,
                l.max,
                v.p50,
                v.p99
            );
        }
        for s in &self.steps {
            for (kind, errors) in [
                ("expected", &s.expected_errors),
                ("UNEXPECTED", &s.unexpected_errors),
            ] {
                for (class, n) in errors {
                    let _ = writeln!(out, "  {}: {kind} {class} × {n}", s.name);
                }
            }
            if let Some(st) = &s.stream {
                let _ = writeln!(
                    out,
                    "  {}: {} messages on {} held streams, {:.1}/s ({:.1}/s per stream)",
                    s.name, st.messages, st.streams, st.messages_per_s, st.messages_per_stream_s
                );
            }
            if let Some(slow) = s.slowest.first() {
                let _ = writeln!(
                    out,
                    "  {}: slowest trace {} ({:.1} ms)",
                    s.name, slow.trace_id, slow.latency_ms
                );
            }
        }
        let g = &self.generator_lateness_ms;
        let _ = writeln!(
            out,
            "generator lateness: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; abandoned {}",
            g.p50, g.p99, g.max, self.abandoned
        );
        for t in &self.thresholds {
            let _ = writeln!(
                out,
                "threshold {:<30} {:<12} {}",
                t.threshold,
                t.actual,
                if t.passed { "ok" } else { "BREACHED" }
            );
        }
        out
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
