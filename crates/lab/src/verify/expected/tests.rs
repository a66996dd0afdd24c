//! The expected rows are derived from the code they describe: the proto file, orders' SQL and the
//! gateway's Redis commands are re-read here so a new statement or command cannot go unchecked.

use std::path::Path;

use super::*;

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file's text under `dir`.
fn sources(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push_str(&sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

#[test]
fn grpc_methods_come_from_the_proto_file() {
    let text = std::fs::read_to_string(repo().join("proto/mop/auth/v1/auth.proto")).unwrap();
    let methods = grpc_methods(&text).unwrap();
    assert_eq!(
        methods,
        [
            "/mop.auth.v1.AuthService/Login",
            "/mop.auth.v1.AuthService/Logout",
            "/mop.auth.v1.AuthService/ValidateToken",
            "/mop.auth.v1.AuthService/RefreshToken",
            "/mop.auth.v1.AuthService/StreamEvents",
        ]
    );
    assert!(grpc_methods("syntax = \"proto3\";").is_err());
}

#[test]
fn sql_operations_are_the_first_keywords_of_orders_statements() {
    let text = sources(&repo().join("crates/orders/src"));
    let mut found = std::collections::BTreeSet::new();
    for keyword in ["SELECT", "INSERT", "UPDATE", "DELETE"] {
        if text.contains(&format!("\"{keyword} ")) || text.contains(&format!("\"{keyword}\n")) {
            found.insert(keyword);
        }
    }
    let listed: std::collections::BTreeSet<_> = SQL_OPERATIONS.into_iter().collect();
    assert_eq!(
        found, listed,
        "orders' statements begin with other keywords now"
    );
}

#[test]
fn redis_commands_are_the_ones_the_gateway_sends() {
    let text = sources(&repo().join("crates/gateway/src")).to_ascii_lowercase();
    for command in REDIS_COMMANDS.iter().chain(&REDIS_PUBSUB) {
        let lower = command.to_ascii_lowercase();
        assert!(
            text.contains(&format!(".{lower}(")) || text.contains(&format!("cmd(\"{command}\")")),
            "the gateway no longer sends {command}"
        );
    }
}

#[test]
fn items_cover_every_protocol_and_name_obi_metrics() {
    let sources = Sources {
        routes: [(
            "catalog".to_owned(),
            vec![("GET".into(), "/products/{id}".into())],
        )]
        .into(),
        grpc_methods: vec!["/mop.auth.v1.AuthService/Login".into()],
    };
    let items = items(&sources, "5m");
    let route = &items[0];
    assert_eq!(route.subject, "catalog GET /products/{id}");
    assert_eq!(
        route.check,
        Check::Traffic(
            "sum(increase(http_server_request_duration_seconds_count{service_name=\"catalog\",http_request_method=\"GET\",http_route=\"/products/{id}\"}[5m]))".into()
        )
    );
    for protocol in [
        "http",
        "grpc",
        "postgresql",
        "redis",
        "redis-pubsub",
        "kafka",
    ] {
        assert!(items.iter().any(|i| i.protocol == protocol), "{protocol}");
    }
    // Every row's (protocol, signal) is a cell of the visibility matrix.
    let matrix = super::super::visibility::Matrix::load().unwrap();
    for item in &items {
        assert!(
            matrix.entry(item.protocol, item.signal).is_some(),
            "{} × {} is not in visibility.yaml",
            item.protocol,
            item.signal
        );
    }
}

#[test]
fn operations_read_methods_and_templates() {
    let doc = r#"{"paths": {"/products/{id}": {"get": {}, "put": {}, "parameters": []}}}"#;
    assert_eq!(
        operations(doc).unwrap(),
        [
            ("GET".to_owned(), "/products/{id}".to_owned()),
            ("PUT".to_owned(), "/products/{id}".to_owned())
        ]
    );
    assert!(operations("{}").is_err());
}
