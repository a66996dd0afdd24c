//! Traces in Tempo per service: a TraceQL search (`GET /api/search?q={ resource.service.name = "X" }
//! &start&end&limit`, Tempo 3.0.3's HTTP API, docs/sources/tempo/api_docs/_index.md "Search") and the
//! parsing of its answer. No Tempo can run on our build machines, so the parser is tested on the
//! examples of that page at our pinned tag (tempo/tests.rs says which, and what had to be fixed in them).

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// A search over a few minutes answers in milliseconds; a busy kind node may take seconds.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Tempo's search response (`tempopb.SearchResponse` as JSON): the fields the grid reads.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchResponse {
    #[serde(default)]
    pub traces: Vec<TraceSummary>,
    #[serde(default)]
    pub metrics: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceSummary {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(default)]
    pub root_service_name: Option<String>,
    #[serde(default)]
    pub root_trace_name: Option<String>,
    /// Nanoseconds as a decimal string (protobuf JSON maps uint64 to a string).
    #[serde(default)]
    pub start_time_unix_nano: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// TraceQL results: the span sets that matched (`spanSet`, singular, in older answers).
    #[serde(default)]
    pub span_sets: Vec<SpanSet>,
    #[serde(default)]
    pub span_set: Option<SpanSet>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanSet {
    #[serde(default)]
    pub spans: Vec<serde_json::Value>,
    #[serde(default)]
    pub matched: u64,
}

impl TraceSummary {
    /// Start time in Unix seconds.
    pub fn start_s(&self) -> Option<f64> {
        let ns: u128 = self.start_time_unix_nano.as_deref()?.parse().ok()?;
        #[allow(clippy::cast_precision_loss)]
        Some(ns as f64 / 1e9)
    }

    /// Spans that matched the query in this trace.
    pub fn matched(&self) -> u64 {
        self.span_sets
            .iter()
            .chain(&self.span_set)
            .map(|s| s.matched)
            .sum()
    }
}

pub fn parse(body: &str) -> anyhow::Result<SearchResponse> {
    serde_json::from_str(body).context("not a Tempo search response")
}

/// The TraceQL query for a service's spans (OBI sets resource attribute service.name).
pub fn query_for(service: &str) -> String {
    format!("{{ resource.service.name = \"{service}\" }}")
}

/// `/api/search?…` for a service's traces between `start` and `end` (Unix seconds).
pub fn search_path(service: &str, start: u64, end: u64, limit: u32) -> String {
    let query: String = reqwest::Url::parse("http://tempo/api/search")
        .expect("a valid URL")
        .query_pairs_mut()
        .append_pair("q", &query_for(service))
        .append_pair("start", &start.to_string())
        .append_pair("end", &end.to_string())
        .append_pair("limit", &limit.to_string())
        .finish()
        .as_str()
        .trim_start_matches("http://tempo")
        .to_owned();
    query
}

/// How many traces (up to 20) Tempo holds with a span of `service` in [start, end].
pub async fn traces_of(tempo: &str, service: &str, start: u64, end: u64) -> anyhow::Result<usize> {
    let url = format!(
        "{}{}",
        tempo.trim_end_matches('/'),
        search_path(service, start, end, 20)
    );
    let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("Tempo at {tempo} not reachable (is the lab up?)"))?;
    let status = response.status();
    let body = response.text().await.context("reading Tempo's answer")?;
    if !status.is_success() {
        bail!("{url}: HTTP {status}: {}", body.trim());
    }
    Ok(parse(&body)?.traces.len())
}

#[cfg(test)]
mod tests;
