//! A small model of the series OBI v0.14.0 and the backend exporters would publish for this lab
//! (services, routes, methods, operations, topics from the code), as OpenMetrics text with explicit
//! timestamps for `testkit::prometheus`, and the values the dashboards' derived panels must show.
//!
//! **This is a model, not OBI's output.** Names and label sets follow OBI's source (see
//! grafana/obi-v0.14.0-metrics.yaml: `pkg/export/attributes/metric_test.go` for the names,
//! `attr_defs.go` for which labels each metric carries) and the exporters' docs
//! (grafana/exporters.yaml); label *values* OBI computes at run time (instance, server_address,
//! error_type) are plausible stand-ins. Rates are constant, so `rate()` over any window returns them
//! exactly and every derived value below follows by arithmetic:
//!
//! - gateway: 10 GET/s on cached routes, 2 GET/s to catalog → hit ratio 1 − 2/10 = **0.8**;
//!   Redis saw 6 hits and 2 misses per second (2 reads a second never reach Redis: the gateway's
//!   in-process L1) → keyspace hit ratio **0.75**.
//! - orders: 5 requests/s (2/s on the N+1 route with 10 orders each: 1 + 10 SELECTs) and 27 queries/s
//!   (24 SELECT, 3 INSERT) → **5.4** database calls per request (SELECT 4.8, INSERT 0.6).
//! - SELECTs have a typical duration of 12 ms: 1 % take 10× (120 ms) → **1 %** slower than 100 ms.
//! - HTTP: 34 requests/s in all, 0.5/s of them 5xx (catalog's /error) → 5xx ratio **0.5/34**.
//! - auth: 20 calls/s, 1/s Login UNAUTHENTICATED → server error ratio **0**: OBI marks only UNKNOWN,
//!   DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS as server errors, and so
//!   do the dashboards (a `!= "OK"` ratio would show 0.05, Login alone 1/6).
//! - events: Produce requests on orders.* at 5 + 2 + 1 /s; OBI counts *requests*, one span per
//!   request and topic, never records (kafka_detect_transform.go): each consumer's Fetch requests
//!   name all three order topics, so its "process" rate is the same on each (4/s) and says nothing
//!   about messages; a Fetch lasts as long as the broker's long poll (typical 0.1 s). The broker's
//!   lag for group notifications on orders.cancelled grows by **0.5/s**; 0.1 request/s goes to the DLQ.
//!
//! The scenarios (lab::scenarios) reuse this model: [`Fixture::change`] gives chosen series other
//! values inside a fault window ([`Fixture::with_fault_window`]), so one timeline runs healthy, faulty
//! and healthy again; without a window the output is exactly the dashboards' fixture.

use std::fmt::Write as _;

/// OBI's duration buckets as the lab configures them (kustomize/components/observability/config/
/// obi-config.yml, `prometheus_export.buckets.duration_histogram`: sub-millisecond buckets for Redis).
pub const DURATION_BUCKETS: [f64; 17] = [
    0.0, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];
/// Body-size buckets (bytes) as the lab configures them (obi-config.yml,
/// `prometheus_export.buckets.response_size_histogram`): OBI's defaults stop at 8192.
pub const SIZE_BUCKETS: [f64; 14] = [
    0.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 65536.0,
    262144.0, 1048576.0,
];
/// How observations spread around a series' typical value: (factor, share). Mean = 1.02 × typical.
const SHAPE: [(f64, f64); 4] = [(0.5, 0.5), (1.0, 0.4), (3.0, 0.09), (10.0, 0.01)];
/// Sample step (a 15 s scrape) and span of the fixture.
pub const STEP: u64 = 15;
pub const SPAN: u64 = 15 * 60;

enum Kind {
    Counter,
    Gauge,
    Histogram(&'static [f64]),
}

struct Series {
    labels: Vec<(String, String)>,
    /// Counter/histogram: observations per second. Gauge: value at the start.
    rate: f64,
    /// Histogram: typical observed value. Gauge: change per second.
    typical: f64,
    /// (rate, typical) inside the fixture's fault window, when a scenario changes this series.
    fault: Option<(f64, f64)>,
}

struct Family {
    name: &'static str,
    kind: Kind,
    series: Vec<Series>,
}

/// The fixture's samples, from `start` to `end` (Unix seconds) every [`STEP`].
pub struct Fixture {
    pub start: u64,
    pub end: u64,
    families: Vec<Family>,
    /// Seconds after `start` during which changed series take their fault values ([`Fixture::change`]).
    fault_window: Option<(u64, u64)>,
}

type Labels = Vec<(String, String)>;

fn l(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// OBI's application labels for a service of the lab (attr_defs.go appAttributes with Kubernetes
/// metadata; OBI sets job = <namespace>/<service>). Pod names are stand-ins.
fn app(service: &str, container: &str) -> Labels {
    let pod = format!("{service}-6f7c9d8b5-x2k4p");
    l(&[
        ("service_name", service),
        ("service_namespace", "mop"),
        ("job", &format!("mop/{service}")),
        ("instance", &format!("{pod}:{container}")),
        ("k8s_namespace_name", "mop"),
        ("k8s_pod_name", &pod),
        ("k8s_deployment_name", service),
        ("k8s_replicaset_name", &format!("{service}-6f7c9d8b5")),
        ("k8s_container_name", container),
        ("k8s_owner_name", service),
        ("k8s_kind", "Deployment"),
        ("k8s_node_name", "mop-control-plane"),
    ])
}

fn with(mut base: Labels, extra: &[(&str, &str)]) -> Labels {
    base.extend(l(extra));
    base
}

fn s(labels: Labels, rate: f64, typical: f64) -> Series {
    Series {
        labels,
        rate,
        typical,
        fault: None,
    }
}

impl Fixture {
    /// The lab's fixture, ending at `end` (Unix seconds, a multiple of [`STEP`]).
    pub fn lab(end: u64) -> Fixture {
        let mut families = Vec::new();
        families.extend(http());
        families.extend(grpc());
        families.extend(db());
        families.extend(kafka());
        families.extend(service_graph());
        families.extend(exporters());
        Fixture {
            start: end - SPAN,
            end,
            families,
            fault_window: None,
        }
    }

    /// Series changed by [`Fixture::change`] take their fault values from `from` to `to` seconds
    /// after [`Fixture::start`] (a fault injected, then reverted); everything else stays as it was.
    pub fn with_fault_window(mut self, from: u64, to: u64) -> Fixture {
        self.fault_window = Some((from, to));
        self
    }

    /// How a fault changes OBI's (or an exporter's) output: every series of family `metric` (the
    /// name before `_bucket`/`_count`/`_sum`) whose labels include all of `matches` gets `rate` and/or
    /// `typical` inside the fault window. With `set` non-empty, each match is instead copied with
    /// those labels replaced — a new series (e.g. a status code that only appears during the fault),
    /// zero outside the window. Returns how many series were changed or added; 0 means the change
    /// matched nothing (a typo in a scenario).
    pub fn change(
        &mut self,
        metric: &str,
        matches: &[(String, String)],
        set: &[(String, String)],
        rate: Option<f64>,
        typical: Option<f64>,
    ) -> usize {
        let Some(family) = self.families.iter_mut().find(|f| f.name == metric) else {
            return 0;
        };
        let selected: Vec<usize> = (0..family.series.len())
            .filter(|&i| {
                let labels = &family.series[i].labels;
                matches.iter().all(|m| labels.contains(m))
            })
            .collect();
        for &i in &selected {
            let old = &family.series[i];
            let (r, t) = old.fault.unwrap_or((old.rate, old.typical));
            let fault = Some((rate.unwrap_or(r), typical.unwrap_or(t)));
            if set.is_empty() {
                family.series[i].fault = fault;
            } else {
                let mut labels = old.labels.clone();
                for (k, v) in set {
                    match labels.iter_mut().find(|(name, _)| name == k) {
                        Some(l) => l.1 = v.clone(),
                        None => labels.push((k.clone(), v.clone())),
                    }
                }
                let typical = old.typical;
                family.series.push(Series {
                    labels,
                    rate: 0.0,
                    typical,
                    fault,
                });
            }
        }
        selected.len()
    }

    /// Keeps only the families `metrics` read (Prometheus names: `x_bucket` keeps histogram `x`), so
    /// a test backfills the few series its queries need.
    pub fn retain(&mut self, metrics: &std::collections::BTreeSet<String>) {
        self.families.retain(|f| {
            metrics.iter().any(|m| {
                m == f.name
                    || ["_bucket", "_count", "_sum"]
                        .iter()
                        .any(|suffix| m.strip_suffix(suffix) == Some(f.name))
            })
        });
    }

    /// (seconds at baseline values, seconds at fault values) between `start` and `start + dt`.
    fn split(&self, dt: f64) -> (f64, f64) {
        match self.fault_window {
            None => (dt, 0.0),
            Some((a, b)) => {
                let in_fault = (dt.min(b as f64) - a as f64).max(0.0);
                (dt - in_fault, in_fault)
            }
        }
    }

    /// Every series as (Prometheus name, label names): histograms by their `_count` series. Lets a test
    /// hold the model to the names in grafana/obi-v0.14.0-metrics.yaml and exporters.yaml.
    pub fn shapes(&self) -> Vec<(String, Vec<String>)> {
        self.families
            .iter()
            .flat_map(|f| {
                let name = match f.kind {
                    Kind::Histogram(_) => format!("{}_count", f.name),
                    _ => f.name.to_owned(),
                };
                f.series.iter().map(move |s| {
                    (
                        name.clone(),
                        s.labels.iter().map(|(k, _)| k.clone()).collect(),
                    )
                })
            })
            .collect()
    }

    /// OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
    pub fn openmetrics(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let kind = match f.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram(_) => "histogram",
            };
            let family = f.name.strip_suffix("_total").unwrap_or(f.name);
            let _ = writeln!(out, "# TYPE {family} {kind}");
            for series in &f.series {
                for t in (self.start..=self.end).step_by(STEP as usize) {
                    let dt = (t - self.start) as f64;
                    self.sample(&mut out, f, series, t, dt);
                }
            }
        }
        out.push_str("# EOF\n");
        out
    }

    fn sample(&self, out: &mut String, f: &Family, s: &Series, t: u64, dt: f64) {
        // Observations so far, as (count, typical value) per stretch: baseline, then fault.
        let (base, in_fault) = self.split(dt);
        let (fault_rate, fault_typical) = s.fault.unwrap_or((s.rate, s.typical));
        let pieces = [
            (s.rate * base, s.typical),
            (fault_rate * in_fault, fault_typical),
        ];
        let labels = |extra: Option<String>| {
            let mut parts: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            parts.extend(extra);
            format!("{{{}}}", parts.join(","))
        };
        match f.kind {
            Kind::Counter => {
                let v: f64 = pieces.iter().map(|(n, _)| n).sum();
                let _ = writeln!(out, "{}{} {v} {t}", f.name, labels(None));
            }
            Kind::Gauge => {
                // Inside the window a changed gauge starts at its fault level and moves at its fault
                // slope; outside it is what it always was (a revert restores the old value at once).
                let v = match (s.fault, self.fault_window) {
                    (Some((level, slope)), Some((a, b))) if dt >= a as f64 && dt < b as f64 => {
                        level + slope * (dt - a as f64)
                    }
                    _ => s.rate + s.typical * dt,
                };
                let _ = writeln!(out, "{}{} {v} {t}", f.name, labels(None));
            }
            Kind::Histogram(buckets) => {
                let count: f64 = pieces.iter().map(|(n, _)| n).sum();
                for le in buckets {
                    let cumulative: f64 = pieces
                        .iter()
                        .map(|(n, typical)| {
                            n * SHAPE
                                .iter()
                                .filter(|(k, _)| k * typical <= *le)
                                .map(|(_, sh)| sh)
                                .sum::<f64>()
                        })
                        .sum();
                    let _ = writeln!(
                        out,
                        "{}_bucket{} {} {t}",
                        f.name,
                        labels(Some(format!("le=\"{le}\""))),
                        cumulative
                    );
                }
                let _ = writeln!(
                    out,
                    "{}_bucket{} {count} {t}",
                    f.name,
                    labels(Some("le=\"+Inf\"".into()))
                );
                let _ = writeln!(out, "{}_count{} {count} {t}", f.name, labels(None));
                let mean: f64 = SHAPE.iter().map(|(k, sh)| k * sh).sum();
                let sum: f64 = pieces.iter().map(|(n, typical)| n * typical * mean).sum();
                let _ = writeln!(out, "{}_sum{} {sum} {t}", f.name, labels(None));
            }
        }
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// One HTTP server series: service, "METHOD route", status, rate/s, typical seconds.
struct Route(&'static str, &'static str, &'static str, f64, f64);

/// The port each HTTP service listens on.
fn port(service: &str) -> &'static str {
    match service {
        "catalog" => "8081",
        "orders" => "8083",
        "gateway" => "8084",
        _ => "8085",
    }
}

/// HTTP servers (routes from each service's ROUTES), the gateway's calls to catalog and loadgen's calls.
fn http() -> Vec<Family> {
    let servers = [
        Route("catalog", "GET /products/{id}", "200", 7.0, 0.004),
        Route("catalog", "GET /products/{id}", "404", 1.0, 0.002),
        Route("catalog", "GET /products", "200", 1.0, 0.008),
        Route("catalog", "GET /search", "200", 0.5, 0.02),
        Route("catalog", "GET /error", "500", 0.5, 0.001),
        Route("gateway", "GET /products/{id}", "200", 8.0, 0.002),
        Route("gateway", "GET /products", "200", 2.0, 0.004),
        Route("gateway", "POST /products", "201", 0.5, 0.01),
        Route("gateway", "GET /cache/stats", "200", 0.5, 0.001),
        Route("orders", "GET /customers/{id}/orders", "200", 2.0, 0.15),
        Route("orders", "POST /orders", "201", 1.0, 0.02),
        Route("orders", "GET /orders/{id}", "200", 2.0, 0.01),
        Route("events-producer", "POST /events", "202", 8.0, 0.005),
    ];
    let label = |Route(svc, req, status, ..): &Route| {
        let (method, route) = req.split_once(' ').unwrap_or_default();
        with(
            app(svc, svc),
            &[
                ("http_request_method", method),
                ("http_response_status_code", status),
                ("http_route", route),
                ("server_address", svc),
                ("server_port", port(svc)),
            ],
        )
    };
    let duration = servers.iter().map(|x| s(label(x), x.3, x.4)).collect();
    let sizes = servers.iter().map(|x| s(label(x), x.3, 700.0)).collect();
    // Client side: no route label (OBI's routes apply to the server side here); server_address/port
    // of the target.
    let client = |svc: &str,
                  method: &str,
                  target: &str,
                  port: &str,
                  status: &str,
                  rate: f64,
                  typical: f64| {
        let labels = with(
            app(svc, svc),
            &[
                ("http_request_method", method),
                ("http_response_status_code", status),
                ("server_address", target),
                ("server_port", port),
            ],
        );
        s(labels, rate, typical)
    };
    let clients = vec![
        // Misses of the cache: 2 of the gateway's 10 cached GETs a second reach catalog.
        client(
            "gateway",
            "GET",
            "catalog.mop.svc",
            "8081",
            "200",
            2.0,
            0.005,
        ),
        client(
            "gateway",
            "POST",
            "catalog.mop.svc",
            "8081",
            "201",
            0.5,
            0.01,
        ),
        client(
            "loadgen",
            "GET",
            "gateway.mop.svc",
            "8084",
            "200",
            10.0,
            0.003,
        ),
        client(
            "loadgen",
            "GET",
            "catalog.mop.svc",
            "8081",
            "200",
            8.0,
            0.005,
        ),
        client("loadgen", "GET", "orders.mop.svc", "8083", "200", 4.0, 0.08),
        client(
            "loadgen",
            "POST",
            "events-producer.mop.svc",
            "8085",
            "202",
            8.0,
            0.006,
        ),
    ];
    vec![
        Family {
            name: "http_server_request_duration_seconds",
            kind: Kind::Histogram(&DURATION_BUCKETS),
            series: duration,
        },
        Family {
            name: "http_server_response_body_size_bytes",
            kind: Kind::Histogram(&SIZE_BUCKETS),
            series: sizes,
        },
        Family {
            name: "http_client_request_duration_seconds",
            kind: Kind::Histogram(&DURATION_BUCKETS),
            series: clients,
        },
    ]
}

/// auth's RPCs (proto/mop/auth/v1/auth.proto), server side and loadgen's client side.
fn grpc() -> Vec<Family> {
    let methods: &[(&str, &str, f64, f64)] = &[
        ("Login", "OK", 5.0, 0.03),
        ("Login", "UNAUTHENTICATED", 1.0, 0.03),
        ("ValidateToken", "OK", 12.0, 0.001),
        ("RefreshToken", "OK", 1.5, 0.002),
        ("Logout", "OK", 0.4, 0.001),
        // A server stream: one observation per stream when it ends; its duration is the stream's life.
        ("StreamEvents", "OK", 0.1, 5.0),
    ];
    let labels = |svc: &str, m: &str, code: &str| {
        with(
            app(svc, svc),
            &[
                ("rpc_method", &format!("/mop.auth.v1.AuthService/{m}")),
                ("rpc_system_name", "grpc"),
                ("rpc_response_status_code", code),
                (
                    "server_address",
                    if svc == "auth" {
                        "auth"
                    } else {
                        "auth.mop.svc"
                    },
                ),
            ],
        )
    };
    let server = methods
        .iter()
        .map(|(m, code, r, t)| {
            s(
                with(labels("auth", m, code), &[("server_port", "50051")]),
                *r,
                *t,
            )
        })
        .collect();
    let client = methods
        .iter()
        .map(|(m, code, r, t)| s(labels("loadgen", m, code), *r, t * 1.2))
        .collect();
    vec![
        Family {
            name: "rpc_server_call_duration_seconds",
            kind: Kind::Histogram(&DURATION_BUCKETS),
            series: server,
        },
        Family {
            name: "rpc_client_call_duration_seconds",
            kind: Kind::Histogram(&DURATION_BUCKETS),
            series: client,
        },
    ]
}

/// orders' PostgreSQL queries and the gateway's Redis commands (crates/gateway/src/store.rs).
fn db() -> Vec<Family> {
    let pg = |op: &str, err: Option<&str>, rate: f64, typical: f64| {
        let mut labels = with(
            app("orders", "orders"),
            &[
                ("db_system_name", "postgresql"),
                ("db_operation_name", op),
                ("server_address", "postgres.mop.svc"),
            ],
        );
        if let Some(e) = err {
            labels.extend(l(&[("error_type", e)]));
        }
        s(labels, rate, typical)
    };
    let redis = |op: &str, rate: f64, typical: f64| {
        let labels = with(
            app("gateway", "gateway"),
            &[
                ("db_system_name", "redis"),
                ("db_operation_name", op),
                ("server_address", "redis.mop.svc"),
            ],
        );
        s(labels, rate, typical)
    };
    vec![Family {
        name: "db_client_operation_duration_seconds",
        kind: Kind::Histogram(&DURATION_BUCKETS),
        series: vec![
            // N+1 route: 2 requests/s × (1 + 10) SELECTs; GET /orders/{id}: 2 × 1.
            pg("SELECT", None, 24.0, 0.012),
            // POST /orders: the order and two items; 0.1/s fail (a stand-in error_type value).
            pg("INSERT", None, 2.9, 0.004),
            pg("INSERT", Some("23505"), 0.1, 0.004),
            // Reads that reach Redis: GET per item, MGET per list; SET fills after a miss.
            redis("GET", 6.0, 0.0002),
            redis("MGET", 2.0, 0.0004),
            redis("SET", 2.0, 0.0002),
            redis("DEL", 0.5, 0.0002),
            redis("INCR", 0.5, 0.0002),
            redis("PING", 0.2, 0.0001),
        ],
    }]
}

/// events: the producer writes orders.<type>; both consumer roles process them; notifications writes
/// topic notifications (and the DLQ), analytics writes analytics (crates/events/src/kafka.rs Topics).
fn kafka() -> Vec<Family> {
    let m = |svc: &str, container: &str, topic: &str, rate: f64, typical: f64| {
        let labels = with(
            app(svc, container),
            &[
                ("messaging_system", "kafka"),
                ("messaging_destination_name", topic),
                ("server_address", "kafka.mop.svc"),
            ],
        );
        s(labels, rate, typical)
    };
    let produced = vec![
        m(
            "events-producer",
            "events-producer",
            "orders.created",
            5.0,
            0.004,
        ),
        m(
            "events-producer",
            "events-producer",
            "orders.updated",
            2.0,
            0.004,
        ),
        m(
            "events-producer",
            "events-producer",
            "orders.cancelled",
            1.0,
            0.004,
        ),
        m(
            "events-notifications",
            "events-consumer",
            "notifications",
            7.4,
            0.004,
        ),
        m("events-notifications", "events-consumer", "dlq", 0.1, 0.004),
        m(
            "events-analytics",
            "events-consumer",
            "analytics",
            0.1,
            0.004,
        ),
    ];
    // One Fetch request names every topic the consumer reads: one span (and observation) per topic,
    // at the request rate, lasting the broker's long poll — not one per message.
    let mut processed = Vec::new();
    for svc in ["events-notifications", "events-analytics"] {
        for topic in ["orders.created", "orders.updated", "orders.cancelled"] {
            processed.push(m(svc, "events-consumer", topic, 4.0, 0.1));
        }
    }
    vec![
        Family {
            name: "messaging_client_operation_duration_seconds",
            kind: Kind::Histogram(&DURATION_BUCKETS),
            series: produced,
        },
        Family {
            name: "messaging_process_duration_seconds",
            kind: Kind::Histogram(&DURATION_BUCKETS),
            series: processed,
        },
    ]
}

/// The service graph (feature application_service_graph): the edges OBI saw on the wire, 1 % failed.
fn service_graph() -> Vec<Family> {
    let edges = [
        ("loadgen", "gateway", 10.0),
        ("loadgen", "catalog", 8.0),
        ("loadgen", "orders", 4.0),
        ("loadgen", "auth", 20.0),
        ("loadgen", "events-producer", 8.0),
        ("gateway", "catalog", 2.5),
    ];
    let series = |share: f64| {
        edges
            .iter()
            .map(|(client, server, r)| {
                let labels = l(&[
                    ("client", client),
                    ("server", server),
                    ("client_service_namespace", "mop"),
                    ("server_service_namespace", "mop"),
                    ("source", "obi"),
                    ("job", "obi"),
                    ("instance", "obi-7k2xq:9090"),
                ]);
                s(labels, r * share, 0.0)
            })
            .collect()
    };
    vec![
        Family {
            name: "traces_service_graph_request_total",
            kind: Kind::Counter,
            series: series(1.0),
        },
        Family {
            name: "traces_service_graph_request_failed_total",
            kind: Kind::Counter,
            series: series(0.01),
        },
    ]
}

/// postgres-exporter, redis_exporter and kafka-exporter, as their docs name the series.
fn exporters() -> Vec<Family> {
    let pg = |extra: &[(&str, &str)]| {
        with(
            l(&[
                ("job", "postgres-exporter"),
                ("instance", "postgres-exporter:9187"),
            ]),
            extra,
        )
    };
    let rd = |extra: &[(&str, &str)]| {
        with(
            l(&[
                ("job", "redis-exporter"),
                ("instance", "redis-exporter:9121"),
            ]),
            extra,
        )
    };
    let kf = |extra: &[(&str, &str)]| {
        with(
            l(&[
                ("job", "kafka-exporter"),
                ("instance", "kafka-exporter:9308"),
            ]),
            extra,
        )
    };
    let stmt = |id: &str| pg(&[("user", "orders"), ("datname", "orders"), ("queryid", id)]);
    let statements = [
        (
            "-4012339137710431722",
            "SELECT id, sku, quantity, price_cents FROM order_items WHERE order_id = $1",
            20.0,
            0.0004,
        ),
        (
            "7390051712446539071",
            "SELECT id, customer_id, status, total_cents, created_at FROM orders WHERE customer_id = $1",
            4.0,
            0.0009,
        ),
        (
            "1159784612300984521",
            "INSERT INTO orders (customer_id, status, total_cents) VALUES ($1, $2, $3) RETURNING id",
            1.0,
            0.002,
        ),
    ];
    let mut families = vec![
        Family {
            name: "pg_up",
            kind: Kind::Gauge,
            series: vec![s(pg(&[]), 1.0, 0.0)],
        },
        Family {
            name: "pg_stat_statements_calls_total",
            kind: Kind::Counter,
            series: statements
                .iter()
                .map(|(id, _, r, _)| s(stmt(id), *r, 0.0))
                .collect(),
        },
        Family {
            name: "pg_stat_statements_seconds_total",
            kind: Kind::Counter,
            series: statements
                .iter()
                .map(|(id, _, r, mean)| s(stmt(id), r * mean, 0.0))
                .collect(),
        },
        Family {
            name: "pg_stat_statements_query_id",
            kind: Kind::Gauge,
            series: statements
                .iter()
                .map(|(id, q, ..)| s(pg(&[("queryid", id), ("query", q)]), 1.0, 0.0))
                .collect(),
        },
        Family {
            name: "pg_stat_database_numbackends",
            kind: Kind::Gauge,
            series: vec![s(
                pg(&[("datid", "16384"), ("datname", "orders")]),
                5.0,
                0.0,
            )],
        },
        // postgres-exporter publishes these counters without a _total suffix, which OpenMetrics only
        // allows for gauges: modelled as ever-growing gauges (rate() reads them the same way).
        Family {
            name: "pg_stat_database_xact_commit",
            kind: Kind::Gauge,
            series: vec![s(
                pg(&[("datid", "16384"), ("datname", "orders")]),
                0.0,
                5.0,
            )],
        },
        Family {
            name: "pg_stat_database_xact_rollback",
            kind: Kind::Gauge,
            series: vec![s(
                pg(&[("datid", "16384"), ("datname", "orders")]),
                0.0,
                0.1,
            )],
        },
    ];
    families.extend([
        Family {
            name: "redis_up",
            kind: Kind::Gauge,
            series: vec![s(rd(&[]), 1.0, 0.0)],
        },
        Family {
            name: "redis_keyspace_hits_total",
            kind: Kind::Counter,
            series: vec![s(rd(&[]), 6.0, 0.0)],
        },
        Family {
            name: "redis_keyspace_misses_total",
            kind: Kind::Counter,
            series: vec![s(rd(&[]), 2.0, 0.0)],
        },
        Family {
            name: "redis_pubsub_channels",
            kind: Kind::Gauge,
            series: vec![s(rd(&[]), 1.0, 0.0)],
        },
        Family {
            name: "redis_connected_clients",
            kind: Kind::Gauge,
            series: vec![s(rd(&[]), 4.0, 0.0)],
        },
        Family {
            name: "redis_commands_total",
            kind: Kind::Counter,
            series: [
                ("get", 6.0),
                ("mget", 2.0),
                ("set", 2.0),
                ("del", 0.5),
                ("incr", 0.5),
                ("publish", 0.5),
                ("ping", 0.2),
            ]
            .iter()
            .map(|(c, r)| s(rd(&[("cmd", c)]), *r, 0.0))
            .collect(),
        },
    ]);
    let topics = [
        "orders.created",
        "orders.updated",
        "orders.cancelled",
        "notifications",
        "analytics",
        "dlq",
    ];
    let mut lag = Vec::new();
    for group in ["notifications", "analytics"] {
        for topic in &topics[..3] {
            for partition in ["0", "1", "2"] {
                // notifications falls behind on orders.cancelled by 0.5/s in all (3 partitions).
                let growth = if group == "notifications" && *topic == "orders.cancelled" {
                    0.5 / 3.0
                } else {
                    0.0
                };
                lag.push(s(
                    kf(&[
                        ("consumergroup", group),
                        ("topic", topic),
                        ("partition", partition),
                    ]),
                    3.0,
                    growth,
                ));
            }
        }
    }
    families.extend([
        Family {
            name: "kafka_brokers",
            kind: Kind::Gauge,
            series: vec![s(kf(&[]), 1.0, 0.0)],
        },
        Family {
            name: "kafka_topic_partitions",
            kind: Kind::Gauge,
            series: topics
                .iter()
                .map(|t| s(kf(&[("topic", t)]), 3.0, 0.0))
                .collect(),
        },
        Family {
            name: "kafka_consumergroup_lag",
            kind: Kind::Gauge,
            series: lag,
        },
        Family {
            name: "kafka_consumergroup_members",
            kind: Kind::Gauge,
            series: ["notifications", "analytics"]
                .iter()
                .map(|g| s(kf(&[("consumergroup", g)]), 1.0, 0.0))
                .collect(),
        },
    ]);
    families
}

/// A value a derived panel must show: on `dashboard` (uid), panel `panel`, query `ref_id`, the
/// series whose labels include `labels` has `value`.
#[derive(Debug, Clone)]
pub struct Expect {
    pub dashboard: &'static str,
    pub panel: &'static str,
    pub ref_id: &'static str,
    pub labels: Vec<(&'static str, &'static str)>,
    pub value: f64,
}

fn e(
    dashboard: &'static str,
    panel: &'static str,
    labels: &[(&'static str, &'static str)],
    value: f64,
) -> Expect {
    Expect {
        dashboard,
        panel,
        ref_id: "A",
        labels: labels.to_vec(),
        value,
    }
}

/// The values the fixture implies for the derived panels (see the module docs for the arithmetic).
pub fn expectations() -> Vec<Expect> {
    let notif = "events-notifications";
    let analytics = "events-analytics";
    let mut out = vec![
        e("mop-redis", "Hit ratio — derived from OBI (HTTP)", &[], 0.8),
        e(
            "mop-overview",
            "Gateway cache hit ratio (derived)",
            &[],
            0.8,
        ),
        e("mop-redis", "Hit ratio — Redis' view (keyspace)", &[], 0.75),
        e(
            "mop-sql",
            "Database calls per orders request (N+1)",
            &[],
            5.4,
        ),
        e(
            "mop-sql",
            "Calls per request over time, by operation",
            &[("db_operation_name", "SELECT")],
            4.8,
        ),
        e(
            "mop-sql",
            "Calls per request over time, by operation",
            &[("db_operation_name", "INSERT")],
            0.6,
        ),
        e(
            "mop-sql",
            "Slow queries: share above 100 ms",
            &[("db_operation_name", "SELECT")],
            0.01,
        ),
        e(
            "mop-sql",
            "Slow queries: share above 100 ms",
            &[("db_operation_name", "INSERT")],
            0.0,
        ),
        e(
            "mop-sql",
            "Error ratio by db_operation_name",
            &[("db_operation_name", "INSERT")],
            0.1 / 3.0,
        ),
        e(
            "mop-sql",
            "Error ratio by db_operation_name",
            &[("db_operation_name", "SELECT")],
            0.0,
        ),
        e("mop-overview", "HTTP 5xx ratio", &[], 0.5 / 34.0),
        // UNAUTHENTICATED is the caller's failure, not a server error (OBI's GrpcSpanStatusCode).
        e("mop-overview", "gRPC error ratio", &[], 0.0),
        Expect {
            ref_id: "B",
            ..e(
                "mop-overview",
                "Error ratio by service (HTTP 5xx + gRPC server errors)",
                &[("service_name", "auth")],
                0.0,
            )
        },
        e(
            "mop-grpc",
            "Error ratio by rpc_method",
            &[("rpc_method", "/mop.auth.v1.AuthService/Login")],
            0.0,
        ),
        e(
            "mop-grpc",
            "Error ratio by rpc_method",
            &[("rpc_method", "/mop.auth.v1.AuthService/ValidateToken")],
            0.0,
        ),
        e("mop-grpc", "Calls OBI could not name", &[], 0.0),
        e(
            "mop-http",
            "Error ratio by service and route",
            &[("service_name", "catalog"), ("http_route", "/error")],
            1.0,
        ),
        e(
            "mop-http",
            "Error ratio by service and route",
            &[
                ("service_name", "catalog"),
                ("http_route", "/products/{id}"),
            ],
            0.0,
        ),
        e(
            "mop-http",
            "Error ratio by service and route",
            &[
                ("service_name", "gateway"),
                ("http_route", "/products/{id}"),
            ],
            0.0,
        ),
        e("mop-kafka", "DLQ rate", &[], 0.1),
        e("mop-overview", "DLQ rate", &[], 0.1),
        e(
            "mop-kafka",
            "Fetch requests OBI could not attribute to a topic",
            &[],
            0.0,
        ),
        e(
            "mop-kafka",
            "Lag growth per topic and group (backend's view)",
            &[
                ("consumergroup", "notifications"),
                ("topic", "orders.cancelled"),
            ],
            0.5,
        ),
        e(
            "mop-kafka",
            "Lag growth per topic and group (backend's view)",
            &[
                ("consumergroup", "analytics"),
                ("topic", "orders.cancelled"),
            ],
            0.0,
        ),
        e("mop-overview", "HTTP requests/s", &[], 34.0),
        e("mop-overview", "gRPC calls/s", &[], 20.0),
        e("mop-overview", "SQL queries/s", &[], 27.0),
        e("mop-overview", "Redis commands/s", &[], 11.2),
        e("mop-overview", "Kafka produce requests/s", &[], 15.6),
    ];
    // Per consumer and topic: the Fetch request rate, the same on every topic the consumer reads.
    for topic in ["orders.created", "orders.updated", "orders.cancelled"] {
        for svc in [notif, analytics] {
            out.push(e(
                "mop-kafka",
                "Rate of fetch requests by topic and consumer",
                &[("messaging_destination_name", topic), ("service_name", svc)],
                4.0,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_ends_with_eof_and_histograms_are_cumulative() {
        let om = Fixture::lab(1_800_000_000).openmetrics();
        assert!(om.ends_with("# EOF\n"));
        let inf: Vec<&str> = om
            .lines()
            .filter(|l| {
                l.starts_with("http_server_request_duration_seconds_bucket")
                    && l.contains("le=\"+Inf\"")
            })
            .collect();
        assert_eq!(inf.len(), 13 * (SPAN / STEP + 1) as usize);
    }
}
