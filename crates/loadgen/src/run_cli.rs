//! Running a prepared plan for a person or a pod: a progress bar when stderr is a terminal, a plain
//! status line every few seconds otherwise (Kubernetes logs stay readable), then the report.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cli::Prepared;
use crate::driver::Drivers;
use crate::report::Report;
use crate::runner::{self, Mode};
use crate::stats::{Progress, Recorder};

/// How often the bar is redrawn.
const BAR_EVERY: Duration = Duration::from_millis(200);

/// How progress is shown while the run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// A progress bar on stderr, redrawn in place.
    Bar,
    /// A `progress` log line every few seconds (pods, CI, pipes).
    Lines,
}

impl Live {
    /// A bar when stderr is a terminal, lines otherwise.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            Live::Bar
        } else {
            Live::Lines
        }
    }
}

/// The achieved rate over the last second or so (a cumulative average would hide a ramp or a spike).
struct RateMeter {
    at: Instant,
    completed: u64,
    rate: f64,
}

impl RateMeter {
    fn new(now: Instant) -> Self {
        Self {
            at: now,
            completed: 0,
            rate: 0.0,
        }
    }

    fn update(&mut self, now: Instant, completed: u64, window: Duration) -> f64 {
        let dt = now.saturating_duration_since(self.at);
        if dt >= window {
            #[allow(clippy::cast_precision_loss)]
            let delta = completed.saturating_sub(self.completed) as f64;
            self.rate = delta / dt.as_secs_f64();
            (self.at, self.completed) = (now, completed);
        }
        self.rate
    }
}

/// The bar's message: elapsed/total, achieved rate, in flight, errors, dropped, p99 so far.
pub fn status(p: &Progress, elapsed: Duration, total: Duration, rate: f64) -> String {
    format!(
        "{:.0}/{:.0} s · {rate:.0} req/s · in flight {} · errors {} (+{} expected) · dropped {} · p99 {:.2} ms",
        elapsed.as_secs_f64().min(total.as_secs_f64()),
        total.as_secs_f64(),
        p.in_flight(),
        p.unexpected_errors,
        p.expected_errors,
        p.dropped,
        p.p99.as_secs_f64() * 1000.0,
    )
}

pub async fn run(
    prepared: &Prepared,
    drivers: &Drivers,
    cancel: Arc<CancellationToken>,
    live: Live,
) -> anyhow::Result<Report> {
    let plan = &prepared.plan;
    let recorder = Arc::new(Recorder::new(plan.steps.len()));
    let total = plan.schedule.duration();
    let planned = plan.schedule.expected_arrivals();
    tracing::info!(scenario = %prepared.name, duration = ?total, planned = planned.round(), "starting");
    let start = Instant::now();
    let bar = match live {
        Live::Bar => Some(bar(total)),
        Live::Lines => None,
    };
    let ticker = {
        let (recorder, bar) = (Arc::clone(&recorder), bar.clone());
        let prepared_every = prepared.progress_every.max(Duration::from_millis(100));
        tokio::spawn(async move {
            let every = match bar {
                Some(_) => BAR_EVERY,
                None => prepared_every,
            };
            let mut meter = RateMeter::new(start);
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let p = recorder.progress();
                let now = Instant::now();
                let elapsed = now - start;
                let rate = meter.update(now, p.completed, every.max(Duration::from_secs(1)));
                match &bar {
                    Some(bar) => {
                        bar.set_position(millis(elapsed.min(total)));
                        bar.set_message(status(&p, elapsed, total, rate));
                    }
                    None => tracing::info!(
                        elapsed_s = round(elapsed.as_secs_f64(), 1),
                        completed = p.completed,
                        rate = rate.round(),
                        in_flight = p.in_flight(),
                        unexpected = p.unexpected_errors,
                        expected = p.expected_errors,
                        dropped = p.dropped,
                        p99_ms = round(p.p99.as_secs_f64() * 1000.0, 3),
                        generator_late_p99_ms = round(p.lateness_p99.as_secs_f64() * 1000.0, 3),
                        "progress"
                    ),
                }
            }
        })
    };
    let result = runner::run_with(plan, drivers, recorder, &cancel).await;
    ticker.abort();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let model = match plan.mode {
        Mode::Open { .. } => "open",
        Mode::Closed { .. } => "closed (max throughput)",
    };
    Ok(Report::new(
        &prepared.name,
        model,
        plan.seed,
        &plan.steps,
        &result,
        &prepared.thresholds,
    ))
}

/// `x` to `digits` decimals, so log lines read `1.715`, not `1.7149999999999999`.
fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A bar over the schedule's duration on stderr (indicatif draws nothing when that is not a
/// terminal, so a bar can never end up in a log file).
fn bar(total: Duration) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(millis(total)), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:30}] {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_shows_elapsed_rate_in_flight_errors_and_p99() {
        let p = Progress {
            planned: 1_010,
            completed: 1_000,
            expected_errors: 12,
            unexpected_errors: 3,
            dropped: 2,
            p99: Duration::from_micros(1_234),
            lateness_p99: Duration::ZERO,
        };
        let s = status(&p, Duration::from_secs(12), Duration::from_secs(30), 499.6);
        assert_eq!(
            s,
            "12/30 s · 500 req/s · in flight 8 · errors 3 (+12 expected) · dropped 2 · p99 1.23 ms"
        );
        // Past the end (draining), elapsed stops at the total.
        assert!(
            status(&p, Duration::from_secs(31), Duration::from_secs(30), 0.0)
                .starts_with("30/30 s")
        );
    }

    #[test]
    fn the_rate_is_over_the_last_window() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(t0);
        assert_eq!(
            m.update(t0 + Duration::from_millis(500), 400, Duration::from_secs(1)),
            0.0
        );
        let r = m.update(t0 + Duration::from_secs(2), 1_000, Duration::from_secs(1));
        assert!((r - 500.0).abs() < 1e-9, "{r}");
        // A spike: the next window reports its own rate, not the average since the start.
        let r = m.update(t0 + Duration::from_secs(3), 4_000, Duration::from_secs(1));
        assert!((r - 3_000.0).abs() < 1e-9, "{r}");
    }
}
