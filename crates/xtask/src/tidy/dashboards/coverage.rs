//! The dashboards' data coverage: every PromQL target of every dashboard (variables substituted as a
//! viewer's defaults), evaluated against a Prometheus at several instants, and the share that returns
//! data — split into *OBI-fed* targets (reading at least one OBI v0.14.0 metric) and the rest.
//!
//! A target that cannot return data from a given source (a backend exporter or Kubernetes metadata
//! that only the kind lab has) goes on an [`Allowlist`] with its reason. The list is checked both
//! ways: a target without data that is not on it is a problem, and so is a listed target that now
//! returns data (the list must not hide a panel that works), or a listed target no dashboard has.
//! A query Prometheus rejects is a problem whatever the list says.

use anyhow::{Context, Result};
use serde::Deserialize;

use super::model::{Dashboard, Lang};
use super::names::Catalog;
use super::substitute::{defaults, substitute};

/// One PromQL target of a panel (or annotation), ready to run.
#[derive(Debug, Clone)]
pub struct Target {
    pub dashboard: String,
    pub panel: String,
    pub ref_id: String,
    pub expr: String,
    /// Reads at least one metric OBI v0.14.0 publishes (grafana/obi-v0.14.0-metrics.yaml).
    pub obi_fed: bool,
}

impl Target {
    /// `dashboard uid / panel title / refId`: how reports and the allowlist name a target.
    pub fn key(&self) -> String {
        format!("{} / {} / {}", self.dashboard, self.panel, self.ref_id)
    }
}

/// What a target returned over all instants asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// At least one series with a finite value, and none that is NaN/±Inf.
    Data,
    /// Finite values, but also NaN/±Inf somewhere (e.g. a quantile over a series with no traffic).
    DataWithNaN,
    /// Series, but never a finite value.
    NotFinite,
    /// No series at any instant.
    Empty,
    /// Prometheus refused the query.
    Failed(String),
}

impl Outcome {
    pub fn has_data(&self) -> bool {
        matches!(self, Outcome::Data | Outcome::DataWithNaN)
    }
}

/// Every PromQL target of `dashboards`, keyed by dashboard uid.
pub fn targets(dashboards: &[Dashboard], catalog: &Catalog) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    for d in dashboards {
        let vars = defaults(d);
        for q in d.queries().into_iter().filter(|q| q.lang == Lang::PromQL) {
            let expr = substitute(&q.expr, &vars)
                .with_context(|| format!("{}: {}", q.dashboard, q.owner))?;
            let obi_fed = Catalog::metrics_of(&expr).iter().any(|m| {
                catalog
                    .metrics
                    .get(m)
                    .is_some_and(|x| x.source.starts_with("OBI"))
            });
            out.push(Target {
                dashboard: q.uid,
                panel: q.owner,
                ref_id: q.ref_id,
                expr,
                obi_fed,
            });
        }
    }
    Ok(out)
}

/// Runs every target at every instant of `times` (Unix seconds). `query` returns the values of an
/// instant query's series (an empty vector for no series).
pub fn evaluate<F>(targets: Vec<Target>, times: &[f64], mut query: F) -> Report
where
    F: FnMut(&str, f64) -> Result<Vec<f64>>,
{
    let rows = targets
        .into_iter()
        .map(|t| {
            let (mut finite, mut other) = (false, false);
            for &at in times {
                match query(&t.expr, at) {
                    Err(e) => return (t, Outcome::Failed(format!("{e:#}"))),
                    Ok(values) => {
                        finite |= values.iter().any(|v| v.is_finite());
                        other |= values.iter().any(|v| !v.is_finite());
                    }
                }
            }
            let outcome = match (finite, other) {
                (true, false) => Outcome::Data,
                (true, true) => Outcome::DataWithNaN,
                (false, true) => Outcome::NotFinite,
                (false, false) => Outcome::Empty,
            };
            (t, outcome)
        })
        .collect();
    Report { rows }
}

/// The targets that cannot return data from one source, each with its reason.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    /// What data the list is for (a recording's folder, or "fixture").
    pub source: String,
    #[serde(default)]
    pub targets: Vec<Allowed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowed {
    /// Dashboard uid.
    pub dashboard: String,
    pub panel: String,
    #[serde(rename = "ref")]
    pub ref_id: String,
    /// Why this source cannot feed it (e.g. "kind-only: redis_exporter").
    pub reason: String,
}

impl Allowed {
    fn key(&self) -> String {
        format!("{} / {} / {}", self.dashboard, self.panel, self.ref_id)
    }
}

impl Allowlist {
    pub fn parse(text: &str) -> Result<Allowlist> {
        Ok(serde_yaml::from_str(text)?)
    }

    /// An empty list: every target must return data (the fixture models every series).
    pub fn none(source: &str) -> Allowlist {
        Allowlist {
            source: source.to_owned(),
            targets: Vec::new(),
        }
    }
}

/// Every target with its outcome.
#[derive(Debug, Clone)]
pub struct Report {
    pub rows: Vec<(Target, Outcome)>,
}

impl Report {
    /// (targets with data, targets) among the OBI-fed ones (`obi`) or the others.
    pub fn share(&self, obi: bool) -> (usize, usize) {
        let of: Vec<_> = self.rows.iter().filter(|(t, _)| t.obi_fed == obi).collect();
        (of.iter().filter(|(_, o)| o.has_data()).count(), of.len())
    }

    /// Targets without data, not on `allow`; listed targets that have data or do not exist; listed
    /// targets without a reason; failed queries.
    pub fn problems(&self, allow: &Allowlist) -> Vec<String> {
        let mut out = Vec::new();
        for a in &allow.targets {
            let key = a.key();
            if a.reason.trim().is_empty() {
                out.push(format!("{key}: on the allowlist without a reason"));
            }
            match self.rows.iter().find(|(t, _)| t.key() == key) {
                None => out.push(format!("{key}: on the allowlist, but no dashboard has it")),
                Some((_, o)) if o.has_data() => out.push(format!(
                    "{key}: on the allowlist ({}), but it returns data now: take it off",
                    a.reason
                )),
                Some(_) => {}
            }
        }
        for (t, o) in &self.rows {
            let listed = allow.targets.iter().any(|a| a.key() == t.key());
            match o {
                Outcome::Failed(e) => out.push(format!("{}: query failed: {e}", t.key())),
                o if !o.has_data() && !listed => out.push(format!(
                    "{}: {o:?} and not on the allowlist\n  {}",
                    t.key(),
                    t.expr
                )),
                _ => {}
            }
        }
        out
    }

    /// A few lines for a test's output: the two shares and every target without data, with its
    /// reason from `allow` when listed.
    pub fn summary(&self, allow: &Allowlist) -> String {
        let pct = |(a, b): (usize, usize)| {
            if b == 0 {
                "n/a".to_owned()
            } else {
                format!("{a}/{b} = {:.1} %", 100.0 * a as f64 / b as f64)
            }
        };
        let mut s = format!(
            "data coverage on {}: OBI-fed targets {}, other targets {}\n",
            allow.source,
            pct(self.share(true)),
            pct(self.share(false))
        );
        for (t, o) in self.rows.iter().filter(|(_, o)| !o.has_data()) {
            let why = allow
                .targets
                .iter()
                .find(|a| a.key() == t.key())
                .map_or("NOT LISTED", |a| a.reason.as_str());
            s.push_str(&format!("  no data: {} ({o:?}): {why}\n", t.key()));
        }
        s
    }
}

/// `openmetrics` with `name="value"` added to every sample that lacks the label — e.g. the
/// `k8s_namespace_name="mop"` OBI's Kubernetes decorator adds in the kind lab, for a recording made
/// on a host where OBI saw plain processes (the dashboards select the namespace on every query).
pub fn with_label(openmetrics: &str, name: &str, value: &str) -> String {
    let pair = format!("{name}=\"{value}\"");
    let mut out = String::with_capacity(openmetrics.len() + openmetrics.len() / 8);
    for line in openmetrics.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            out.push_str(line);
        } else {
            let name_end = line.find([' ', '{']).unwrap_or(line.len());
            let (metric, rest) = line.split_at(name_end);
            match rest.strip_prefix('{') {
                Some(labels) if labels.contains(&format!("{name}=\"")) => out.push_str(line),
                Some(labels) if labels.starts_with('}') => {
                    out.push_str(&format!("{metric}{{{pair}{labels}"))
                }
                Some(labels) => out.push_str(&format!("{metric}{{{pair},{labels}")),
                None => out.push_str(&format!("{metric}{{{pair}}}{rest}")),
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(panel: &str, obi_fed: bool) -> Target {
        Target {
            dashboard: "mop-x".into(),
            panel: panel.into(),
            ref_id: "A".into(),
            expr: "up".into(),
            obi_fed,
        }
    }

    fn allowed(panel: &str, reason: &str) -> Allowed {
        Allowed {
            dashboard: "mop-x".into(),
            panel: panel.into(),
            ref_id: "A".into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn outcomes_come_from_every_instant_and_a_failure_wins() {
        // Data only at the second instant is data; NaN at every instant is not; a refusal wins.
        let ts = vec![target("a", true), target("b", true), target("c", false)];
        let r = evaluate(ts, &[1.0, 2.0], |_, at| {
            Ok(if at == 2.0 { vec![1.0] } else { vec![] })
        });
        assert!(r.rows.iter().all(|(_, o)| *o == Outcome::Data));
        let mut calls = 0;
        let r2 = evaluate(vec![target("b", true)], &[1.0, 2.0], |_, _| {
            calls += 1;
            Ok(vec![f64::NAN])
        });
        assert_eq!(r2.rows[0].1, Outcome::NotFinite);
        assert_eq!(calls, 2);
        let r3 = evaluate(vec![target("c", false)], &[1.0, 2.0], |_, _| {
            anyhow::bail!("bad_data: parse error")
        });
        assert!(matches!(r3.rows[0].1, Outcome::Failed(_)));
        assert_eq!(r.share(true), (2, 2));
    }

    #[test]
    fn the_allowlist_is_checked_both_ways() {
        let report = Report {
            rows: vec![
                (target("works", true), Outcome::Data),
                (target("empty listed", false), Outcome::Empty),
                (target("empty unlisted", true), Outcome::Empty),
                (target("broken", true), Outcome::Failed("x".into())),
            ],
        };
        let allow = Allowlist {
            source: "test".into(),
            targets: vec![
                allowed("empty listed", "kind-only: an exporter"),
                allowed("works", "stale entry"),
                allowed("gone", "a panel that was removed"),
                allowed("broken", ""),
            ],
        };
        let p = report.problems(&allow).join("\n");
        assert!(
            p.contains("works / A: on the allowlist (stale entry), but it returns data"),
            "{p}"
        );
        assert!(
            p.contains("gone / A: on the allowlist, but no dashboard has it"),
            "{p}"
        );
        assert!(
            p.contains("broken / A: on the allowlist without a reason"),
            "{p}"
        );
        assert!(p.contains("broken / A: query failed"), "{p}");
        assert!(
            p.contains("empty unlisted / A: Empty and not on the allowlist"),
            "{p}"
        );
        assert!(!p.contains("empty listed / A"), "{p}");
        assert_eq!(report.share(true), (1, 3));
        assert_eq!(report.share(false), (0, 1));
        assert!(
            report
                .summary(&allow)
                .contains("OBI-fed targets 1/3 = 33.3 %")
        );
        assert!(
            Allowlist::parse("source: x\ntargets: [{dashboard: d, panel: p, ref: A}]").is_err()
        );
    }

    #[test]
    fn a_label_is_added_where_missing_and_only_there() {
        let om = "# TYPE up gauge\nup 1 1700000000\nx{} 2\nh_bucket{le=\"0.1\",job=\"o\"} 3 1700000000\ny{k8s_namespace_name=\"other\"} 4\n# EOF\n";
        let got = with_label(om, "k8s_namespace_name", "mop");
        assert_eq!(
            got,
            "# TYPE up gauge\nup{k8s_namespace_name=\"mop\"} 1 1700000000\nx{k8s_namespace_name=\"mop\"} 2\nh_bucket{k8s_namespace_name=\"mop\",le=\"0.1\",job=\"o\"} 3 1700000000\ny{k8s_namespace_name=\"other\"} 4\n# EOF\n"
        );
    }
}
