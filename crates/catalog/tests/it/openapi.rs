//! The OpenAPI document is served, is 3.1, is what `catalog openapi` prints, and describes exactly
//! the routes the service has.

use crate::support::router;

#[tokio::test]
async fn the_router_serves_exactly_the_documented_routes() {
    let (app, _) = router();
    let doc = catalog::http::openapi();
    assert_eq!(
        common::http::api::check_routes(app, &doc).await,
        Vec::<String>::new()
    );
    assert_eq!(
        common::http::api::route_templates(&doc),
        [
            "/error",
            "/health",
            "/openapi.json",
            "/products",
            "/products/{id}",
            "/ready",
            "/search",
            "/slow"
        ]
    );
}

#[test]
fn catalog_openapi_prints_the_document_without_starting() {
    // No LISTEN_ADDR and no port: the subcommand must not bind or serve anything.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_catalog"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["openapi"], "3.1.0");
    assert_eq!(
        printed,
        serde_json::to_value(catalog::http::openapi()).unwrap()
    );
}

#[tokio::test]
async fn api_operations_document_the_layer_errors_and_probes_do_not() {
    let doc = serde_json::to_value(catalog::http::openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let probe = matches!(path.as_str(), "/health" | "/ready" | "/openapi.json");
            assert_eq!(responses.contains_key("429"), !probe, "{method} {path}");
            assert_eq!(
                responses.contains_key("503"),
                !probe || path == "/ready",
                "{method} {path}"
            );
            let body = op.get("requestBody").is_some();
            for status in ["413", "415"] {
                assert_eq!(responses.contains_key(status), body, "{method} {path}");
            }
        }
    }
}
