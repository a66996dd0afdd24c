//! MOP's PostgreSQL reference service: customers, orders and reports over HTTP, backed by PostgreSQL,
//! with two deliberate performance scenarios for OBI to reveal from the kernel:
//!
//! * **N+1**: `GET /customers/{id}/orders?include=items&strategy=n-plus-one` loads items with one
//!   statement per order; `strategy=batched` returns the identical body with a constant number.
//! * **Slow query**: `GET /customers/search?email_contains=` is a substring search no index can
//!   serve; `GET /customers/lookup?email=` is its indexed twin.
//!
//! Reading order: [`config`] (flags), [`db`] (pool, migrations with retry, readiness), [`error`]
//! (what becomes 4xx/503/500), [`status`] and [`money`] (domain rules), [`store`] (all SQL),
//! [`http`] (routes, handlers, OpenAPI), [`seed`] (the data set).

pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod money;
pub mod seed;
pub mod status;
pub mod store;

use anyhow::Context;
use common::http::health::Health;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
pub use http::{AppState, app, openapi};

/// The schema, embedded at compile time from the repository's `migrations/` directory.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Serves the API on `listener` until `shutdown` is cancelled, then drains and closes the pool.
///
/// Never fails because the database is down: the pool connects lazily, migrations are retried in the
/// background, and until both work `/ready` and the API answer 503.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let db = db::Db::new(&config.db)?;
    let tasks = TaskTracker::new();
    if config.no_migrate {
        db.assume_schema();
    } else {
        let (db, shutdown) = (db.clone(), shutdown.clone());
        tasks.spawn(async move { db.migrate_with_retry(shutdown).await });
    }
    let health = Health::new(shutdown.clone(), {
        let db = db.clone();
        move || {
            let db = db.clone();
            async move { db.ready().await }
        }
    });
    let router = app(AppState { db: db.clone() }, health, &config.http);
    common::http::serve::serve(listener, router, shutdown, config.common.shutdown_grace)
        .await
        .context("HTTP server failed")?;
    tasks.close();
    tasks.wait().await;
    db.pool.close().await;
    Ok(())
}
