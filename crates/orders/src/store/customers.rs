//! Customers: create, fetch, and the email searches that make the slow-query scenario.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::like_escape;
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

/// A customer with their order statistics: what both email searches return.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerSummary {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub order_count: i64,
    pub spent_cents: i64,
    pub last_order_at: Option<DateTime<Utc>>,
}

/// Inserts a customer; a taken email is a unique violation (→ 409).
pub async fn create(pool: &PgPool, name: &str, email: &str) -> Result<Customer> {
    Ok(sqlx::query_as(
        "INSERT INTO customers (name, email) VALUES ($1, $2) RETURNING id, name, email, created_at",
    )
    .bind(name)
    .bind(email)
    .fetch_one(pool)
    .await?)
}

pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Customer>> {
    Ok(
        sqlx::query_as("SELECT id, name, email, created_at FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

pub async fn exists(pool: &PgPool, id: i64) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1)")
            .bind(id)
            .fetch_one(pool)
            .await?,
    )
}

/// The per-customer statistics both searches compute, over whichever customers `matched` selects.
/// Sorting by money spent forces PostgreSQL to aggregate every matched customer's orders before it
/// can return the first row — cheap for one customer, expensive for thousands.
macro_rules! summary_query {
    ($matched:literal) => {
        concat!(
            "WITH matched AS (SELECT id, name, email FROM customers WHERE ",
            $matched,
            ") SELECT m.id, m.name, m.email, count(o.id) AS order_count,
                      (coalesce(sum(o.total), 0) * 100)::bigint AS spent_cents,
                      max(o.created_at) AS last_order_at
               FROM matched m LEFT JOIN orders o ON o.customer_id = m.id
               GROUP BY m.id, m.name, m.email
               ORDER BY spent_cents DESC, m.id
               LIMIT $2"
        )
    };
}

/// The slow twin: a case-insensitive *substring* match. No B-tree index can serve `ILIKE '%x%'`,
/// so PostgreSQL scans every customer and joins every match's orders (see docs/orders.md).
pub async fn search_email_contains(
    pool: &PgPool,
    needle: &str,
    limit: i64,
) -> Result<Vec<CustomerSummary>> {
    Ok(sqlx::query_as(summary_query!("email ILIKE $1"))
        .bind(format!("%{}%", like_escape(needle)))
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// The fast twin: exact email (the UNIQUE index) or an email prefix (the `text_pattern_ops` index).
pub async fn lookup_email(
    pool: &PgPool,
    email: Option<&str>,
    prefix: Option<&str>,
    limit: i64,
) -> Result<Vec<CustomerSummary>> {
    let query = match (email, prefix) {
        (Some(email), _) => sqlx::query_as(summary_query!("email = $1")).bind(email.to_owned()),
        (None, Some(prefix)) => sqlx::query_as(summary_query!("email LIKE $1"))
            .bind(format!("{}%", like_escape(prefix))),
        (None, None) => return Ok(Vec::new()),
    };
    Ok(query.bind(limit).fetch_all(pool).await?)
}
