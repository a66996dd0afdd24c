//! The service's notion of "now": Tokio's monotonic clock plus an offset that only tests move.
//!
//! Expiry and throttling are decided on `tokio::time::Instant`, so unit tests can use paused time.
//! Integration tests talk to a real server over real sockets, where pausing the runtime's clock would
//! also fast-forward network timers; there a test moves this clock's offset instead
//! ([`Clock::advance`]), which is deterministic and touches nothing else.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// A cheaply clonable clock; all clones share one offset.
#[derive(Debug, Clone)]
pub struct Clock {
    offset_nanos: Arc<AtomicU64>,
    /// One (monotonic, wall) pair taken together at creation: every instant is converted to wall time
    /// relative to it, so an instant always maps to the same timestamp (a token's expiry reads the
    /// same in the login response and in every later ValidateToken answer).
    anchor: (Instant, SystemTime),
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            offset_nanos: Arc::default(),
            anchor: (Instant::now(), SystemTime::now()),
        }
    }
}

impl Clock {
    /// The current monotonic instant.
    pub fn now(&self) -> Instant {
        Instant::now() + self.offset()
    }

    /// Wall-clock time corresponding to the monotonic `instant`, for timestamps sent to clients.
    pub fn wall(&self, instant: Instant) -> SystemTime {
        let (mono, wall) = self.anchor;
        if instant >= mono {
            wall + (instant - mono)
        } else {
            wall - (mono - instant)
        }
    }

    /// Moves this clock (and every clone) forward. Only tests have a reason to call this.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn offset(&self) -> Duration {
        Duration::from_nanos(self.offset_nanos.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn advancing_moves_now_and_wall_time_together() {
        let clock = Clock::default();
        let before = clock.now();
        let wall_before = clock.wall(before);
        let shared = clock.clone();
        shared.advance(Duration::from_secs(60));
        let after = clock.now();
        assert_eq!(after - before, Duration::from_secs(60));
        let wall_after = clock.wall(after);
        let delta = wall_after.duration_since(wall_before).unwrap();
        assert!(delta >= Duration::from_secs(60) && delta < Duration::from_secs(61));
    }
}
