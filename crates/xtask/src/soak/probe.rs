//! `lab soak --probe-rates 100,200,…`: what rate the local lab sustains on this machine — the
//! `mixed` profile for 30 s at each peak rate against one lab, judged from loadgen's own report.
//! The soak then runs at half the highest sustained rate (issue: "half of the rate the lab sustains").

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

/// One probe run, from loadgen's `total` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRow {
    pub rate: f64,
    pub planned: u64,
    pub completed: u64,
    pub unexpected: u64,
    pub dropped: u64,
    pub achieved_rate: f64,
    pub planned_rate: f64,
    pub p99_intended_ms: f64,
}

impl ProbeRow {
    /// Sustained: nothing dropped, nothing failed that was not planned to, ≥ 98 % of the planned
    /// rate achieved, and p99 from intended time under a second (queueing has not run away).
    pub fn sustained(&self) -> bool {
        self.unexpected == 0
            && self.dropped == 0
            && self.achieved_rate >= 0.98 * self.planned_rate
            && self.p99_intended_ms < 1000.0
    }

    /// Reads the row from a loadgen JSON report.
    pub fn from_report(rate: f64, report: &Value) -> anyhow::Result<Self> {
        let total = report.get("total").context("no total in the report")?;
        let n = |k: &str| total[k].as_u64().unwrap_or(0);
        let f = |v: &Value| v.as_f64().unwrap_or(0.0);
        Ok(Self {
            rate,
            planned: n("planned"),
            completed: n("completed"),
            unexpected: total["unexpected_errors"]
                .as_object()
                .map_or(0, |m| m.values().filter_map(Value::as_u64).sum()),
            dropped: n("dropped"),
            achieved_rate: f(&total["achieved_rate"]),
            planned_rate: f(&total["planned_rate"]),
            p99_intended_ms: f(&total["latency_from_intended_ms"]["p99"]),
        })
    }
}

/// Runs every rate in turn against one lab; stops at the first rate the lab does not sustain (a
/// higher one would only dig the hole deeper).
pub async fn run(
    bin_dir: &Path,
    state_dir: &Path,
    rates: &[f64],
    each: Duration,
) -> anyhow::Result<Vec<ProbeRow>> {
    let lab = super::start_lab(bin_dir, state_dir).await?;
    let mut rows = Vec::new();
    for &rate in rates {
        let report = state_dir.join(format!("probe-{rate}.json"));
        let log = state_dir.join(format!("probe-{rate}.log"));
        let mut child = crate::mixed::spawn_loadgen(&lab, bin_dir, rate, each, &report, &log)?;
        let status = match tokio::time::timeout(each + Duration::from_secs(60), child.wait()).await
        {
            Ok(status) => status?,
            Err(_) => {
                let _ = child.kill().await;
                bail!("loadgen at {rate}/s did not finish within its duration + 60 s");
            }
        };
        let json: Value = serde_json::from_slice(
            &std::fs::read(&report).with_context(|| format!("no report at {rate}/s ({status})"))?,
        )?;
        let row = ProbeRow::from_report(rate, &json)?;
        let stop = !row.sustained();
        rows.push(row);
        if stop {
            break;
        }
    }
    lab.stop(Duration::from_secs(15));
    Ok(rows)
}

/// The probe table, ending with the highest sustained rate and the soak rate it implies.
pub fn table(rows: &[ProbeRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>8} {:>9} {:>9} {:>14} {:>7} {:>8} {:>12}  sustained",
        "rate", "planned", "done", "achieved/s", "unexp", "dropped", "p99 int. ms"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:>8} {:>9} {:>9} {:>6.1}/{:<7.1} {:>7} {:>8} {:>12.1}  {}",
            r.rate,
            r.planned,
            r.completed,
            r.achieved_rate,
            r.planned_rate,
            r.unexpected,
            r.dropped,
            r.p99_intended_ms,
            if r.sustained() { "yes" } else { "no" }
        );
    }
    match rows
        .iter()
        .filter(|r| r.sustained())
        .map(|r| r.rate)
        .reduce(f64::max)
    {
        Some(best) => {
            let _ = writeln!(
                out,
                "highest sustained: {best}/s → soak at {}/s",
                best / 2.0
            );
        }
        None => {
            let _ = writeln!(out, "no rate was sustained");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(unexpected: u64, dropped: u64, achieved: f64, p99: f64) -> Value {
        serde_json::json!({ "total": {
            "planned": 3000, "completed": 2990, "dropped": dropped,
            "unexpected_errors": { "io:timeout": unexpected },
            "planned_rate": 100.0, "achieved_rate": achieved,
            "latency_from_intended_ms": { "p99": p99 }
        }})
    }

    #[test]
    fn a_clean_run_at_the_planned_rate_is_sustained() {
        let row = ProbeRow::from_report(100.0, &report(0, 0, 99.5, 40.0)).unwrap();
        assert!(row.sustained(), "{row:?}");
        assert_eq!(row.planned, 3000);
    }

    #[test]
    fn errors_drops_shortfall_or_runaway_queueing_are_not_sustained() {
        for r in [
            report(1, 0, 99.5, 40.0),
            report(0, 3, 99.5, 40.0),
            report(0, 0, 90.0, 40.0),
            report(0, 0, 99.5, 2500.0),
        ] {
            assert!(
                !ProbeRow::from_report(100.0, &r).unwrap().sustained(),
                "{r}"
            );
        }
    }

    #[test]
    fn the_table_names_the_highest_sustained_rate_and_half_of_it() {
        let rows = [
            ProbeRow::from_report(100.0, &report(0, 0, 99.5, 40.0)).unwrap(),
            ProbeRow::from_report(200.0, &report(0, 0, 99.5, 40.0)).unwrap(),
            ProbeRow::from_report(400.0, &report(5, 0, 99.5, 40.0)).unwrap(),
        ];
        assert!(
            table(&rows).contains("highest sustained: 200/s → soak at 100/s"),
            "{}",
            table(&rows)
        );
    }
}
