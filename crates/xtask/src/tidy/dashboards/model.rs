//! The committed dashboards as data: panels (rows' collapsed children included), variables,
//! annotations, and every query with its language and datasource.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::{DASHBOARDS, grafana_dir};

/// One dashboard file.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// The file name without `.json` (overview, http, …).
    pub name: String,
    pub json: Value,
}

/// The query languages the dashboards use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    PromQL,
    TraceQL,
    LogQL,
    /// Tempo's service map: no expression of its own (it reads traces_service_graph_* in Prometheus).
    ServiceMap,
    /// A Prometheus variable: `label_values(selector, label)`.
    LabelValues,
}

/// One query of a panel, variable or annotation.
#[derive(Debug, Clone)]
pub struct Query {
    pub dashboard: String,
    pub uid: String,
    /// The panel title, `variable <name>` or `annotation <name>`.
    pub owner: String,
    pub lang: Lang,
    pub datasource_uid: String,
    pub expr: String,
    /// The target's refId (A, B, …); empty for variables and annotations.
    pub ref_id: String,
}

impl Dashboard {
    /// Every dashboard in grafana/dashboards/.
    pub fn load_all() -> Result<Vec<Dashboard>> {
        DASHBOARDS
            .iter()
            .map(|n| Self::load(&grafana_dir().join("dashboards").join(format!("{n}.json"))))
            .collect()
    }

    pub fn load(path: &Path) -> Result<Dashboard> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let json: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        Ok(Dashboard { name, json })
    }

    pub fn uid(&self) -> &str {
        self.json["uid"].as_str().unwrap_or_default()
    }

    /// Top-level panels and the children of collapsed rows, in order.
    pub fn panels(&self) -> Vec<&Value> {
        let mut out = Vec::new();
        for p in self.json["panels"].as_array().into_iter().flatten() {
            out.push(p);
            out.extend(p["panels"].as_array().into_iter().flatten());
        }
        out
    }

    /// The template variables (`templating.list`).
    pub fn variables(&self) -> Vec<&Value> {
        self.json["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .collect()
    }

    /// Every query: panel targets, query variables, annotations.
    pub fn queries(&self) -> Vec<Query> {
        let mut out = Vec::new();
        let uid = self.uid().to_owned();
        let mut push = |owner: String, lang: Lang, ds: &Value, expr: String, ref_id: &str| {
            out.push(Query {
                dashboard: self.name.clone(),
                uid: uid.clone(),
                owner,
                lang,
                datasource_uid: ds["uid"].as_str().unwrap_or_default().to_owned(),
                expr,
                ref_id: ref_id.to_owned(),
            })
        };
        for p in self.panels() {
            let title = p["title"].as_str().unwrap_or_default().to_owned();
            for t in p["targets"].as_array().into_iter().flatten() {
                let ds = if t["datasource"].is_object() {
                    &t["datasource"]
                } else {
                    &p["datasource"]
                };
                let lang = match ds["type"].as_str() {
                    Some("prometheus") => Lang::PromQL,
                    Some("loki") => Lang::LogQL,
                    Some("tempo") if t["queryType"] == "serviceMap" => Lang::ServiceMap,
                    Some("tempo") => Lang::TraceQL,
                    other => panic!(
                        "{}: panel {title:?} has a target of datasource type {other:?}",
                        self.name
                    ),
                };
                let expr = t["expr"]
                    .as_str()
                    .or(t["query"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                push(
                    title.clone(),
                    lang,
                    ds,
                    expr,
                    t["refId"].as_str().unwrap_or_default(),
                );
            }
        }
        for v in self.variables() {
            if v["type"] != "query" {
                continue;
            }
            let q = &v["query"];
            let expr = q["query"]
                .as_str()
                .or(q.as_str())
                .unwrap_or_default()
                .to_owned();
            push(
                format!("variable {}", v["name"].as_str().unwrap_or_default()),
                Lang::LabelValues,
                &v["datasource"],
                expr,
                "",
            );
        }
        for a in self.json["annotations"]["list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let lang = match a["datasource"]["type"].as_str() {
                Some("loki") => Lang::LogQL,
                Some("prometheus") => Lang::PromQL,
                _ => continue, // Grafana's built-in annotations have no query
            };
            let expr = a["target"]["expr"]
                .as_str()
                .or(a["expr"].as_str())
                .unwrap_or_default()
                .to_owned();
            push(
                format!("annotation {}", a["name"].as_str().unwrap_or_default()),
                lang,
                &a["datasource"],
                expr,
                "",
            );
        }
        out
    }
}

/// `label_values(selector, label)` → (selector, label).
pub fn split_label_values(expr: &str) -> Option<(&str, &str)> {
    let inner = expr
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    let (sel, label) = inner.rsplit_once(',')?;
    Some((sel.trim(), label.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_splits_at_the_last_comma() {
        assert_eq!(
            split_label_values(r#"label_values(m{a="x", b="y"}, service_name)"#),
            Some((r#"m{a="x", b="y"}"#, "service_name"))
        );
        assert_eq!(split_label_values("up"), None);
    }
}
