//! Which metric and label names a dashboard's PromQL may use, and the check that it does.
//!
//! Allowed: OBI v0.14.0's Prometheus names (grafana/obi-v0.14.0-metrics.yaml, taken from OBI's own
//! source), the backend exporters' documented metrics (grafana/exporters.yaml) and Prometheus' own
//! (`up`, `job`, `instance`, `le`, `__name__`). A label is allowed on a selector only if the metric
//! carries it, so `rpc_server_call_duration_seconds_count{rpc_grpc_status_code=…}` (a pre-v0.10 name)
//! fails even though the metric exists.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, LabelModifier, VectorSelector};
use serde_yaml::Value;

use super::grafana_dir;

/// Labels Prometheus itself puts on or uses with every series.
const PROMETHEUS_LABELS: [&str; 3] = ["job", "instance", "__name__"];
/// Metrics Prometheus itself produces for every scrape.
const PROMETHEUS_METRICS: [&str; 1] = ["up"];

/// Every allowed metric with its labels, and where its name comes from.
#[derive(Debug, Default)]
pub struct Catalog {
    pub metrics: BTreeMap<String, Metric>,
    /// Names OBI no longer emits (Beyla before v0.10): a clearer message than "unknown".
    pub removed: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub labels: BTreeSet<String>,
    pub source: String,
}

impl Catalog {
    /// Reads grafana/obi-v0.14.0-metrics.yaml and grafana/exporters.yaml.
    pub fn load() -> Result<Catalog> {
        let read = |f: &str| -> Result<Value> {
            let p = grafana_dir().join(f);
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            serde_yaml::from_str(&text).with_context(|| format!("parsing {}", p.display()))
        };
        let mut c = Catalog::default();
        let obi = read("obi-v0.14.0-metrics.yaml")?;
        let app: Vec<String> = strings(&obi["app_labels"]);
        for m in obi["metrics"].as_sequence().into_iter().flatten() {
            let name = m["name"].as_str().unwrap_or_default();
            let mut labels: BTreeSet<String> = strings(&m["labels"]).into_iter().collect();
            // Span metrics and the service graph carry their own labels, not the app group.
            if !name.starts_with("traces_") && !name.starts_with("obi_network") {
                labels.extend(app.iter().cloned());
            }
            c.add(
                name,
                m["type"].as_str().unwrap_or_default(),
                labels,
                "OBI v0.14.0",
            );
        }
        c.removed = strings(&obi["removed_names"]).into_iter().collect();
        let exporters = read("exporters.yaml")?;
        for e in exporters["exporters"].as_sequence().into_iter().flatten() {
            let source = format!("exporter {}", e["job"].as_str().unwrap_or_default());
            for m in e["metrics"].as_sequence().into_iter().flatten() {
                let labels = strings(&m["labels"]).into_iter().collect();
                c.add(m["name"].as_str().unwrap_or_default(), "", labels, &source);
            }
        }
        for m in PROMETHEUS_METRICS {
            c.add(m, "", BTreeSet::new(), "Prometheus");
        }
        Ok(c)
    }

    /// Adds a metric; a histogram adds its `_bucket` (with `le`), `_count` and `_sum` series.
    fn add(&mut self, name: &str, kind: &str, mut labels: BTreeSet<String>, source: &str) {
        labels.extend(PROMETHEUS_LABELS.map(str::to_owned));
        let metric = |labels: BTreeSet<String>| Metric {
            labels,
            source: source.to_owned(),
        };
        if kind == "histogram" {
            let mut bucket = labels.clone();
            bucket.insert("le".to_owned());
            self.metrics
                .insert(format!("{name}_bucket"), metric(bucket));
            self.metrics
                .insert(format!("{name}_count"), metric(labels.clone()));
            self.metrics.insert(format!("{name}_sum"), metric(labels));
        } else {
            self.metrics.insert(name.to_owned(), metric(labels));
        }
    }

    /// Parses `expr` (variables already substituted) and returns every problem with its names;
    /// an unparsable expression is one problem.
    pub fn check(&self, expr: &str) -> Vec<String> {
        match parser::parse(expr) {
            Err(e) => vec![format!("does not parse: {e}")],
            Ok(ast) => {
                let mut problems = Vec::new();
                self.walk(&ast, &mut problems);
                problems
            }
        }
    }

    /// The metric names an expression reads (for reports and the fixture's coverage).
    pub fn metrics_of(expr: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Ok(ast) = parser::parse(expr) {
            collect(&ast, &mut out);
        }
        out
    }

    /// Checks `e` and returns the labels its result may carry (the union over the metrics read).
    fn walk(&self, e: &Expr, problems: &mut Vec<String>) -> BTreeSet<String> {
        match e {
            Expr::VectorSelector(vs) => self.selector(vs, problems),
            Expr::MatrixSelector(ms) => self.selector(&ms.vs, problems),
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    self.walk(p, problems);
                }
                let inner = self.walk(&a.expr, problems);
                match &a.modifier {
                    Some(m) => {
                        self.require(m.labels().labels.iter(), &inner, "aggregation", problems);
                        match m {
                            LabelModifier::Include(l) => l.labels.iter().cloned().collect(),
                            LabelModifier::Exclude(l) => inner
                                .iter()
                                .filter(|x| !l.labels.contains(x))
                                .cloned()
                                .collect(),
                        }
                    }
                    None => BTreeSet::new(),
                }
            }
            Expr::Binary(b) => {
                let mut labels = self.walk(&b.lhs, problems);
                labels.extend(self.walk(&b.rhs, problems));
                if let Some(m) = &b.modifier {
                    if let Some(matching) = &m.matching {
                        self.require(
                            matching.labels().labels.iter(),
                            &labels,
                            "on/ignoring",
                            problems,
                        );
                    }
                    if let Some(group) = m.card.labels() {
                        self.require(group.labels.iter(), &labels, "group_left/right", problems);
                    }
                }
                labels
            }
            Expr::Paren(p) => self.walk(&p.expr, problems),
            Expr::Unary(u) => self.walk(&u.expr, problems),
            Expr::Subquery(s) => self.walk(&s.expr, problems),
            Expr::Call(c) => c.args.args.iter().fold(BTreeSet::new(), |mut acc, a| {
                acc.extend(self.walk(a, problems));
                acc
            }),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => BTreeSet::new(),
        }
    }

    fn selector(&self, vs: &VectorSelector, problems: &mut Vec<String>) -> BTreeSet<String> {
        let names = selector_names(vs);
        if names.is_empty() {
            problems.push(format!("selector {vs} names no metric (cannot be checked)"));
        }
        let mut labels = BTreeSet::new();
        for name in &names {
            let Some(metric) = self.metrics.get(name) else {
                if self.removed.contains(name)
                    || self.removed.iter().any(|r| name.starts_with(r.as_str()))
                {
                    problems.push(format!(
                        "{name}: a pre-v0.10 Beyla name OBI v0.14.0 no longer emits"
                    ));
                } else {
                    problems.push(format!(
                        "{name}: not an OBI v0.14.0, exporter or Prometheus metric"
                    ));
                }
                continue;
            };
            for m in vs
                .matchers
                .matchers
                .iter()
                .chain(vs.matchers.or_matchers.iter().flatten())
            {
                if m.name != "__name__" && !metric.labels.contains(&m.name) {
                    problems.push(format!(
                        "{name} has no label {} ({})",
                        m.name, metric.source
                    ));
                }
            }
            labels.extend(metric.labels.iter().cloned());
        }
        labels
    }

    fn require<'a>(
        &self,
        wanted: impl Iterator<Item = &'a String>,
        have: &BTreeSet<String>,
        what: &str,
        problems: &mut Vec<String>,
    ) {
        for l in wanted {
            if !have.contains(l) {
                problems.push(format!(
                    "{what} label {l} is on none of the series it applies to"
                ));
            }
        }
    }
}

/// The metric names a selector reads: its name, or a `__name__` equality / plain alternation.
fn selector_names(vs: &VectorSelector) -> Vec<String> {
    if let Some(n) = &vs.name {
        return vec![n.clone()];
    }
    vs.matchers
        .matchers
        .iter()
        .filter(|m| m.name == "__name__")
        .flat_map(|m| match &m.op {
            MatchOp::Equal => vec![m.value.clone()],
            MatchOp::Re(_)
                if m.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '|') =>
            {
                m.value.split('|').map(str::to_owned).collect()
            }
            _ => vec![],
        })
        .collect()
}

fn collect(e: &Expr, out: &mut BTreeSet<String>) {
    match e {
        Expr::VectorSelector(vs) => out.extend(selector_names(vs)),
        Expr::MatrixSelector(ms) => out.extend(selector_names(&ms.vs)),
        Expr::Aggregate(a) => {
            collect(&a.expr, out);
            if let Some(p) = &a.param {
                collect(p, out);
            }
        }
        Expr::Binary(b) => {
            collect(&b.lhs, out);
            collect(&b.rhs, out);
        }
        Expr::Paren(p) => collect(&p.expr, out),
        Expr::Unary(u) => collect(&u.expr, out),
        Expr::Subquery(s) => collect(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect(a, out)),
        _ => {}
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(expr: &str) -> Vec<String> {
        Catalog::load().unwrap().check(expr)
    }

    #[test]
    fn obi_and_exporter_names_pass() {
        assert_eq!(
            problems(
                r#"sum by (rpc_method) (rate(rpc_server_call_duration_seconds_count{rpc_response_status_code!="OK"}[1m]))"#
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(
                r#"histogram_quantile(0.99, sum by (le) (rate(db_client_operation_duration_seconds_bucket{db_system_name="redis"}[1m])))"#
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            problems("sum by (consumergroup, topic, partition) (kafka_consumergroup_lag)"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn old_names_unknown_labels_and_type_errors_fail() {
        assert!(problems("rate(rpc_server_duration_seconds_count[1m])")[0].contains("pre-v0.10"));
        assert!(
            problems(r#"rpc_server_call_duration_seconds_count{rpc_grpc_status_code="0"}"#)[0]
                .contains("no label rpc_grpc_status_code")
        );
        assert!(
            problems("sum by (nope) (rate(http_server_request_duration_seconds_count[1m]))")[0]
                .contains("nope")
        );
        assert!(problems("redis_keyspace_hits_total{le=\"1\"}")[0].contains("no label le"));
        assert!(
            problems("rate(http_server_request_duration_seconds_count)")[0]
                .contains("does not parse")
        );
        assert!(problems("sum(rate({job=\"obi\"}[1m]))")[0].contains("names no metric"));
    }
}
