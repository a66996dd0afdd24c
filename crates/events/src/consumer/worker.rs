//! One partition's worker: handles its records strictly in order, retries failures with exponential
//! backoff, sends what cannot be handled to the DLQ, and only then stores the record's offset.
//!
//! A worker per partition is what keeps one slow or failing partition from stalling the others
//! (their workers carry on), while records *within* a partition — one order's events, since the key
//! is `order_id` — are never reordered. Storing the offset last is the at-least-once rule: a crash
//! at any point before it means the record is read again.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::message::{OwnedHeaders, OwnedMessage};
use rdkafka::producer::FutureRecord;
use tokio::sync::mpsc;

use super::roles::Failure;
use super::{GroupConsumer, Shared, Stat};
use crate::event::OrderEvent;
use crate::kafka::{header, with_header};

/// Consumes one partition's records until its channel closes, the partition is revoked (a newer
/// assignment `epoch` exists, or `consumer`, the member that read them, was abandoned), or shutdown
/// starts. Unhandled records are not stored, so they are redelivered to whoever owns the partition
/// next.
pub async fn run(
    shared: Arc<Shared>,
    consumer: Arc<GroupConsumer>,
    topic: String,
    partition: i32,
    epoch: u64,
    mut rx: mpsc::Receiver<OwnedMessage>,
) {
    while let Some(message) = rx.recv().await {
        if shared.shutdown.is_cancelled() || !shared.assignment.is_current(&topic, partition, epoch)
        {
            break;
        }
        if !handle(&shared, &message).await {
            break;
        }
        // `store_offset` records offset + 1 (the next to read); the periodic auto-commit, the revoke
        // callback and shutdown commit what is stored.
        if let Err(e) = consumer.store_offset(&topic, partition, message.offset()) {
            // The partition was revoked meanwhile (the new owner re-reads this record); the check
            // at the top of the loop then ends this worker.
            tracing::debug!(%topic, partition, error = %e, "offset not stored");
        }
    }
}

/// Handles one record completely: `true` once its effect or its DLQ record is acknowledged, `false`
/// only when shutdown interrupted it.
async fn handle(shared: &Shared, message: &OwnedMessage) -> bool {
    shared.stats.add(Stat::Received);
    if shared.process_delay > Duration::ZERO {
        tokio::time::sleep(shared.process_delay).await;
    }
    let event = match OrderEvent::decode(message.payload()) {
        Ok(event) => event,
        // Poison is not retried: decoding it again gives the same answer.
        Err(poison) => return dead_letter(shared, message, &poison.to_string(), 1).await,
    };
    let mut attempt = 1;
    let mut unavailable = 0u32;
    loop {
        let outcome = if injected_failure(shared, &event, attempt) {
            Err(Failure::Processing(
                "injected transient failure (--fail-ratio)".to_owned(),
            ))
        } else {
            shared.role.handle(&event).await
        };
        match outcome {
            Ok(true) => {
                shared.stats.add(Stat::Processed);
                return true;
            }
            Ok(false) => {
                shared.stats.add(Stat::Duplicates);
                tracing::info!(event_id = %event.event_id, "duplicate event skipped");
                return true;
            }
            // The broker is down, not the event: wait for it (the partition pauses here, which is
            // what a consumer should do during an outage), without using up processing attempts.
            Err(Failure::OutputUnavailable(error)) => {
                unavailable += 1;
                let delay = backoff(shared.retry_backoff, unavailable);
                tracing::warn!(event_id = %event.event_id, %error, retry_in_ms = delay.as_millis(), "output unavailable; waiting for the broker");
                if !sleep_or_shutdown(shared, delay).await {
                    return false;
                }
            }
            Err(Failure::Processing(error)) if attempt < shared.max_attempts => {
                shared.stats.add(Stat::Retries);
                let delay = backoff(shared.retry_backoff, attempt);
                tracing::warn!(event_id = %event.event_id, attempt, %error, retry_in_ms = delay.as_millis(), "processing failed; retrying");
                if !sleep_or_shutdown(shared, delay).await {
                    return false;
                }
                attempt += 1;
            }
            Err(Failure::Processing(error)) => {
                return dead_letter(shared, message, &error, attempt).await;
            }
        }
    }
}

/// Writes `message` to the DLQ with its provenance and waits for the acknowledgement, retrying
/// until it succeeds or shutdown starts (the offset must not move past an unrecorded failure).
async fn dead_letter(shared: &Shared, message: &OwnedMessage, error: &str, attempts: u32) -> bool {
    let topic = shared.topics.dlq();
    let key = message
        .key()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .unwrap_or_default();
    let mut delay = shared.retry_backoff;
    loop {
        let mut headers = OwnedHeaders::new_with_capacity(6);
        headers = with_header(headers, header::ORIGINAL_TOPIC, message.topic());
        headers = with_header(
            headers,
            header::ORIGINAL_PARTITION,
            &message.partition().to_string(),
        );
        headers = with_header(
            headers,
            header::ORIGINAL_OFFSET,
            &message.offset().to_string(),
        );
        headers = with_header(headers, header::ORIGINAL_KEY, &key);
        headers = with_header(headers, header::ERROR, error);
        headers = with_header(headers, header::ATTEMPTS, &attempts.to_string());
        let mut record = FutureRecord::<[u8], [u8]>::to(&topic).headers(headers);
        if let Some(k) = message.key() {
            record = record.key(k);
        }
        if let Some(p) = message.payload() {
            record = record.payload(p);
        }
        match shared.producer.send(record).await {
            Ok(_) => {
                shared.stats.add(Stat::DeadLettered);
                tracing::warn!(original_topic = message.topic(), partition = message.partition(),
                    offset = message.offset(), attempts, %error, "record sent to the DLQ");
                return true;
            }
            Err(e) => {
                tracing::error!(error = %e, "DLQ write failed; retrying");
                if !sleep_or_shutdown(shared, delay).await {
                    return false;
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// `base × 2^(attempt-1)`, capped at 32 × base.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base * 2u32.pow(attempt.saturating_sub(1).min(5))
}

async fn sleep_or_shutdown(shared: &Shared, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        () = shared.shutdown.cancelled() => false,
    }
}

/// Deterministic chaos: whether attempt `attempt` at `event` fails, from a hash of the seed, the
/// event id and the attempt — the same run fails the same way every time, and a retry rolls again.
fn injected_failure(shared: &Shared, event: &OrderEvent, attempt: u32) -> bool {
    if shared.fail_ratio <= 0.0 {
        return false;
    }
    let mut h = DefaultHasher::new();
    (shared.fail_seed, event.event_id, attempt).hash(&mut h);
    let roll = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    roll < shared.fail_ratio
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Duration::from_millis(100);
        assert_eq!(backoff(b, 1), b);
        assert_eq!(backoff(b, 2), b * 2);
        assert_eq!(backoff(b, 4), b * 8);
        assert_eq!(backoff(b, 50), b * 32);
    }
}
