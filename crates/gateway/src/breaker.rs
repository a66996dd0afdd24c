//! A small circuit breaker for Redis: after N consecutive failures Redis is skipped for a cooldown,
//! then one request probes it (half-open); success closes the breaker, failure re-opens it.
//!
//! Why: with Redis down, every request would otherwise pay a connect/response timeout before falling
//! back to `catalog`. The breaker turns that into one cheap check, and the probe brings caching back
//! by itself when Redis returns.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out. `until` guards against a probe that never reports back (its request was
    /// cancelled): after another cooldown, the next caller probes instead.
    HalfOpen {
        until: Instant,
    },
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// May this call use Redis? When the cooldown is over, exactly one caller gets `true` (the probe).
    pub fn allow(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match *state {
            State::Closed { .. } => true,
            State::Open { until } | State::HalfOpen { until } if Instant::now() >= until => {
                *state = State::HalfOpen {
                    until: Instant::now() + self.cooldown,
                };
                true
            }
            State::Open { .. } | State::HalfOpen { .. } => false,
        }
    }

    pub fn success(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(*state, State::Closed { failures: 0 }) {
            tracing::info!("redis usable again: circuit breaker closed");
        }
        *state = State::Closed { failures: 0 };
    }

    pub fn failure(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let open = State::Open {
            until: Instant::now() + self.cooldown,
        };
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            State::Closed { .. } | State::HalfOpen { .. } => {
                tracing::warn!(cooldown = ?self.cooldown, "redis failing: circuit breaker open");
                open
            }
            // Late failures of calls started before the breaker opened do not extend the cooldown.
            s @ State::Open { .. } => s,
        };
    }

    /// `true` unless the breaker is open (used by readiness).
    pub fn is_closed(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(PoisonError::into_inner),
            State::Closed { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_once_and_closes_on_success() {
        let b = Breaker::new(2, Duration::ZERO);
        assert!(b.allow());
        b.failure();
        assert!(b.allow(), "one failure is below the threshold");
        b.failure();
        // Cooldown zero: the next caller is the half-open probe; with a zero cooldown an unanswered
        // probe is immediately replaced by the next caller's.
        assert!(b.allow());
        assert!(b.allow());
        b.failure();
        assert!(
            b.allow(),
            "probe failed: re-opened, cooldown over, next probe"
        );
        b.success();
        assert!(b.allow() && b.allow() && b.is_closed());
    }

    #[test]
    fn only_one_probe_while_it_is_outstanding() {
        let b = Breaker::new(1, Duration::from_secs(60));
        b.failure();
        *b.state.lock().unwrap() = State::Open {
            until: Instant::now(),
        };
        assert!(b.allow(), "cooldown over: probe");
        assert!(!b.allow(), "probe outstanding: everyone else skips Redis");
        b.success();
        assert!(b.allow());
    }

    #[test]
    fn open_breaker_rejects_during_cooldown() {
        let b = Breaker::new(1, Duration::from_secs(60));
        b.failure();
        assert!(!b.allow());
        assert!(!b.is_closed());
    }
}
