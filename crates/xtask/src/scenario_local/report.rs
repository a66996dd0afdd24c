//! What a local scenario run reports: per check its value in each phase and whether it held there;
//! a check passes when it held in the fault phase only.

use std::fmt::Write as _;

use super::run::Reading;
use super::spec::Check;

/// One check over the three phases.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: String,
    /// `probe op threshold`.
    pub rule: String,
    /// Healthy, fault, recovery.
    pub values: [Reading; 3],
    pub held: [bool; 3],
}

impl CheckResult {
    pub fn new(check: &Check, values: [Reading; 3]) -> Self {
        let held = [0, 1, 2].map(|i| check.holds(values[i].value));
        Self {
            name: check.name.clone(),
            rule: check.describe(),
            values,
            held,
        }
    }

    /// Held under the fault, and neither before it nor after the revert.
    pub fn passed(&self) -> bool {
        self.held == [false, true, false]
    }
}

/// One scenario's run.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub id: String,
    pub checks: Vec<CheckResult>,
    /// Why the run stopped early (a phase or an action failed).
    pub error: Option<String>,
    pub seconds: f64,
}

impl ScenarioResult {
    pub fn passed(&self) -> bool {
        self.error.is_none() && !self.checks.is_empty() && self.checks.iter().all(|c| c.passed())
    }

    /// The lines `lab scenario --local` prints for this scenario.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let verdict = if self.passed() { "PROVEN" } else { "FAILED" };
        let _ = writeln!(out, "{} {verdict} ({:.1} s)", self.id, self.seconds);
        if let Some(e) = &self.error {
            let _ = writeln!(out, "  error: {e}");
        }
        for c in &self.checks {
            let phase = |i: usize| {
                let v = &c.values[i];
                let held = if c.held[i] { "held" } else { "not held" };
                match &v.error {
                    Some(e) => format!("— ({e})"),
                    None => format!("{:.3} ({held})", v.value),
                }
            };
            let _ = writeln!(
                out,
                "  {} {}: {} | healthy {} | fault {} | recovery {}",
                if c.passed() { "ok  " } else { "FAIL" },
                c.name,
                c.rule,
                phase(0),
                phase(1),
                phase(2)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_passes_only_when_it_holds_in_the_fault_phase_alone() {
        let check: Check = serde_yaml::from_str(
            "{ name: x, probe: { loadgen: { stat: share, class: '503' } }, op: '>', threshold: 0.5 }",
        )
        .unwrap();
        let r = |v: f64| Reading {
            value: v,
            error: None,
        };
        let ok = CheckResult::new(&check, [r(0.0), r(0.9), r(0.1)]);
        assert!(ok.passed());
        // The fault absent (healthy value alike): the check fails, as it must.
        assert!(!CheckResult::new(&check, [r(0.9), r(0.9), r(0.1)]).passed());
        assert!(!CheckResult::new(&check, [r(0.0), r(0.9), r(0.9)]).passed());
        assert!(!CheckResult::new(&check, [r(0.0), r(f64::NAN), r(0.0)]).passed());
        let s = ScenarioResult {
            id: "s".into(),
            checks: vec![ok],
            error: None,
            seconds: 1.0,
        };
        assert!(s.passed());
        assert!(s.render().contains("fault 0.900 (held)"), "{}", s.render());
    }
}
