//! Running a prepared plan for a person or a pod: a status line every few seconds on stderr (plain
//! lines, so Kubernetes logs stay readable), then the report.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::Prepared;
use crate::driver::Drivers;
use crate::report::Report;
use crate::runner::{self, Mode};
use crate::stats::{Recorder, StepStats};

/// How often the status line is printed.
const EVERY: Duration = Duration::from_secs(5);

pub async fn run(
    prepared: &Prepared,
    drivers: &Drivers,
    cancel: Arc<CancellationToken>,
) -> anyhow::Result<Report> {
    let plan = &prepared.plan;
    let recorder = Arc::new(Recorder::new(plan.steps.len()));
    let planned = plan.schedule.expected_arrivals();
    tracing::info!(scenario = %prepared.name, duration = ?plan.schedule.duration(), planned = planned.round(), "starting");
    let ticker = {
        let recorder = Arc::clone(&recorder);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let (steps, lateness) = recorder.snapshot();
                let mut total = StepStats::default();
                steps.iter().for_each(|s| total.merge(s));
                #[allow(clippy::cast_precision_loss)]
                let p99 = total.intended.value_at_quantile(0.99) as f64 / 1000.0;
                tracing::info!(
                    completed = total.completed(),
                    unexpected = total.unexpected(),
                    dropped = total.dropped,
                    p99_ms = p99,
                    generator_late_p99_ms = lateness.value_at_quantile(0.99) as f64 / 1000.0,
                    "progress"
                );
            }
        })
    };
    let result = runner::run_with(plan, drivers, recorder, &cancel).await;
    ticker.abort();
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
