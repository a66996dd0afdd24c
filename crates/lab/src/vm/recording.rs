//! The recording of a real OBI run: OBI's Prometheus scrapes turned into one OpenMetrics file with
//! timestamps (`promtool tsdb create-blocks-from openmetrics` reads it back), and a bounded sample of
//! the JSON trace printer's spans — every span type of every service kept, repeats dropped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// One scrape of a Prometheus text endpoint: when (Unix seconds) and the body.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub at: f64,
    pub text: String,
}

#[derive(Default)]
struct Family {
    /// OpenMetrics type: counter, gauge, histogram, summary, unknown.
    kind: String,
    help: Option<String>,
    /// Sample lines with their timestamp, in scrape order.
    lines: Vec<String>,
}

/// The scrapes as OpenMetrics text: each family's samples together (OpenMetrics forbids interleaving),
/// in time order, each with its scrape's timestamp; `# EOF` last.
pub fn to_openmetrics(scrapes: &[Scrape]) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for scrape in scrapes {
        // Prometheus text names a counter's family with its `_total`; OpenMetrics without.
        let mut types: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut helps: BTreeMap<String, String> = BTreeMap::new();
        for line in scrape.text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split_whitespace();
                let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let (family, kind) = match kind {
                    "counter" => match name.strip_suffix("_total") {
                        Some(base) => (base.to_owned(), "counter"),
                        // A counter without `_total` is not valid OpenMetrics as a counter.
                        None => (name.to_owned(), "unknown"),
                    },
                    "gauge" | "histogram" | "summary" => (name.to_owned(), kind),
                    _ => (name.to_owned(), "unknown"),
                };
                types.insert(name.to_owned(), (family, kind.to_owned()));
            } else if let Some((name, help)) = line
                .strip_prefix("# HELP ")
                .and_then(|rest| rest.split_once(' '))
            {
                helps.insert(name.to_owned(), help.to_owned());
            }
        }
        for line in scrape.text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let name = &line[..name_end];
            let (family, kind) = family_of(name, &types);
            let f = families.entry(family.clone()).or_default();
            if f.kind.is_empty() {
                f.kind = kind;
                f.help = types
                    .iter()
                    .find(|(_, (fam, _))| *fam == family)
                    .and_then(|(prom_name, _)| helps.get(prom_name).cloned());
            }
            // Drop a timestamp the endpoint set itself: the scrape's time is the sample's time.
            let sample = strip_timestamp(line);
            f.lines.push(format!("{sample} {}", format_ts(scrape.at)));
        }
    }
    let mut out = String::new();
    for (name, f) in &families {
        let _ = writeln!(out, "# TYPE {name} {}", f.kind);
        if let Some(help) = &f.help {
            let _ = writeln!(out, "# HELP {name} {help}");
        }
        for line in &f.lines {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("# EOF\n");
    out
}

/// The family a sample belongs to, and its OpenMetrics type.
fn family_of(sample: &str, types: &BTreeMap<String, (String, String)>) -> (String, String) {
    if let Some((family, kind)) = types.get(sample) {
        return (family.clone(), kind.clone());
    }
    for suffix in ["_bucket", "_sum", "_count", "_created"] {
        if let Some(base) = sample.strip_suffix(suffix)
            && let Some((family, kind)) = types.get(base)
            && (kind == "histogram" || kind == "summary")
        {
            return (family.clone(), kind.clone());
        }
    }
    (sample.to_owned(), "unknown".to_owned())
}

/// `name{…} value [timestamp]` → `name{…} value` (label values may hold spaces: split after `}`).
fn strip_timestamp(line: &str) -> &str {
    let labels_end = line.rfind('}').map_or(0, |i| i + 1);
    let rest = &line[labels_end..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.len() >= 2 {
        // Cut after the value.
        let value_at = labels_end + rest.find(fields[0]).unwrap_or(0);
        &line[..value_at + fields[0].len()]
    } else {
        line
    }
}

fn format_ts(at: f64) -> String {
    format!("{at:.3}")
}

/// A bounded sample of the trace printer's output (`[…]` batches, one per line): at most `per_key`
/// spans per (service, type, name, status), so every kind of span survives and repeats do not.
pub fn sample_spans(batches: &str, per_key: usize) -> Vec<Value> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for line in batches.lines() {
        let Ok(Value::Array(spans)) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        for span in spans {
            let key = span_key(&span);
            let n = seen.entry(key).or_default();
            if *n < per_key {
                *n += 1;
                out.push(span);
            }
        }
    }
    out
}

/// What makes two spans "the same kind": type, kind, server port and the attributes that name the
/// operation (method, route, SQL/Redis operation, Kafka topic) and its status. OBI's JSON span has
/// no service name (`request.Span` leaves `Service` out): the server port tells whose it is.
pub fn span_key(span: &Value) -> String {
    let s = |p: &str| span.pointer(p).map(value_text).unwrap_or_default();
    [
        "/type",
        "/kind",
        "/hostPort",
        "/attributes/method",
        "/attributes/route",
        "/attributes/operation",
        "/attributes/topic",
        "/attributes/status",
    ]
    .iter()
    .map(|p| s(p))
    .collect::<Vec<_>>()
    .join("|")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Labels of one sample line.
pub type LabelSet = BTreeMap<String, String>;

/// Every distinct label set per metric name (`_bucket`/`_sum` folded into the family's `_count`; `le`
/// dropped), from OpenMetrics or Prometheus text.
pub fn series(text: &str) -> BTreeMap<String, std::collections::BTreeSet<LabelSet>> {
    let mut out: BTreeMap<String, std::collections::BTreeSet<LabelSet>> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let mut name = line[..name_end].to_owned();
        for suffix in ["_bucket", "_sum"] {
            if let Some(base) = name.strip_suffix(suffix) {
                name = format!("{base}_count");
            }
        }
        let mut labels = parse_labels(&line[name_end..]);
        labels.remove("le");
        out.entry(name).or_default().insert(labels);
    }
    out
}

/// `{a="x",b="y \"q\""} 1 2` → {a: x, b: y "q"}.
fn parse_labels(rest: &str) -> LabelSet {
    let mut labels = LabelSet::new();
    let Some(body) = rest.strip_prefix('{') else {
        return labels;
    };
    let mut chars = body.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let key = key.trim_start_matches(',').trim().to_owned();
        if key.is_empty() || key.starts_with('}') || chars.next() != Some('"') {
            break;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key, value);
        if chars.peek() == Some(&'}') {
            break;
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = "\
# HELP http_server_request_duration_seconds Duration of HTTP service calls from the server side, in seconds.
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{http_route=\"/products/{id}\",service_name=\"catalog\",le=\"0.005\"} 3
http_server_request_duration_seconds_bucket{http_route=\"/products/{id}\",service_name=\"catalog\",le=\"+Inf\"} 4
http_server_request_duration_seconds_sum{http_route=\"/products/{id}\",service_name=\"catalog\"} 0.02
http_server_request_duration_seconds_count{http_route=\"/products/{id}\",service_name=\"catalog\"} 4
# TYPE traces_span_metrics_calls_total counter
traces_span_metrics_calls_total{span_name=\"GET /a b\",service_name=\"catalog\"} 7 1700000000000
# TYPE obi_build_info gauge
obi_build_info{version=\"v0.14.0\"} 1
";

    #[test]
    fn scrapes_become_one_openmetrics_file_family_by_family() {
        let om = to_openmetrics(&[
            Scrape {
                at: 100.0,
                text: SCRAPE.into(),
            },
            Scrape {
                at: 115.5,
                text: SCRAPE.replace("} 7 ", "} 9 "),
            },
        ]);
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(
            om.contains("# TYPE traces_span_metrics_calls counter\n"),
            "{om}"
        );
        assert!(
            om.contains("# TYPE http_server_request_duration_seconds histogram\n"),
            "{om}"
        );
        // The endpoint's own timestamp is replaced by the scrape's; label values keep their spaces.
        assert!(
            om.contains("traces_span_metrics_calls_total{span_name=\"GET /a b\",service_name=\"catalog\"} 9 115.500\n"),
            "{om}"
        );
        // Both scrapes of a family sit together, before the next family starts.
        let first = om.find("_count{").unwrap();
        let second = om.rfind("_count{").unwrap();
        let next_family = om.find("# TYPE obi_build_info").unwrap();
        assert!(
            first < second && (second < next_family || next_family < first),
            "{om}"
        );
        assert_eq!(om.matches("# TYPE ").count(), 3, "{om}");
    }

    #[test]
    fn series_fold_histograms_and_read_escaped_labels() {
        let s = series(SCRAPE);
        let count = &s["http_server_request_duration_seconds_count"];
        assert_eq!(count.len(), 1, "{s:?}");
        let labels = count.iter().next().unwrap();
        assert_eq!(labels["http_route"], "/products/{id}");
        assert!(!labels.contains_key("le"));
        let odd = series("x{a=\"q \\\"y\\\" z\",b=\"2\"} 1\n");
        let labels = odd["x"].iter().next().unwrap();
        assert_eq!(labels["a"], "q \"y\" z");
        assert_eq!(labels["b"], "2");
    }

    #[test]
    fn the_span_sample_keeps_every_kind_and_drops_repeats() {
        // The fields OBI's `request.Span` JSON carries (pkg/app/request/span.go, MarshalJSON).
        let span = |port: &str, ty: &str, method: &str| {
            format!(
                r#"{{"type":"{ty}","kind":"SPAN_KIND_SERVER","hostPort":"{port}","attributes":{{"method":"{method}","status":"200"}}}}"#
            )
        };
        let batches = format!(
            "[{},{},{}]\nnot json\n[{}]\n",
            span("8081", "HTTP", "GET"),
            span("8081", "HTTP", "GET"),
            span("8081", "HTTP", "GET"),
            span("6379", "RedisClient", "GET"),
        );
        let sample = sample_spans(&batches, 2);
        assert_eq!(sample.len(), 3);
        assert_eq!(sample[2]["type"], "RedisClient");
    }
}
