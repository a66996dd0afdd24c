//! `POST /customers`, `GET /customers/{id}` and their validation rules.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{assert_problem, error_fields, start};

#[tokio::test]
async fn create_then_fetch_a_customer() {
    let svc = start().await;
    let r = svc
        .post(
            "/customers",
            json!({"name": "  Ada Lovelace ", "email": "Ada@Example.COM"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.headers["location"], format!("/customers/{id}"));
    assert_eq!(r.body["name"], "Ada Lovelace");
    assert_eq!(
        r.body["email"], "ada@example.com",
        "emails are stored lower-case"
    );

    let got = svc.get(&format!("/customers/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, r.body);
}

#[tokio::test]
async fn a_taken_email_is_409_whatever_its_case() {
    let svc = start().await;
    svc.customer("grace@example.com").await;
    let r = svc
        .post(
            "/customers",
            json!({"name": "Other", "email": "GRACE@example.com"}),
        )
        .await;
    assert_problem(&r, StatusCode::CONFLICT);
    assert_eq!(svc.counts().await.0, 1);
}

#[tokio::test]
async fn every_invalid_field_is_reported_and_nothing_is_written() {
    let svc = start().await;
    let cases = [
        (json!({"name": "", "email": "a@b.c"}), vec!["name"]),
        (json!({"name": "   ", "email": "a@b.c"}), vec!["name"]),
        (
            json!({"name": "x".repeat(201), "email": "a@b.c"}),
            vec!["name"],
        ),
        (json!({"name": "bell\u{7}", "email": "a@b.c"}), vec!["name"]),
        (json!({"name": "ok", "email": "no-at-sign"}), vec!["email"]),
        (
            json!({"name": "ok", "email": "@example.com"}),
            vec!["email"],
        ),
        (json!({"name": "ok", "email": "a@"}), vec!["email"]),
        (
            json!({"name": "ok", "email": "a b@example.com"}),
            vec!["email"],
        ),
        (json!({"name": "ok", "email": "a@b@c"}), vec!["email"]),
        (
            json!({"name": "ok", "email": format!("{}@x.io", "a".repeat(320))}),
            vec!["email"],
        ),
        (json!({"name": "", "email": "bad"}), vec!["name", "email"]),
    ];
    for (body, fields) in cases {
        let r = svc.post("/customers", body.clone()).await;
        let problem = assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(problem), fields, "for {body}");
    }
    assert_eq!(svc.counts().await, (0, 0, 0));
}

#[tokio::test]
async fn malformed_bodies_are_4xx_problems() {
    let svc = start().await;
    // Wrong shape: missing field / wrong type.
    let r = svc.post("/customers", json!({"name": "only a name"})).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let r = svc
        .post("/customers", json!({"name": 1, "email": "a@b.c"}))
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    // Not JSON at all.
    let resp = svc
        .client
        .post(format!("{}/customers", svc.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Not declared as JSON.
    let resp = svc
        .client
        .post(format!("{}/customers", svc.base))
        .body(r#"{"name":"a","email":"a@b.c"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(svc.counts().await, (0, 0, 0));
}

#[tokio::test]
async fn unknown_or_unparsable_ids() {
    let svc = start().await;
    assert_problem(&svc.get("/customers/999999").await, StatusCode::NOT_FOUND);
    assert_problem(&svc.get("/customers/-1").await, StatusCode::NOT_FOUND);
    assert_problem(&svc.get("/customers/abc").await, StatusCode::BAD_REQUEST);
    assert_problem(
        &svc.get("/customers/99999999999999999999999").await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &svc.get("/customers/999999/orders").await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn a_customers_orders_are_paginated_newest_first() {
    let svc = start().await;
    let id = svc.customer("pages@example.com").await;
    let other = svc.customer("other@example.com").await;
    svc.order(other, 1).await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(svc.order(id, 1).await["id"].as_i64().unwrap());
    }
    let p1 = svc.get(&format!("/customers/{id}/orders?per_page=2")).await;
    assert_eq!(p1.status, StatusCode::OK);
    assert_eq!(p1.body["has_more"], true);
    assert_eq!(p1.body["page"], 1);
    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&p1.body), vec![created[4], created[3]]);
    assert!(
        p1.body["data"][0].get("items").is_none(),
        "items only with include=items"
    );
    let p3 = svc
        .get(&format!("/customers/{id}/orders?per_page=2&page=3"))
        .await;
    assert_eq!(ids(&p3.body), vec![created[0]]);
    assert_eq!(p3.body["has_more"], false);
    let past = svc
        .get(&format!("/customers/{id}/orders?per_page=2&page=4"))
        .await;
    assert_eq!(ids(&past.body), Vec::<i64>::new());

    for bad in ["page=0", "per_page=0", "per_page=101", "page=10001"] {
        let r = svc.get(&format!("/customers/{id}/orders?{bad}")).await;
        assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    }
    for bad in ["page=-1", "page=x", "include=everything", "strategy=magic"] {
        let r = svc.get(&format!("/customers/{id}/orders?{bad}")).await;
        assert_problem(&r, StatusCode::BAD_REQUEST);
    }
}
