//! Prometheus' instant-query API (`/api/v1/query`): one value, or a vector of labelled values. The
//! signatures are the ones CONTRACT.md fixes for crate::prom (written by the `kindrun` stream), so the
//! lead can swap this private copy for it.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::Value;

use super::http;

/// The instant query's result as (labels, value) per series; a scalar is one unlabelled value.
pub async fn query_vector(
    base: &str,
    promql: &str,
) -> anyhow::Result<Vec<(BTreeMap<String, String>, f64)>> {
    let body = http::get(
        base,
        &format!("/api/v1/query?query={}", http::encode(promql)),
    )
    .await?;
    parse(&body).with_context(|| format!("query `{promql}`"))
}

/// The single value of an instant query, `None` when it returns no series.
pub async fn query_value(base: &str, promql: &str) -> anyhow::Result<Option<f64>> {
    let vector = query_vector(base, promql).await?;
    if vector.len() > 1 {
        bail!("query `{promql}` returned {} series, not one", vector.len());
    }
    Ok(vector.into_iter().next().map(|(_, v)| v))
}

/// Parses `{"status":"success","data":{"resultType":…,"result":…}}` (Prometheus' HTTP API docs).
pub fn parse(body: &str) -> anyhow::Result<Vec<(BTreeMap<String, String>, f64)>> {
    let v: Value = serde_json::from_str(body).context("Prometheus' answer is not JSON")?;
    if v["status"] != "success" {
        bail!("Prometheus: {} {}", v["errorType"], v["error"]);
    }
    let number = |pair: &Value| -> anyhow::Result<f64> {
        pair.get(1)
            .and_then(Value::as_str)
            .context("a sample without a value")?
            .parse::<f64>()
            .context("a sample value that is not a number")
    };
    let data = &v["data"];
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .context("vector result is not a list")?
            .iter()
            .map(|series| {
                let labels = series["metric"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok((labels, number(&series["value"])?))
            })
            .collect(),
        Some("scalar") => Ok(vec![(BTreeMap::new(), number(&data["result"])?)]),
        other => bail!("unexpected resultType {other:?}"),
    }
}
