//! `POST /orders`, `GET /orders/{id}`, `GET /orders` — validation, atomicity and filters.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Service, assert_problem, error_fields, start};

/// Ids of the orders a listing returns.
async fn ids(svc: &Service, path: &str) -> Vec<i64> {
    let r = svc.get(path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn an_order_is_created_with_its_items_and_total() {
    let svc = start().await;
    let customer = svc.customer("buyer@example.com").await;
    let r = svc
        .post(
            "/orders",
            json!({"customer_id": customer, "items": [
                {"product_id": 7, "quantity": 3, "price": 19.99},
                {"product_id": 8, "quantity": 1, "price": "0.05"},
                {"product_id": 9, "quantity": 2, "price": 10}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.headers["location"], format!("/orders/{id}"));
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["total"], "80.02");
    assert_eq!(r.body["items"][0]["price"], "19.99");
    assert_eq!(r.body["items"][2]["quantity"], 2);

    let got = svc.get(&format!("/orders/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, r.body, "GET returns what POST created");

    // The database agrees on the total (numeric, exact).
    let mut conn = svc.sql().await;
    let total: String = sqlx::query_scalar("SELECT total::text FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(total, "80.02");
}

#[tokio::test]
async fn an_unknown_customer_is_422_and_nothing_is_written() {
    let svc = start().await;
    let r = svc
        .post(
            "/orders",
            json!({"customer_id": 424242, "items": [{"product_id": 1, "quantity": 1, "price": 1}]}),
        )
        .await;
    let problem = assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(problem), vec!["customer_id"]);
    assert_eq!(svc.counts().await, (0, 0, 0));
}

#[tokio::test]
async fn invalid_items_are_all_reported_and_nothing_is_written() {
    let svc = start().await;
    let customer = svc.customer("v@example.com").await;
    let item = |p: serde_json::Value, q: serde_json::Value, price: serde_json::Value| json!({"product_id": p, "quantity": q, "price": price});
    let cases = [
        (json!({"customer_id": customer, "items": []}), vec!["items"]),
        (
            json!({"customer_id": 0, "items": [item(json!(1), json!(1), json!(1))]}),
            vec!["customer_id"],
        ),
        (
            json!({"customer_id": customer, "items": [item(json!(0), json!(1), json!(1))]}),
            vec!["items[0].product_id"],
        ),
        (
            json!({"customer_id": customer, "items": [item(json!(1), json!(0), json!(1))]}),
            vec!["items[0].quantity"],
        ),
        (
            json!({"customer_id": customer, "items": [item(json!(1), json!(-3), json!(1))]}),
            vec!["items[0].quantity"],
        ),
        (
            json!({"customer_id": customer, "items": [item(json!(1), json!(10_001), json!(1))]}),
            vec!["items[0].quantity"],
        ),
        (
            json!({"customer_id": customer, "items": [item(json!(1), json!(1), json!(1.234))]}),
            vec!["items[0].price"],
        ),
        (
            json!({"customer_id": customer, "items": [item(json!(1), json!(1), json!(-1))]}),
            vec!["items[0].price"],
        ),
        (
            json!({"customer_id": customer, "items": [item(json!(1), json!(1), json!("abc"))]}),
            vec!["items[0].price"],
        ),
        (
            json!({"customer_id": customer, "items": [item(json!(1), json!(1), json!(null))]}),
            vec!["items[0].price"],
        ),
        (
            json!({"customer_id": customer, "items": [item(json!(1), json!(1), json!("10000000000"))]}),
            vec!["items[0].price"],
        ),
        // Each line is valid, the total is not.
        (
            json!({"customer_id": customer, "items": [item(json!(1), json!(10_000), json!("9999999999.99"))]}),
            vec!["items"],
        ),
        (
            json!({"customer_id": customer, "items": [item(json!(1), json!(1), json!(1)), item(json!(-1), json!(0), json!("x"))]}),
            vec!["items[1].product_id", "items[1].quantity", "items[1].price"],
        ),
    ];
    for (body, fields) in cases {
        let r = svc.post("/orders", body.clone()).await;
        let problem = assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(problem), fields, "for {body}");
    }
    let too_many: Vec<_> = (0..101)
        .map(|_| item(json!(1), json!(1), json!(1)))
        .collect();
    let r = svc
        .post(
            "/orders",
            json!({"customer_id": customer, "items": too_many}),
        )
        .await;
    assert_eq!(
        error_fields(assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY)),
        vec!["items"]
    );
    // Wrong JSON types are rejected before validation.
    let r = svc
        .post("/orders", json!({"customer_id": "1", "items": []}))
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(svc.counts().await, (1, 0, 0));
}

#[tokio::test]
async fn a_failure_after_the_order_row_rolls_everything_back() {
    let svc = start().await;
    let customer = svc.customer("atomic@example.com").await;
    // Make the *second* statement of the transaction (the items insert) fail inside PostgreSQL,
    // after the order row has been written.
    let mut conn = svc.sql().await;
    sqlx::raw_sql(
        "CREATE FUNCTION fail_items() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
         CREATE TRIGGER fail_items BEFORE INSERT ON order_items
           FOR EACH ROW WHEN (NEW.product_id = 666) EXECUTE FUNCTION fail_items();",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let r = svc
        .post(
            "/orders",
            json!({"customer_id": customer, "items": [
                {"product_id": 1, "quantity": 1, "price": 1},
                {"product_id": 666, "quantity": 1, "price": 1}
            ]}),
        )
        .await;
    assert_problem(&r, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        svc.counts().await,
        (1, 0, 0),
        "no order and no item may survive"
    );
    // The service is fine afterwards.
    svc.order(customer, 2).await;
    assert_eq!(svc.counts().await, (1, 1, 2));
}

#[tokio::test]
async fn fetching_unknown_or_unparsable_orders() {
    let svc = start().await;
    assert_problem(&svc.get("/orders/123456").await, StatusCode::NOT_FOUND);
    assert_problem(&svc.get("/orders/abc").await, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn listing_filters_by_customer_status_and_time() {
    let svc = start().await;
    let a = svc.customer("a@example.com").await;
    let b = svc.customer("b@example.com").await;
    let a1 = svc.order(a, 1).await["id"].as_i64().unwrap();
    let a2 = svc.order(a, 2).await["id"].as_i64().unwrap();
    let b1 = svc.order(b, 3).await["id"].as_i64().unwrap();
    assert_eq!(
        svc.patch(&format!("/orders/{a2}"), json!({"status": "paid"}))
            .await
            .status,
        StatusCode::OK
    );
    // Move b1 into the past so the time filters have something to separate.
    let mut conn = svc.sql().await;
    sqlx::query("UPDATE orders SET created_at = '2020-01-01T00:00:00Z' WHERE id = $1")
        .bind(b1)
        .execute(&mut conn)
        .await
        .unwrap();

    assert_eq!(ids(&svc, "/orders").await, vec![a2, a1, b1]);
    assert_eq!(
        ids(&svc, &format!("/orders?customer_id={a}")).await,
        vec![a2, a1]
    );
    assert_eq!(ids(&svc, "/orders?status=paid").await, vec![a2]);
    assert_eq!(
        ids(&svc, &format!("/orders?customer_id={a}&status=pending")).await,
        vec![a1]
    );
    assert_eq!(ids(&svc, "/orders?to=2021-01-01T00:00:00Z").await, vec![b1]);
    assert_eq!(
        ids(&svc, "/orders?from=2021-01-01T00:00:00Z").await,
        vec![a2, a1]
    );
    assert_eq!(
        ids(
            &svc,
            "/orders?from=2019-01-01T00:00:00Z&to=2020-06-01T00:00:00Z"
        )
        .await,
        vec![b1]
    );
    let page = svc.get("/orders?per_page=2").await;
    assert_eq!(page.body["has_more"], true);
    assert!(page.body["data"][0].get("items").is_none());

    assert_problem(
        &svc.get("/orders?status=lost").await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &svc.get("/orders?from=yesterday").await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &svc.get("/orders?customer_id=x").await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &svc.get("/orders?per_page=500").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    let r = svc
        .get("/orders?from=2022-01-01T00:00:00Z&to=2021-01-01T00:00:00Z")
        .await;
    assert_eq!(
        error_fields(assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY)),
        vec!["from"]
    );
}
