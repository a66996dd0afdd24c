//! The readable report of a scenario run: one line per step (what, the value seen, elapsed, ✔/✘),
//! a verdict per scenario and a summary for `--all`. Plain data, rendered as text, so tests compare
//! what a person reads.

use std::fmt::Write as _;
use std::time::Duration;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done, or the assertion held.
    Pass,
    /// A command failed, or (with `--assert`) an assertion did not hold within its bound.
    Fail,
    /// Without `--assert`: the assertion did not hold within its bound — reported, not enforced.
    NotSeen,
    /// Not carried out (an earlier step failed, or Ctrl-C).
    Skipped,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Pass => "✔",
            Status::Fail => "✘",
            Status::NotSeen => "·",
            Status::Skipped => "-",
        }
    }
}

/// One step of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// `inject`, `load`, `signal`, `revert`, `cleanup`, `recovery`.
    pub phase: &'static str,
    pub status: Status,
    /// What was done, or the value seen against the assertion.
    pub detail: String,
    pub elapsed: Duration,
}

/// One scenario's run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: String,
    pub title: String,
    /// Whether waits were enforced (`--assert`).
    pub assert: bool,
    pub lines: Vec<Line>,
    pub interrupted: bool,
    pub elapsed: Duration,
}

impl Report {
    pub fn new(id: &str, title: &str, assert: bool) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            assert,
            lines: Vec::new(),
            interrupted: false,
            elapsed: Duration::ZERO,
        }
    }

    pub fn push(&mut self, phase: &'static str, status: Status, detail: String, elapsed: Duration) {
        self.lines.push(Line {
            phase,
            status,
            detail,
            elapsed,
        });
    }

    /// No step failed and the run was not interrupted.
    pub fn passed(&self) -> bool {
        !self.interrupted && self.lines.iter().all(|l| l.status != Status::Fail)
    }

    pub fn failures(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.status == Status::Fail)
            .count()
    }

    /// The report as a person reads it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mode = if self.assert { "assert" } else { "watch" };
        let _ = writeln!(out, "scenario {} ({mode}): {}", self.id, self.title);
        for l in &self.lines {
            let _ = writeln!(
                out,
                "  {} {:<8} {:>7}  {}",
                l.status.mark(),
                l.phase,
                human(l.elapsed),
                l.detail.replace('\n', " ")
            );
        }
        let verdict = if self.interrupted {
            "INTERRUPTED (Ctrl-C; the revert above ran)".to_owned()
        } else if self.passed() {
            "PASS".to_owned()
        } else {
            format!("FAIL ({} step(s) ✘)", self.failures())
        };
        let _ = writeln!(out, "  result: {verdict} in {}", human(self.elapsed));
        out
    }
}

/// `--all`'s closing table: one line per scenario, then the count.
pub fn summary(reports: &[Report]) -> String {
    let mut out = String::from("summary:\n");
    for r in reports {
        let verdict = if r.interrupted {
            "interrupted"
        } else if r.passed() {
            "pass"
        } else {
            "FAIL"
        };
        let _ = writeln!(out, "  {:<24} {verdict:<11} {:>7}", r.id, human(r.elapsed));
    }
    let passed = reports.iter().filter(|r| r.passed()).count();
    let _ = writeln!(out, "  {passed} of {} passed", reports.len());
    out
}

/// `0.4s`, `35s`, `4m05s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1}s")
    } else if s < 60.0 {
        format!("{s:.0}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_fails_on_any_failed_step_and_says_so() {
        let mut r = Report::new("x", "X", true);
        r.push(
            "inject",
            Status::Pass,
            "did".into(),
            Duration::from_millis(400),
        );
        assert!(r.passed());
        r.push(
            "signal",
            Status::NotSeen,
            "not seen".into(),
            Duration::from_secs(65),
        );
        assert!(r.passed(), "not seen is not a failure");
        r.push(
            "recovery",
            Status::Fail,
            "0.3, not < 0.05".into(),
            Duration::from_secs(240),
        );
        assert!(!r.passed());
        let text = r.render();
        assert!(
            text.contains("  ✘ recovery   4m00s  0.3, not < 0.05"),
            "{text}"
        );
        assert!(text.contains("  · signal     1m05s"), "{text}");
        assert!(text.contains("result: FAIL (1 step(s) ✘)"), "{text}");
        assert!(summary(&[r]).contains("0 of 1 passed"));
        assert_eq!(human(Duration::from_millis(400)), "0.4s");
        assert_eq!(human(Duration::from_secs(35)), "35s");
    }
}
