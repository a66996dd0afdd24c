//! From a loadgen scenario's steps to what OBI must show for them, derived from each step's request
//! rather than written by hand: an HTTP step's URL says the service (the `${…_URL}` it starts with)
//! and its path the route (matched against that service's OpenAPI templates with OBI's own matcher
//! rules); a gRPC step's call the method; a SQL, Redis or Kafka step its operation or topic.
//!
//! Two results per step: the grid rows it exercises (so a route nobody called is "not exercised", not
//! a failure) and the counter whose increase over the run must equal its completed requests
//! (completeness) — or why no counter is 1:1 with it.

use std::collections::BTreeMap;

use loadgen::driver::Request;
use loadgen::driver::grpc::Call;
use loadgen::driver::redis::Op;
use loadgen::driver::sql::Query;
use loadgen::scenario::Scenario;

use super::expected::{KAFKA_CONSUMERS, Sources, key};

/// The scenario variables as the kind lab's loadgen Job sets them (components/load): the first label
/// of a URL's host is the service, which is all the mapping needs.
pub fn variables() -> BTreeMap<String, String> {
    [
        ("CATALOG_URL", "http://catalog.mop.svc:8081"),
        ("GATEWAY_URL", "http://gateway.mop.svc:8084"),
        ("ORDERS_URL", "http://orders.mop.svc:8083"),
        ("EVENTS_URL", "http://events-producer.mop.svc:8085"),
        ("AUTH_ADDR", "http://auth.mop.svc:50051"),
        (
            "DATABASE_URL",
            "postgres://loadgen@postgres.mop.svc:5432/orders",
        ),
        ("REDIS_URL", "redis://redis.mop.svc:6379/0"),
        ("KAFKA_BROKERS", "kafka.mop.svc:9092"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A counter whose increase over the run should equal `per_arrival` × a step's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// e.g. `catalog GET /products/{id}`.
    pub label: String,
    /// A PromQL series selector of a `_count` series.
    pub selector: String,
    pub per_arrival: u64,
    /// Set when OBI's count of it is not 1:1 with loadgen's (reported, never a failure).
    pub caveat: Option<String>,
}

/// One step's mapping.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub step: String,
    /// Grid keys ([`super::expected::Item::key`]) the step makes happen.
    pub exercised: Vec<String>,
    pub counter: Counter,
}

fn sel(counter: &str, labels: &[(&str, &str)]) -> String {
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{counter}{{{}}}", l.join(","))
}

/// `{rand:LO:HI[:W]}` → `1`: any value gives the same route.
fn fill(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{rand:") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push('1');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// (service, path without query) of an absolute URL.
fn service_and_path(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.split(':').next().unwrap_or_default();
    let service = host.split('.').next().unwrap_or_default().to_owned();
    let path = path.split('?').next().unwrap_or("/");
    Ok((service, fill(path)))
}

/// The event type a POST /events body carries (`"type":"created"`), once `{rand}` is filled.
fn event_type(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(&fill(body)).ok()?;
    v["type"].as_str().map(str::to_owned)
}

fn grpc_method(call: Call) -> &'static str {
    match call {
        Call::Login => "Login",
        Call::Validate => "ValidateToken",
        Call::Refresh => "RefreshToken",
        Call::Logout => "Logout",
        Call::Stream => "StreamEvents",
    }
}

/// What a record reaching orders.<type> sets off: both roles process it, notifications writes one.
fn consumed(topic: &str, poison: bool, out: &mut Vec<String>) {
    for consumer in KAFKA_CONSUMERS {
        out.push(key(
            "kafka",
            "process metrics",
            &format!("{consumer} ← {topic}"),
        ));
        out.push(key("kafka", "traces", consumer));
        if poison {
            out.push(key("kafka", "send metrics", &format!("{consumer} → dlq")));
        }
    }
    out.push(key(
        "kafka",
        "send metrics",
        "events-notifications → notifications",
    ));
    out.push(key("kafka", "send metrics", "events-analytics → analytics"));
}

/// Maps every step of `scenario` (loaded with [`variables`]).
pub fn map(scenario: &Scenario, sources: &Sources) -> anyhow::Result<Vec<Mapped>> {
    let steps = scenario.steps()?;
    let via_gateway = steps.iter().any(|s| match &s.request {
        Request::Http(h) => service_and_path(&h.url).is_ok_and(|(svc, _)| svc == "gateway"),
        _ => false,
    });
    // validate, refresh, logout and stream log in first when their session pool is empty
    // (crates/loadgen/src/driver/grpc.rs), so Login then counts more than the login steps.
    let implicit_logins = steps
        .iter()
        .any(|s| matches!(&s.request, Request::Grpc(g) if !matches!(g.call, Call::Login)));
    steps
        .iter()
        .map(|step| {
            let (exercised, mut counter) = one(&step.request, sources, via_gateway)
                .map_err(|e| anyhow::anyhow!("step {:?}: {e}", step.name))?;
            if implicit_logins && counter.label.ends_with("/Login") {
                counter.caveat = Some(
                    "the other auth steps log in first when their session pool is empty".into(),
                );
            }
            Ok(Mapped {
                step: step.name.clone(),
                exercised,
                counter,
            })
        })
        .collect()
}

fn one(
    request: &Request,
    sources: &Sources,
    via_gateway: bool,
) -> anyhow::Result<(Vec<String>, Counter)> {
    let mut ex = Vec::new();
    let counter = match request {
        Request::Http(h) => {
            let (service, path) = service_and_path(&h.url)?;
            let routes = sources
                .routes
                .get(&service)
                .ok_or_else(|| anyhow::anyhow!("{} is no HTTP service of the lab", h.url))?;
            let templates: Vec<String> = routes
                .iter()
                .filter(|(m, _)| *m == h.method)
                .map(|(_, t)| t.clone())
                .collect();
            let route = crate::manifests::obi::route_for(&templates, &path)
                .ok_or_else(|| anyhow::anyhow!("{} {path} matches no {service} route", h.method))?;
            let subject = format!("{service} {} {route}", h.method);
            ex.push(key("http", "server metrics", &subject));
            ex.push(key(
                "http",
                "service graph",
                &format!("loadgen → {service}"),
            ));
            ex.push(key("http", "traces", &service));
            match (service.as_str(), h.method.as_str(), route.as_str()) {
                // A cache miss reads catalog and fills Redis (crates/gateway/src/http.rs).
                ("gateway", "GET", "/products/{id}") => {
                    for op in ["GET", "SET"] {
                        ex.push(key("redis", "client metrics", &format!("gateway {op}")));
                    }
                    ex.push(key("http", "server metrics", "catalog GET /products/{id}"));
                    ex.push(key("http", "service graph", "gateway → catalog"));
                    ex.push(key("http", "client metrics", "gateway → catalog"));
                    ex.push(key("http", "traces", "catalog"));
                }
                ("orders", "GET", _) => {
                    ex.push(key("postgresql", "client metrics", "orders SELECT"));
                }
                ("orders", "POST", "/orders") => {
                    ex.push(key("postgresql", "client metrics", "orders INSERT"));
                }
                ("events-producer", "POST", "/events") => {
                    if let Some(t) = h.body.as_deref().and_then(event_type) {
                        let topic = format!("orders.{t}");
                        let send = format!("events-producer → {topic}");
                        ex.push(key("kafka", "send metrics", &send));
                        consumed(&topic, false, &mut ex);
                    }
                }
                _ => {}
            }
            let caveat = (service == "catalog" && via_gateway).then(|| {
                "the gateway's cache misses call it too: OBI's count includes them".to_owned()
            });
            Counter {
                selector: sel(
                    "http_server_request_duration_seconds_count",
                    &[
                        ("service_name", &service),
                        ("http_request_method", &h.method),
                        ("http_route", &route),
                    ],
                ),
                label: subject,
                per_arrival: 1,
                caveat,
            }
        }
        Request::Grpc(g) => {
            let method = format!("/mop.auth.v1.AuthService/{}", grpc_method(g.call));
            let subject = format!("auth {method}");
            ex.push(key("grpc", "server metrics", &subject));
            ex.push(key("grpc", "service graph", "loadgen → auth"));
            ex.push(key("grpc", "traces", "auth"));
            Counter {
                selector: sel(
                    "rpc_server_call_duration_seconds_count",
                    &[("service_name", "auth"), ("rpc_method", &method)],
                ),
                label: subject,
                per_arrival: 1,
                caveat: None,
            }
        }
        Request::Sql(s) => {
            let (op, per_arrival, caveat) = match s.query {
                Query::InsertCustomer => ("INSERT", 1, None),
                Query::Batched => ("SELECT", 2, None),
                Query::NPlusOne => (
                    "SELECT",
                    1,
                    Some("1 + N statements per arrival (N = the customer's orders)".to_owned()),
                ),
                _ => ("SELECT", 1, None),
            };
            db("postgresql", op, per_arrival, caveat)
        }
        Request::Redis(r) => {
            let count = u64::try_from(r.count).unwrap_or(1);
            let (op, per_arrival, caveat) = match r.op {
                Op::Get => ("GET", 1, None),
                Op::Set => ("SET", 1, None),
                Op::Mget => ("MGET", 1, None),
                Op::Pipeline => ("SET", count, None),
                Op::Lpush => ("LPUSH", 1, None),
                Op::Publish => (
                    "PUBLISH",
                    1,
                    Some("pub/sub makes no spans in OBI v0.14 (#1144)".to_owned()),
                ),
            };
            db("redis", op, per_arrival, caveat)
        }
        Request::Kafka(k) => {
            consumed(&k.topic, k.poison_ratio > 0.0, &mut ex);
            Counter {
                label: format!("loadgen → kafka {}", k.topic),
                selector: sel(
                    "messaging_client_operation_duration_seconds_count",
                    &[
                        ("service_name", "loadgen"),
                        ("messaging_destination_name", &k.topic),
                    ],
                ),
                per_arrival: 1,
                caveat: Some(
                    "librdkafka batches records into Produce requests: OBI counts requests, loadgen records"
                        .to_owned(),
                ),
            }
        }
    };
    Ok((ex, counter))
}

/// loadgen's own database calls, seen by OBI as loadgen's client spans.
fn db(system: &str, op: &str, per_arrival: u64, caveat: Option<String>) -> Counter {
    Counter {
        label: format!("loadgen → {system} {op}"),
        selector: sel(
            "db_client_operation_duration_seconds_count",
            &[
                ("service_name", "loadgen"),
                ("db_system_name", system),
                ("db_operation_name", op),
            ],
        ),
        per_arrival,
        caveat,
    }
}

#[cfg(test)]
mod tests;
