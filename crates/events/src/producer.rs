//! `events-producer`: the HTTP intake. An order event is validated, written to `orders.<type>` keyed by
//! its `order_id`, and answered 202 only once the broker acknowledged the write.
//!
//! Why wait for the acknowledgement: a 202 is a promise that the event will be processed. Answering
//! before the broker confirmed (fire-and-forget) would turn every broker outage into silently lost
//! events; waiting turns it into a 503 the client can retry with the same `event_id` — duplicates
//! are harmless because consumers dedupe on it.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use common::http::extract::Json;
use common::http::health::Health;
use common::http::layers;
use common::http::{FieldError, Problem};
use http::{HeaderMap, HeaderValue, StatusCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::FutureRecord;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::ProducerConfig;
use crate::event::OrderEvent;
use crate::kafka::{self, Topics, header, with_header};

/// Handler state.
#[derive(Clone)]
pub struct Intake {
    producer: kafka::Producer,
    topics: Topics,
    max_batch: usize,
}

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
        tokio::spawn(async move { kafka::ensure_topics(&args, &shutdown).await })
    };
    let intake = Intake {
        producer: producer.clone(),
        topics: Topics::new(&config.kafka.topic_prefix),
        max_batch: config.max_batch,
    };
    let app = app(intake, &config.http, shutdown.clone());
    common::http::serve::serve(listener, app, shutdown, config.common.shutdown_grace).await?;
    topics_task.abort();
    // Requests that got their 202 were acknowledged already; this only bounds the exit.
    producer.flush(Duration::from_secs(5)).await;
    Ok(())
}

/// The router: the intake routes, probes, `/openapi.json` and the shared layers.
pub fn app(intake: Intake, http: &layers::HttpArgs, shutdown: CancellationToken) -> Router {
    let producer = intake.producer.clone();
    let health = Health::new(shutdown, move || {
        let producer = producer.clone();
        async move { kafka::check_broker(&producer).await }
    });
    common::http::api::router(api(), intake, health, http)
}

/// The OpenAPI document, exactly as served on `/openapi.json` (and printed by `events-producer openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    common::http::api::document(api())
}

/// Every intake route, with its description; the state is supplied by [`app`].
fn api() -> OpenApiRouter<Intake> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(post_event))
        .routes(routes!(post_batch))
}

#[derive(OpenApi)]
#[openapi(info(
    title = "MOP events-producer",
    description = "HTTP intake of order events: each is validated and answered 202 only once the \
        Kafka broker acknowledged it. Every error body is application/problem+json (RFC 9457)."
))]
struct ApiDoc;

impl Intake {
    pub fn new(producer: kafka::Producer, topics: Topics, max_batch: usize) -> Self {
        Self {
            producer,
            topics,
            max_batch,
        }
    }

    /// Produces one event and waits for the broker's acknowledgement.
    async fn produce(
        &self,
        event: &OrderEvent,
        traceparent: Option<&str>,
    ) -> Result<Accepted, String> {
        let topic = self.topics.orders(event.event_type);
        let payload = serde_json::to_vec(event).map_err(|e| e.to_string())?;
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
        match self.producer.send(record).await {
            Ok(delivery) => Ok(Accepted {
                event_id,
                topic,
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The broker acknowledged the event: where it was written.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub event_id: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// One entry of a batch answer, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// 202 accepted, 422 invalid, 503 not acknowledged by the broker.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Counts of a batch answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    pub accepted: usize,
    pub rejected: usize,
    pub failed: usize,
    pub results: Vec<BatchResult>,
}

fn traceparent(headers: &HeaderMap) -> Option<&str> {
    headers.get("traceparent").and_then(|v| v.to_str().ok())
}

fn unavailable(event_id: &str, error: &str) -> Response {
    tracing::warn!(%event_id, %error, "broker did not acknowledge the event");
    let mut response = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the broker did not acknowledge event {event_id} ({error}); retry with the same event_id"),
    )
    .with_retry_after(Duration::from_secs(1))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(event_id) {
        response.headers_mut().insert("event-id", v);
    }
    response
}

/// Accept one order event.
#[utoipa::path(post, path = "/events", tag = "events", request_body = Object,
    responses(
        (status = 202, description = "Acknowledged by the broker", body = Accepted),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (every one listed); nothing was produced", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The broker did not acknowledge in time; retry with the same event_id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn post_event(
    State(intake): State<Intake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let event = match OrderEvent::from_json(&body) {
        Ok(event) => event,
        Err(errors) => return Problem::validation(errors).into_response(),
    };
    match intake.produce(&event, traceparent(&headers)).await {
        Ok(accepted) => (StatusCode::ACCEPTED, axum::Json(accepted)).into_response(),
        Err(error) => unavailable(&event.event_id.to_string(), &error),
    }
}

/// Accept many order events at once; each gets its own result, in request order.
#[utoipa::path(post, path = "/events/batch", tag = "events", request_body = Vec<Object>,
    responses(
        (status = 200, description = "Per-event results (202 / 422 / 503 each)", body = BatchAnswer),
        (status = 400, description = "Malformed JSON, not an array, or too many events", body = Problem, content_type = "application/problem+json"),
    ))]
async fn post_batch(
    State(intake): State<Intake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let Value::Array(items) = body else {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON array of events",
        )
        .into_response();
    };
    if items.len() > intake.max_batch {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            format!("at most {} events per batch", intake.max_batch),
        )
        .into_response();
    }
    let tp = traceparent(&headers);
    // All sends are in flight together: librdkafka batches them into few produce requests.
    let results = futures::future::join_all(items.iter().map(|item| {
        let intake = &intake;
        async move {
            match OrderEvent::from_json(item) {
                Err(errors) => BatchResult::rejected(errors),
                Ok(event) => match intake.produce(&event, tp).await {
                    Ok(a) => BatchResult::accepted(a),
                    Err(e) => BatchResult::failed(event.event_id.to_string(), e),
                },
            }
        }
    }))
    .await;
    let count = |s: u16| results.iter().filter(|r| r.status == s).count();
    let answer = BatchAnswer {
        accepted: count(202),
        rejected: count(422),
        failed: count(503),
        results,
    };
    (StatusCode::OK, axum::Json(answer)).into_response()
}

impl BatchResult {
    fn empty(status: u16) -> Self {
        Self {
            status,
            event_id: None,
            topic: None,
            partition: None,
            offset: None,
            errors: Vec::new(),
            detail: None,
        }
    }

    fn accepted(a: Accepted) -> Self {
        Self {
            event_id: Some(a.event_id),
            topic: Some(a.topic),
            partition: Some(a.partition),
            offset: Some(a.offset),
            ..Self::empty(202)
        }
    }

    fn rejected(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::empty(422)
        }
    }

    fn failed(event_id: String, detail: String) -> Self {
        Self {
            event_id: Some(event_id),
            detail: Some(detail),
            ..Self::empty(503)
        }
    }
}
