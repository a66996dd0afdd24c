//! Scenario files (YAML) and the built-in profiles, which are the same files embedded in the binary
//! so `loadgen run spike` works with nothing on disk.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::driver::Request;
use crate::driver::grpc::GrpcStep;
use crate::driver::http::HttpStep;
use crate::driver::kafka::KafkaStep;
use crate::driver::redis::RedisStep;
use crate::driver::sql::SqlStep;
use crate::runner::Step;
use crate::schedule::{Arrivals, Schedule};
use crate::threshold::Threshold;

/// The built-in profiles, by name.
pub const PROFILES: &[(&str, &str)] = &[
    ("constant", include_str!("../profiles/constant.yaml")),
    ("spike", include_str!("../profiles/spike.yaml")),
    ("ramp", include_str!("../profiles/ramp.yaml")),
    ("mixed", include_str!("../profiles/mixed.yaml")),
];

/// A scenario as written in YAML (see docs/load-testing.md for the reference).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub schedule: Schedule,
    #[serde(default)]
    pub arrivals: Option<Arrivals>,
    pub steps: Vec<StepSpec>,
    /// e.g. `p99 < 250ms`, `unexpected_errors < 1%`; a breach makes `loadgen` exit with code 3.
    /// Parsed with the file: a threshold with a typo makes the scenario invalid before any load.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub name: String,
    #[serde(default = "one")]
    pub weight: u32,
    /// Outcome classes that are part of the plan; default: success only (`2xx`).
    #[serde(default)]
    pub expect: Vec<String>,
    pub http: Option<HttpStep>,
    pub grpc: Option<GrpcStep>,
    pub redis: Option<RedisStep>,
    pub sql: Option<SqlStep>,
    pub kafka: Option<KafkaStep>,
}

fn one() -> u32 {
    1
}

impl Scenario {
    /// Loads a built-in profile by name, or a YAML file by path, substituting `${VAR}` from `vars`.
    pub fn load(name_or_path: &str, vars: &BTreeMap<String, String>) -> anyhow::Result<Scenario> {
        let text = match PROFILES.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, text)) => (*text).to_owned(),
            None => std::fs::read_to_string(name_or_path).map_err(|e| {
                let names: Vec<_> = PROFILES.iter().map(|(n, _)| *n).collect();
                anyhow::anyhow!(
                    "{name_or_path:?} is neither a built-in profile ({}) nor a readable file: {e}",
                    names.join(", ")
                )
            })?,
        };
        Self::parse(&text, vars)
    }

    pub fn parse(text: &str, vars: &BTreeMap<String, String>) -> anyhow::Result<Scenario> {
        let scenario: Scenario = serde_yaml::from_str(&substitute(text, vars)?)?;
        scenario
            .schedule
            .validate()
            .map_err(|e| anyhow::anyhow!("scenario {}: {e}", scenario.name))?;
        if scenario.steps.is_empty() || scenario.steps.iter().all(|s| s.weight == 0) {
            anyhow::bail!(
                "scenario {}: needs at least one step with a weight above 0",
                scenario.name
            );
        }
        Ok(scenario)
    }

    /// The runnable steps.
    pub fn steps(&self) -> anyhow::Result<Vec<Step>> {
        self.steps.iter().map(StepSpec::to_step).collect()
    }
}

impl StepSpec {
    /// The runnable step: exactly one protocol block, and `expect` defaulting to that protocol's
    /// success classes.
    fn to_step(&self) -> anyhow::Result<Step> {
        let mut kinds: Vec<Request> = Vec::new();
        kinds.extend(self.http.clone().map(Request::Http));
        kinds.extend(self.grpc.clone().map(Request::Grpc));
        kinds.extend(self.redis.clone().map(Request::Redis));
        kinds.extend(self.sql.clone().map(Request::Sql));
        kinds.extend(self.kafka.clone().map(Request::Kafka));
        let (Some(request), true) = (kinds.pop(), kinds.is_empty()) else {
            anyhow::bail!(
                "step {}: needs exactly one of `http:`, `grpc:`, `redis:`, `sql:` or `kafka:`",
                self.name
            );
        };
        let expect = request.expect_or_successes(self.expect.clone());
        Ok(Step {
            name: self.name.clone(),
            weight: self.weight,
            request,
            expect,
        })
    }
}

/// Replaces `${NAME}` with `vars[NAME]`; an unknown name is an error that lists the known ones.
fn substitute(text: &str, vars: &BTreeMap<String, String>) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            anyhow::bail!("unclosed ${{ in scenario")
        };
        let name = &rest[start + 2..start + end];
        let value = vars.get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown variable ${{{name}}}; known: {}",
                vars.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        out.push_str(value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        crate::cli::VARIABLES
            .iter()
            .map(|k| ((*k).to_owned(), "http://x".to_owned()))
            .collect()
    }

    #[test]
    fn every_builtin_profile_parses_and_has_steps() {
        for (name, _) in PROFILES {
            let s = Scenario::load(name, &vars()).unwrap();
            assert_eq!(&s.name, name);
            assert!(!s.steps().unwrap().is_empty());
            assert!(s.schedule.expected_arrivals() > 0.0);
        }
    }

    #[test]
    fn unknown_variables_and_fields_are_errors() {
        let e = Scenario::parse(
            "name: x\nschedule: {stages: [{target: 1, duration: 1s}]}\nsteps: [{name: a, http: {url: '${NOPE}/'}}]",
            &vars(),
        );
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("unknown variable ${NOPE}")
        );
        let e = Scenario::parse(
            "name: x\nbogus: 1\nschedule: {stages: [{target: 1, duration: 1s}]}\nsteps: []",
            &vars(),
        );
        assert!(e.unwrap_err().to_string().contains("bogus"));
        assert!(Scenario::load("no-such-profile", &vars()).is_err());
    }

    #[test]
    fn a_threshold_typo_makes_the_scenario_invalid_and_names_its_line() {
        let text = "name: x\nschedule: {stages: [{target: 1, duration: 1s}]}\n\
                    steps: [{name: a, http: {url: 'http://x/'}}]\n\
                    thresholds: ['p99 < 250ms', 'unexpected_errors < 1']";
        let e = Scenario::parse(text, &vars()).unwrap_err().to_string();
        assert!(
            e.contains("\"1\" is not a percentage such as 1%") && e.contains("at line 4"),
            "{e}"
        );
        let fixed = text.replace("< 1'", "< 1%'");
        let s = Scenario::parse(&fixed, &vars()).unwrap();
        assert_eq!(s.thresholds.len(), 2);
    }
}
