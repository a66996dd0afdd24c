//! What a scenario's `local:` block must satisfy, checked without a lab (part of the catalog's check,
//! scenarios::check): it exists, its phases are short, its healthy load is one loadgen accepts and
//! differs from the fault when the fault is only load, and every check reads something that exists.

use std::collections::BTreeMap;

use super::spec::{Local, Probe, Stat, seconds};
use lab::scenarios::Scenario;

/// A phase's load may last this long at most: the whole catalog must run in minutes.
const MAX_PHASE_SECONDS: f64 = 30.0;
/// The lab services with an HTTP port (lab::local::plan).
const HTTP_SERVICES: &[&str] = &[
    "catalog",
    "orders",
    "gateway",
    "events-producer",
    "events-consumer-notifications",
    "events-consumer-analytics",
];

/// Problems of one scenario's `local:` block, as readable lines (empty: fine).
pub fn scenario(s: &Scenario) -> Vec<String> {
    match super::spec::of(s) {
        Ok(local) => block(s, local.as_ref()),
        Err(e) => vec![format!("{e:#}")],
    }
}

/// Problems of a parsed `local:` block (`None`: the scenario has none).
pub fn block(s: &Scenario, local: Option<&Local>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(local) = local else {
        return vec!["local: missing — how the trigger is proven on the local lab".into()];
    };
    for (what, text) in [
        ("duration", Some(&local.duration)),
        ("warmup", local.warmup.as_ref()),
    ] {
        if let Some(text) = text {
            match seconds(text) {
                Ok(v) if v > MAX_PHASE_SECONDS => out.push(format!(
                    "local.{what} {text} is longer than {MAX_PHASE_SECONDS} s"
                )),
                Ok(_) => {}
                Err(e) => out.push(format!("local.{what}: {e}")),
            }
        }
    }
    for r in [local.rate, local.warmup_rate].into_iter().flatten() {
        if !(r.is_finite() && r > 0.0) {
            out.push(format!("local: rate {r} is not a positive number"));
        }
    }
    let mut steps: Vec<String> = Vec::new();
    if let Some(load) = &s.trigger.load {
        steps.extend(step_names(load));
    }
    if let Some(p) = &s.trigger.profile
        && let Some((_, text)) = loadgen::scenario::PROFILES.iter().find(|(n, _)| n == p)
        && let Ok(v) = serde_yaml::from_str::<serde_yaml::Value>(text)
    {
        steps.extend(step_names(&v));
    }
    match &local.healthy {
        None if s.trigger.actions.is_empty() => out.push(
            "local.healthy: the trigger is only load, so the healthy phase needs a load without the fault"
                .into(),
        ),
        None => {}
        Some(h) => {
            if let Err(e) = parse(h) {
                out.push(format!("local.healthy: loadgen refuses it: {e:#}"));
            }
            steps.extend(step_names(h));
        }
    }
    if local.checks.is_empty() {
        out.push("local.checks: at least one effect measured from outside".into());
    }
    for c in &local.checks {
        let mut p = |m: String| out.push(format!("local check {:?}: {m}", c.name));
        if !c.threshold.is_finite() {
            p("threshold is not a number".into());
        }
        match &c.probe {
            Probe::Loadgen(l) => {
                if let Some(step) = &l.step
                    && !steps.contains(step)
                {
                    p(format!("no step {step:?} in the scenario's loads"));
                }
                if matches!(l.stat, Stat::Share | Stat::Count) != l.class.is_some() {
                    p("share and count need a class; the other stats take none".into());
                }
            }
            Probe::Http(h) => {
                if !HTTP_SERVICES.contains(&h.service.as_str()) {
                    p(format!("{} is not a lab service with HTTP", h.service));
                }
                if !h.path.starts_with('/') {
                    p(format!("path {:?} must start with /", h.path));
                }
            }
            Probe::Postgres(q) => {
                if !q
                    .query
                    .trim_start()
                    .to_ascii_uppercase()
                    .starts_with("SELECT")
                {
                    p("the query must be a SELECT (statistics are read, never changed)".into());
                }
            }
            Probe::Redis(_) | Probe::KafkaLag(_) => {}
        }
    }
    out
}

fn parse(v: &serde_yaml::Value) -> anyhow::Result<()> {
    let vars: BTreeMap<String, String> = loadgen::cli::VARIABLES
        .iter()
        .map(|k| ((*k).to_owned(), "http://127.0.0.1:1".to_owned()))
        .collect();
    let l = loadgen::scenario::Scenario::parse(&serde_yaml::to_string(v)?, &vars)?;
    l.steps()?;
    Ok(())
}

fn step_names(v: &serde_yaml::Value) -> Vec<String> {
    v["steps"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab::scenarios::load_all;

    #[test]
    fn each_local_check_catches_what_it_is_for() {
        let all = load_all().unwrap();
        let good = all.iter().find(|s| s.id == "http-error-burst").unwrap();
        assert!(scenario(good).is_empty(), "{:?}", scenario(good));
        let parsed = crate::scenario_local::spec::of(good).unwrap().unwrap();
        let mut cases = vec![("local: missing", None)];
        let mut l = parsed.clone();
        l.healthy = None;
        cases.push(("needs a load without the fault", Some(l)));
        let mut l = parsed.clone();
        l.duration = "5m".into();
        cases.push(("longer than", Some(l)));
        let mut l = parsed.clone();
        l.checks[0].probe =
            serde_yaml::from_str("!loadgen { step: no such step, stat: share, class: '500' }")
                .unwrap();
        cases.push(("no step", Some(l)));
        let mut l = parsed;
        l.checks.clear();
        cases.push(("at least one effect", Some(l)));
        let mut s = good.clone();
        s.local = Some(serde_yaml::from_str("{ duration: 10s, no_such_key: 1 }").unwrap());
        assert!(
            scenario(&s).join("\n").contains("its local: block"),
            "{:?}",
            scenario(&s)
        );
        for (expected, l) in cases {
            let problems = block(good, l.as_ref()).join("\n");
            assert!(problems.contains(expected), "{expected:?} in {problems}");
        }
    }
}
