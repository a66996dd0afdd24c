//! The service's one boundary error type, and how each case becomes a problem+json response.
//!
//! The mapping is the contract OBI's dashboards rely on: a client mistake is a 4xx, a database that
//! is down, saturated or too slow is a 503 with `Retry-After` (the client may retry; the pod stays
//! alive), and only an unexpected database error is a 500.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use common::http::{FieldError, Problem};
use http::StatusCode;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The addressed resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but breaks a rule; every broken rule is listed.
    #[error("{} invalid fields", .0.len())]
    Validation(Vec<FieldError>),
    /// The request conflicts with the resource's current state (e.g. an invalid status transition).
    #[error("{0}")]
    Conflict(String),
    /// Migrations have not been applied yet (the database has been unreachable since start-up).
    #[error("the database schema is not ready yet")]
    SchemaNotReady,
    /// Anything from the database driver; classified in [`Error::into_response`].
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

/// SQLSTATE codes we branch on (PostgreSQL appendix A).
mod sqlstate {
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const CHECK_VIOLATION: &str = "23514";
    pub const QUERY_CANCELED: &str = "57014";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
}

fn unavailable(detail: &str) -> Problem {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail).with_retry_after(Duration::from_secs(1))
}

fn db_problem(error: &sqlx::Error) -> Problem {
    match error {
        sqlx::Error::PoolTimedOut => unavailable(
            "no database connection became free in time (pool exhausted or database down)",
        ),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => unavailable("the database is unreachable"),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.as_ref() {
                sqlstate::UNIQUE_VIOLATION => Problem::new(StatusCode::CONFLICT, "already exists"),
                sqlstate::FOREIGN_KEY_VIOLATION | sqlstate::CHECK_VIOLATION => {
                    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, db.message().to_owned())
                }
                sqlstate::QUERY_CANCELED => {
                    unavailable("the query exceeded the database statement timeout")
                }
                sqlstate::SERIALIZATION_FAILURE | sqlstate::DEADLOCK_DETECTED => {
                    unavailable("the transaction conflicted with another one; retry")
                }
                // Class 08 (connection exception) and 57P0x (shutdown, cannot connect now): the
                // server is going away or not there yet.
                c if c.starts_with("08") || c.starts_with("57P") => {
                    unavailable("the database is unavailable")
                }
                _ => internal(error),
            }
        }
        _ => internal(error),
    }
}

fn internal(error: &sqlx::Error) -> Problem {
    tracing::error!(%error, "unexpected database error");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "unexpected database error",
    )
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound(detail) => Problem::not_found(detail),
            Error::Validation(errors) => Problem::validation(errors),
            Error::Conflict(detail) => Problem::new(StatusCode::CONFLICT, detail),
            Error::SchemaNotReady => unavailable("the database schema is not ready yet"),
            Error::Db(e) => {
                let problem = db_problem(&e);
                if problem.status == 503 {
                    tracing::warn!(error = %e, "database unavailable");
                }
                problem
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}
