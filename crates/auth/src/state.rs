//! The service's shared state and its operations, independent of gRPC: log in, validate, refresh,
//! log out, sweep. `grpc.rs` translates between these and the wire.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::AuthError;
use crate::events::{EventBus, EventKind};
use crate::sessions::{Issued, Rejected, Sessions, Validated};
use crate::throttle::{Failure, Throttle};
use crate::tokens::TokenDigest;
use crate::users::{Directory, HashError, User};

/// Longest accepted username, in bytes.
pub const MAX_USERNAME_BYTES: usize = 64;
/// Longest accepted password, in bytes: argon2 would take more, but nobody needs more, and it
/// bounds the work an attacker can make one login do.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// Everything the RPC handlers share.
#[derive(Debug)]
pub struct State {
    pub users: Directory,
    pub sessions: Sessions,
    pub throttle: Throttle,
    pub events: EventBus,
    pub clock: Clock,
    /// Cancelled when shutdown starts: new RPCs get UNAVAILABLE and event streams end.
    pub shutdown: CancellationToken,
}

/// A successful login.
#[derive(Debug)]
pub struct LoggedIn {
    pub user: Arc<User>,
    pub issued: Issued,
}

impl State {
    /// Builds the state: hashes the demo users' passwords (the slow part of start-up).
    pub async fn new(
        config: &Config,
        clock: Clock,
        shutdown: CancellationToken,
    ) -> Result<Self, HashError> {
        Ok(Self {
            users: Directory::demo(config.seed_users, config.argon2).await?,
            sessions: Sessions::new(config.access_token_ttl, config.refresh_token_ttl),
            throttle: Throttle::new(
                config.throttle_max_failures,
                config.throttle_window,
                config.throttle_cooldown,
            ),
            events: EventBus::new(usize::try_from(config.event_buffer).unwrap_or(1024)),
            clock,
            shutdown,
        })
    }

    fn emit(&self, kind: EventKind, username: &str, session_id: Option<&str>) {
        self.events.emit(
            kind,
            username,
            session_id,
            self.clock.wall(self.clock.now()),
        );
    }

    /// Wall-clock time of a monotonic instant, for responses.
    pub fn wall(&self, instant: tokio::time::Instant) -> SystemTime {
        self.clock.wall(instant)
    }

    /// Checks the credentials and starts a session.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoggedIn, AuthError> {
        check_field(
            "username",
            username,
            MAX_USERNAME_BYTES,
            "must be at most 64 bytes",
        )?;
        check_field(
            "password",
            password,
            MAX_PASSWORD_BYTES,
            "must be at most 256 bytes",
        )?;
        if username.chars().any(char::is_control) {
            return Err(AuthError::InvalidField {
                field: "username",
                problem: "must not contain control characters",
            });
        }
        if let Some(retry_after) = self.throttle.check(username, self.clock.now()) {
            return Err(AuthError::Throttled { retry_after });
        }
        let Some(user) = self.users.verify(username, password).await else {
            self.emit(EventKind::LoginFailed, username, None);
            if let Failure::Throttled(_) = self.throttle.fail(username, self.clock.now()) {
                self.emit(EventKind::AccountThrottled, username, None);
            }
            return Err(AuthError::BadCredentials);
        };
        self.throttle.succeed(username);
        let issued = self.sessions.create(Arc::clone(&user), self.clock.now());
        self.emit(
            EventKind::LoginSucceeded,
            &user.name,
            Some(&issued.session_id),
        );
        Ok(LoggedIn { user, issued })
    }

    /// Checks an access token given as text (the `field` names it in errors).
    pub fn validate(&self, field: &'static str, token: &str) -> Result<Validated, AuthError> {
        let digest = TokenDigest::parse(token).map_err(|e| AuthError::MalformedToken(e, field))?;
        self.validate_digest(&digest)
    }

    /// Checks an already parsed access token.
    pub fn validate_digest(&self, digest: &TokenDigest) -> Result<Validated, AuthError> {
        Ok(self.sessions.validate(digest, self.clock.now())?)
    }

    /// Rotates a refresh token; reuse of a rotated token revokes the session.
    pub fn refresh(&self, token: &str) -> Result<LoggedIn, AuthError> {
        let digest =
            TokenDigest::parse(token).map_err(|e| AuthError::MalformedToken(e, "refresh_token"))?;
        match self.sessions.refresh(&digest, self.clock.now()) {
            Ok((issued, user)) => {
                self.emit(
                    EventKind::TokenRefreshed,
                    &user.name,
                    Some(&issued.session_id),
                );
                Ok(LoggedIn { user, issued })
            }
            Err(Rejected::Reused {
                session_id,
                username,
            }) => {
                tracing::warn!(%session_id, %username, "refresh token reuse detected; session revoked");
                self.emit(
                    EventKind::RefreshTokenReuseDetected,
                    &username,
                    Some(&session_id),
                );
                Err(AuthError::Token(Rejected::Reused {
                    session_id,
                    username,
                }))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Ends the session of a validated access token.
    pub fn logout(&self, caller: &Validated) -> Result<(), AuthError> {
        let ended = self
            .sessions
            .end(&caller.session_id)
            .ok_or(AuthError::Token(Rejected::Unknown))?;
        self.emit(EventKind::Logout, &ended.username, Some(&ended.session_id));
        Ok(())
    }

    /// Removes expired sessions (emitting SESSION_EXPIRED for each) and stale throttle entries.
    pub fn sweep(&self) {
        let now = self.clock.now();
        for ended in self.sessions.sweep(now) {
            self.emit(
                EventKind::SessionExpired,
                &ended.username,
                Some(&ended.session_id),
            );
        }
        self.throttle.sweep(now);
    }

    /// Runs [`State::sweep`] every `interval` until shutdown.
    pub async fn sweep_periodically(self: Arc<Self>, interval: Duration) {
        let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.sweep(),
                () = self.shutdown.cancelled() => break,
            }
        }
    }
}

fn check_field(
    field: &'static str,
    value: &str,
    max: usize,
    too_long: &'static str,
) -> Result<(), AuthError> {
    if value.is_empty() {
        return Err(AuthError::InvalidField {
            field,
            problem: "must not be empty",
        });
    }
    if value.len() > max {
        return Err(AuthError::InvalidField {
            field,
            problem: too_long,
        });
    }
    Ok(())
}
