//! The Prometheus HTTP API client of the lab: an instant query answered as one value
//! ([`query_value`]) or as labelled series ([`query_vector`]), and a bounded poll of one value
//! ([`wait_for`]), used by `lab scenario` (polling a
//! scenario's assertion on the kind lab) and by `lab verify`.
//!
//! Plain HTTP (reqwest without TLS, like everything here). Errors say which of three things went
//! wrong, because "query failed" is useless when polling for minutes: the server could not be reached
//! or answered a non-API HTTP error; the API answered `status: error` (its `error` text is PromQL's
//! own message, e.g. a parse error at a position); or the answer has a shape the caller did not ask
//! for (more than one series where one value was expected — aggregate it).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// One query against a lab's Prometheus answers in milliseconds; a stuck one must not stall a poll.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The one value of the instant query `promql` now: `None` when no series matches (absence is
/// not zero: write `or vector(0)` where it should be), an error when more than one does.
pub async fn query_value(base: &str, promql: &str) -> anyhow::Result<Option<f64>> {
    query_value_at(base, promql, None).await
}

/// Every series of the instant query `promql` now: its labels (`__name__` included when kept) and value.
pub async fn query_vector(
    base: &str,
    promql: &str,
) -> anyhow::Result<Vec<(BTreeMap<String, String>, f64)>> {
    query_vector_at(base, promql, None).await
}

/// [`query_value`] evaluated at `time` (Unix seconds; `None` = the server's now).
pub async fn query_value_at(
    base: &str,
    promql: &str,
    time: Option<f64>,
) -> anyhow::Result<Option<f64>> {
    let series = query_vector_at(base, promql, time).await?;
    match series.as_slice() {
        [] => Ok(None),
        [(_, v)] => Ok(Some(*v)),
        many => {
            let labels: Vec<String> = many.iter().take(5).map(|(l, _)| format!("{l:?}")).collect();
            bail!(
                "`{promql}`: {} series where one value was expected (aggregate it, e.g. sum(…)): {}{}",
                many.len(),
                labels.join(", "),
                if many.len() > 5 { ", …" } else { "" }
            )
        }
    }
}

/// [`query_vector`] evaluated at `time` (Unix seconds; `None` = the server's now). A scalar
/// result is one series without labels.
pub async fn query_vector_at(
    base: &str,
    promql: &str,
    time: Option<f64>,
) -> anyhow::Result<Vec<(BTreeMap<String, String>, f64)>> {
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", base.trim_end_matches('/')))
        .with_context(|| format!("Prometheus address {base:?}"))?;
    url.query_pairs_mut().append_pair("query", promql);
    if let Some(t) = time {
        url.query_pairs_mut()
            .append_pair("time", &format!("{t:.3}"));
    }
    let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("Prometheus at {base} not reachable (is the lab up?)"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("reading Prometheus' answer from {base}"))?;
    parse_response(status.as_u16(), &body).with_context(|| format!("query `{promql}`"))
}

/// The API's answer (`/api/v1/query`) as series. The API answers errors as JSON with 400/422/503
/// too, so the JSON is read first and the HTTP status only matters when the body is not the API's.
pub fn parse_response(
    status: u16,
    body: &str,
) -> anyhow::Result<Vec<(BTreeMap<String, String>, f64)>> {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        let excerpt: String = body.chars().take(200).collect();
        bail!("HTTP {status} from Prometheus, not an API answer: {excerpt}");
    };
    match json.get("status").and_then(Value::as_str) {
        Some("success") => {}
        Some("error") => bail!(
            "Prometheus: {} ({}, HTTP {status})",
            json.get("error").and_then(Value::as_str).unwrap_or("?"),
            json.get("errorType").and_then(Value::as_str).unwrap_or("?")
        ),
        _ => bail!("HTTP {status}: an answer without status: {json}"),
    }
    let data = json.get("data").context("an answer without data")?;
    let result = data
        .get("result")
        .context("an answer without data.result")?;
    match data.get("resultType").and_then(Value::as_str) {
        Some("vector") => result
            .as_array()
            .context("data.result is not a list")?
            .iter()
            .map(|s| {
                let labels = s
                    .get("metric")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok((labels, sample_value(s.get("value"))?))
            })
            .collect(),
        Some("scalar") => Ok(vec![(BTreeMap::new(), sample_value(Some(result))?)]),
        other => bail!("result type {other:?}: an instant vector or scalar was expected"),
    }
}

/// `[<unix time>, "<value>"]`: Prometheus writes values as strings (`"NaN"`, `"+Inf"` included).
fn sample_value(pair: Option<&Value>) -> anyhow::Result<f64> {
    let text = pair
        .and_then(|p| p.get(1))
        .and_then(Value::as_str)
        .with_context(|| format!("a sample without [time, value]: {pair:?}"))?;
    text.parse::<f64>()
        .with_context(|| format!("sample value {text:?} is not a number"))
}

/// How a bounded poll queries: where, how often, and at which evaluation time.
#[derive(Clone)]
pub struct Poll {
    pub prometheus: String,
    pub interval: Duration,
    /// The evaluation time of poll `n` (0-based) — `None`: Prometheus' now. Tests replay a fixture
    /// recorded in the past by mapping each poll to a point of it.
    pub time: Option<std::sync::Arc<dyn Fn(u32) -> f64 + Send + Sync>>,
}

impl Poll {
    pub fn live(prometheus: &str) -> Self {
        Self {
            prometheus: prometheus.to_owned(),
            interval: Duration::from_secs(5),
            time: None,
        }
    }
}

/// How one wait ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Waited {
    pub held: bool,
    pub last: Option<f64>,
    pub last_error: Option<String>,
    pub polls: u32,
    pub elapsed: Duration,
    pub interrupted: bool,
}

/// Polls the one value of `promql` every `poll.interval` until `holds` accepts it, for at most
/// `bound` (and at most bound/interval + 1 polls), or until `stop` is cancelled. No series is
/// never a pass; a failing query is remembered (the last error is reported) and polled again.
pub async fn wait_for(
    promql: &str,
    holds: impl Fn(f64) -> bool,
    bound: Duration,
    poll: &Poll,
    stop: &CancellationToken,
) -> Waited {
    let start = Instant::now();
    let max_polls = u32::try_from(bound.as_millis() / poll.interval.as_millis().max(1))
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let mut w = Waited {
        held: false,
        last: None,
        last_error: None,
        polls: 0,
        elapsed: Duration::ZERO,
        interrupted: false,
    };
    while w.polls < max_polls {
        let time = poll.time.as_ref().map(|f| f(w.polls));
        w.polls += 1;
        match query_value_at(&poll.prometheus, promql, time).await {
            Ok(v) => {
                w.last = v;
                w.last_error = None;
                if v.is_some_and(&holds) {
                    w.held = true;
                    break;
                }
            }
            Err(e) => w.last_error = Some(format!("{e:#}")),
        }
        if start.elapsed() + poll.interval > bound {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(poll.interval) => {}
            () = stop.cancelled() => { w.interrupted = true; break; }
        }
    }
    w.elapsed = start.elapsed();
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_scalars_and_special_values_parse() {
        let v = parse_response(
            200,
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"job":"a"},"value":[1,"1.5"]},{"metric":{},"value":[1,"NaN"]},
                {"metric":{},"value":[1,"+Inf"]}]}}"#,
        )
        .unwrap();
        assert_eq!(v[0].0["job"], "a");
        assert!((v[0].1 - 1.5).abs() < 1e-12 && v[1].1.is_nan() && v[2].1 == f64::INFINITY);
        let s = parse_response(
            200,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1,"-2"]}}"#,
        )
        .unwrap();
        assert_eq!(s, vec![(BTreeMap::new(), -2.0)]);
    }

    #[test]
    fn errors_say_what_went_wrong() {
        let e = parse_response(
            400,
            r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("parse error: unexpected (bad_data, HTTP 400)"),
            "{e}"
        );
        let e = parse_response(502, "<html>Bad Gateway</html>").unwrap_err();
        assert!(e.to_string().contains("HTTP 502 from Prometheus"), "{e}");
        let e = parse_response(
            200,
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("matrix"), "{e}");
    }
}
