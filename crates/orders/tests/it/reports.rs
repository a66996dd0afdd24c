//! `GET /reports/top-customers` and `GET /reports/daily-revenue` on a small, known data set.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{assert_problem, error_fields, start};

#[tokio::test]
async fn top_customers_ranks_by_revenue_without_cancelled_orders() {
    let svc = start().await;
    let small = svc.customer("small@example.com").await;
    let big = svc.customer("big@example.com").await;
    let cancelled = svc.customer("cancelled@example.com").await;
    svc.order(small, 1).await; // 1.50
    svc.order(small, 2).await; // 1.50 + 2 × 2.50 = 6.50
    svc.order(big, 3).await; // 1.50 + 5.00 + 10.50 = 17.00
    let gone = svc.order(cancelled, 3).await["id"].as_i64().unwrap();
    svc.delete(&format!("/orders/{gone}")).await;

    let r = svc.get("/reports/top-customers").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!([
            {"id": big, "name": "Test Customer", "email": "big@example.com", "order_count": 1, "revenue": "17.00"},
            {"id": small, "name": "Test Customer", "email": "small@example.com", "order_count": 2, "revenue": "8.00"},
        ])
    );
    let one = svc.get("/reports/top-customers?limit=1").await;
    assert_eq!(one.body.as_array().unwrap().len(), 1);

    for bad in ["limit=0", "limit=101"] {
        let r = svc.get(&format!("/reports/top-customers?{bad}")).await;
        assert_eq!(
            error_fields(assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY)),
            vec!["limit"]
        );
    }
    assert_problem(
        &svc.get("/reports/top-customers?limit=ten").await,
        StatusCode::BAD_REQUEST,
    );
}

#[tokio::test]
async fn daily_revenue_has_every_day_and_counts_items_once() {
    let svc = start().await;
    let c = svc.customer("daily@example.com").await;
    svc.order(c, 2).await; // 2 lines, 3 items, 6.50
    let old = svc.order(c, 1).await["id"].as_i64().unwrap(); // 1 item, 1.50
    let gone = svc.order(c, 3).await["id"].as_i64().unwrap();
    svc.delete(&format!("/orders/{gone}")).await;
    let mut conn = svc.sql().await;
    sqlx::query("UPDATE orders SET created_at = created_at - interval '2 days' WHERE id = $1")
        .bind(old)
        .execute(&mut conn)
        .await
        .unwrap();
    let (today, two_days_ago): (String, String) =
        sqlx::query_as("SELECT current_date::text, (current_date - 2)::text")
            .fetch_one(&mut conn)
            .await
            .unwrap();

    let r = svc.get("/reports/daily-revenue?days=3").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let days = r.body.as_array().unwrap();
    assert_eq!(days.len(), 3);
    assert_eq!(days[0]["day"], two_days_ago);
    assert_eq!(days[0]["order_count"], 1);
    assert_eq!(days[0]["items_sold"], 1);
    assert_eq!(days[0]["revenue"], "1.50");
    assert_eq!(days[1]["order_count"], 0);
    assert_eq!(days[1]["revenue"], "0.00");
    assert_eq!(days[2]["day"], today);
    assert_eq!(days[2]["order_count"], 1);
    assert_eq!(days[2]["items_sold"], 3);
    assert_eq!(days[2]["revenue"], "6.50");

    assert_eq!(
        svc.get("/reports/daily-revenue")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        30
    );
    for bad in ["days=0", "days=367"] {
        let r = svc.get(&format!("/reports/daily-revenue?{bad}")).await;
        assert_eq!(
            error_fields(assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY)),
            vec!["days"]
        );
    }
}
