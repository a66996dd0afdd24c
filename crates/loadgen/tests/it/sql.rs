//! The SQL driver against a real PostgreSQL with the `orders` schema: every query shape, an expected
//! unique violation, and the N+1 loop's statements counted by PostgreSQL itself (pg_stat_statements).

use std::time::Duration;

use loadgen::driver::sql::{Query, SqlStep};
use loadgen::driver::{Drivers, Request};
use loadgen::runner::{Mode, Plan, Step, run};
use loadgen::schedule::{Arrivals, Schedule, Segment};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

async fn calls(conn: &mut sqlx::PgConnection, like: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query LIKE $1",
    )
    .bind(like)
    .fetch_one(conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_shape_runs_and_the_n_plus_one_really_sends_n_plus_one() {
    let db = testkit::postgres::PgServer::shared()
        .unwrap()
        .database(&orders::MIGRATOR)
        .await
        .unwrap();
    let mut conn = db.connect().await.unwrap();
    // 20 customers with exactly 3 orders of 2 items each.
    for sql in [
        // testkit preloads the library; the view needs the extension in this database.
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
        "INSERT INTO customers (name, email) SELECT 'c' || g, 'c' || g || '@example.com' FROM generate_series(1, 20) g",
        "INSERT INTO orders (customer_id, total) SELECT c.id, 10 FROM customers c, generate_series(1, 3)",
        "INSERT INTO order_items (order_id, product_id, quantity, price) SELECT o.id, 1, 1, 5 FROM orders o, generate_series(1, 2)",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    let url = db.url();
    let s = |query, arg: &str| SqlStep {
        url: url.clone(),
        query,
        arg: arg.into(),
        pool: 4,
    };
    let step = |name: &str, sql, expect: &[&str]| Step {
        name: name.into(),
        weight: 1,
        request: Request::Sql(sql),
        expect: expect.iter().map(|e| (*e).to_owned()).collect(),
    };
    let steps = vec![
        step("order", s(Query::OrderById, "{rand:1:60}"), &["OK"]),
        step(
            "customer orders",
            s(Query::CustomerOrders, "{rand:1:20}"),
            &["OK"],
        ),
        step("n+1", s(Query::NPlusOne, "{rand:1:20}"), &["OK"]),
        step("batched", s(Query::Batched, "{rand:1:20}"), &["OK"]),
        step("slow search", s(Query::SlowSearch, "example"), &["OK"]),
        step(
            "lookup",
            s(Query::EmailLookup, "c{rand:1:20}@example.com"),
            &["OK"],
        ),
        step("top customers", s(Query::TopCustomers, ""), &["OK"]),
        step(
            "duplicate customer",
            s(Query::InsertCustomer, "c1@example.com"),
            &["23505"],
        ),
    ];
    let plan = Plan {
        schedule: Schedule::constant(80.0, Duration::from_secs(2)),
        arrivals: Arrivals::Uniform,
        seed: 5,
        segment: Segment::WHOLE,
        mode: Mode::Open {
            max_in_flight: 1000,
            workers: 8,
        },
        steps,
        drain: Duration::from_secs(20),
    };
    let r = run(&plan, &Drivers::new().unwrap(), &CancellationToken::new()).await;
    let p = &r.planned;
    assert_eq!(p.iter().sum::<u64>(), 160);
    for (i, st) in r.steps.iter().enumerate() {
        assert_eq!(
            (st.completed(), st.unexpected()),
            (p[i], 0),
            "step {i}: {:?}",
            st.unexpected_errors
        );
    }
    assert_eq!(
        r.steps[7].expected_errors.get("sql:23505"),
        Some(&p[7]),
        "unique violation, as planned"
    );

    // Counted by PostgreSQL: 3 item queries per N+1 arrival (every customer has 3 orders), 1 per batched.
    let per_order = calls(&mut conn, "%FROM order_items WHERE order_id = $1 %").await;
    let batched = calls(&mut conn, "%FROM order_items WHERE order_id = ANY($1)%").await;
    assert_eq!(per_order, 3 * i64::try_from(p[2]).unwrap());
    assert_eq!(batched, i64::try_from(p[3]).unwrap());
    conn.close().await.unwrap();
}
