//! The OpenAPI document is served, is 3.1, and describes exactly the routes the service has.

use std::collections::BTreeSet;

use crate::support::{call, get, router};

#[tokio::test]
async fn document_is_served_and_lists_exactly_the_routes() {
    let (app, _) = router();
    let (res, doc) = call(&app, get("/openapi.json")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc, serde_json::to_value(catalog::http::openapi()).unwrap());

    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let declared: BTreeSet<&str> = catalog::http::ROUTES.iter().copied().collect();
    assert_eq!(
        documented, declared,
        "ROUTES (used for OBI's routes.patterns) and the document disagree"
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
        }
    }
}

#[tokio::test]
async fn every_documented_route_is_really_served() {
    let (app, _) = router();
    for route in catalog::http::ROUTES {
        let uri = route.replace("{id}", "1").replace("/slow", "/slow?ms=0");
        let (res, _) = call(&app, get(&uri)).await;
        assert_ne!(res.status(), 404, "{uri}");
        assert_ne!(res.status(), 405, "{uri}");
    }
}
