//! Reports: aggregations with joins, the kind of query a dashboard page fires.

use chrono::NaiveDate;
use sqlx::PgPool;

use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TopCustomer {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub order_count: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DailyRevenue {
    pub day: NaiveDate,
    pub order_count: i64,
    pub items_sold: i64,
    pub revenue_cents: i64,
}

/// Customers by revenue from orders that were not cancelled.
pub async fn top_customers(pool: &PgPool, limit: i64) -> Result<Vec<TopCustomer>> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.name, c.email, count(o.id) AS order_count,
                (sum(o.total) * 100)::bigint AS revenue_cents
         FROM customers c JOIN orders o ON o.customer_id = c.id
         WHERE o.status <> 'cancelled'
         GROUP BY c.id, c.name, c.email
         ORDER BY revenue_cents DESC, c.id
         LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Revenue per UTC day for the last `days` days (today included), every day present even without
/// orders. Items are summed in a subquery per order so joining them cannot multiply the totals.
pub async fn daily_revenue(pool: &PgPool, days: i32) -> Result<Vec<DailyRevenue>> {
    Ok(sqlx::query_as(
        "SELECT d.day::date AS day,
                count(o.id) AS order_count,
                coalesce(sum(o.items), 0)::bigint AS items_sold,
                (coalesce(sum(o.total), 0) * 100)::bigint AS revenue_cents
         FROM generate_series((current_date - ($1::int - 1))::timestamptz,
                              current_date::timestamptz, interval '1 day') AS d(day)
         LEFT JOIN (
             SELECT o.id, o.created_at, o.total, sum(i.quantity) AS items
             FROM orders o JOIN order_items i ON i.order_id = o.id
             WHERE o.status <> 'cancelled'
               AND o.created_at >= (current_date - ($1::int - 1))::timestamptz
             GROUP BY o.id
         ) o ON o.created_at >= d.day AND o.created_at < d.day + interval '1 day'
         GROUP BY d.day
         ORDER BY d.day",
    )
    .bind(days)
    .fetch_all(pool)
    .await?)
}
