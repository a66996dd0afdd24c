//! A scenario's actions carried out on the local lab — the local meaning of each kubectl step:
//! `scale X 0` stops X's process (SIGTERM, drain) or its backend, `scale X 1` starts it again and
//! waits until ready, `delete-pod` replaces the process (Redis comes back empty: a cold cache),
//! `env` rolls the service out with the flags set or unset, `cut` / `restore` switch the edge's
//! relay (lab::local::relay) to blackhole and back.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};

use lab::Lab;
use lab::local::control::{Backend, Edge, Upstream};
use lab::local::process::probe;
use lab::scenarios::model::{Action, Scenario};

/// What a kind workload is in the local lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// A service process, by its lab name.
    Service(&'static str),
    Backend(Backend),
}

/// The local counterpart of a workload of kustomize/ (`deployment/gateway` → the `gateway` process).
pub fn workload(target: &str) -> anyhow::Result<Local> {
    Ok(match target {
        "deployment/catalog" => Local::Service("catalog"),
        "deployment/auth" => Local::Service("auth"),
        "deployment/orders" => Local::Service("orders"),
        "deployment/gateway" => Local::Service("gateway"),
        "deployment/events-producer" => Local::Service("events-producer"),
        "deployment/events-notifications" => Local::Service("events-consumer-notifications"),
        "deployment/events-analytics" => Local::Service("events-consumer-analytics"),
        "deployment/redis" => Local::Backend(Backend::Redis),
        "statefulset/postgres" => Local::Backend(Backend::Postgres),
        "statefulset/kafka" => Local::Backend(Backend::Kafka),
        other => bail!("{other} has no counterpart in the local lab"),
    })
}

/// The relay edge a `cut` between two workloads means locally.
pub fn edge(from: &str, to: &str) -> anyhow::Result<Edge> {
    let Local::Service(from) = workload(from)? else {
        bail!("a cut starts at a service, not at {from}");
    };
    let to = match workload(to)? {
        Local::Backend(Backend::Postgres) => Upstream::Postgres,
        Local::Backend(Backend::Redis) => Upstream::Redis,
        Local::Backend(Backend::Kafka) => Upstream::Kafka,
        Local::Service("catalog") => Upstream::Catalog,
        Local::Service(other) => bail!("no local cut towards {other}"),
    };
    Ok(Edge { from, to })
}

/// Every edge the catalog cuts: the lab is started with a relay on each.
pub fn edges(scenarios: &[Scenario]) -> anyhow::Result<Vec<Edge>> {
    let mut out: Vec<Edge> = Vec::new();
    for s in scenarios {
        for a in &s.trigger.actions {
            if let Action::Cut { from, to, .. } = a {
                let e = edge(from, to)?;
                if !out.contains(&e) {
                    out.push(e);
                }
            }
        }
    }
    Ok(out)
}

/// Carries out one action.
pub async fn apply(lab: &mut Lab, action: &Action) -> anyhow::Result<()> {
    match action {
        Action::Scale { target, replicas } => match (workload(target)?, *replicas) {
            (Local::Service(s), 0) => lab.stop_service(s)?,
            (Local::Service(s), _) => lab.start_service(s).await?,
            (Local::Backend(b), 0) => lab.stop_backend(b)?,
            (Local::Backend(b), _) => {
                lab.start_backend(b)?;
                settle(lab).await;
            }
        },
        Action::DeletePod { target } => match workload(target)? {
            Local::Service(s) => lab.start_service(s).await?,
            Local::Backend(b) => {
                lab.stop_backend(b)?;
                lab.start_backend(b)?;
                settle(lab).await;
            }
        },
        Action::Cut { from, to, .. } => {
            let e = edge(from, to)?;
            lab.cut(e.from, e.to, true)?;
        }
        Action::Restore { from, to } => {
            let e = edge(from, to)?;
            lab.cut(e.from, e.to, false)?;
            settle(lab).await;
        }
        Action::Env { target, set, unset } => match workload(target)? {
            Local::Service(s) => lab.rollout(s, set, unset).await?,
            Local::Backend(_) => return Err(anyhow!("{target}: env applies to our services only")),
        },
    }
    Ok(())
}

/// After a backend or an edge comes back: waits (bounded, 20 s) until every running service answers
/// its readiness probe again, as `kubectl rollout status` would before the next step. Not an error
/// when one stays unready: the recovery phase measures what that means.
async fn settle(lab: &Lab) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let mut all = true;
        for s in lab.services() {
            if s.exited().is_none() && !probe(s.spec.probe).await {
                all = false;
            }
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_of_the_catalog_has_a_local_counterpart() {
        for (w, _) in lab::scenarios::model::WORKLOADS {
            workload(w).unwrap();
        }
        assert!(workload("deployment/billing").is_err());
        let e = edge("deployment/gateway", "deployment/redis").unwrap();
        assert_eq!((e.from, e.to), ("gateway", Upstream::Redis));
        assert!(edge("deployment/redis", "deployment/gateway").is_err());
        let all = lab::scenarios::load_all().unwrap();
        let cut = edges(&all).unwrap();
        assert!(cut.contains(&Edge {
            from: "orders",
            to: Upstream::Postgres
        }));
    }
}
