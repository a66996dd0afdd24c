//! One scenario on the local lab: (warm-up) healthy phase → trigger actions → fault phase → revert →
//! (warm-up) recovery phase, every check's value taken in each phase. The revert runs even when the
//! fault phase failed, so one broken scenario does not leave its fault behind for the next.

use std::time::{Duration, Instant};

use anyhow::Context;

use super::load::{self, Load};
use super::probe;
use super::report::{CheckResult, ScenarioResult};
use super::spec::{Check, Local, Probe, seconds};
use lab::Lab;
use lab::scenarios::Scenario;
use lab::scenarios::model::Action;

/// Environment the local runner's lab adds to the services (everything else is `lab dev`'s):
/// auth's throttle cooldown compressed from 60 s to 2 s, as the phases compress minutes to seconds —
/// otherwise the usernames a brute-force phase throttled stay refused through the recovery phase
/// that follows it seconds later (on kind the recovery is measured minutes later).
pub const LAB_ENV: &[(&str, &str, &str)] = &[("auth", "THROTTLE_COOLDOWN", "2s")];

/// How long after a phase's load counters are read: PostgreSQL's backends flush their table
/// statistics at most once a second, consumers finish what was in flight.
const SETTLE: Duration = Duration::from_millis(1500);

/// The three phases' values of every check, or what went wrong.
pub async fn scenario(lab: &mut Lab, s: &Scenario) -> ScenarioResult {
    let started = Instant::now();
    let mut result = ScenarioResult {
        id: s.id.clone(),
        checks: Vec::new(),
        error: None,
        seconds: 0.0,
    };
    let local = match super::spec::of(s) {
        Ok(Some(local)) => local,
        Ok(None) => {
            result.error = Some("no local: block".into());
            return result;
        }
        Err(e) => {
            result.error = Some(format!("{e:#}"));
            return result;
        }
    };
    let local = &local;
    match phases(lab, s, local).await {
        Ok(values) => {
            result.checks = local
                .checks
                .iter()
                .zip(values)
                .map(|(c, v)| CheckResult::new(c, v))
                .collect();
        }
        Err(e) => result.error = Some(format!("{e:#}")),
    }
    result.seconds = started.elapsed().as_secs_f64();
    result
}

/// The fault's load: the trigger's profile or inline load.
fn fault_load(s: &Scenario) -> anyhow::Result<Load> {
    match (&s.trigger.profile, &s.trigger.load) {
        (_, Some(inline)) => Ok(Load::Inline(inline.clone())),
        (Some(p), None) => Ok(Load::Profile(p.clone())),
        (None, None) => anyhow::bail!("the trigger has no load to run locally"),
    }
}

/// How many times the healthy phase is measured when a check already holds in it.
const HEALTHY_TRIES: usize = 3;

/// Per check: (healthy, fault, recovery) values with the readings' errors, if any.
type Values = Vec<[Reading; 3]>;

/// A value, or why there is none (NaN then).
#[derive(Debug, Clone)]
pub struct Reading {
    pub value: f64,
    pub error: Option<String>,
}

async fn phases(lab: &mut Lab, s: &Scenario, local: &Local) -> anyhow::Result<Values> {
    let secs = seconds(&local.duration)?;
    let fault = fault_load(s)?;
    let healthy = local
        .healthy
        .clone()
        .map_or_else(|| fault.clone(), Load::Inline);
    let warmup = local.warmup.as_deref().map(seconds).transpose()?;
    let warm = |lab: &Lab| {
        let healthy = healthy.clone();
        let plan = lab.plan.clone();
        async move {
            if let Some(w) = warmup {
                load::run(&plan, &healthy, w, local.warmup_rate.or(local.rate))
                    .await
                    .context("warm-up")?;
            }
            anyhow::Ok(())
        }
    };

    // A busy host (CI running beside other builds) can lift a latency baseline over its line for a
    // while: a check that already holds before the trigger proves nothing, so the healthy phase is
    // measured again — at most HEALTHY_TRIES times in all, saying why — before the fault goes in. A
    // baseline that stays over its line still fails the scenario, as it must.
    let mut h = Vec::new();
    for attempt in 1..=HEALTHY_TRIES {
        warm(lab).await?;
        h = phase(lab, &healthy, secs, local.rate, &local.checks)
            .await
            .context("healthy phase")?;
        let early: Vec<String> = local
            .checks
            .iter()
            .zip(&h)
            .filter(|(c, r)| c.holds(r.value))
            .map(|(c, r)| format!("{} = {:.3}", c.name, r.value))
            .collect();
        if early.is_empty() || attempt == HEALTHY_TRIES {
            break;
        }
        eprintln!(
            "  {}: healthy phase {attempt}/{HEALTHY_TRIES} already shows the fault's signal ({}): measuring it again",
            s.id,
            early.join(", ")
        );
    }
    let f = match apply_all(lab, &s.trigger.actions).await {
        Ok(()) => phase(lab, &fault, secs, local.rate, &local.checks)
            .await
            .context("fault phase"),
        Err(e) => Err(e.context("trigger")),
    };
    let reverted = apply_all(lab, &s.revert).await.context("revert");
    let f = f?;
    reverted?;
    warm(lab).await?;
    let r = phase(lab, &healthy, secs, local.rate, &local.checks)
        .await
        .context("recovery phase")?;
    Ok(h.into_iter()
        .zip(f)
        .zip(r)
        .map(|((h, f), r)| [h, f, r])
        .collect())
}

async fn apply_all(lab: &mut Lab, actions: &[Action]) -> anyhow::Result<()> {
    for a in actions {
        super::actions::apply(lab, a)
            .await
            .with_context(|| a.describe())?;
    }
    Ok(())
}

/// One phase: counters read, the load run, counters read again after [`SETTLE`]; one reading per
/// check.
async fn phase(
    lab: &Lab,
    load: &Load,
    secs: f64,
    rate: Option<f64>,
    checks: &[Check],
) -> anyhow::Result<Vec<Reading>> {
    let mut before = Vec::new();
    for c in checks {
        before.push(if c.probe.is_counter() {
            Some(probe::counter(&c.probe, lab).await)
        } else {
            None
        });
    }
    let report = load::run(&lab.plan, load, secs, rate).await?;
    if checks.iter().any(|c| c.probe.is_counter()) {
        tokio::time::sleep(SETTLE).await;
    }
    #[allow(clippy::cast_precision_loss)]
    let completed = report.total.completed as f64;
    let mut out = Vec::new();
    for (c, before) in checks.iter().zip(before) {
        let value = match (&c.probe, before) {
            (Probe::Loadgen(p), _) => probe::loadgen(p, &report),
            (probe, Some(before)) => {
                let after = probe::counter(probe, lab).await;
                match (before, after) {
                    (Ok(b), Ok(a)) if per_request(probe) => Ok((a - b) / completed),
                    (Ok(b), Ok(a)) => Ok(a - b),
                    (Err(e), _) => Err(e.context("reading before the load")),
                    (_, Err(e)) => Err(e.context("reading after the load")),
                }
            }
            (_, None) => unreachable!("counters are read before"),
        };
        out.push(match value {
            Ok(value) => Reading { value, error: None },
            Err(e) => Reading {
                value: f64::NAN,
                error: Some(format!("{e:#}")),
            },
        });
    }
    Ok(out)
}

fn per_request(p: &Probe) -> bool {
    match p {
        Probe::Http(h) => h.per_request,
        Probe::Redis(c) => c.per_request,
        Probe::Postgres(q) => q.per_request,
        Probe::Loadgen(_) | Probe::KafkaLag(_) => false,
    }
}
