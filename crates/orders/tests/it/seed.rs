//! `orders seed`: the data set's shape, determinism and idempotence (at a small size).

use crate::support::database;

async fn seeded_fingerprint(random_seed: u32) -> (i64, i64, i64, String, bool) {
    let db = database().await;
    let mut conn = db.connect().await.unwrap();
    let first = orders::seed::seed(&mut conn, 200, 2_000, random_seed)
        .await
        .unwrap();
    assert!(!first.already_seeded);
    assert_eq!((first.customers, first.orders), (200, 2_000));
    assert!(
        (4_000..=8_000).contains(&first.items),
        "~3 items per order, got {}",
        first.items
    );
    let again = orders::seed::seed(&mut conn, 200, 2_000, random_seed)
        .await
        .unwrap();
    assert!(again.already_seeded, "a second run must not add rows");
    let (c, o, i, total, consistent): (i64, i64, i64, String, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),
                (SELECT count(*) FROM order_items), (SELECT sum(total)::text FROM orders),
                (SELECT bool_and(o.total = s.total) FROM orders o
                   JOIN (SELECT order_id, sum(quantity * price) AS total FROM order_items GROUP BY order_id) s
                   ON s.order_id = o.id)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((c, o, i), (200, 2_000, first.items));
    (c, o, i, total, consistent)
}

#[tokio::test]
async fn seeding_is_deterministic_idempotent_and_consistent() {
    let a = seeded_fingerprint(7).await;
    let b = seeded_fingerprint(7).await;
    assert!(a.4, "every order's total is the sum of its items");
    assert_eq!(a, b, "the same seed gives the same data");
}
