//! Pub/sub invalidation between replicas: the message format and the subscriber task.
//!
//! Every write PUBLISHes `product:<id>` on `<prefix>:invalidate`; every replica (the writer included)
//! evicts that product and all collections from its L1 on receipt. The subscriber has its own
//! connection (a subscribed RESP connection can do nothing else), pings it to notice a silent drop,
//! reconnects with exponential backoff, and clears the whole L1 after every (re)subscription,
//! because messages published while it was away are lost (Redis pub/sub is fire-and-forget).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::l1::L1;
use crate::stats::{Stats, bump};

/// The message for a changed product.
pub fn message(id: u64) -> String {
    format!("product:{id}")
}

/// Parses [`message`]; `None` for anything else.
pub fn parse(payload: &str) -> Option<u64> {
    payload.strip_prefix("product:")?.parse().ok()
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const PING_EVERY: Duration = Duration::from_secs(2);

/// Subscribes to `channel` and evicts from `l1` until `shutdown`. Never returns early: failures are
/// retried with backoff.
pub async fn subscribe(
    client: redis::Client,
    channel: String,
    l1: Arc<L1>,
    stats: Arc<Stats>,
    connect_timeout: Duration,
    shutdown: CancellationToken,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let connected = tokio::select! {
            () = shutdown.cancelled() => return,
            r = tokio::time::timeout(connect_timeout, connect(&client, &channel)) => r,
        };
        match connected {
            Ok(Ok(pubsub)) => {
                // Subscribed: anything published while we were away is lost, so drop the whole L1.
                l1.clear();
                bump(&stats.l1_clears);
                backoff = BACKOFF_MIN;
                tracing::info!(%channel, "subscribed to invalidations; L1 cleared");
                if listen(pubsub, &l1, &stats, connect_timeout, &shutdown).await {
                    return;
                }
                tracing::warn!(%channel, "invalidation subscription lost; reconnecting");
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "subscribing to invalidations failed"),
            Err(_) => tracing::debug!("subscribing to invalidations timed out"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn connect(client: &redis::Client, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

/// Handles messages until the connection drops (→ `false`) or shutdown (→ `true`).
async fn listen(
    pubsub: redis::aio::PubSub,
    l1: &L1,
    stats: &Stats,
    ping_timeout: Duration,
    shutdown: &CancellationToken,
) -> bool {
    let (mut sink, mut stream) = pubsub.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return true,
            msg = stream.next() => {
                let Some(msg) = msg else { return false };
                bump(&stats.invalidations_received);
                match msg.get_payload::<String>().ok().as_deref().and_then(parse) {
                    Some(id) => l1.evict_item(id),
                    // Unknown payload: be safe rather than sorry.
                    None => l1.clear(),
                }
            }
            _ = ping.tick() => {
                // A half-open TCP connection never ends the stream; an unanswered PING does.
                let pong = tokio::time::timeout(ping_timeout, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        assert_eq!(parse(&message(42)), Some(42));
        assert_eq!(parse("product:x"), None);
        assert_eq!(parse("other"), None);
    }
}
