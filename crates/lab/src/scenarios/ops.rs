//! The kubectl operations of a scenario's run on the kind lab, as data: each action's commands
//! (with the objects they apply), the loadgen Job of the scenario's load, the revert and the
//! cleanup. Nothing here touches a cluster: [`super::run`] carries the operations out, and the tests
//! check them as data (objects with kubernetes-validate, cuts with the NetworkPolicy evaluator).

use std::path::Path;

use anyhow::Context;

use super::model::{Action, Scenario};
use super::netpol;
use crate::cmd::Cmd;
use crate::kind::{APPS_NAMESPACE, CONTEXT, load};
use crate::manifests::Rendered;
use crate::manifests::pod::{PodTemplate, template_of};

/// How long one rollout may take after a change (pods restart; images are already on the node).
pub const ROLLOUT_TIMEOUT: &str = "180s";
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
    pub fn new(what: impl Into<String>, args: &[&str]) -> Self {
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
        self.cmd_in(Cmd::new("kubectl").args(["--context", CONTEXT]))
    }

    /// The operation on a given kubectl (the API-server test's: its own kubeconfig).
    pub fn cmd_in(&self, kubectl: Cmd) -> Cmd {
        let cmd = kubectl.args(&self.args);
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
    /// The loadgen Job (and its profile's ConfigMap), then a wait until its pod is ready: the load
    /// runs *before* the inject and through the recovery. Why first: the fault must meet live
    /// traffic — orders, for one, turns NotReady within 15 s of losing PostgreSQL and the Service
    /// then stops sending it requests, so 503s only show for traffic already flowing.
    pub load: Vec<KubeOp>,
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
    let (job, apply) = load_op(s, lab, suffix)?;
    let load = vec![
        apply,
        KubeOp::ns(
            format!("wait for job/{job}'s pod"),
            &[
                "wait",
                "--for=jsonpath={.status.ready}=1",
                &format!("job/{job}"),
                "--timeout",
                ROLLOUT_TIMEOUT,
            ],
        ),
    ];
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
