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
///
/// The prefix is a byte-wise range, `email ~>=~ 'abc' AND email ~<~ 'abd'`, not `LIKE 'abc%'`:
/// sqlx prepares statements, and after five executions PostgreSQL may switch to a *generic* plan, in
/// which `LIKE $1` cannot use any index (the pattern is unknown at plan time) — the "fast" query
/// silently became a sequential scan in our benchmark. A range of bind parameters is indexable in
/// every plan.
pub async fn lookup_email(
    pool: &PgPool,
    email: Option<&str>,
    prefix: Option<&str>,
    limit: i64,
) -> Result<Vec<CustomerSummary>> {
    let query = match (email, prefix) {
        (Some(email), _) => sqlx::query_as(summary_query!("email = $1"))
            .bind(email.to_owned())
            .bind(limit),
        (None, Some(prefix)) => match prefix_upper_bound(prefix) {
            Some(upper) => sqlx::query_as(summary_query!("email ~>=~ $1 AND email ~<~ $3"))
                .bind(prefix.to_owned())
                .bind(limit)
                .bind(upper),
            // Only a prefix made of U+10FFFF has no upper bound: correct, if slow, fallback.
            None => sqlx::query_as(summary_query!("email LIKE $1"))
                .bind(format!("{}%", like_escape(prefix)))
                .bind(limit),
        },
        (None, None) => return Ok(Vec::new()),
    };
    Ok(query.fetch_all(pool).await?)
}

/// The smallest string greater than every string starting with `prefix`, in byte order (which for
/// UTF-8 is code-point order, the order `text_pattern_ops` uses): the last character incremented.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // Skip the surrogate gap, which has no chars.
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn prefix_upper_bounds() {
        assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
        assert_eq!(
            prefix_upper_bound("a\u{d7ff}").as_deref(),
            Some("a\u{e000}")
        );
        assert_eq!(prefix_upper_bound("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10ffff}"), None);
    }
}
