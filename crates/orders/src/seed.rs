//! `orders seed`: a realistic data set, generated inside PostgreSQL in a few set-based statements.
//!
//! Rows are produced by `generate_series` and `random()` in SQL rather than sent from Rust: 100 000
//! orders and ~300 000 items never cross the wire, so seeding takes seconds. `setseed()` makes
//! `random()` deterministic for the session, so the same `--random-seed` gives the same data.
//! Orders are spread unevenly (a few customers have hundreds, most a handful) and most are
//! delivered, so reports and the N+1 endpoint behave like they would on real data.
//!
//! Idempotent: everything runs in one transaction under an advisory lock, and a data set whose
//! marker customer (`seed-0000001@…`) already exists is left alone.

use anyhow::Context;
use sqlx::{Connection, PgConnection};

use crate::config::{DbArgs, SeedArgs};
use crate::error::Result;

/// `orders seed` from start to end: connect, migrate, load (unless already loaded). Returns what
/// was done and how long it took, for the binary to report.
pub async fn run(db: &DbArgs, args: &SeedArgs) -> anyhow::Result<(Summary, std::time::Duration)> {
    let db = crate::db::Db::new(db)?;
    crate::MIGRATOR
        .run(&db.pool)
        .await
        .context("migrations failed")?;
    let mut conn = db
        .pool
        .acquire()
        .await
        .context("cannot connect to the database")?;
    let start = std::time::Instant::now();
    let summary = seed(&mut conn, args.customers, args.orders, args.random_seed).await?;
    Ok((summary, start.elapsed()))
}

/// What `seed` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub already_seeded: bool,
    pub customers: i64,
    pub orders: i64,
    pub items: i64,
}

/// Loads `customers` customers and `orders` orders (~3 items each) unless already seeded.
pub async fn seed(
    conn: &mut PgConnection,
    customers: u32,
    orders: u32,
    random_seed: u32,
) -> Result<Summary> {
    let mut tx = conn.begin().await?;
    // Two concurrent `seed` runs: the second waits here, then sees the marker and does nothing.
    sqlx::query("SELECT pg_advisory_xact_lock(7242024)")
        .execute(&mut *tx)
        .await?;
    let seeded: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM customers WHERE email LIKE 'seed-0000001@%')",
    )
    .fetch_one(&mut *tx)
    .await?;
    if seeded {
        tx.rollback().await?;
        return Ok(Summary {
            already_seeded: true,
            customers: 0,
            orders: 0,
            items: 0,
        });
    }
    // Writers elsewhere would interleave ids with ours; seeding is an admin action, so block them.
    sqlx::query("LOCK TABLE customers, orders IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    // Seeding runs longer than a request may; lift the service's statement timeout for this transaction.
    sqlx::query("SET LOCAL statement_timeout = 0")
        .execute(&mut *tx)
        .await?;
    // setseed wants a value in [-1, 1].
    sqlx::query("SELECT setseed($1::float8 / 4294967296.0)")
        .bind(i64::from(random_seed))
        .execute(&mut *tx)
        .await?;
    let (first_customer, first_order): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT coalesce(max(id), 0) FROM customers), (SELECT coalesce(max(id), 0) FROM orders)",
    )
    .fetch_one(&mut *tx)
    .await?;

    let customers = sqlx::query(
        "INSERT INTO customers (name, email, created_at)
         SELECT (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Ken','Dennis','Margaret','Linus','Frances'])[1 + g % 10]
                || ' ' || (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Thompson','Ritchie','Hamilton','Torvalds','Allen'])[1 + (g / 10) % 10]
                || ' ' || g,
                'seed-' || lpad(g::text, 7, '0') || '@'
                || (ARRAY['example.com','example.org','mail.example.net','shop.example.io'])[1 + g % 4],
                now() - interval '2 years' * random()
         FROM generate_series(1, $1::int) AS g",
    )
    .bind(i64::from(customers))
    .execute(&mut *tx)
    .await?
    .rows_affected();

    // pick^1.5 skews towards the first customers: the biggest has a few hundred orders.
    let orders = sqlx::query(
        "WITH c AS (SELECT array_agg(id ORDER BY id) AS ids FROM customers WHERE id > $1),
              g AS (SELECT random() AS r, random() AS pick, now() - interval '365 days' * random() AS created
                    FROM generate_series(1, $2::int))
         INSERT INTO orders (customer_id, status, created_at, updated_at)
         SELECT c.ids[1 + floor(power(g.pick, 1.5) * cardinality(c.ids))::int],
                CASE WHEN g.r < 0.10 THEN 'pending' WHEN g.r < 0.25 THEN 'paid'
                     WHEN g.r < 0.40 THEN 'shipped' WHEN g.r < 0.92 THEN 'delivered'
                     ELSE 'cancelled' END,
                g.created,
                g.created + CASE WHEN g.r < 0.10 THEN interval '0' ELSE interval '3 days' * random() END
         FROM g, c
         ORDER BY g.created",
    )
    .bind(first_customer)
    .bind(i64::from(orders))
    .execute(&mut *tx)
    .await?
    .rows_affected();

    // 1 to 5 lines per order (3 on average); cheap items are more common than expensive ones.
    let items = sqlx::query(
        "INSERT INTO order_items (order_id, product_id, quantity, price)
         SELECT o.id, 1 + floor(random() * 5000)::bigint, 1 + floor(power(random(), 3) * 5)::int,
                round((0.5 + power(random(), 2) * 200)::numeric, 2)
         FROM orders o, generate_series(1, 1 + (o.id % 5)::int) AS k
         WHERE o.id > $1",
    )
    .bind(first_order)
    .execute(&mut *tx)
    .await?
    .rows_affected();

    sqlx::query(
        "UPDATE orders o SET total = s.total
         FROM (SELECT order_id, sum(quantity * price) AS total FROM order_items
               WHERE order_id > $1 GROUP BY order_id) s
         WHERE o.id = s.order_id",
    )
    .bind(first_order)
    .execute(&mut *tx)
    .await?;
    // Fresh statistics, so the first EXPLAIN after seeding shows the plans production would get.
    sqlx::query("ANALYZE customers, orders, order_items")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Summary {
        already_seeded: false,
        customers: i64::try_from(customers).unwrap_or(i64::MAX),
        orders: i64::try_from(orders).unwrap_or(i64::MAX),
        items: i64::try_from(items).unwrap_or(i64::MAX),
    })
}
