//! Scenario thresholds (`p99 < 250ms`, `unexpected_errors < 1%`), parsed when the scenario is read.
//!
//! Why parse up front: a threshold is only evaluated after the run, so a typo (`p95`, `250 ms`,
//! `=<`) used to surface as a failed threshold after ten minutes of load. Parsed at load time, it is
//! an error at start-up (exit 1) naming the threshold and what would have been valid — before a
//! single request is sent.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::report::{StepReport, ThresholdResult};

/// The latency metrics (from intended time, all steps together) and the rates a threshold may name.
const METRICS: &str = "p50, p90, p99, p99.9, max (a duration such as 250ms), \
                       unexpected_errors, dropped (a percentage such as 1%)";

/// One `METRIC OP VALUE` condition on the run's totals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct Threshold {
    /// As written, for the report.
    text: String,
    metric: Metric,
    op: Op,
    /// Milliseconds for latencies, percent for rates.
    limit: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    P50,
    P90,
    P99,
    P999,
    Max,
    /// Percent of completed requests.
    UnexpectedErrors,
    /// Percent of planned arrivals.
    Dropped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = |why: String| format!("threshold {text:?}: {why}");
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [metric, op, value] = parts[..] else {
            return Err(invalid(format!(
                "expected `METRIC < VALUE` or `METRIC <= VALUE` (three words); metrics: {METRICS}"
            )));
        };
        let metric = match metric {
            "p50" => Metric::P50,
            "p90" => Metric::P90,
            "p99" => Metric::P99,
            "p99.9" => Metric::P999,
            "max" => Metric::Max,
            "unexpected_errors" => Metric::UnexpectedErrors,
            "dropped" => Metric::Dropped,
            other => {
                return Err(invalid(format!(
                    "unknown metric {other:?}; known: {METRICS}"
                )));
            }
        };
        let op = match op {
            "<" => Op::Lt,
            "<=" => Op::Le,
            other => return Err(invalid(format!("unknown operator {other:?}; use < or <="))),
        };
        let limit = match metric {
            Metric::UnexpectedErrors | Metric::Dropped => value
                .strip_suffix('%')
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| invalid(format!("{value:?} is not a percentage such as 1%")))?,
            _ => {
                humantime::parse_duration(value)
                    .map_err(|e| {
                        invalid(format!("{value:?} is not a duration such as 250ms ({e})"))
                    })?
                    .as_secs_f64()
                    * 1000.0
            }
        };
        Ok(Self {
            text: text.to_owned(),
            metric,
            op,
            limit,
        })
    }
}

impl TryFrom<String> for Threshold {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Threshold {
    /// Evaluates the threshold on the run's totals.
    pub fn check(&self, total: &StepReport) -> ThresholdResult {
        let l = &total.latency_from_intended_ms;
        #[allow(clippy::cast_precision_loss)]
        let pct = |n: u64, of: u64| {
            if of == 0 {
                0.0
            } else {
                100.0 * n as f64 / of as f64
            }
        };
        let (actual, unit) = match self.metric {
            Metric::P50 => (l.p50, "ms"),
            Metric::P90 => (l.p90, "ms"),
            Metric::P99 => (l.p99, "ms"),
            Metric::P999 => (l.p999, "ms"),
            Metric::Max => (l.max, "ms"),
            Metric::UnexpectedErrors => (
                pct(total.unexpected_errors.values().sum(), total.completed),
                "%",
            ),
            Metric::Dropped => (pct(total.dropped, total.planned), "%"),
        };
        let passed = match self.op {
            Op::Lt => actual < self.limit,
            Op::Le => actual <= self.limit,
        };
        ThresholdResult {
            threshold: self.text.clone(),
            actual: format!("{actual:.2}{unit}"),
            passed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_thresholds_parse_with_their_limits() {
        let t: Threshold = "p99.9 <= 1.5s".parse().unwrap();
        assert_eq!((t.metric, t.op, t.limit), (Metric::P999, Op::Le, 1500.0));
        let t: Threshold = "unexpected_errors < 0.5%".parse().unwrap();
        assert_eq!(
            (t.metric, t.op, t.limit),
            (Metric::UnexpectedErrors, Op::Lt, 0.5)
        );
        assert_eq!(t.to_string(), "unexpected_errors < 0.5%");
    }

    #[test]
    fn every_kind_of_typo_is_an_error_that_says_what_is_valid() {
        for (text, says) in [
            (
                "p95 < 250ms",
                "unknown metric \"p95\"; known: p50, p90, p99",
            ),
            ("p99 =< 250ms", "unknown operator \"=<\"; use < or <="),
            ("p99 < 250 ms", "expected `METRIC < VALUE`"),
            ("p99 < 25Oms", "\"25Oms\" is not a duration such as 250ms"),
            ("dropped < 1", "\"1\" is not a percentage such as 1%"),
            ("unexpected_errors < -1%", "is not a percentage"),
            ("", "expected `METRIC < VALUE`"),
        ] {
            let err = text.parse::<Threshold>().unwrap_err();
            assert!(err.starts_with(&format!("threshold {text:?}: ")), "{err}");
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
