//! Completeness: OBI's count of each step's requests over the run's window ÷ the requests loadgen
//! completed (its JSON report), so "100 % trace collection" is a measured figure per route, method
//! and operation. OBI's count is the raw increase of a `_count` series between two instants
//! (`x @ end − x @ start`, a series born inside the window counting from 0) — exact, where
//! `increase()` would extrapolate.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context;
use serde::Deserialize;

use super::steps::Mapped;
use crate::prom;

/// The part of loadgen's JSON report (crates/loadgen/src/report.rs, `--out`) completeness reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub elapsed_s: f64,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StepReport {
    pub name: String,
    pub completed: u64,
    #[serde(default)]
    pub unexpected_errors: BTreeMap<String, u64>,
}

impl Report {
    pub fn parse(json: &str) -> anyhow::Result<Report> {
        serde_json::from_str(json).context("not a loadgen JSON report")
    }
}

impl StepReport {
    /// Requests that reached a server: completed minus those that never left loadgen (no connection,
    /// an unusable URL). A timeout or a closed connection may have been served, so they count.
    pub fn sent(&self) -> u64 {
        let unsent: u64 = ["io:connect", "io:url"]
            .iter()
            .filter_map(|c| self.unexpected_errors.get(*c))
            .sum();
        self.completed.saturating_sub(unsent)
    }
}

/// The run's window, Unix seconds: `start` before the first request, `end` after OBI's last export
/// was scraped.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: f64,
    pub end: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Not 1:1 by construction (the reason): shown, never a failure.
    Info(String),
}

#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    pub steps: Vec<String>,
    pub loadgen: u64,
    pub obi: f64,
    pub ratio: Option<f64>,
    pub verdict: Verdict,
}

/// One counter and what loadgen sent to it.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub selector: String,
    pub label: String,
    pub steps: Vec<String>,
    /// Requests × per-arrival operations.
    pub loadgen: u64,
    pub caveat: Option<String>,
}

/// Steps grouped by counter: several steps on one route add up.
pub fn groups(report: &Report, mapped: &[Mapped]) -> anyhow::Result<Vec<Group>> {
    let mut by_selector: BTreeMap<String, Group> = BTreeMap::new();
    for m in mapped {
        let step = report
            .steps
            .iter()
            .find(|s| s.name == m.step)
            .with_context(|| format!("the report has no step {:?}", m.step))?;
        let g = by_selector
            .entry(m.counter.selector.clone())
            .or_insert_with(|| Group {
                selector: m.counter.selector.clone(),
                label: m.counter.label.clone(),
                ..Group::default()
            });
        g.steps.push(m.step.clone());
        g.loadgen += step.sent() * m.counter.per_arrival;
        // One step that is not 1:1 (an N+1) makes the whole counter not 1:1.
        if g.caveat.is_none() {
            g.caveat.clone_from(&m.counter.caveat);
        }
    }
    Ok(by_selector.into_values().collect())
}

/// OBI's count of `selector` between the window's instants.
pub async fn obi_count(prometheus: &str, selector: &str, w: Window) -> anyhow::Result<f64> {
    let promql = format!(
        "sum({selector} @ {end}) - (sum({selector} @ {start}) or vector(0))",
        end = w.end,
        start = w.start
    );
    Ok(prom::query_value(prometheus, &promql).await?.unwrap_or(0.0))
}

/// Every row's figures; `tolerance` is the accepted |ratio − 1| (0.01 = within 1 %).
pub async fn check(
    prometheus: &str,
    report: &Report,
    mapped: &[Mapped],
    window: Window,
    tolerance: f64,
) -> anyhow::Result<Vec<Row>> {
    let mut out = Vec::new();
    for g in groups(report, mapped)? {
        let Group {
            selector,
            label,
            steps,
            loadgen,
            caveat,
        } = g;
        let obi = obi_count(prometheus, &selector, window).await?;
        #[allow(clippy::cast_precision_loss)]
        let ratio = (loadgen > 0).then(|| obi / loadgen as f64);
        let verdict = match (&caveat, ratio) {
            (Some(reason), _) => Verdict::Info(reason.clone()),
            (None, Some(r)) if (r - 1.0).abs() <= tolerance => Verdict::Pass,
            (None, None) if obi == 0.0 => Verdict::Info("no requests in the run".into()),
            _ => Verdict::Fail,
        };
        out.push(Row {
            label,
            steps,
            loadgen,
            obi,
            ratio,
            verdict,
        });
    }
    Ok(out)
}

pub fn passed(rows: &[Row]) -> bool {
    rows.iter().all(|r| r.verdict != Verdict::Fail)
}

/// The table: `catalog GET /products/{id}: 99.6 %` with both counts and the steps behind it.
pub fn render(rows: &[Row], report: &Report, window: Window) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "completeness: OBI's count over the run ÷ loadgen's requests (scenario {}, {:.0} s; window {:.0} → {:.0})",
        report.scenario, report.elapsed_s, window.start, window.end
    );
    let _ = writeln!(
        out,
        "  {:<2} {:<52} {:>9} {:>9} {:>8}  steps",
        "", "counter", "loadgen", "OBI", "ratio"
    );
    for r in rows {
        let mark = match r.verdict {
            Verdict::Pass => "✔",
            Verdict::Fail => "✘",
            Verdict::Info(_) => "·",
        };
        let ratio = r
            .ratio
            .map_or_else(|| "—".to_owned(), |x| format!("{:.1} %", x * 100.0));
        let _ = writeln!(
            out,
            "  {mark:<2} {:<52} {:>9} {:>9.0} {:>8}  {}",
            r.label,
            r.loadgen,
            r.obi,
            ratio,
            r.steps.join(", ")
        );
        if let Verdict::Info(reason) = &r.verdict {
            let _ = writeln!(out, "       (not a pass/fail figure: {reason})");
        }
    }
    out
}
