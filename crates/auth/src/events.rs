//! Security events: emitted by the session store and the throttle, fanned out to every
//! `StreamEvents` subscriber through a Tokio broadcast channel.
//!
//! Broadcast is the right shape here: publishing never waits for subscribers (a slow stream cannot
//! slow a login down), each subscriber has its own bounded backlog, and one that falls behind learns
//! exactly how many events it missed (`RecvError::Lagged`).

use std::time::SystemTime;

use tokio::sync::broadcast;

/// What happened; mirrors `mop.auth.v1.EventType` without the protobuf `UNSPECIFIED` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    LoginSucceeded,
    LoginFailed,
    Logout,
    TokenRefreshed,
    RefreshTokenReuseDetected,
    SessionExpired,
    AccountThrottled,
}

/// One security event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Unique id (UUID text form).
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// Username concerned.
    pub username: String,
    /// Session concerned, if any.
    pub session_id: Option<String>,
    /// When it was recorded.
    pub at: SystemTime,
}

/// The publishing side; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl EventBus {
    /// A bus whose subscribers may each fall `capacity` events behind before being told they lagged.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { tx }
    }

    /// Publishes an event; with no subscribers it is simply dropped (events are not stored).
    pub fn emit(&self, kind: EventKind, username: &str, session_id: Option<&str>, at: SystemTime) {
        tracing::info!(target: "auth::events", event = ?kind, username, session_id, "auth event");
        let _ = self.tx.send(Event {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            username: username.to_owned(),
            session_id: session_id.map(str::to_owned),
            at,
        });
    }

    /// A new subscriber that sees events emitted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
