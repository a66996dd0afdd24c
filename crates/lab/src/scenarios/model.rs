//! A troubleshooting scenario as data: what to inject, what OBI (or an exporter) must then show,
//! where a person sees it, how to revert it and what recovery looks like. Unknown keys are errors, so
//! a typo in a catalog file fails its load rather than silently dropping a field.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Kebab-case, unique, the file's name (`crates/lab/scenarios/<id>.yaml`).
    pub id: String,
    pub title: String,
    pub protocol: Protocol,
    pub trigger: Trigger,
    /// The expected signal: holds while the fault is in effect.
    pub signal: Assertion,
    /// Where a person sees it.
    pub panel: PanelRef,
    /// What undoes the trigger's actions (empty when the fault ends by itself, e.g. a cache refilling).
    #[serde(with = "serde_yaml::with::singleton_map_recursive")]
    pub revert: Vec<Action>,
    /// Holds once the fault is reverted (and did not hold during it).
    pub recovery: Assertion,
    /// What a person on call does with this signal: cause, how to confirm, fix.
    pub runbook: String,
    /// The fault as OBI's / the exporters' output would show it, for the dashboards' test fixture
    /// (xtask's tidy::dashboards::fixture): a model, never presented as OBI.
    pub model: Vec<Change>,
    /// How the trigger is proven against the local lab (`cargo xtask scenario-local ID`): a shortened
    /// load and effects measured from outside. Kept as YAML here — xtask's scenario_local::spec reads
    /// it; optional for the parser, required by the catalog's check (xtask's tidy::scenarios).
    #[serde(default)]
    pub local: Option<serde_yaml::Value>,
}

/// The five protocols of the lab (one per service, lab.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Grpc,
    Sql,
    Redis,
    Kafka,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [
        Protocol::Http,
        Protocol::Grpc,
        Protocol::Sql,
        Protocol::Redis,
        Protocol::Kafka,
    ];
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// A built-in loadgen profile (crates/loadgen/profiles/<name>.yaml).
    #[serde(default)]
    pub profile: Option<String>,
    /// An inline loadgen profile (the same format as loadgen's own, checked by loadgen's parser).
    #[serde(default)]
    pub load: Option<serde_yaml::Value>,
    /// Changes to the lab (on kind applied once the load runs: see scenarios::ops; `- cut: {…}`: serde_yaml 0.9 reads enums
    /// from `!tags` unless told to take one-key maps).
    #[serde(default, with = "serde_yaml::with::singleton_map_recursive")]
    pub actions: Vec<Action>,
}

/// Reads a list of actions as the catalog files write them (one-key maps).
pub fn parse_actions(text: &str) -> Result<Vec<Action>> {
    Ok(serde_yaml::with::singleton_map_recursive::deserialize(
        serde_yaml::Deserializer::from_str(text),
    )?)
}

/// One change to the kind lab. Each maps to one kubectl operation (see [`Action::describe`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// `kubectl scale <kind>/<name> --replicas=N`.
    Scale { target: String, replicas: u32 },
    /// Delete the pods of a workload (its controller starts fresh ones: in-memory state is gone).
    DeletePod { target: String },
    /// `from` can no longer open connections to `to` on `port` (NetworkPolicy only allows, so
    /// the allows of that edge are replaced: see scenarios::netpol).
    Cut { from: String, to: String, port: u16 },
    /// Undo the trigger's cut of the same edge (the rendered policies re-applied).
    Restore { from: String, to: String },
    /// `kubectl set env <kind>/<name>`: set and/or unset documented flags (a rollout follows).
    Env {
        target: String,
        #[serde(default)]
        set: BTreeMap<String, String>,
        #[serde(default)]
        unset: Vec<String>,
    },
}

impl Action {
    /// The workloads the action touches, as `kind/name`.
    pub fn targets(&self) -> Vec<&str> {
        match self {
            Action::Scale { target, .. }
            | Action::DeletePod { target }
            | Action::Env { target, .. } => vec![target.as_str()],
            Action::Cut { from, to, .. } | Action::Restore { from, to } => {
                vec![from.as_str(), to.as_str()]
            }
        }
    }

    /// One line a person can read (and run): what `lab scenario` does for this action.
    pub fn describe(&self) -> String {
        match self {
            Action::Scale { target, replicas } => {
                format!("kubectl -n mop scale {target} --replicas={replicas}")
            }
            Action::DeletePod { target } => {
                let name = target.rsplit('/').next().unwrap_or(target);
                format!("kubectl -n mop delete pod -l app.kubernetes.io/name={name}")
            }
            Action::Cut { from, to, port } => format!(
                "cut {from} → {to}:{port}: NetworkPolicy allows of that egress replaced by copies without it, then {to} restarted"
            ),
            Action::Restore { from, to } => {
                format!("restore {from} → {to}: the kind overlay's NetworkPolicies re-applied")
            }
            Action::Env { target, set, unset } => {
                let mut args: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
                args.extend(unset.iter().map(|k| format!("{k}-")));
                format!("kubectl -n mop set env {target} {}", args.join(" "))
            }
        }
    }
}

/// A PromQL expression whose single value is compared with a threshold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// Must evaluate to exactly one series (aggregate it; `or vector(0)` where absence means zero).
    pub promql: String,
    pub op: Op,
    pub threshold: f64,
    /// How long `lab scenario` waits for it, e.g. `3m` (bounded: the signal must show within this).
    pub within: String,
    /// Where traces show it too (Tempo), if they do.
    #[serde(default)]
    pub traceql: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Op {
    #[serde(rename = ">")]
    Above,
    #[serde(rename = "<")]
    Below,
}

impl Assertion {
    /// Whether `value` passes the threshold (NaN never does: no data is not a signal).
    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            Op::Above => value > self.threshold,
            Op::Below => value < self.threshold,
        }
    }

    /// `within` in seconds (`90s`, `3m`).
    pub fn within_seconds(&self) -> Result<u64> {
        let w = self.within.trim();
        let (n, unit) = w.split_at(w.len().saturating_sub(1));
        let n: u64 = n
            .parse()
            .map_err(|_| anyhow::anyhow!("within {w:?}: expected e.g. 90s or 3m"))?;
        match unit {
            "s" => Ok(n),
            "m" => Ok(n * 60),
            _ => bail!("within {w:?}: expected e.g. 90s or 3m"),
        }
    }

    /// `promql op threshold`, for reports.
    pub fn describe(&self) -> String {
        let op = match self.op {
            Op::Above => ">",
            Op::Below => "<",
        };
        let expr: Vec<&str> = self.promql.split_whitespace().collect();
        format!("{} {op} {}", expr.join(" "), self.threshold)
    }
}

/// A panel of a committed dashboard: uid (`mop-http`) and exact title.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelRef {
    pub dashboard: String,
    pub title: String,
}

/// One change the fault makes to OBI's / an exporter's series (see `Fixture::change`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// The family: a histogram by its base name, a counter by its `_total` name, a gauge by its name.
    pub metric: String,
    #[serde(rename = "match", default)]
    pub matches: BTreeMap<String, String>,
    /// Labels of a new series copied from each match (only during the fault).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Counters/histograms: per second. Gauges: the level during the fault.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Histograms: the typical observed value. Gauges: change per second during the fault.
    #[serde(default)]
    pub typical: Option<f64>,
}

impl Scenario {
    pub fn parse(text: &str) -> Result<Scenario> {
        Ok(serde_yaml::from_str(text)?)
    }

    /// Trigger actions, then the load, as one list of steps for plans and reports.
    pub fn trigger_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.trigger.actions.iter().map(Action::describe).collect();
        if let Some(p) = &self.trigger.profile {
            out.push(format!(
                "loadgen profile {p} (in-cluster Job, `just load {p}`)"
            ));
        }
        if self.trigger.load.is_some() {
            out.push(format!(
                "loadgen with the scenario's own profile (scenario-{})",
                self.id
            ));
        }
        out
    }
}

/// The kind lab's workloads in namespace `mop` a scenario's actions may name (kustomize/base and components/backends) with
/// the source folders whose `env = "…"` flags the binary documents (empty: not ours, no flags).
pub const WORKLOADS: &[(&str, &[&str])] = &[
    (
        "deployment/catalog",
        &["crates/catalog/src", "crates/common/src"],
    ),
    ("deployment/auth", &["crates/auth/src"]),
    (
        "deployment/orders",
        &["crates/orders/src", "crates/common/src"],
    ),
    (
        "deployment/gateway",
        &["crates/gateway/src", "crates/common/src"],
    ),
    (
        "deployment/events-producer",
        &["crates/events/src", "crates/common/src"],
    ),
    (
        "deployment/events-notifications",
        &["crates/events/src", "crates/common/src"],
    ),
    (
        "deployment/events-analytics",
        &["crates/events/src", "crates/common/src"],
    ),
    ("deployment/redis", &[]),
    ("statefulset/postgres", &[]),
    ("statefulset/kafka", &[]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_at_every_level() {
        let base = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/http-error-burst.yaml"
        ))
        .unwrap();
        Scenario::parse(&base).unwrap();
        for (from, to) in [
            ("runbook:", "runbok: x\nrunbook:"),
            ("  op: \">\"", "  op: \">\"\n  threshhold: 1"),
            ("panel: {", "panel: { colour: red,"),
            ("protocol: http", "protocol: smtp"),
        ] {
            assert!(base.contains(from), "{from:?} in the file");
            let broken = base.replacen(from, to, 1);
            assert!(Scenario::parse(&broken).is_err(), "accepted: {to:?}");
        }
        let action = "- cut: { from: orders, to: postgres, port: 5432, extra: 1 }";
        assert!(parse_actions(action).is_err());
        assert_eq!(
            parse_actions("- cut: { from: a, to: b, port: 1 }").unwrap(),
            vec![Action::Cut {
                from: "a".into(),
                to: "b".into(),
                port: 1
            }]
        );
    }

    #[test]
    fn thresholds_and_durations() {
        let a = Assertion {
            promql: "x".into(),
            op: Op::Above,
            threshold: 0.5,
            within: "3m".into(),
            traceql: None,
        };
        assert!(a.holds(0.6) && !a.holds(0.5) && !a.holds(f64::NAN));
        assert_eq!(a.within_seconds().unwrap(), 180);
        let b = Assertion {
            op: Op::Below,
            within: "90s".into(),
            ..a.clone()
        };
        assert!(b.holds(0.4) && !b.holds(0.5) && !b.holds(f64::NAN));
        assert_eq!(b.within_seconds().unwrap(), 90);
        assert!(
            Assertion {
                within: "3h".into(),
                ..a
            }
            .within_seconds()
            .is_err()
        );
    }
}
