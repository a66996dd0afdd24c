//! What each consumer role does with one decoded event, made idempotent by `event_id`.
//!
//! Both roles keep a bounded [`SeenSet`] of the event ids they have fully handled, so a redelivery
//! (after a rebalance, a retry of a client that got a 503, or a restart within the set's memory) is
//! recognised and skipped. Across a crash the set is gone; the notification is therefore built
//! *deterministically* from the event (id `ntf-<event_id>`, same key, same body): a redelivered
//! event can only ever produce a byte-identical duplicate that any mailer dedupes by
//! `notification-id`. Analytics state lives in memory and dies with the process, so a crash cannot
//! double-count what it no longer holds.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use rdkafka::message::OwnedHeaders;
use rdkafka::producer::FutureRecord;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::{EventType, OrderEvent};
use crate::kafka::{self, Topics, header, with_header};

/// Event ids remembered per process (FIFO eviction). Redeliveries come from offsets not yet
/// committed — librdkafka commits every `COMMIT_INTERVAL` (1 s) and on every revoke — and from
/// clients retrying within seconds, so the window needed is seconds of traffic: 16 384 ids cover
/// ~80 s at 200 events/s, the most the lab's profiles send. (It was 100 000: a 10-minute soak at
/// 100 events/s never filled it, so the set grew all the time — +25 % RSS, docs/quality.md.)
pub const SEEN_CAPACITY: usize = 16_384;
/// Customers tracked in `orders_per_customer` before new ones are only counted in aggregate.
const MAX_CUSTOMERS: usize = 10_000;
/// Minutes of revenue kept.
const REVENUE_MINUTES: usize = 120;

/// A bounded set of recently handled event ids.
#[derive(Debug)]
pub struct SeenSet {
    set: HashSet<Uuid>,
    order: VecDeque<Uuid>,
}

impl Default for SeenSet {
    /// Allocated at full size up front (~0.8 MiB): filling never reallocates, so the set's memory is
    /// reserved at start, not grown (the test below turns the set over eight times and checks the
    /// table never moved to a bigger one).
    fn default() -> Self {
        Self {
            set: HashSet::with_capacity(SEEN_CAPACITY + 1),
            order: VecDeque::with_capacity(SEEN_CAPACITY + 1),
        }
    }
}

impl SeenSet {
    pub fn contains(&self, id: &Uuid) -> bool {
        self.set.contains(id)
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn insert(&mut self, id: Uuid) {
        if self.set.insert(id) {
            self.order.push_back(id);
            if self.order.len() > SEEN_CAPACITY
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}

/// The e-mail that would be sent for an order event: the `notifications` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `ntf-<event_id>`: the same event always yields the same notification.
    pub notification_id: String,
    pub event_id: Uuid,
    pub order_id: String,
    pub customer_id: String,
    pub channel: String,
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Notification {
    pub fn for_event(e: &OrderEvent) -> Self {
        let (subject, verb) = match e.event_type {
            EventType::Created => ("We received your order", "was placed"),
            EventType::Updated => ("Your order changed", "was updated"),
            EventType::Cancelled => ("Your order was cancelled", "was cancelled"),
        };
        Self {
            notification_id: format!("ntf-{}", e.event_id),
            event_id: e.event_id,
            order_id: e.order_id.clone(),
            customer_id: e.customer_id.clone(),
            channel: "email".into(),
            to: format!("customer-{}@example.com", e.customer_id),
            subject: format!("{subject} ({})", e.order_id),
            body: format!(
                "Order {} {verb} at {}; total {:.2} for {} item(s).",
                e.order_id,
                e.occurred_at.to_rfc3339(),
                e.total,
                e.items.len()
            ),
        }
    }
}

/// In-memory analytics, as served on `/stats` and published on `analytics`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Aggregates {
    pub events_total: u64,
    pub events_per_type: BTreeMap<String, u64>,
    /// Revenue of `created` events by the minute they occurred (`2026-01-01T10:42`), last 120 minutes.
    pub revenue_per_minute: BTreeMap<String, f64>,
    pub revenue_total: f64,
    /// `created` events per customer (first 10 000 customers).
    pub orders_per_customer: BTreeMap<String, u64>,
}

impl Aggregates {
    fn apply(&mut self, e: &OrderEvent) {
        self.events_total += 1;
        *self
            .events_per_type
            .entry(e.event_type.as_str().to_owned())
            .or_default() += 1;
        if e.event_type == EventType::Created {
            let minute = e.occurred_at.format("%Y-%m-%dT%H:%M").to_string();
            *self.revenue_per_minute.entry(minute).or_default() += e.total;
            while self.revenue_per_minute.len() > REVENUE_MINUTES {
                self.revenue_per_minute.pop_first();
            }
            self.revenue_total += e.total;
            let known = self.orders_per_customer.len();
            match self.orders_per_customer.get_mut(&e.customer_id) {
                Some(n) => *n += 1,
                None if known < MAX_CUSTOMERS => {
                    self.orders_per_customer.insert(e.customer_id.clone(), 1);
                }
                None => {}
            }
        }
    }
}

/// The role-specific work; `Ok(true)` = done now, `Ok(false)` = a duplicate, skipped.
#[derive(Clone)]
pub enum Role {
    Notifications {
        producer: kafka::Producer,
        topics: Topics,
        seen: Arc<Mutex<SeenSet>>,
    },
    Analytics {
        state: Arc<Mutex<(SeenSet, Aggregates)>>,
    },
}

/// Why handling an event failed — and so what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The event could not be processed: retried a few times, then dead-lettered.
    Processing(String),
    /// The event is fine but its output could not be written (the broker is unavailable): retried
    /// until it succeeds. Dead-lettering would be wrong twice over — the event is not poison, and
    /// the DLQ lives on the same unavailable broker.
    OutputUnavailable(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Processing(e) => write!(f, "{e}"),
            Failure::OutputUnavailable(e) => write!(f, "output unavailable: {e}"),
        }
    }
}

impl Role {
    pub async fn handle(&self, e: &OrderEvent) -> Result<bool, Failure> {
        match self {
            Role::Notifications {
                producer,
                topics,
                seen,
            } => {
                if lock(seen).contains(&e.event_id) {
                    return Ok(false);
                }
                let n = Notification::for_event(e);
                let payload =
                    serde_json::to_vec(&n).map_err(|e| Failure::Processing(e.to_string()))?;
                let mut headers = OwnedHeaders::new_with_capacity(3);
                headers = with_header(headers, header::NOTIFICATION_ID, &n.notification_id);
                headers = with_header(headers, header::EVENT_ID, &e.event_id.to_string());
                headers = with_header(headers, header::CONTENT_TYPE, "application/json");
                let topic = topics.notifications();
                let record = FutureRecord::to(&topic)
                    .key(&n.customer_id)
                    .payload(&payload)
                    .headers(headers);
                producer.send(record).await.map_err(|err| {
                    Failure::OutputUnavailable(format!("producing the notification: {err}"))
                })?;
                // Only an acknowledged notification counts as sent.
                lock(seen).insert(e.event_id);
                Ok(true)
            }
            Role::Analytics { state } => {
                let mut guard = lock(state);
                let (seen, aggregates) = &mut *guard;
                if seen.contains(&e.event_id) {
                    return Ok(false);
                }
                aggregates.apply(e);
                seen.insert(e.event_id);
                Ok(true)
            }
        }
    }

    /// The analytics aggregates (None for notifications).
    pub fn aggregates(&self) -> Option<Aggregates> {
        match self {
            Role::Analytics { state } => Some(lock(state).1.clone()),
            Role::Notifications { .. } => None,
        }
    }
}

/// A poisoned lock only means another task panicked mid-update of plain counters: keep serving.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_set_forgets_the_oldest_and_never_reallocates() {
        let mut seen = SeenSet::default();
        let (set_cap, order_cap) = (seen.set.capacity(), seen.order.capacity());
        let ids: Vec<Uuid> = (0..SEEN_CAPACITY * 8).map(|_| Uuid::new_v4()).collect();
        let mut largest = 0;
        for id in &ids {
            seen.insert(*id);
            seen.insert(*id); // a redelivery: no second entry
            largest = largest.max(seen.set.capacity());
        }
        assert_eq!(seen.len(), SEEN_CAPACITY);
        let first_kept = ids.len() - SEEN_CAPACITY;
        assert!(
            !seen.contains(&ids[first_kept - 1]),
            "the oldest ids are gone"
        );
        assert!(seen.contains(&ids[first_kept]) && seen.contains(ids.last().unwrap()));
        // The memory reserved at start is all it ever uses (evictions' tombstones lower `capacity()`
        // until an in-place rehash; a bigger table would raise it): the soak's growth goal needs this.
        assert!(largest <= set_cap, "the table grew: {largest} > {set_cap}");
        assert_eq!(seen.order.capacity(), order_cap);
    }
}
