//! `events-producer`: the HTTP intake. An order event is validated, written to `orders.<type>` keyed by
//! its `order_id`, and answered 202 only once the broker acknowledged the write.
//!
//! Why wait for the acknowledgement: a 202 is a promise that the event will be processed. Answering
//! before the broker confirmed (fire-and-forget) would turn every broker outage into silently lost
//! events; waiting turns it into a 503 the client can retry with the same `event_id` — duplicates
//! are harmless because consumers dedupe on it.
//!
//! Reading order: this file (start-up, state, the router), [`send`] (one event → one acknowledged
//! Kafka record), [`http`] (the handlers and their bodies).

mod http;
mod send;

use std::time::Duration;

use axum::Router;
use common::http::health::Health;
use common::http::layers::HttpArgs;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::ProducerConfig;
use crate::kafka::{self, Topics};

pub use http::{BatchAnswer, BatchResult};
pub use send::{Accepted, SendError};

/// Handler state: where events go and how many one batch may carry.
#[derive(Clone)]
pub struct Intake {
    producer: kafka::Producer,
    topics: Topics,
    max_batch: usize,
}

impl Intake {
    pub fn new(producer: kafka::Producer, topics: Topics, max_batch: usize) -> Self {
        Self {
            producer,
            topics,
            max_batch,
        }
    }
}

/// How often the producer checks that the broker still has the lab's topics.
const TOPICS_CHECK: Duration = Duration::from_secs(5);

/// Serves the intake until `shutdown`, then drains requests and flushes the producer.
pub async fn run(
    config: ProducerConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // No batching delay: every request waits for its own acknowledgement anyway.
    let producer = kafka::Producer::new(&config.kafka, Duration::ZERO)?;
    let topics_task = {
        let (args, shutdown) = (config.kafka.clone(), shutdown.clone());
        let producer = producer.clone();
        tokio::spawn(kafka::keep_topics(args, producer, TOPICS_CHECK, shutdown))
    };
    let intake = Intake::new(
        producer.clone(),
        Topics::new(&config.kafka.topic_prefix),
        config.max_batch,
    );
    let app = app(intake, &config.http, shutdown.clone());
    common::http::serve::serve(listener, app, shutdown, config.common.shutdown_grace).await?;
    topics_task.abort();
    // Requests that got their 202 were acknowledged already; this only bounds the exit.
    producer.flush(Duration::from_secs(5)).await;
    Ok(())
}

/// The router: the intake routes, probes, `/openapi.json` and the shared layers.
pub fn app(intake: Intake, http: &HttpArgs, shutdown: CancellationToken) -> Router {
    let producer = intake.producer.clone();
    let health = Health::new(shutdown, move || {
        let producer = producer.clone();
        async move { kafka::check_broker(&producer).await }
    });
    common::http::api::router(http::api(), intake, health, http)
}

/// The OpenAPI document, exactly as served on `/openapi.json` (and printed by `events-producer openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    common::http::api::document(http::api())
}
