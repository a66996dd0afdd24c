//! One validated event → one Kafka record on `orders.<type>`, keyed by `order_id`, with the headers
//! consumers rely on — answered only once the broker acknowledged it.

use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::FutureRecord;
use serde::Serialize;
use utoipa::ToSchema;

use super::Intake;
use crate::event::OrderEvent;
use crate::kafka::{header, with_header};

/// The broker acknowledged the event: where it was written.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub event_id: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// Why an event was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Serializing a validated event cannot fail in practice; kept rather than unwrapped.
    #[error("cannot encode the event: {0}")]
    Encode(#[from] serde_json::Error),
    /// The broker did not acknowledge within `--delivery-timeout` (down, or partition leaderless).
    #[error("{0}")]
    Broker(#[from] KafkaError),
}

impl Intake {
    /// Produces one event and waits for the broker's acknowledgement.
    pub(super) async fn produce(
        &self,
        event: &OrderEvent,
        traceparent: Option<&str>,
    ) -> Result<Accepted, SendError> {
        let topic = self.topics.orders(event.event_type);
        let payload = serde_json::to_vec(event)?;
        let event_id = event.event_id.to_string();
        let mut headers = OwnedHeaders::new_with_capacity(4);
        headers = with_header(headers, header::EVENT_TYPE, event.event_type.as_str());
        headers = with_header(headers, header::EVENT_ID, &event_id);
        headers = with_header(headers, header::CONTENT_TYPE, "application/json");
        if let Some(tp) = traceparent {
            headers = with_header(headers, header::TRACEPARENT, tp);
        }
        let record = FutureRecord::to(&topic)
            .key(&event.order_id)
            .payload(&payload)
            .headers(headers);
        // `message.timeout.ms` bounds the whole delivery (queueing included), so the wait is bounded.
        let delivery = self.producer.send(record).await?;
        Ok(Accepted {
            event_id,
            topic,
            partition: delivery.partition,
            offset: delivery.offset,
        })
    }
}
