//! Login throttling: after `max_failures` failed logins for one username within `window`, further
//! attempts for that username are refused for `cooldown` without checking the password.
//!
//! Keyed by username rather than client address on purpose: it protects each account from password
//! guessing no matter how many addresses the guesser has. (Per-address limits belong in front of the
//! service.) Unknown usernames are throttled the same way, so throttling does not reveal which exist.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Most usernames tracked at once; beyond this, stale entries are dropped first, then the map is
/// cleared, so a flood of random usernames cannot grow memory without bound.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

/// Failed-login bookkeeping for all usernames.
#[derive(Debug)]
pub struct Throttle {
    max_failures: usize,
    window: Duration,
    cooldown: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

/// Outcome of recording a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Counted; the username is not (yet) throttled.
    Counted,
    /// This failure crossed the threshold: the username is now throttled until the given instant.
    Throttled(Instant),
}

impl Throttle {
    /// A throttle with the given limits.
    pub fn new(max_failures: u32, window: Duration, cooldown: Duration) -> Self {
        Self {
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX).max(1),
            window,
            cooldown,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// If `username` is throttled at `now`, how long until it may try again.
    pub fn check(&self, username: &str, now: Instant) -> Option<Duration> {
        let entries = self.lock();
        let until = entries.get(username)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Records a failed login.
    pub fn fail(&self, username: &str, now: Instant) -> Failure {
        let mut entries = self.lock();
        if entries.len() >= MAX_TRACKED && !entries.contains_key(username) {
            Self::prune(&mut entries, now, self.window);
            if entries.len() >= MAX_TRACKED {
                entries.clear();
            }
        }
        let entry = entries.entry(username.to_owned()).or_default();
        while entry
            .failures
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= self.window)
        {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        if entry.failures.len() >= self.max_failures {
            let until = now + self.cooldown;
            entry.failures.clear();
            entry.locked_until = Some(until);
            Failure::Throttled(until)
        } else {
            Failure::Counted
        }
    }

    /// Records a successful login: the username's failure history is forgotten.
    pub fn succeed(&self, username: &str) {
        self.lock().remove(username);
    }

    /// Drops entries with no recent failures and no running lockout (called by the sweeper).
    pub fn sweep(&self, now: Instant) {
        Self::prune(&mut self.lock(), now, self.window);
    }

    fn prune(entries: &mut HashMap<String, Entry>, now: Instant, window: Duration) {
        entries.retain(|_, e| {
            let locked = e.locked_until.is_some_and(|t| t > now);
            let recent = e
                .failures
                .back()
                .is_some_and(|&t| now.saturating_duration_since(t) < window);
            locked || recent
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned lock only means another thread panicked mid-update of counters; the counters are
        // still usable, and refusing all logins forever would be worse.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn locks_after_max_failures_in_window_and_unlocks_after_cooldown() {
        let t = Throttle::new(3, Duration::from_secs(60), Duration::from_secs(30));
        let now = Instant::now();
        assert_eq!(t.fail("a", now), Failure::Counted);
        assert_eq!(t.fail("a", now), Failure::Counted);
        assert_eq!(t.check("a", now), None);
        assert!(matches!(t.fail("a", now), Failure::Throttled(_)));
        assert_eq!(t.check("a", now), Some(Duration::from_secs(30)));
        assert_eq!(t.check("b", now), None);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(t.check("a", Instant::now()), None);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_outside_the_window_do_not_count() {
        let t = Throttle::new(2, Duration::from_secs(60), Duration::from_secs(30));
        assert_eq!(t.fail("a", Instant::now()), Failure::Counted);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(t.fail("a", Instant::now()), Failure::Counted);
        t.sweep(Instant::now());
        t.succeed("a");
        assert_eq!(t.fail("a", Instant::now()), Failure::Counted);
    }
}
