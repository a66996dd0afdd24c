//! Carrying a scenario out on the kind lab (`lab scenario ID [--assert]`): inject (kubectl), start
//! the scenario's load as a loadgen Job, poll Prometheus until the signal holds or its `within`
//! expires, revert — always, also after a failure or Ctrl-C — and poll for the recovery.
//!
//! The kubectl operations are data first ([`ops`]: every command line and every object it applies),
//! then carried out by an [`Exec`] — [`Kubectl`] on a real lab. That split is what the tests use: no
//! API server can run on the build machines, so they check the operations as data (objects with
//! kubernetes-validate and the NetworkPolicy evaluator) and the poll/assert/report logic against a
//! real Prometheus; the run against a kind cluster is not verified there.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::model::{Action, Assertion, Op, Scenario};
use super::netpol;
use super::report::{Report, Status};
use crate::cmd::Cmd;
use crate::kind::{APPS_NAMESPACE, CONTEXT, load};
use crate::manifests::Rendered;
use crate::manifests::pod::{PodTemplate, template_of};

/// How long one rollout may take after a change (pods restart; images are already on the node).
pub const ROLLOUT_TIMEOUT: &str = "180s";
/// The lab's Prometheus on the host (kind extraPortMappings: NodePort 30090 → 127.0.0.1:9090).
pub const PROMETHEUS: &str = "http://127.0.0.1:9090";
/// Extra load time beyond both waits: rollouts after inject and revert happen while it runs.
const LOAD_SLACK_SECONDS: u64 = 240;

/// One kubectl invocation: what it is for, its arguments after `--context kind-mop`, its stdin.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeOp {
    pub what: String,
    pub args: Vec<String>,
    /// A YAML stream for `apply -f -`.
    pub stdin: Option<String>,
}

impl KubeOp {
    fn new(what: impl Into<String>, args: &[&str]) -> Self {
        Self {
            what: what.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            stdin: None,
        }
    }

    /// `kubectl apply` of `yaml` the way `just up` applies (server-side, field manager mop-lab).
    fn apply(what: impl Into<String>, yaml: String) -> Self {
        let mut op = Self::new(
            what,
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager",
                "mop-lab",
                "-f",
                "-",
            ],
        );
        op.stdin = Some(yaml);
        op
    }

    fn ns(what: impl Into<String>, args: &[&str]) -> Self {
        let mut all = vec!["-n", APPS_NAMESPACE];
        all.extend_from_slice(args);
        Self::new(what, &all)
    }

    pub fn cmd(&self) -> Cmd {
        let cmd = Cmd::new("kubectl")
            .args(["--context", CONTEXT])
            .args(&self.args);
        match &self.stdin {
            Some(yaml) => cmd.stdin(yaml.clone()),
            None => cmd,
        }
    }

    /// The command line as a person would type it.
    pub fn line(&self) -> String {
        self.cmd().display()
    }
}

/// What the runner needs from the repository: the rendered kind overlay (for cuts) and the loadgen
/// Job template (for the load).
#[derive(Debug, Clone)]
pub struct Lab {
    pub rendered: Rendered,
    /// The overlay's pod templates plus the loadgen Job's (the cut's proof covers loadgen too).
    pub pods: Vec<PodTemplate>,
    pub load_template: String,
}

impl Lab {
    pub fn new(rendered: Rendered, load_template: String) -> anyhow::Result<Self> {
        let mut pods = crate::manifests::pod::templates(&rendered);
        let job = crate::manifests::render::parse(&load_template)?;
        pods.extend(job.iter().filter_map(template_of));
        Ok(Self {
            rendered,
            pods,
            load_template,
        })
    }

    /// Renders `repo`'s kind overlay with `kubectl kustomize` and reads the Job template.
    pub fn from_repo(repo: &Path) -> anyhow::Result<Self> {
        let paths = crate::kind::Paths::new(repo, repo);
        let rendered = crate::manifests::render(&paths.overlay())?;
        let template = std::fs::read_to_string(paths.load_template())
            .with_context(|| format!("reading {}", paths.load_template().display()))?;
        Self::new(rendered, template)
    }
}

/// Every operation of one scenario's run, in the order they are carried out.
#[derive(Debug, Clone, PartialEq)]
pub struct Ops {
    pub inject: Vec<KubeOp>,
    /// The loadgen Job (and its profile's ConfigMap), started after the inject.
    pub load: KubeOp,
    pub revert: Vec<KubeOp>,
    /// Stops the load once the recovery is seen (or on any failure).
    pub cleanup: Vec<KubeOp>,
}

/// The kubectl operations of `a`; `trigger` is the scenario's trigger (a restore undoes the cut of
/// the same edge there). A cut is proven with the evaluator before it is returned.
pub fn action_ops(a: &Action, lab: &Lab, trigger: &[Action]) -> anyhow::Result<Vec<KubeOp>> {
    let rollout = |target: &str| {
        KubeOp::ns(
            format!("wait for {target}"),
            &["rollout", "status", target, "--timeout", ROLLOUT_TIMEOUT],
        )
    };
    Ok(match a {
        Action::Scale { target, replicas } => {
            let n = format!("--replicas={replicas}");
            let mut ops = vec![KubeOp::ns(a.describe(), &["scale", target, &n])];
            if *replicas > 0 {
                ops.push(rollout(target));
            }
            ops
        }
        Action::DeletePod { target } => {
            let name = target.rsplit('/').next().unwrap_or(target);
            let selector = format!("app.kubernetes.io/name={name}");
            vec![
                KubeOp::ns(
                    a.describe(),
                    &["delete", "pod", "-l", &selector, "--wait=true"],
                ),
                rollout(target),
            ]
        }
        Action::Env { target, set, unset } => {
            let mut args = vec!["set".to_owned(), "env".to_owned(), target.clone()];
            args.extend(set.iter().map(|(k, v)| format!("{k}={v}")));
            args.extend(unset.iter().map(|k| format!("{k}-")));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            vec![KubeOp::ns(a.describe(), &args), rollout(target)]
        }
        Action::Cut { from, to, port } => {
            let cut = netpol::cut(&lab.rendered, from, to, *port)?;
            netpol::verify(&lab.rendered, &cut, &lab.pods, from, to, *port)?;
            let names: Vec<&str> = cut.copies.iter().map(|o| o.name.as_str()).collect();
            vec![
                KubeOp::apply(
                    format!(
                        "NetworkPolicy {} without egress {from} → {to}:{port}",
                        names.join(", ")
                    ),
                    netpol::yaml(&cut.copies)?,
                ),
                // The policy applies to new connections only (kindnet's kube-network-policies, like
                // most CNIs, judges a connection's first packet): restarting the destination ends the
                // pooled connections `from` opened before the cut, so it has to reconnect — and cannot.
                KubeOp::ns(
                    format!("restart {to}: end connections opened before the cut"),
                    &["rollout", "restart", to],
                ),
                rollout(to),
            ]
        }
        Action::Restore { from, to } => {
            let port = trigger
                .iter()
                .find_map(|t| match t {
                    Action::Cut {
                        from: f,
                        to: t,
                        port,
                    } if f == from && t == to => Some(*port),
                    _ => None,
                })
                .with_context(|| format!("restore {from} → {to}: the trigger cuts no such edge"))?;
            let cut = netpol::cut(&lab.rendered, from, to, port)?;
            let names: Vec<&str> = cut.originals.iter().map(|o| o.name.as_str()).collect();
            vec![KubeOp::apply(
                format!(
                    "NetworkPolicy {} as the kind overlay has it",
                    names.join(", ")
                ),
                netpol::yaml(&cut.originals)?,
            )]
        }
    })
}

/// The load's Job name and objects: the scenario's profile (built-in or inline) for long enough to
/// cover both waits.
pub fn load_op(s: &Scenario, lab: &Lab, suffix: &str) -> anyhow::Result<(String, KubeOp)> {
    let profile = match (&s.trigger.profile, &s.trigger.load) {
        (Some(p), _) => load::Profile::BuiltIn(p.clone()),
        (None, Some(inline)) => load::Profile::File {
            name: format!("scenario-{}.yaml", s.id),
            contents: serde_yaml::to_string(inline)?,
        },
        (None, None) => anyhow::bail!("{}: the trigger has no load", s.id),
    };
    let seconds = s.signal.within_seconds()? + s.recovery.within_seconds()? + LOAD_SLACK_SECONDS;
    let name = load::job_name(&profile, suffix);
    let args = vec!["--duration".to_owned(), format!("{seconds}s")];
    let yaml = load::objects(&lab.load_template, &name, &profile, &args)?;
    Ok((
        name.clone(),
        KubeOp::apply(format!("loadgen Job {name} ({seconds}s)"), yaml),
    ))
}

/// Every operation of `s`'s run; `suffix` makes the Job's name unique (the run's start time).
pub fn ops(s: &Scenario, lab: &Lab, suffix: &str) -> anyhow::Result<Ops> {
    let mut inject = Vec::new();
    for a in &s.trigger.actions {
        inject.extend(action_ops(a, lab, &s.trigger.actions).with_context(|| a.describe())?);
    }
    let mut revert = Vec::new();
    for a in &s.revert {
        revert.extend(action_ops(a, lab, &s.trigger.actions).with_context(|| a.describe())?);
    }
    let (job, load) = load_op(s, lab, suffix)?;
    let mut cleanup = vec![KubeOp::ns(
        format!("stop the load (job/{job})"),
        &["delete", "job", &job, "--ignore-not-found", "--wait=false"],
    )];
    if s.trigger.profile.is_none() {
        cleanup.push(KubeOp::ns(
            format!("its profile (configmap/{job})"),
            &["delete", "configmap", &job, "--ignore-not-found"],
        ));
    }
    Ok(Ops {
        inject,
        load,
        revert,
        cleanup,
    })
}

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

/// How the assertions are polled.
#[derive(Clone)]
pub struct Poll {
    pub prometheus: String,
    pub interval: Duration,
    /// The evaluation time of poll `n` (0-based) — `None`: Prometheus' now. Tests replay a fixture
    /// recorded in the past by mapping each poll to a point of it.
    pub time: Option<std::sync::Arc<dyn Fn(u32) -> f64 + Send + Sync>>,
}

impl Poll {
    pub fn live(prometheus: &str) -> Self {
        Self {
            prometheus: prometheus.to_owned(),
            interval: Duration::from_secs(5),
            time: None,
        }
    }
}

/// How one wait ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Waited {
    pub held: bool,
    pub last: Option<f64>,
    pub last_error: Option<String>,
    pub polls: u32,
    pub elapsed: Duration,
    pub interrupted: bool,
}

/// Polls `a` every `poll.interval` until it holds, for at most `bound` (and at most
/// bound/interval + 1 polls), or until `stop` is cancelled.
pub async fn wait_for(
    a: &Assertion,
    bound: Duration,
    poll: &Poll,
    stop: &CancellationToken,
) -> Waited {
    let start = Instant::now();
    let max_polls = u32::try_from(bound.as_millis() / poll.interval.as_millis().max(1))
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let mut w = Waited {
        held: false,
        last: None,
        last_error: None,
        polls: 0,
        elapsed: Duration::ZERO,
        interrupted: false,
    };
    while w.polls < max_polls {
        let time = poll.time.as_ref().map(|f| f(w.polls));
        w.polls += 1;
        match crate::prom::query_value_at(&poll.prometheus, &a.promql, time).await {
            Ok(v) => {
                w.last = v;
                w.last_error = None;
                if v.is_some_and(|v| a.holds(v)) {
                    w.held = true;
                    break;
                }
            }
            Err(e) => w.last_error = Some(format!("{e:#}")),
        }
        if start.elapsed() + poll.interval > bound {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(poll.interval) => {}
            () = stop.cancelled() => { w.interrupted = true; break; }
        }
    }
    w.elapsed = start.elapsed();
    w
}

/// What to run and how.
pub struct Options {
    /// Enforce the waits: an assertion that does not hold in time fails the scenario.
    pub assert: bool,
    pub poll: Poll,
}

/// Runs `s` (its [`Ops`]) with `exec`: inject → load → signal → revert → recovery → cleanup. The
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
    let mut ok = carry_out(&mut r, "inject", &ops.inject, exec, stop);
    if ok {
        ok = carry_out(&mut r, "load", std::slice::from_ref(&ops.load), exec, stop);
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
    let w = wait_for(a, bound, &opts.poll, stop).await;
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
