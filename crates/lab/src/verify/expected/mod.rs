//! What the grid expects to see: one row per HTTP route (each service's own OpenAPI document), gRPC
//! method (proto/mop/auth/v1/auth.proto), SQL operation and Redis command the services issue, Kafka
//! topic sent and processed, service-graph edge and service with traces — each with the PromQL (or
//! Tempo search) that proves it arrived. OBI v0.14.0's names: grafana/obi-v0.14.0-metrics.yaml.

pub use super::sources::{Sources, grpc_methods, ignored_routes, operations};

/// The window a row's traffic must fall in (the grid asks "did OBI see traffic lately").
pub const DEFAULT_WINDOW: &str = "10m";

/// HTTP services as OBI names them (the workload names, kustomize/base) and the binary whose
/// `openapi` command lists their routes: both consumer roles are the one events-consumer binary.
pub const HTTP_SERVICES: [(&str, &str); 6] = [
    ("catalog", "catalog"),
    ("gateway", "gateway"),
    ("orders", "orders"),
    ("events-producer", "events-producer"),
    ("events-notifications", "events-consumer"),
    ("events-analytics", "events-consumer"),
];

/// orders' SQL statements by their first keyword (crates/orders/src; a unit test re-derives the list
/// from the sources). OBI's db_operation_name is that keyword.
pub const SQL_OPERATIONS: [&str; 3] = ["SELECT", "INSERT", "UPDATE"];
/// The gateway's Redis commands (crates/gateway/src/store.rs) that OBI turns into spans.
pub const REDIS_COMMANDS: [&str; 6] = ["GET", "MGET", "SET", "DEL", "INCR", "PING"];
/// The gateway's pub/sub commands (cache invalidation): OBI makes no spans for them (#1144).
pub const REDIS_PUBSUB: [&str; 2] = ["PUBLISH", "SUBSCRIBE"];
/// Who sends to which topic (crates/events: the intake writes orders.<type>, the notifications role
/// writes notifications, the analytics role its snapshots, and either role dead-letters to dlq).
pub const KAFKA_SENDS: [(&str, &str); 7] = [
    ("events-producer", "orders.created"),
    ("events-producer", "orders.updated"),
    ("events-producer", "orders.cancelled"),
    ("events-notifications", "notifications"),
    ("events-notifications", "dlq"),
    ("events-analytics", "analytics"),
    ("events-analytics", "dlq"),
];
/// Both consumer roles read every orders.* topic.
pub const KAFKA_CONSUMERS: [&str; 2] = ["events-notifications", "events-analytics"];
pub const ORDER_TOPICS: [&str; 3] = ["orders.created", "orders.updated", "orders.cancelled"];
/// Edges between instrumented processes that speak HTTP or gRPC (the service graph pairs client and
/// server spans; the backends are not instrumented, so no edge ends at postgres, redis or kafka).
pub const EDGES: [(&str, &str); 6] = [
    ("loadgen", "catalog"),
    ("loadgen", "gateway"),
    ("loadgen", "orders"),
    ("loadgen", "events-producer"),
    ("gateway", "catalog"),
    ("loadgen", "auth"),
];
/// Services whose spans must reach Tempo.
pub const TRACED: [&str; 7] = [
    "catalog",
    "gateway",
    "orders",
    "events-producer",
    "auth",
    "events-notifications",
    "events-analytics",
];

/// How a row is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Seen when this PromQL returns a value above 0.
    Traffic(String),
    /// Fine when this PromQL returns nothing or 0 (e.g. no gRPC method `*`).
    Absent(String),
    /// Seen when Tempo finds a trace with a span of this service in the window.
    Tempo(String),
    /// No query can show it: the visibility matrix says what to expect.
    Matrix,
}

/// One grid row: a protocol × signal cell of the matrix, for one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// As in visibility.yaml.
    pub protocol: &'static str,
    pub signal: &'static str,
    /// e.g. `catalog GET /products/{id}`.
    pub subject: String,
    pub check: Check,
}

impl Item {
    /// What [`super::steps`] marks as exercised: protocol, signal and subject.
    pub fn key(&self) -> String {
        key(self.protocol, self.signal, &self.subject)
    }
}

pub fn key(protocol: &str, signal: &str, subject: &str) -> String {
    format!("{protocol} | {signal} | {subject}")
}

fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Traffic of a counter's series matching `selector` within `window`.
fn traffic(counter: &str, selector: &[(&str, &str)], window: &str) -> String {
    let sel: Vec<String> = selector
        .iter()
        .map(|(k, v)| format!("{k}={}", q(v)))
        .collect();
    format!("sum(increase({counter}{{{}}}[{window}]))", sel.join(","))
}

/// Every row of the grid, in reading order.
pub fn items(sources: &Sources, window: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut push = |protocol, signal, subject: String, check| {
        out.push(Item {
            protocol,
            signal,
            subject,
            check,
        });
    };
    for (service, routes) in &sources.routes {
        for (method, route) in routes {
            push(
                "http",
                "server metrics",
                format!("{service} {method} {route}"),
                Check::Traffic(traffic(
                    "http_server_request_duration_seconds_count",
                    &[
                        ("service_name", service),
                        ("http_request_method", method),
                        ("http_route", route),
                    ],
                    window,
                )),
            );
        }
    }
    // The one HTTP client among the services: the gateway reading catalog on a cache miss. OBI puts
    // no route on client spans, only the target (server_address, a Service DNS name here).
    push(
        "http",
        "client metrics",
        "gateway → catalog".into(),
        Check::Traffic(format!(
            "sum(increase(http_client_request_duration_seconds_count{{service_name=\"gateway\",server_address=~\"catalog(\\\\..*)?\"}}[{window}]))"
        )),
    );
    for method in &sources.grpc_methods {
        push(
            "grpc",
            "server metrics",
            format!("auth {method}"),
            Check::Traffic(traffic(
                "rpc_server_call_duration_seconds_count",
                &[("service_name", "auth"), ("rpc_method", method)],
                window,
            )),
        );
    }
    push(
        "grpc",
        "server metrics",
        "no method named `*` (OBI missed a connection's start)".into(),
        Check::Absent(traffic(
            "rpc_server_call_duration_seconds_count",
            &[("rpc_method", "*")],
            window,
        )),
    );
    let db = |system: &str, service: &str, op: &str| {
        traffic(
            "db_client_operation_duration_seconds_count",
            &[
                ("service_name", service),
                ("db_system_name", system),
                ("db_operation_name", op),
            ],
            window,
        )
    };
    for op in SQL_OPERATIONS {
        let check = Check::Traffic(db("postgresql", "orders", op));
        push(
            "postgresql",
            "client metrics",
            format!("orders {op}"),
            check,
        );
    }
    for op in REDIS_COMMANDS {
        let check = Check::Traffic(db("redis", "gateway", op));
        push("redis", "client metrics", format!("gateway {op}"), check);
    }
    for op in REDIS_PUBSUB {
        let check = Check::Traffic(db("redis", "gateway", op));
        push(
            "redis-pubsub",
            "client metrics",
            format!("gateway {op}"),
            check,
        );
    }
    let messaging = |counter: &str, service: &str, topic: &str| {
        traffic(
            counter,
            &[
                ("service_name", service),
                ("messaging_destination_name", topic),
            ],
            window,
        )
    };
    for (service, topic) in KAFKA_SENDS {
        let check = Check::Traffic(messaging(
            "messaging_client_operation_duration_seconds_count",
            service,
            topic,
        ));
        push(
            "kafka",
            "send metrics",
            format!("{service} → {topic}"),
            check,
        );
    }
    for service in KAFKA_CONSUMERS {
        for topic in ORDER_TOPICS {
            let check = Check::Traffic(messaging(
                "messaging_process_duration_seconds_count",
                service,
                topic,
            ));
            push(
                "kafka",
                "process metrics",
                format!("{service} ← {topic}"),
                check,
            );
        }
    }
    push(
        "kafka",
        "process metrics",
        "no topic named `*` (Metadata response not kept)".into(),
        Check::Absent(traffic(
            "messaging_process_duration_seconds_count",
            &[("messaging_destination_name", "*")],
            window,
        )),
    );
    for (client, server) in EDGES {
        let protocol = if server == "auth" { "grpc" } else { "http" };
        let check = Check::Traffic(format!(
            "sum(increase(traces_service_graph_request_total{{client={},server={}}}[{window}]))",
            q(client),
            q(server)
        ));
        push(
            protocol,
            "service graph",
            format!("{client} → {server}"),
            check,
        );
    }
    push(
        "http",
        "in-process link",
        "gateway's call to catalog as a child of gateway's server span".into(),
        Check::Matrix,
    );
    push(
        "postgresql",
        "trace context",
        "orders' SQL spans as children of its HTTP span".into(),
        Check::Matrix,
    );
    push(
        "kafka",
        "trace context",
        "a consumer's span in the producer's trace".into(),
        Check::Matrix,
    );
    for service in TRACED {
        let protocol = match service {
            "auth" => "grpc",
            s if KAFKA_CONSUMERS.contains(&s) => "kafka",
            _ => "http",
        };
        push(
            protocol,
            "traces",
            service.to_owned(),
            Check::Tempo(service.to_owned()),
        );
    }
    out
}

#[cfg(test)]
mod tests;
