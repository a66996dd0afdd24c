//! Wire visibility: a fresh lab captured with tshark from before its first byte, under `mixed`, and
//! Wireshark's dissectors confirming what OBI's parsers rely on — plaintext everywhere, HTTP/1.1
//! request lines with the services' own routes, gRPC `:path` over h2c, PostgreSQL's extended
//! protocol with the orders statements, RESP commands, and Kafka's versions (Fetch ≥ 13 names its
//! topics by id, which only the Metadata responses on the same wire map back to names). What OBI
//! makes of these bytes is not tested here: no OBI runs on this machine (docs/visibility.md).

use std::time::{Duration, Instant};

use lab::local::plan::sibling_bin_dir;
use xtask::wire::{WireOptions, run};

use crate::support;

/// `ebpf.buffer_sizes.kafka` of the kind lab's OBI config.
fn obi_kafka_buffer() -> usize {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../kustomize/components/observability/config/obi-config.yml"
    );
    let config: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    config["ebpf"]["buffer_sizes"]["kafka"]
        .as_u64()
        .unwrap_or_else(|| panic!("{path} sets no ebpf.buffer_sizes.kafka")) as usize
}

#[tokio::test(flavor = "multi_thread")]
async fn every_protocol_is_plaintext_and_carries_what_obis_parsers_read() {
    let _turn = support::turn().await;
    let started = Instant::now();
    let dir = testkit::process::temp_dir("lab-wire").unwrap();
    let bin_dir = sibling_bin_dir(&std::env::current_exe().unwrap()).unwrap();
    let run = run(WireOptions {
        bin_dir,
        state_dir: dir.clone(),
        rate: 30.0,
        duration: Duration::from_secs(15),
    })
    .await
    .unwrap_or_else(|e| panic!("the wire run failed: {e:#}"));
    let f = &run.findings;
    let table = f.table();
    eprintln!(
        "{table}\n(wire test: {:.0} s)",
        started.elapsed().as_secs_f64()
    );
    assert!(run.loadgen_ok, "loadgen failed; {}", dir.display());
    assert!(run.services_ok, "a service did not exit 0 on SIGTERM");

    // Plaintext: no handshake even when every port is decoded as TLS, no stream opens with a record.
    assert!(f.tls.streams > 50, "{table}");
    assert_eq!(f.tls.handshakes, 0, "{table}");
    assert_eq!(f.tls.tls_record_starts, 0, "{table}");

    // HTTP/1.1 request lines whose paths are the services' own templates (OBI's routes.patterns).
    for (service, routes) in [
        ("catalog", &["GET /products/{id}"][..]),
        ("gateway", &["GET /products/{id}"]),
        ("orders", &["POST /orders", "GET /customers/{id}/orders"]),
        ("events-producer", &["POST /events"]),
    ] {
        let h = f.http.iter().find(|h| h.service == service).unwrap();
        assert_eq!(
            h.versions.iter().collect::<Vec<_>>(),
            ["HTTP/1.1"],
            "{service}"
        );
        assert!(
            h.unmatched.is_empty(),
            "{service}: paths no template matched: {table}"
        );
        for route in routes {
            assert!(
                h.routes.get(*route) > Some(&0),
                "{service} {route}: {table}"
            );
        }
    }
    // The gateway calls the catalog itself (its cache misses): the client side OBI also sees.
    let catalog = f.http.iter().find(|h| h.service == "catalog").unwrap();
    assert!(catalog.clients.contains("gateway"), "{table}");

    // gRPC over h2c: prior-knowledge preface, every request's :path decoded (HPACK from the start).
    let g = &f.grpc;
    assert!(g.prefaces >= 1, "{table}");
    assert_eq!(g.without_path, 0, "{table}");
    for method in ["Login", "ValidateToken"] {
        let path = format!("/mop.auth.v1.AuthService/{method}");
        assert!(g.paths.get(&path) > Some(&0), "{path}: {table}");
    }
    // Besides auth's API only the lab's readiness probe, grpc.health (as the kubelet asks on kind).
    assert!(
        g.paths
            .keys()
            .all(|p| p.starts_with("/mop.auth.v1.AuthService/")
                || p == "/grpc.health.v1.Health/Check"),
        "{table}"
    );
    assert!(g.statuses.get("0") > Some(&0), "{table}");

    // PostgreSQL: no SSLRequest; the extended protocol with named statements prepared once per
    // connection and then only bound — the Parse OBI must see to name a Bind's statement.
    let pg = &f.postgres;
    assert_eq!(pg.ssl_requests, 0, "{table}");
    assert!(pg.clients.contains("orders"), "{table}");
    assert!(pg.parse > 0 && pg.bind > 2 * pg.parse, "{table}");
    assert_eq!(pg.execute, pg.bind, "{table}");
    assert_eq!(
        pg.reparsed, 0,
        "a statement parsed twice on one connection: {table}"
    );
    assert!(
        pg.statement_names.iter().all(|n| n.starts_with("sqlx_s_")),
        "{table}"
    );
    for statement in [
        "INSERT INTO orders (customer_id, total) VALUES ($1, $2::bigint / 100.0)",
        "SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1)",
    ] {
        assert!(
            pg.statements.keys().any(|s| s.starts_with(statement)),
            "{statement}: {table}"
        );
    }
    assert!(
        pg.longest_statement < 3000,
        "OBI's parser skips longer: {table}"
    );

    // RESP: the gateway's cache commands and its invalidation subscription.
    let gateway = f
        .redis
        .by_client
        .get("gateway")
        .expect("the gateway talks RESP");
    for command in ["GET", "SET", "SUBSCRIBE"] {
        assert!(gateway.contains(command), "{command}: {table}");
    }

    // Kafka: librdkafka 2.x, Produce and Fetch; Fetch ≥ 13 names topics only by id, and every id was
    // named by a Metadata response on the wire, small enough for OBI's configured Kafka buffer.
    let k = &f.kafka;
    assert!(
        k.software.iter().any(|s| s.starts_with("librdkafka/2.")),
        "{table}"
    );
    let fetch = k.requests.get(&1).expect("Fetch requests");
    assert!(fetch.keys().all(|v| *v >= 13), "{table}");
    assert!(
        k.requests.get(&0).is_some_and(|v| !v.is_empty()),
        "Produce: {table}"
    );
    assert!(
        k.fetch.by_name.is_empty() && !k.fetch.by_id.is_empty(),
        "{table}"
    );
    assert!(
        k.fetch.by_id.keys().all(|id| !id.contains("never named")),
        "{table}"
    );
    assert!(
        k.fetch
            .by_id
            .keys()
            .any(|id| id.ends_with("(orders.created)")),
        "{table}"
    );
    assert!(
        k.produce.by_name.get("orders.created") > Some(&0),
        "{table}"
    );
    assert_eq!(k.fetch.undecoded + k.produce.undecoded, 0, "{table}");
    let buffer = obi_kafka_buffer();
    assert!(
        k.metadata_response_max > 0 && k.metadata_response_max <= buffer,
        "largest Metadata response {} B vs OBI's ebpf.buffer_sizes.kafka {buffer}",
        k.metadata_response_max
    );
    let _ = std::fs::remove_dir_all(&dir);
}
