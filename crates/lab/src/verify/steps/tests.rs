//! The step mapping on the built-in `mixed` profile (every protocol): services from the URL variables,
//! routes by OBI's matcher, methods, operations and topics from the request, the caveats where OBI's
//! count cannot be 1:1.

use super::*;
use crate::verify::expected::Sources;

fn sources() -> Sources {
    let r = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect()
    };
    Sources {
        routes: [
            (
                "catalog",
                r(&[
                    ("GET", "/products/{id}"),
                    ("GET", "/products"),
                    ("GET", "/search"),
                ]),
            ),
            (
                "gateway",
                r(&[("GET", "/products/{id}"), ("GET", "/products/batch")]),
            ),
            (
                "orders",
                r(&[("GET", "/customers/{id}/orders"), ("POST", "/orders")]),
            ),
            ("events-producer", r(&[("POST", "/events")])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
        grpc_methods: Vec::new(),
    }
}

fn mixed() -> Vec<Mapped> {
    let s = Scenario::load("mixed", &variables()).unwrap();
    map(&s, &sources()).unwrap()
}

fn step<'a>(all: &'a [Mapped], name: &str) -> &'a Mapped {
    all.iter().find(|m| m.step == name).unwrap()
}

#[test]
fn http_steps_map_to_service_method_and_route() {
    let all = mixed();
    let m = step(&all, "catalog missing product");
    assert_eq!(m.counter.label, "catalog GET /products/{id}");
    assert_eq!(
        m.counter.selector,
        "http_server_request_duration_seconds_count{service_name=\"catalog\",http_request_method=\"GET\",http_route=\"/products/{id}\"}"
    );
    // The gateway reads catalog on a miss: catalog's count is not loadgen's alone.
    assert!(m.counter.caveat.as_deref().unwrap().contains("gateway"));
    let m = step(&all, "orders customer orders n+1");
    assert_eq!(m.counter.label, "orders GET /customers/{id}/orders");
    assert!(m.counter.caveat.is_none());
    assert!(
        m.exercised
            .contains(&key("postgresql", "client metrics", "orders SELECT"))
    );
    let m = step(&all, "gateway get product");
    assert!(
        m.exercised
            .contains(&key("http", "service graph", "gateway → catalog"))
    );
    assert!(
        m.exercised
            .contains(&key("redis", "client metrics", "gateway GET"))
    );
    let m = step(&all, "events order created");
    assert_eq!(m.counter.label, "events-producer POST /events");
    assert!(m.exercised.contains(&key(
        "kafka",
        "process metrics",
        "events-analytics ← orders.created"
    )));
    assert!(!m.exercised.iter().any(|k| k.contains("orders.updated")));
}

#[test]
fn grpc_sql_redis_and_kafka_steps_map_to_their_counters() {
    let all = mixed();
    assert_eq!(
        step(&all, "auth validate").counter.label,
        "auth /mop.auth.v1.AuthService/ValidateToken"
    );
    assert_eq!(
        step(&all, "auth bad password").counter.selector,
        step(&all, "auth login").counter.selector
    );
    // `auth validate` logs in when its pool is empty: Login is not loadgen's login steps alone.
    assert!(step(&all, "auth login").counter.caveat.is_some());
    assert!(step(&all, "auth validate").counter.caveat.is_none());
    let dup = &step(&all, "sql duplicate customer").counter;
    assert_eq!(dup.label, "loadgen → postgresql INSERT");
    assert!(dup.caveat.is_none());
    assert!(step(&all, "sql n+1 page").counter.caveat.is_some());
    assert_eq!(step(&all, "redis set").counter.label, "loadgen → redis SET");
    let kafka = step(&all, "kafka order events");
    assert!(kafka.counter.caveat.as_deref().unwrap().contains("batches"));
    // Poison records go to the DLQ from either consumer role.
    assert!(
        kafka
            .exercised
            .contains(&key("kafka", "send metrics", "events-notifications → dlq"))
    );
}

#[test]
fn an_unknown_route_or_service_is_an_error_naming_the_step() {
    let text = "name: x\nschedule: {stages: [{target: 1, duration: 1s}]}\nsteps: [{name: nowhere, http: {url: '${CATALOG_URL}/nope/1'}}]";
    let s = Scenario::parse(text, &variables()).unwrap();
    let e = map(&s, &sources()).unwrap_err().to_string();
    assert!(
        e.contains("nowhere") && e.contains("matches no catalog route"),
        "{e}"
    );
    assert_eq!(
        fill("/products/{rand:1:1000}?x={rand:1:2:3}"),
        "/products/1?x=1"
    );
    assert_eq!(
        service_and_path("http://orders.mop.svc:8083/customers/{rand:1:9}/orders?per_page=10")
            .unwrap(),
        ("orders".to_owned(), "/customers/1/orders".to_owned())
    );
}

#[test]
fn mixed_has_these_one_to_one_counters() {
    // docs/verify.md names them: the completeness figures `just verify` passes or fails on.
    // As completeness groups them: one step that is not 1:1 spoils its whole counter (the N+1 page
    // shares loadgen's SELECT with the order lookup).
    let all = mixed();
    let mut one_to_one: Vec<String> = all
        .iter()
        .filter(|m| {
            all.iter()
                .filter(|o| o.counter.selector == m.counter.selector)
                .all(|o| o.counter.caveat.is_none())
        })
        .map(|m| m.counter.label.clone())
        .collect();
    one_to_one.sort();
    one_to_one.dedup();
    assert_eq!(
        one_to_one,
        [
            "auth /mop.auth.v1.AuthService/ValidateToken",
            "events-producer POST /events",
            "gateway GET /products/{id}",
            "loadgen → postgresql INSERT",
            "loadgen → redis GET",
            "loadgen → redis SET",
            "orders GET /customers/{id}/orders",
            "orders POST /orders",
        ]
    );
}
