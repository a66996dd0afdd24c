//! Every client mistake gets the right 4xx as problem+json, and changes nothing in the store.

use axum::body::Body;
use http::Request;

use crate::support::{PRODUCTS, assert_problem, call, router};

struct Case {
    method: &'static str,
    uri: String,
    content_type: Option<&'static str>,
    body: String,
    status: u16,
    /// For 422: the fields that must be listed, in order.
    fields: &'static [&'static str],
}

fn case(method: &'static str, uri: &str, status: u16) -> Case {
    Case {
        method,
        uri: uri.to_owned(),
        content_type: None,
        body: String::new(),
        status,
        fields: &[],
    }
}

/// A query parameter that parses but breaks a rule: 422 naming it, like a body field (the paging
/// convention of every service, docs/architecture.md). One that does not parse stays a 400.
fn query(uri: &str, fields: &'static [&'static str]) -> Case {
    Case {
        fields,
        ..case("GET", uri, 422)
    }
}

fn with_json(
    method: &'static str,
    uri: &str,
    body: &str,
    status: u16,
    fields: &'static [&'static str],
) -> Case {
    Case {
        content_type: Some("application/json"),
        body: body.to_owned(),
        fields,
        ..case(method, uri, status)
    }
}

fn cases() -> Vec<Case> {
    let valid = r#"{"name":"Ok","price":1,"stock":1,"category":"books"}"#;
    vec![
        // paging
        query("/products?page=0", &["page"]),
        case("GET", "/products?page=-1", 400),
        case("GET", "/products?page=abc", 400),
        query("/products?page=1000001", &["page"]),
        query("/products?per_page=0", &["per_page"]),
        query("/products?per_page=101", &["per_page"]),
        case("GET", "/products?per_page=1.5", 400),
        case("GET", "/products?page=99999999999999999999999", 400),
        // ids
        case("GET", "/products/abc", 400),
        case("GET", "/products/-1", 400),
        case("GET", "/products/1.5", 400),
        case("GET", "/products/99999", 404),
        case("DELETE", "/products/abc", 400),
        // create: content type, syntax, size
        Case {
            body: valid.into(),
            ..case("POST", "/products", 415)
        },
        Case {
            content_type: Some("text/plain"),
            body: valid.into(),
            ..case("POST", "/products", 415)
        },
        with_json("POST", "/products", r#"{"name":"#, 400, &[]),
        with_json("POST", "/products", "", 400, &[]),
        with_json(
            "POST",
            "/products",
            &format!(r#"{{"name":"{}"}}"#, "x".repeat(70 * 1024)),
            413,
            &[],
        ),
        // create: field rules, every violation listed
        with_json("POST", "/products", "[]", 422, &["body"]),
        with_json(
            "POST",
            "/products",
            "{}",
            422,
            &["name", "price", "stock", "category"],
        ),
        with_json(
            "POST",
            "/products",
            r#"{"name":"","price":-1,"stock":-2,"category":"food"}"#,
            422,
            &["name", "price", "stock", "category"],
        ),
        with_json(
            "POST",
            "/products",
            &format!(
                r#"{{"name":"{}","price":1,"stock":1,"category":"books"}}"#,
                "n".repeat(201)
            ),
            422,
            &["name"],
        ),
        with_json(
            "POST",
            "/products",
            r#"{"name":"  ","price":1,"stock":1,"category":"books"}"#,
            422,
            &["name"],
        ),
        with_json(
            "POST",
            "/products",
            r#"{"name":"A","price":1.001,"stock":1,"category":"books"}"#,
            422,
            &["price"],
        ),
        with_json(
            "POST",
            "/products",
            r#"{"name":"A","price":"1","stock":1.5,"category":"books"}"#,
            422,
            &["price", "stock"],
        ),
        with_json(
            "POST",
            "/products",
            r#"{"name":"A","price":1e9,"stock":1,"category":"books"}"#,
            422,
            &["price"],
        ),
        with_json(
            "POST",
            "/products",
            r#"{"name":"A","price":1,"stock":1,"category":"books","id":5}"#,
            422,
            &["id"],
        ),
        with_json(
            "POST",
            "/products",
            r#"{"name":7,"description":[],"price":1,"stock":1,"category":3}"#,
            422,
            &["name", "description", "category"],
        ),
        // replace
        with_json(
            "PUT",
            "/products/1",
            r#"{"name":"A"}"#,
            422,
            &["price", "stock", "category"],
        ),
        with_json("PUT", "/products/abc", valid, 400, &[]),
        with_json("PUT", "/products/1", "nope", 400, &[]),
        Case {
            body: valid.into(),
            ..case("PUT", "/products/1", 415)
        },
        // search
        query("/search?min_price=10&max_price=5", &["max_price"]),
        query("/search?min_price=-1", &["min_price"]),
        case("GET", "/search?max_price=abc", 400),
        query("/search?min_price=NaN", &["min_price"]),
        query("/search?max_price=inf", &["max_price"]),
        case("GET", "/search?category=food", 400),
        query(&format!("/search?q={}", "q".repeat(201)), &["q"]),
        query("/search?per_page=500&page=0", &["page", "per_page"]),
        // chaos endpoints
        query("/slow?ms=30001", &["ms"]),
        case("GET", "/slow?ms=abc", 400),
        query("/error?status=404", &["status"]),
        query("/error?status=200", &["status"]),
        case("GET", "/error?status=abc", 400),
        // routing
        case("PATCH", "/products/1", 405),
        case("POST", "/health", 405),
        case("GET", "/nope", 404),
    ]
}

#[tokio::test]
async fn every_bad_input_gets_its_4xx_and_changes_nothing_over_the_wire() {
    let server = crate::support::start(crate::support::config()).await;
    let http = crate::support::client();
    let before = http
        .get(format!("{}/products?per_page=100", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for c in cases() {
        let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
        let mut req = http
            .request(method, format!("{}{}", server.url, c.uri))
            .body(c.body.clone());
        if let Some(ct) = c.content_type {
            req = req.header("content-type", ct);
        }
        let res = req.send().await.unwrap();
        let label = format!("{} {}", c.method, &c.uri[..c.uri.len().min(60)]);
        assert_eq!(res.status().as_u16(), c.status, "{label}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{label}"
        );
        let body: serde_json::Value = res.json().await.unwrap();
        if c.status == 422 {
            let fields: Vec<&str> = body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert_eq!(fields, c.fields, "{label}");
        }
    }
    let after = http
        .get(format!("{}/products?per_page=100", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        before, after,
        "a rejected request must not change the catalog"
    );
    let next = http
        .get(format!("{}/products/{}", server.url, PRODUCTS + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 404, "nothing was created");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn every_bad_input_gets_its_4xx_and_changes_nothing() {
    let (app, store) = router();
    let snapshot: Vec<_> = (1..=PRODUCTS + 5).map(|id| store.get(id)).collect();
    for c in cases() {
        let mut req = Request::builder().method(c.method).uri(&c.uri);
        if let Some(ct) = c.content_type {
            req = req.header("content-type", ct);
        }
        let (res, body) = call(&app, req.body(Body::from(c.body.clone())).unwrap()).await;
        let label = format!("{} {}", c.method, &c.uri[..c.uri.len().min(60)]);
        assert_eq!(res.status().as_u16(), c.status, "{label}: {body}");
        assert_problem(&res, &body, c.status);
        if c.status == 422 {
            let fields: Vec<&str> = body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert_eq!(fields, c.fields, "{label}");
            assert_eq!(body["type"], "urn:mop:problem:validation");
        }
    }
    let after: Vec<_> = (1..=PRODUCTS + 5).map(|id| store.get(id)).collect();
    assert_eq!(
        snapshot, after,
        "a rejected request must not change the store"
    );
}

/// RFC 9110 §13.2.1: preconditions are evaluated before the content is. A client whose copy is stale
/// learns that first (412), whatever its body says; a current copy with a bad body gets the 422.
#[tokio::test]
async fn a_stale_if_match_is_412_even_with_an_invalid_body() {
    let (app, store) = router();
    let before = store.get(2);
    let stale = "\"2-0\"";
    for body in [r#"{"name":""}"#, "not json", "[]"] {
        let req = Request::put("/products/2")
            .header("content-type", "application/json")
            .header("if-match", stale)
            .body(Body::from(body))
            .unwrap();
        let (res, problem) = call(&app, req).await;
        assert_problem(&res, &problem, 412);
        assert_eq!(problem["type"], "urn:mop:problem:precondition-failed");
    }
    let current = before.as_ref().unwrap().etag();
    let req = Request::put("/products/2")
        .header("content-type", "application/json")
        .header("if-match", current)
        .body(Body::from(r#"{"name":""}"#))
        .unwrap();
    let (res, problem) = call(&app, req).await;
    assert_problem(&res, &problem, 422);
    assert_eq!(store.get(2), before, "nothing was written");
}
