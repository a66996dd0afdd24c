//! The connection pool, migrations at start-up (retried while the database is down) and readiness.
//!
//! The pool is created with `connect_lazy`: no connection is opened until a request needs one, so the
//! service starts (and answers `/health`) with the database down. Each acquire then tries to connect
//! and fails after `DB_ACQUIRE_TIMEOUT` → 503. When the database comes back, the next acquire simply
//! succeeds; connections broken by a restart are detected by sqlx's ping-before-use and replaced.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use tokio_util::sync::CancellationToken;

use crate::MIGRATOR;
use crate::config::DbArgs;
use crate::error::{Error, Result};

/// The pool plus whether the schema is known to be in place.
#[derive(Clone)]
pub struct Db {
    pub pool: PgPool,
    schema_ready: Arc<AtomicBool>,
}

impl Db {
    /// Builds the (lazy) pool; fails only on an unparsable URL.
    pub fn new(args: &DbArgs) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(&args.database_url)
            .context("DATABASE_URL is not a valid PostgreSQL URL")?
            // Plaintext on purpose: OBI parses the PostgreSQL wire protocol, and no TLS crate is linked.
            .ssl_mode(PgSslMode::Disable)
            .application_name("orders")
            // Sent in the start-up packet, so every pooled connection has them without extra round
            // trips: the server cancels runaway statements, and dates are UTC days in reports.
            .options([
                (
                    "statement_timeout",
                    format!("{}ms", args.db_statement_timeout.as_millis()),
                ),
                ("timezone", "UTC".to_owned()),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(args.db_max_connections.max(1))
            .acquire_timeout(args.db_acquire_timeout)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            schema_ready: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Fails fast with 503 until the migrations have run.
    pub fn check_schema(&self) -> Result<()> {
        if self.schema_ready.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(Error::SchemaNotReady)
        }
    }

    /// Marks the schema as present without migrating (`--no-migrate`).
    pub fn assume_schema(&self) {
        self.schema_ready.store(true, Ordering::Release);
    }

    /// Applies the migrations, retrying with exponential backoff (250 ms … 5 s) while the database is
    /// unreachable, until it succeeds or `shutdown` fires. Run it in a task: the server serves
    /// meanwhile and `/ready` says 503.
    pub async fn migrate_with_retry(&self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(250);
        loop {
            match MIGRATOR.run(&self.pool).await {
                Ok(()) => {
                    self.schema_ready.store(true, Ordering::Release);
                    tracing::info!("database migrations applied");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "migrations failed; retrying");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Readiness: schema in place and a round trip to the database succeeds.
    pub async fn ready(&self) -> Result<(), String> {
        self.check_schema().map_err(|e| e.to_string())?;
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| format!("database unreachable: {e}"))
    }
}
