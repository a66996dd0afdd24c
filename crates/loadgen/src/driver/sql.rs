//! The SQL driver: the same query shapes as `orders`, sent straight to PostgreSQL (TLS off, so OBI
//! reads every statement) through one bounded pool per database — including the slow substring search
//! and a real N+1 loop, so the SQL dashboards can be driven without the HTTP service in front.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use common::rng::SplitMix64;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::stats::Outcome;

/// The query shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Query {
    /// One order with its items (one JOIN); `arg` = order id.
    OrderById,
    /// A customer's latest 20 orders (indexed); `arg` = customer id.
    CustomerOrders,
    /// A customer's orders, then one items query per order: 1 + N statements; `arg` = customer id.
    NPlusOne,
    /// A customer's orders, then all their items in one query: 2 statements; `arg` = customer id.
    Batched,
    /// Customers whose e-mail *contains* `arg`, joined to their orders: slow by plan (no index serves it).
    SlowSearch,
    /// The customer with exactly this e-mail (`arg`): the fast, indexed twin of `slow_search`.
    EmailLookup,
    /// Top 10 customers by revenue (aggregation over every order).
    TopCustomers,
    /// Insert a customer with e-mail `arg`: a duplicate is SQLSTATE 23505 (an expected error).
    InsertCustomer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlStep {
    /// `postgres://user@host:port/db` (TLS is never requested).
    pub url: String,
    pub query: Query,
    /// The query's argument (a template: `{rand:1:100000}`).
    #[serde(default = "default_arg")]
    pub arg: String,
    /// Connections in this database's pool (the first step naming a database sets it).
    #[serde(default = "default_pool")]
    pub pool: u32,
}

pub fn default_arg() -> String {
    "{rand:1:1000}".into()
}
pub fn default_pool() -> u32 {
    10
}

#[derive(Debug, Default)]
pub struct SqlDriver {
    pools: Mutex<HashMap<String, PgPool>>,
}

impl SqlDriver {
    fn pool(&self, step: &SqlStep) -> Result<PgPool, sqlx::Error> {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = pools.get(&step.url) {
            return Ok(p.clone());
        }
        // Lazy and bounded: waiting for a connection is part of the latency a client would see.
        let pool = PgPoolOptions::new()
            .max_connections(step.pool.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(&step.url)?;
        pools.insert(step.url.clone(), pool.clone());
        Ok(pool)
    }

    pub async fn call(&self, step: &SqlStep, rng: &mut SplitMix64) -> Outcome {
        match self.call_inner(step, rng).await {
            Ok(()) => Outcome {
                class: "sql:OK".into(),
                success: true,
                stream: None,
            },
            Err(e) => Outcome {
                class: error_class(&e).into(),
                success: false,
                stream: None,
            },
        }
    }

    async fn call_inner(&self, step: &SqlStep, rng: &mut SplitMix64) -> Result<(), sqlx::Error> {
        let pool = self.pool(step)?;
        let arg = super::fill(&step.arg, rng);
        let id = || {
            arg.parse::<i64>()
                .map_err(|e| sqlx::Error::Protocol(format!("argument {arg:?} is not an id: {e}")))
        };
        match step.query {
            Query::OrderById => {
                sqlx::query(
                    "SELECT o.id, o.status, o.total, i.product_id, i.quantity, i.price
                     FROM orders o LEFT JOIN order_items i ON i.order_id = o.id WHERE o.id = $1",
                )
                .bind(id()?)
                .fetch_all(&pool)
                .await?;
            }
            Query::CustomerOrders => {
                customer_orders(&pool, id()?).await?;
            }
            Query::NPlusOne => {
                for order in customer_orders(&pool, id()?).await? {
                    sqlx::query("SELECT product_id, quantity, price FROM order_items WHERE order_id = $1 ORDER BY id")
                        .bind(order)
                        .fetch_all(&pool)
                        .await?;
                }
            }
            Query::Batched => {
                let orders = customer_orders(&pool, id()?).await?;
                sqlx::query("SELECT order_id, product_id, quantity, price FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, id")
                    .bind(orders)
                    .fetch_all(&pool)
                    .await?;
            }
            Query::SlowSearch => {
                sqlx::query(
                    "SELECT c.id, c.email, count(o.id), sum(o.total)
                     FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
                     WHERE c.email LIKE '%' || $1 || '%' GROUP BY c.id, c.email",
                )
                .bind(&arg)
                .fetch_all(&pool)
                .await?;
            }
            Query::EmailLookup => {
                sqlx::query("SELECT id, name, email FROM customers WHERE email = $1")
                    .bind(&arg)
                    .fetch_optional(&pool)
                    .await?;
            }
            Query::TopCustomers => {
                sqlx::query(
                    "SELECT c.id, count(o.id), sum(o.total) AS revenue
                     FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status <> 'cancelled'
                     GROUP BY c.id ORDER BY revenue DESC LIMIT 10",
                )
                .fetch_all(&pool)
                .await?;
            }
            Query::InsertCustomer => {
                sqlx::query("INSERT INTO customers (name, email) VALUES ('loadgen', $1)")
                    .bind(&arg)
                    .execute(&pool)
                    .await?;
            }
        }
        Ok(())
    }
}

async fn customer_orders(pool: &PgPool, customer: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM orders WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT 20",
    )
    .bind(customer)
    .fetch_all(pool)
    .await
}

/// `sql:<SQLSTATE>` for database errors (e.g. `sql:23505`), else a pool or i/o class.
fn error_class(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => format!("sql:{}", db.code().unwrap_or_default()),
        sqlx::Error::PoolTimedOut => "sql:pool_timeout".into(),
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed => "io:connect".into(),
        sqlx::Error::Protocol(_) => "sql:bad_argument".into(),
        _ => "sql:error".into(),
    }
}
