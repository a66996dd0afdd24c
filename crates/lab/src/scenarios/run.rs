//! Carrying a scenario out on the kind lab (`lab scenario ID [--assert]`): start the scenario's load
//! as a loadgen Job, inject the fault (kubectl), poll Prometheus until the signal holds or its `within`
//! expires, revert — always, also after a failure or Ctrl-C — and poll for the recovery; the load
//! is stopped last, so the recovery is measured under the same traffic as the signal.
//!
//! The operations come as data from [`super::ops`] and are carried out by an [`Exec`] —
//! [`Kubectl`] on a real lab. The tests apply and revert every scenario's operations on a real API
//! server (tests/it/kube_api.rs: no kubelet, so nothing rolls out), check them as data and run this module's poll/assert/report logic against a real Prometheus
//! with a recorder as `Exec`; the run against a kind cluster is not verified there.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::model::{Assertion, Op, Scenario};
use super::ops::{KubeOp, Ops};
use super::report::{Report, Status};
use crate::prom::{Poll, wait_for};

/// The lab's Prometheus on the host (kind extraPortMappings: NodePort 30090 → 127.0.0.1:9090).
pub const PROMETHEUS: &str = "http://127.0.0.1:9090";

/// Carries out operations: [`Kubectl`] on a real lab.
pub trait Exec {
    fn run(&mut self, op: &KubeOp) -> anyhow::Result<()>;
}

/// Runs each operation with kubectl against the `kind-mop` context (output captured: the report
/// stays readable, and a failure quotes kubectl's stderr).
pub struct Kubectl;

impl Exec for Kubectl {
    fn run(&mut self, op: &KubeOp) -> anyhow::Result<()> {
        op.cmd().output().map(|_| ())
    }
}

/// What to run and how.
pub struct Options {
    /// Enforce the waits: an assertion that does not hold in time fails the scenario.
    pub assert: bool,
    pub poll: Poll,
}

/// Runs `s` (its [`Ops`]) with `exec`: load → inject → signal → revert → recovery → cleanup. The
/// revert and the cleanup run whatever happened before them — a failed step or a cancelled `stop`.
pub async fn run(
    s: &Scenario,
    ops: &Ops,
    exec: &mut dyn Exec,
    opts: &Options,
    stop: &CancellationToken,
) -> Report {
    let start = Instant::now();
    let mut r = Report::new(&s.id, &s.title, opts.assert);
    let mut ok = carry_out(&mut r, "load", &ops.load, exec, stop);
    if ok {
        ok = carry_out(&mut r, "inject", &ops.inject, exec, stop);
    }
    if ok {
        ok = assertion(&mut r, "signal", &s.signal, opts, stop).await;
    } else {
        r.push(
            "signal",
            Status::Skipped,
            "not polled: a step above failed".into(),
            Duration::ZERO,
        );
    }
    // Always: also after a failure or Ctrl-C. Each op is tried even if one before it failed.
    let reverted = carry_out_all(&mut r, "revert", &ops.revert, exec);
    if reverted && ok && !stop.is_cancelled() {
        assertion(&mut r, "recovery", &s.recovery, opts, stop).await;
    } else {
        r.push(
            "recovery",
            Status::Skipped,
            "not polled".into(),
            Duration::ZERO,
        );
    }
    carry_out_all(&mut r, "cleanup", &ops.cleanup, exec);
    r.interrupted = stop.is_cancelled();
    r.elapsed = start.elapsed();
    r
}

/// Runs `ops` in order, stopping at the first failure (or Ctrl-C); true when all succeeded.
fn carry_out(
    r: &mut Report,
    phase: &'static str,
    ops: &[KubeOp],
    exec: &mut dyn Exec,
    stop: &CancellationToken,
) -> bool {
    for op in ops {
        if stop.is_cancelled() {
            r.push(
                phase,
                Status::Skipped,
                format!("{} (Ctrl-C)", op.what),
                Duration::ZERO,
            );
            return false;
        }
        if !step(r, phase, op, exec) {
            return false;
        }
    }
    true
}

/// Runs every op even when one fails (reverts and cleanups); true when all succeeded.
fn carry_out_all(r: &mut Report, phase: &'static str, ops: &[KubeOp], exec: &mut dyn Exec) -> bool {
    let mut all = true;
    for op in ops {
        all &= step(r, phase, op, exec);
    }
    if ops.is_empty() {
        r.push(
            phase,
            Status::Pass,
            "nothing to do (the fault ends by itself)".into(),
            Duration::ZERO,
        );
    }
    all
}

fn step(r: &mut Report, phase: &'static str, op: &KubeOp, exec: &mut dyn Exec) -> bool {
    let t = Instant::now();
    match exec.run(op) {
        Ok(()) => {
            r.push(phase, Status::Pass, op.what.clone(), t.elapsed());
            true
        }
        Err(e) => {
            r.push(
                phase,
                Status::Fail,
                format!("{}: {e:#}", op.what),
                t.elapsed(),
            );
            false
        }
    }
}

/// Waits for `a`; records the value seen. True unless it failed under `--assert` or was interrupted.
async fn assertion(
    r: &mut Report,
    phase: &'static str,
    a: &Assertion,
    opts: &Options,
    stop: &CancellationToken,
) -> bool {
    let bound = match a.within_seconds() {
        Ok(s) => Duration::from_secs(s),
        Err(e) => {
            r.push(phase, Status::Fail, format!("{e:#}"), Duration::ZERO);
            return false;
        }
    };
    let w = wait_for(&a.promql, |v| a.holds(v), bound, &opts.poll, stop).await;
    let seen = match (w.last, &w.last_error) {
        (_, Some(e)) => format!("query error: {e}"),
        (Some(v), None) => format!("{v:.4}"),
        (None, None) => "no series".to_owned(),
    };
    let op = match a.op {
        Op::Above => ">",
        Op::Below => "<",
    };
    let threshold = a.threshold;
    let polls = format!("{} poll(s), bound {}", w.polls, a.within);
    let (status, detail) = if w.held {
        (Status::Pass, format!("{seen} {op} {threshold} ({polls})"))
    } else if w.interrupted {
        (Status::Skipped, format!("interrupted at {seen} ({polls})"))
    } else if opts.assert {
        (
            Status::Fail,
            format!("{seen}, not {op} {threshold} within {} ({polls})", a.within),
        )
    } else {
        (
            Status::NotSeen,
            format!("{seen}, not {op} {threshold} within {} ({polls})", a.within),
        )
    };
    r.push(phase, status, detail, w.elapsed);
    w.held || (!opts.assert && !w.interrupted)
}
