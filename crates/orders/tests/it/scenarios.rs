//! The two lab scenarios, verified where it matters — inside PostgreSQL: the N+1 endpoint really sends
//! 1 + N item queries (counted by `pg_stat_statements`, not by our own code), and the slow search and
//! its fast twin return the same customers.

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgConnection;

use crate::support::{Service, assert_problem, error_fields, start};

/// Calls per kind of statement executed in this test's database so far.
struct Counts {
    total: i64,
    item_per_order: i64,
    item_batched: i64,
}

async fn statement_counts(conn: &mut PgConnection) -> Counts {
    // Filtered to this test's database: tests run in parallel on one server. The counting query
    // itself mentions pg_stat_statements and is left out.
    let (total, item_per_order, item_batched): (i64, i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(calls), 0)::bigint,
                coalesce(sum(calls) FILTER (WHERE query LIKE $1), 0)::bigint,
                coalesce(sum(calls) FILTER (WHERE query LIKE $2), 0)::bigint
         FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND query NOT LIKE '%pg_stat_statements%'",
    )
    .bind("%FROM order_items WHERE order_id = $1 %")
    .bind("%FROM order_items WHERE order_id = ANY($1)%")
    .fetch_one(conn)
    .await
    .expect("pg_stat_statements must be loaded (testkit preloads it; see notes/orders-ci.md)");
    Counts {
        total,
        item_per_order,
        item_batched,
    }
}

async fn measured(svc: &Service, conn: &mut PgConnection, path: &str) -> (Value, Counts) {
    let before = statement_counts(conn).await;
    let r = svc.get(path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    let after = statement_counts(conn).await;
    let delta = Counts {
        total: after.total - before.total,
        item_per_order: after.item_per_order - before.item_per_order,
        item_batched: after.item_batched - before.item_batched,
    };
    (r.body, delta)
}

#[tokio::test]
async fn n_plus_one_sends_one_query_per_order_and_batched_a_constant_number() {
    let svc = start().await;
    let c = svc.customer("nplusone@example.com").await;
    for n in 0..12 {
        svc.order(c, 1 + n % 4).await;
    }
    let mut conn = svc.sql().await;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&mut conn)
        .await
        .unwrap();

    for per_page in [1_i64, 5, 12] {
        let base = format!("/customers/{c}/orders?include=items&per_page={per_page}");
        let (naive, n1) = measured(&svc, &mut conn, &format!("{base}&strategy=n-plus-one")).await;
        let (batched, b) = measured(&svc, &mut conn, &format!("{base}&strategy=batched")).await;
        assert_eq!(naive, batched, "both strategies return identical bodies");
        assert_eq!(naive["data"].as_array().unwrap().len() as i64, per_page);
        assert!(
            naive["data"][0]["items"]
                .as_array()
                .is_some_and(|i| !i.is_empty())
        );
        // customer exists + orders page + one items query per order.
        assert_eq!(
            (n1.item_per_order, n1.item_batched, n1.total),
            (per_page, 0, 2 + per_page)
        );
        // customer exists + orders page + one items query for the whole page.
        assert_eq!((b.item_per_order, b.item_batched, b.total), (0, 1, 3));
    }
    // The default strategy is the batched one.
    let (default, d) = measured(
        &svc,
        &mut conn,
        &format!("/customers/{c}/orders?include=items"),
    )
    .await;
    assert_eq!(d.item_batched, 1);
    assert_eq!(default["data"].as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn slow_search_and_fast_lookup_find_the_same_customers() {
    let svc = start().await;
    let ada = svc.customer("ada@lovelace.example").await;
    let grace = svc.customer("grace@hopper.example").await;
    svc.customer("alan@turing.example").await;
    svc.order(ada, 1).await;
    svc.order(ada, 2).await;
    svc.order(grace, 3).await;

    let slow = svc.get("/customers/search?email_contains=LOVELACE").await;
    assert_eq!(slow.status, StatusCode::OK);
    assert_eq!(slow.body.as_array().unwrap().len(), 1);
    assert_eq!(slow.body[0]["id"], ada);
    assert_eq!(slow.body[0]["order_count"], 2);
    assert_eq!(slow.body[0]["spent"], "8.00");
    let fast = svc
        .get("/customers/lookup?email=Ada@Lovelace.example")
        .await;
    assert_eq!(fast.body, slow.body);
    // More than five times: PostgreSQL may then switch the prepared statement to a generic plan,
    // which must still find the same rows (the range form stays indexable, see store::customers).
    for _ in 0..8 {
        let prefix = svc.get("/customers/lookup?email_prefix=ADA@").await;
        assert_eq!(prefix.body, slow.body);
    }
    let none = svc
        .get("/customers/lookup?email_prefix=ada@lovelace.examplf")
        .await;
    assert_eq!(none.body, serde_json::json!([]));

    // Ranked by money spent; a customer without orders still appears (LEFT JOIN).
    let all = svc.get("/customers/search?email_contains=.example").await;
    let ids: Vec<i64> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], grace);
    assert_eq!(ids[1], ada);
    assert_eq!(all.body[2]["order_count"], 0);
    assert_eq!(all.body[2]["spent"], "0.00");
    assert_eq!(
        svc.get("/customers/search?email_contains=.example&limit=1")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );

    assert_problem(&svc.get("/customers/search").await, StatusCode::BAD_REQUEST);
    let r = svc.get("/customers/search?email_contains=").await;
    assert_eq!(
        error_fields(assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY)),
        vec!["email_contains"]
    );
    let long = "x".repeat(101);
    let r = svc
        .get(&format!("/customers/search?email_contains={long}"))
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let r = svc.get("/customers/search?email_contains=a&limit=0").await;
    assert_eq!(
        error_fields(assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY)),
        vec!["limit"]
    );
    for bad in [
        "",
        "?email=a@b.c&email_prefix=a",
        "?email=not-an-email",
        "?email_prefix=",
        "?email_prefix=a&limit=101",
    ] {
        let r = svc.get(&format!("/customers/lookup{bad}")).await;
        assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
