//! The service's one boundary error type and its mapping to precise gRPC status codes.

use std::time::Duration;

use tonic::{Code, Status};

use crate::sessions::Rejected;
use crate::tokens::MalformedToken;

/// Everything an RPC can fail with. Messages are safe to show clients: they never contain secrets,
/// and they do not say whether a username exists.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A field is empty, too long or otherwise unusable.
    #[error("{field}: {problem}")]
    InvalidField {
        field: &'static str,
        problem: &'static str,
    },
    /// A token string is not a token we could have issued.
    #[error("{1}: {0}")]
    MalformedToken(MalformedToken, &'static str),
    /// `authorization` metadata present but not `Bearer <token>`.
    #[error("authorization metadata must be `Bearer <token>`")]
    MalformedAuthorization,
    /// No `authorization` metadata on an RPC that needs it.
    #[error("missing `authorization: Bearer <access token>` metadata")]
    MissingAuthorization,
    /// Unknown user or wrong password (deliberately one variant).
    #[error("invalid username or password")]
    BadCredentials,
    /// The token is unknown, expired, revoked or a reused refresh token.
    #[error("{0}")]
    Token(#[from] Rejected),
    /// Authenticated, but lacking a role.
    #[error("requires the `{0}` role")]
    MissingRole(&'static str),
    /// Too many failed logins for this username.
    #[error("too many failed logins for this username; retry in {} s", whole_seconds(*.retry_after))]
    Throttled { retry_after: Duration },
    /// The server is draining for shutdown.
    #[error("server is shutting down; retry on another instance")]
    ShuttingDown,
}

impl AuthError {
    /// The gRPC code for this error.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidField { .. } | Self::MalformedToken(..) | Self::MalformedAuthorization => {
                Code::InvalidArgument
            }
            Self::MissingAuthorization | Self::BadCredentials | Self::Token(_) => {
                Code::Unauthenticated
            }
            Self::MissingRole(_) => Code::PermissionDenied,
            Self::Throttled { .. } => Code::ResourceExhausted,
            Self::ShuttingDown => Code::Unavailable,
        }
    }
}

impl From<AuthError> for Status {
    fn from(error: AuthError) -> Self {
        let mut status = Status::new(error.code(), error.to_string());
        if let AuthError::Throttled { retry_after } = &error {
            // Machine-readable hint alongside the message, like HTTP's Retry-After (whole seconds).
            let secs = whole_seconds(*retry_after).to_string();
            if let Ok(value) = secs.parse() {
                status.metadata_mut().insert("retry-after", value);
            }
        }
        status
    }
}

/// Seconds rounded up (at least 1), so "retry in N s" is never too early.
fn whole_seconds(d: Duration) -> u128 {
    d.as_millis().div_ceil(1000).max(1)
}
