//! The run `lab scenario ID` makes on the kind lab, as data: inject → wait for the signal (bounded)
//! → assert → revert → wait for recovery → assert. `--dry-run` prints it; [`super::run`] carries it
//! out on the kind lab (the kubectl operations behind each line are in `run::ops`).

use std::fmt::Write as _;

use super::model::Scenario;

/// One step of a scenario's run.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A change to the lab or a loadgen run (one readable/runnable line).
    Inject(String),
    /// Poll Prometheus every 5 s until the assertion holds, for at most `seconds`.
    WaitFor {
        what: &'static str,
        assertion: String,
        seconds: u64,
    },
    Revert(String),
}

/// The steps of `s`'s run, in order. With `assert` false the waits are reported, not enforced.
/// The load comes first: the fault must meet live traffic (see `ops::Ops::load`).
pub fn steps(s: &Scenario) -> Vec<Step> {
    let lines = s.trigger_lines();
    let (actions, load) = lines.split_at(s.trigger.actions.len().min(lines.len()));
    let mut out: Vec<Step> = load
        .iter()
        .chain(actions)
        .cloned()
        .map(Step::Inject)
        .collect();
    out.push(Step::WaitFor {
        what: "signal",
        assertion: s.signal.describe(),
        seconds: s.signal.within_seconds().unwrap_or(0),
    });
    out.extend(s.revert.iter().map(|a| Step::Revert(a.describe())));
    out.push(Step::WaitFor {
        what: "recovery",
        assertion: s.recovery.describe(),
        seconds: s.recovery.within_seconds().unwrap_or(0),
    });
    out
}

/// The plan as text: what, where to look, and each step numbered.
pub fn render(s: &Scenario, assert: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario {} ({:?}): {}", s.id, s.protocol, s.title);
    let _ = writeln!(
        out,
        "  look at: dashboard {} → panel {:?}",
        s.panel.dashboard, s.panel.title
    );
    if let Some(t) = &s.signal.traceql {
        let _ = writeln!(out, "  traces (Tempo): {t}");
    }
    for (i, step) in steps(s).iter().enumerate() {
        let n = i + 1;
        let _ = match step {
            Step::Inject(line) => writeln!(out, "  {n}. inject: {line}"),
            Step::Revert(line) => writeln!(out, "  {n}. revert: {line}"),
            Step::WaitFor {
                what,
                assertion,
                seconds,
            } => {
                let verb = if assert { "assert" } else { "watch" };
                writeln!(
                    out,
                    "  {n}. wait ≤ {seconds}s, then {verb} {what}: {}",
                    assertion.replace('\n', " ")
                )
            }
        };
    }
    if s.revert.is_empty() {
        let _ = writeln!(out, "  (nothing to revert: the fault ends by itself)");
    }
    let _ = writeln!(
        out,
        "  then: stop the load (its Job is deleted — also after a failure or Ctrl-C, like the revert)"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::find;

    #[test]
    fn a_plan_injects_waits_reverts_and_waits_again() {
        let s = find("sql-postgres-outage").unwrap();
        let steps = steps(&s);
        assert!(
            matches!(&steps[0], Step::Inject(l) if l.contains("loadgen")),
            "{steps:?}"
        );
        assert!(
            matches!(&steps[1], Step::Inject(l) if l.contains("cut deployment/orders → statefulset/postgres:5432"))
        );
        let waits: Vec<&str> = steps
            .iter()
            .filter_map(|x| match x {
                Step::WaitFor { what, .. } => Some(*what),
                _ => None,
            })
            .collect();
        assert_eq!(waits, ["signal", "recovery"]);
        let revert = steps
            .iter()
            .position(|x| matches!(x, Step::Revert(_)))
            .unwrap();
        let signal = steps
            .iter()
            .position(|x| matches!(x, Step::WaitFor { what: "signal", .. }))
            .unwrap();
        assert!(signal < revert, "{steps:?}");
        let text = render(&s, true);
        assert!(
            text.contains("assert signal")
                && text.contains("revert: restore deployment/orders → statefulset/postgres"),
            "{text}"
        );
        assert!(
            find("nope")
                .unwrap_err()
                .to_string()
                .contains("http-error-burst")
        );
    }
}
