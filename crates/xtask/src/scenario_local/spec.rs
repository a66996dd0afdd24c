//! A scenario's `local:` block: how its trigger is proven against the local lab — a shortened load and
//! checks measured from outside the services (loadgen's report, a service's JSON statistics, Redis'
//! INFO, PostgreSQL's statistics views, a consumer group's lag at the broker). Every check must hold
//! in the fault phase and not hold in the healthy phase before it nor in the recovery phase after the
//! revert. Unknown keys are errors, as everywhere in a scenario file.

use serde::Deserialize;

use lab::scenarios::model::Op;

/// A scenario's `local:` block, parsed: the lab crate keeps it as YAML (only these tools read it).
pub fn of(s: &lab::scenarios::Scenario) -> anyhow::Result<Option<Local>> {
    s.local
        .clone()
        .map(|v| {
            serde_yaml::from_value(v)
                .map_err(|e| anyhow::anyhow!("{}: its local: block: {e}", s.id))
        })
        .transpose()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Local {
    /// Length of each phase's load (the trigger's schedule stretched or shrunk to it), e.g. `5s`.
    pub duration: String,
    /// Peak arrivals per second of the shortened load (the schedule scaled, like `loadgen --rate`).
    #[serde(default)]
    pub rate: Option<f64>,
    /// The load of the healthy and recovery phases, an inline loadgen profile — needed when the
    /// trigger is only load (the fault is the load's bad share); default: the trigger's own load.
    #[serde(default)]
    pub healthy: Option<serde_yaml::Value>,
    /// Unmeasured healthy load run right before the healthy and the recovery measurements, for this
    /// long (a cache filled, a backlog drained): the steady state the phase is compared in.
    #[serde(default)]
    pub warmup: Option<String>,
    /// Peak rate of the warm-up (default: `rate`).
    #[serde(default)]
    pub warmup_rate: Option<f64>,
    pub checks: Vec<Check>,
}

/// One effect of the fault, measured from outside.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// What it shows, in words.
    pub name: String,
    #[serde(with = "serde_yaml::with::singleton_map")]
    pub probe: Probe,
    pub op: Op,
    pub threshold: f64,
}

/// Where a value comes from. Counters read from a service or backend are read before and after the
/// phase's load; the value is the difference (÷ the requests loadgen completed in the phase when
/// `per_request`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Probe {
    /// A fact of the phase's loadgen report.
    Loadgen(LoadgenProbe),
    /// A numeric field of a JSON document a lab service serves (`/cache/stats`, `/stats`).
    Http(HttpProbe),
    /// A field of Redis' `INFO stats` (`keyspace_misses`, …).
    Redis(CounterProbe),
    /// A query returning one number from PostgreSQL's statistics (`pg_stat_statements`, …) in the
    /// orders database.
    Postgres(QueryProbe),
    /// Sum over a topic's partitions of (end offset − the group's committed offset), at the broker.
    KafkaLag(LagProbe),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadgenProbe {
    /// A step's name; default: all steps together (the report's `total`).
    #[serde(default)]
    pub step: Option<String>,
    pub stat: Stat,
    /// For `share` and `count`: an outcome class as `expect` writes it (`503`, `5xx`, `UNAVAILABLE`).
    #[serde(default)]
    pub class: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stat {
    /// Outcomes of `class` ÷ completed requests.
    Share,
    /// Outcomes of `class`.
    Count,
    /// Outcomes that are not a success of the protocol ÷ completed requests.
    ErrorShare,
    /// 99th percentile of the service time (completion − send), in milliseconds.
    P99Ms,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    /// A lab service by its lab name (`gateway`, `events-consumer-notifications`, …).
    pub service: String,
    pub path: String,
    /// A top-level numeric field of the answer.
    pub field: String,
    #[serde(default)]
    pub per_request: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterProbe {
    pub field: String,
    #[serde(default)]
    pub per_request: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryProbe {
    /// One row, one column, a number (cast it: `::float8`).
    pub query: String,
    #[serde(default)]
    pub per_request: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LagProbe {
    pub group: String,
    pub topic: String,
}

impl Check {
    /// Whether `value` passes (NaN never does: no measurement is not an effect).
    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            Op::Above => value > self.threshold,
            Op::Below => value < self.threshold,
        }
    }

    /// `probe op threshold`, for reports.
    pub fn describe(&self) -> String {
        let op = match self.op {
            Op::Above => ">",
            Op::Below => "<",
        };
        format!("{} {op} {}", self.probe.describe(), self.threshold)
    }
}

impl Probe {
    pub fn describe(&self) -> String {
        let per = |p: bool| if p { " per request" } else { "" };
        match self {
            Probe::Loadgen(l) => {
                let step = l.step.as_deref().unwrap_or("total");
                let class = l.class.as_deref().unwrap_or("");
                match l.stat {
                    Stat::Share => format!("loadgen[{step}] share of {class}"),
                    Stat::Count => format!("loadgen[{step}] count of {class}"),
                    Stat::ErrorShare => format!("loadgen[{step}] error share"),
                    Stat::P99Ms => format!("loadgen[{step}] p99 ms"),
                }
            }
            Probe::Http(h) => format!(
                "Δ {} {} .{}{}",
                h.service,
                h.path,
                h.field,
                per(h.per_request)
            ),
            Probe::Redis(c) => format!("Δ redis INFO {}{}", c.field, per(c.per_request)),
            Probe::Postgres(q) => {
                let sql: Vec<&str> = q.query.split_whitespace().collect();
                format!("Δ postgres `{}`{}", sql.join(" "), per(q.per_request))
            }
            Probe::KafkaLag(k) => format!("Δ lag of group {} on {}", k.group, k.topic),
        }
    }

    /// Whether its value needs readings before and after the load (everything but loadgen's report).
    pub fn is_counter(&self) -> bool {
        !matches!(self, Probe::Loadgen(_))
    }
}

/// `5s`, `2m` → seconds.
pub fn seconds(text: &str) -> anyhow::Result<f64> {
    let t = text.trim();
    let (n, unit) = t.split_at(t.len().saturating_sub(1));
    let n: f64 = n
        .parse()
        .map_err(|_| anyhow::anyhow!("{t:?}: expected e.g. 5s or 2m"))?;
    match unit {
        "s" if n > 0.0 => Ok(n),
        "m" if n > 0.0 => Ok(n * 60.0),
        _ => anyhow::bail!("{t:?}: expected e.g. 5s or 2m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_parses_and_unknown_keys_are_refused() {
        let text = r#"
duration: 5s
checks:
  - name: 503s
    probe: { loadgen: { stat: share, class: "503" } }
    op: ">"
    threshold: 0.5
  - name: lag
    probe: { kafka-lag: { group: analytics, topic: orders.created } }
    op: ">"
    threshold: 10
"#;
        let l: Local = serde_yaml::from_str(text).unwrap();
        assert_eq!(l.checks.len(), 2);
        assert!(l.checks[0].holds(0.6) && !l.checks[0].holds(0.5));
        assert!(!l.checks[0].holds(f64::NAN));
        assert_eq!(l.checks[0].describe(), "loadgen[total] share of 503 > 0.5");
        for bad in [
            text.replace("duration:", "duraton:"),
            text.replace("class:", "klass:"),
            text.replace("loadgen:", "prometheus:"),
            text.replace("stat: share", "stat: mean"),
        ] {
            assert!(serde_yaml::from_str::<Local>(&bad).is_err(), "{bad}");
        }
        assert_eq!(seconds("5s").unwrap(), 5.0);
        assert_eq!(seconds("2m").unwrap(), 120.0);
        assert!(seconds("5h").is_err() && seconds("0s").is_err());
    }
}
