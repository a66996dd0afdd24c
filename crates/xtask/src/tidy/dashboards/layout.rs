//! Structural checks of a dashboard that need no server: panels on the 24-column grid without
//! overlap, every datasource a provisioned uid of the right type, and every panel teaching (a
//! description, a unit, thresholds on ratios, a unique title).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde_json::Value;

use super::grafana_dir;
use super::model::Dashboard;

/// The provisioned datasources: uid → type (grafana/provisioning/datasources/datasources.yaml).
pub fn provisioned_datasources() -> Result<BTreeMap<String, String>> {
    let p = grafana_dir().join("provisioning/datasources/datasources.yaml");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let y: serde_yaml::Value = serde_yaml::from_str(&text)?;
    Ok(y["datasources"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
            (s("uid"), s("type"))
        })
        .collect())
}

/// Panels outside the grid or overlapping another (rows included: they take a full-width line).
pub fn overlaps(d: &Dashboard) -> Vec<String> {
    let mut problems = Vec::new();
    let rects: Vec<(String, [i64; 4])> = d.json["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let g = &p["gridPos"];
            let n = |k: &str| g[k].as_i64().unwrap_or(-1);
            (
                p["title"].as_str().unwrap_or_default().to_owned(),
                [n("x"), n("y"), n("w"), n("h")],
            )
        })
        .collect();
    for (title, [x, y, w, h]) in &rects {
        if *x < 0 || *y < 0 || *w <= 0 || *h <= 0 || x + w > 24 {
            problems.push(format!(
                "{}: panel {title:?} is off the grid ({x},{y} {w}×{h})",
                d.name
            ));
        }
    }
    for (i, (a, [ax, ay, aw, ah])) in rects.iter().enumerate() {
        for (b, [bx, by, bw, bh]) in &rects[i + 1..] {
            if ax < &(bx + bw) && bx < &(ax + aw) && ay < &(by + bh) && by < &(ay + ah) {
                problems.push(format!("{}: panels {a:?} and {b:?} overlap", d.name));
            }
        }
    }
    problems
}

/// Every `datasource` in the dashboard (panels, targets, variables, annotations) must name a
/// provisioned uid with its type; a legacy string datasource is refused.
pub fn datasources(d: &Dashboard, provisioned: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    walk(&d.json, "", &mut |path, ds| match ds {
        Value::Object(o) => {
            let uid = o.get("uid").and_then(Value::as_str).unwrap_or_default();
            let ty = o.get("type").and_then(Value::as_str).unwrap_or_default();
            // Grafana's own annotation source ("-- Grafana --") is built in, not provisioned.
            if uid == "-- Grafana --" && ty == "grafana" {
                return;
            }
            match provisioned.get(uid) {
                None => problems.push(format!(
                    "{}{path}: datasource uid {uid:?} is not provisioned",
                    d.name
                )),
                Some(t) if t != ty => problems.push(format!(
                    "{}{path}: datasource {uid:?} has type {ty:?}, provisioned as {t:?}",
                    d.name
                )),
                Some(_) => {}
            }
        }
        other => problems.push(format!(
            "{}{path}: datasource {other} is not a {{type, uid}} reference",
            d.name
        )),
    });
    problems
}

fn walk(v: &Value, path: &str, f: &mut impl FnMut(&str, &Value)) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                let p = format!("{path}.{k}");
                if k == "datasource" {
                    f(&p, child);
                } else {
                    walk(child, &p, f);
                }
            }
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| walk(c, &format!("{path}[{i}]"), f)),
        _ => {}
    }
}

/// Panels that do not teach: no description, no unit on a number, a ratio without thresholds, or a
/// title used twice (titles name panels in reports and in the fixture's expectations).
pub fn teaching(d: &Dashboard) -> Vec<String> {
    let mut problems = Vec::new();
    let mut titles = BTreeSet::new();
    for p in d.panels() {
        let ty = p["type"].as_str().unwrap_or_default();
        if ty == "row" {
            continue;
        }
        let title = p["title"].as_str().unwrap_or_default();
        if !titles.insert(title.to_owned()) {
            problems.push(format!("{}: title {title:?} is used twice", d.name));
        }
        if p["description"].as_str().is_none_or(|s| s.len() < 20) {
            problems.push(format!("{}: panel {title:?} has no description", d.name));
        }
        let numeric = matches!(ty, "timeseries" | "stat" | "gauge" | "bargauge")
            || (ty == "table" && p["datasource"]["type"] == "prometheus");
        let defaults = &p["fieldConfig"]["defaults"];
        let unit = defaults["unit"].as_str().unwrap_or_default();
        if numeric && unit.is_empty() {
            problems.push(format!("{}: panel {title:?} has no unit", d.name));
        }
        let steps = defaults["thresholds"]["steps"]
            .as_array()
            .map_or(0, Vec::len);
        if unit == "percentunit" && steps < 2 {
            problems.push(format!(
                "{}: ratio panel {title:?} has no thresholds",
                d.name
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dash(panels: Value) -> Dashboard {
        Dashboard {
            name: "t".into(),
            json: json!({ "panels": panels }),
        }
    }

    #[test]
    fn overlapping_and_off_grid_panels_are_found() {
        let d = dash(json!([
            { "title": "a", "gridPos": { "x": 0, "y": 0, "w": 12, "h": 8 } },
            { "title": "b", "gridPos": { "x": 6, "y": 4, "w": 12, "h": 8 } },
            { "title": "c", "gridPos": { "x": 18, "y": 20, "w": 12, "h": 8 } },
            { "title": "d", "gridPos": { "x": 12, "y": 0, "w": 12, "h": 5 } }
        ]));
        let p = overlaps(&d);
        assert_eq!(p.len(), 3, "{p:?}"); // c off the grid; a∩b; b∩d
    }

    #[test]
    fn unknown_or_mistyped_or_string_datasources_are_found() {
        let provisioned: BTreeMap<String, String> =
            [("prometheus".to_owned(), "prometheus".to_owned())].into();
        let d = dash(json!([
            { "datasource": { "type": "prometheus", "uid": "prometheus" },
              "targets": [ { "datasource": { "type": "loki", "uid": "prometheus" } } ] },
            { "datasource": "Prometheus" },
            { "datasource": { "type": "tempo", "uid": "tempo" } }
        ]));
        assert_eq!(datasources(&d, &provisioned).len(), 3);
    }
}
