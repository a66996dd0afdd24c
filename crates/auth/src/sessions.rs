//! The session store: which token belongs to which session, when each expires, and refresh-token
//! rotation with reuse detection. In memory, behind one mutex: every operation is a few map lookups,
//! far cheaper than the gRPC framing around it, so finer-grained locking would buy nothing here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::tokens::{LookupKey, Token, TokenDigest};
use crate::users::User;

/// Rotated-away refresh tokens remembered per session for reuse detection. Older ones are forgotten
/// (presenting one then gets a plain "unknown"), so a client refreshing in a loop cannot grow a
/// session's memory without bound.
const REMEMBERED_USED_TOKENS: usize = 32;

/// Tokens handed out by a login or a refresh.
#[derive(Debug)]
pub struct Issued {
    pub session_id: String,
    pub access_token: Token,
    pub access_expires: Instant,
    pub refresh_token: Token,
    pub refresh_expires: Instant,
}

/// A valid access token's owner.
#[derive(Debug, Clone)]
pub struct Validated {
    pub user: Arc<User>,
    pub session_id: String,
    pub expires: Instant,
}

/// Why a token was not accepted. Callers map all of them to UNAUTHENTICATED; the variants exist for
/// the message and the events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Never issued, or its session was ended (logout, reuse detection, expiry sweep).
    #[error("unknown or revoked token")]
    Unknown,
    /// Issued, but past its lifetime.
    #[error("token expired")]
    Expired,
    /// A refresh token that was already rotated: the session has now been revoked.
    #[error("refresh token already used; session revoked")]
    Reused {
        session_id: String,
        username: String,
    },
}

/// A session that ended, for the event it causes.
#[derive(Debug, Clone)]
pub struct Ended {
    pub session_id: String,
    pub username: String,
}

#[derive(Debug)]
struct Session {
    user: Arc<User>,
    access: LookupKey,
    access_expires: Instant,
    refresh: LookupKey,
    refresh_expires: Instant,
    /// Rotated-away refresh tokens, remembered so that presenting one again is detected as reuse.
    used_refresh: Vec<LookupKey>,
}

#[derive(Debug)]
struct RefreshEntry {
    digest: TokenDigest,
    session_id: String,
    used: bool,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    access: HashMap<LookupKey, (TokenDigest, String)>,
    refresh: HashMap<LookupKey, RefreshEntry>,
}

impl Inner {
    /// Files a fresh token pair under `session_id` and returns it with the keys it is filed under;
    /// the caller points the session at those keys.
    fn file_tokens(
        &mut self,
        session_id: &str,
        now: Instant,
        (access_ttl, refresh_ttl): (Duration, Duration),
    ) -> (Issued, LookupKey, LookupKey) {
        let (access_token, access_digest) = Token::generate();
        let (refresh_token, refresh_digest) = Token::generate();
        let (access_key, refresh_key) = (access_digest.lookup_key(), refresh_digest.lookup_key());
        self.access
            .insert(access_key, (access_digest, session_id.to_owned()));
        self.refresh.insert(
            refresh_key,
            RefreshEntry {
                digest: refresh_digest,
                session_id: session_id.to_owned(),
                used: false,
            },
        );
        let issued = Issued {
            session_id: session_id.to_owned(),
            access_token,
            access_expires: now + access_ttl,
            refresh_token,
            refresh_expires: now + refresh_ttl,
        };
        (issued, access_key, refresh_key)
    }

    fn remove(&mut self, session_id: &str) -> Option<Ended> {
        let session = self.sessions.remove(session_id)?;
        self.access.remove(&session.access);
        self.refresh.remove(&session.refresh);
        for key in &session.used_refresh {
            self.refresh.remove(key);
        }
        Some(Ended {
            session_id: session_id.to_owned(),
            username: session.user.name.clone(),
        })
    }
}

/// All live sessions.
#[derive(Debug)]
pub struct Sessions {
    access_ttl: Duration,
    refresh_ttl: Duration,
    inner: Mutex<Inner>,
}

impl Sessions {
    /// An empty store issuing tokens with the given lifetimes.
    pub fn new(access_ttl: Duration, refresh_ttl: Duration) -> Self {
        Self {
            access_ttl,
            refresh_ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation below leaves the maps consistent before it can panic (it cannot), so a
        // poisoned lock still guards valid data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ttl(&self) -> (Duration, Duration) {
        (self.access_ttl, self.refresh_ttl)
    }

    /// Starts a session for `user`.
    pub fn create(&self, user: Arc<User>, now: Instant) -> Issued {
        let session_id = uuid::Uuid::new_v4().to_string();
        let mut inner = self.lock();
        let (issued, access, refresh) = inner.file_tokens(&session_id, now, self.ttl());
        inner.sessions.insert(
            session_id,
            Session {
                user,
                access,
                access_expires: issued.access_expires,
                refresh,
                refresh_expires: issued.refresh_expires,
                used_refresh: Vec::new(),
            },
        );
        issued
    }

    /// Checks an access token.
    pub fn validate(&self, digest: &TokenDigest, now: Instant) -> Result<Validated, Rejected> {
        let inner = self.lock();
        let (stored, session_id) = inner
            .access
            .get(&digest.lookup_key())
            .ok_or(Rejected::Unknown)?;
        if !stored.matches(digest) {
            return Err(Rejected::Unknown);
        }
        let session = inner.sessions.get(session_id).ok_or(Rejected::Unknown)?;
        if now >= session.access_expires || now >= session.refresh_expires {
            return Err(Rejected::Expired);
        }
        Ok(Validated {
            user: Arc::clone(&session.user),
            session_id: session_id.clone(),
            expires: session.access_expires,
        })
    }

    /// Rotates a refresh token. A second use of the same token revokes the whole session.
    pub fn refresh(
        &self,
        digest: &TokenDigest,
        now: Instant,
    ) -> Result<(Issued, Arc<User>), Rejected> {
        let mut inner = self.lock();
        let key = digest.lookup_key();
        let entry = inner.refresh.get(&key).ok_or(Rejected::Unknown)?;
        if !entry.digest.matches(digest) {
            return Err(Rejected::Unknown);
        }
        let session_id = entry.session_id.clone();
        if entry.used {
            // Someone kept a copy of a token the legitimate client already exchanged: we cannot
            // tell which party is which, so neither may continue.
            let ended = inner.remove(&session_id).ok_or(Rejected::Unknown)?;
            return Err(Rejected::Reused {
                session_id: ended.session_id,
                username: ended.username,
            });
        }
        let session = inner
            .sessions
            .get_mut(&session_id)
            .ok_or(Rejected::Unknown)?;
        if now >= session.refresh_expires {
            return Err(Rejected::Expired);
        }
        let old_access = session.access;
        session.used_refresh.push(key);
        let forgotten = if session.used_refresh.len() > REMEMBERED_USED_TOKENS {
            Some(session.used_refresh.remove(0))
        } else {
            None
        };
        let user = Arc::clone(&session.user);
        inner.access.remove(&old_access);
        if let Some(forgotten) = forgotten {
            inner.refresh.remove(&forgotten);
        }
        if let Some(entry) = inner.refresh.get_mut(&key) {
            entry.used = true;
        }
        let (issued, access, refresh) = inner.file_tokens(&session_id, now, self.ttl());
        if let Some(session) = inner.sessions.get_mut(&session_id) {
            session.access = access;
            session.access_expires = issued.access_expires;
            session.refresh = refresh;
            session.refresh_expires = issued.refresh_expires;
        }
        Ok((issued, user))
    }

    /// Ends a session. Returns what ended, or `None` if it was already gone.
    pub fn end(&self, session_id: &str) -> Option<Ended> {
        self.lock().remove(session_id)
    }

    /// Removes every session whose refresh token has expired.
    pub fn sweep(&self, now: Instant) -> Vec<Ended> {
        let mut inner = self.lock();
        let expired: Vec<String> = inner
            .sessions
            .iter()
            .filter(|(_, s)| now >= s.refresh_expires)
            .map(|(id, _)| id.clone())
            .collect();
        expired.iter().filter_map(|id| inner.remove(id)).collect()
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether there are no live sessions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Argon2Args;
    use crate::users::Directory;

    async fn user() -> Arc<User> {
        Directory::demo(1, Argon2Args::CHEAP)
            .await
            .unwrap()
            .get("user-0001")
            .unwrap()
    }

    fn digest(token: Token) -> TokenDigest {
        TokenDigest::parse(&token.into_string()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn rotation_kills_old_tokens_and_reuse_revokes_everything() {
        let store = Sessions::new(Duration::from_secs(900), Duration::from_secs(86_400));
        let now = Instant::now();
        let first = store.create(user().await, now);
        let (old_access, old_refresh) = (digest(first.access_token), digest(first.refresh_token));
        assert!(store.validate(&old_access, now).is_ok());
        let (second, _) = store.refresh(&old_refresh, now).unwrap();
        assert_eq!(second.session_id, first.session_id);
        assert_eq!(
            store.validate(&old_access, now).unwrap_err(),
            Rejected::Unknown
        );
        let new_access = digest(second.access_token);
        assert!(store.validate(&new_access, now).is_ok());
        match store.refresh(&old_refresh, now) {
            Err(Rejected::Reused {
                session_id,
                username,
            }) => {
                assert_eq!(session_id, first.session_id);
                assert_eq!(username, "user-0001");
            }
            other => panic!("expected reuse detection, got {other:?}"),
        }
        assert!(store.is_empty());
        assert_eq!(
            store.validate(&new_access, now).unwrap_err(),
            Rejected::Unknown
        );
        assert_eq!(
            store.refresh(&old_refresh, now).unwrap_err(),
            Rejected::Unknown
        );
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_latest_used_refresh_tokens_are_remembered() {
        let store = Sessions::new(Duration::from_secs(900), Duration::from_secs(86_400));
        let now = Instant::now();
        let issued = store.create(user().await, now);
        let first = digest(issued.refresh_token);
        let mut current = first;
        for _ in 0..=REMEMBERED_USED_TOKENS {
            current = digest(store.refresh(&current, now).unwrap().0.refresh_token);
        }
        // The very first token has been forgotten: plain "unknown", and the session survives.
        assert_eq!(store.refresh(&first, now).unwrap_err(), Rejected::Unknown);
        assert_eq!(store.len(), 1);
        assert_eq!(store.lock().refresh.len(), REMEMBERED_USED_TOKENS + 1);
        store.refresh(&current, now).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_expire_and_the_sweep_removes_expired_sessions() {
        let store = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        let start = Instant::now();
        let issued = store.create(user().await, start);
        let (access, refresh) = (digest(issued.access_token), digest(issued.refresh_token));
        let later = start + Duration::from_secs(60);
        assert_eq!(
            store.validate(&access, later).unwrap_err(),
            Rejected::Expired
        );
        assert!(store.sweep(later).is_empty(), "refresh token still valid");
        let expired = start + Duration::from_secs(600);
        assert_eq!(
            store.refresh(&refresh, expired).unwrap_err(),
            Rejected::Expired
        );
        let ended = store.sweep(expired);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].session_id, issued.session_id);
        assert!(store.is_empty());
    }
}
