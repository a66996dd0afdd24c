//! The intake's routes: `POST /events` (one event) and `POST /events/batch` (many, each answered on
//! its own), their bodies, and their OpenAPI description.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use common::http::extract::Json;
use common::http::{FieldError, Problem};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Accepted, Intake};
use crate::error::Error;
use crate::event::{EventType, OrderEvent};

#[derive(OpenApi)]
#[openapi(info(
    title = "MOP events-producer",
    description = "HTTP intake of order events: each is validated and answered 202 only once the \
        Kafka broker acknowledged it. Every error body is application/problem+json (RFC 9457)."
))]
struct ApiDoc;

/// Every intake route, with its description; the state is supplied by [`super::app`].
pub(super) fn api() -> OpenApiRouter<Intake> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(post_event))
        .routes(routes!(post_batch))
}

/// The body of `POST /events` (documentation type: [`OrderEvent::from_json`] validates the raw JSON
/// value, so every bad field is reported at once).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct EventInput {
    /// Idempotency key; a fresh UUID when absent. A client retrying after a 503 sends the same one.
    #[schema(pattern = r"^[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}$")]
    event_id: Option<String>,
    #[serde(rename = "type")]
    event_type: EventType,
    #[schema(value_type = Identifier)]
    order_id: Value,
    #[schema(value_type = Identifier)]
    customer_id: Value,
    /// Order total (≥ 0, at most 2 decimals).
    #[schema(minimum = 0, maximum = 1000000000000.0, multiple_of = 0.01)]
    total: f64,
    /// At most 100 lines.
    #[schema(max_items = 100)]
    items: Option<Vec<ItemInput>>,
    /// When it happened (RFC 3339); now when absent.
    #[schema(value_type = Option<String>, format = DateTime)]
    occurred_at: Option<String>,
}

/// One line of an event.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ItemInput {
    #[schema(value_type = Identifier)]
    sku: Value,
    #[schema(minimum = 1, maximum = 10000)]
    quantity: u32,
    /// ≥ 0, at most 2 decimals.
    #[schema(minimum = 0, maximum = 1000000000000.0, multiple_of = 0.01)]
    price: f64,
}

/// An identifier: a non-blank string of at most 64 characters, or a non-negative integer (orders
/// uses integers). Written by hand because it is a `oneOf`.
pub struct Identifier;

impl utoipa::PartialSchema for Identifier {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let text = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .pattern(Some(r"\S"));
        let number = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u64::MAX as f64));
        OneOfBuilder::new().item(text).item(number).into()
    }
}

impl ToSchema for Identifier {}

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

/// Accept one order event.
#[utoipa::path(post, path = "/events", tag = "events", request_body = EventInput,
    responses(
        (status = 202, description = "Acknowledged by the broker", body = Accepted),
        (status = 422, description = "Invalid fields (every one listed); nothing was produced", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The broker did not acknowledge in time; retry with the same event_id", body = Problem, content_type = "application/problem+json",
         headers(("event-id" = String, description = "The event_id to retry with"))),
    ))]
async fn post_event(
    State(intake): State<Intake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Response, Error> {
    let event = OrderEvent::from_json(&body).map_err(Error::Validation)?;
    match intake.produce(&event, traceparent(&headers)).await {
        Ok(accepted) => Ok((StatusCode::ACCEPTED, axum::Json(accepted)).into_response()),
        Err(source) => Err(Error::NotAcknowledged {
            event_id: event.event_id.to_string(),
            source,
        }),
    }
}

/// Accept many order events at once; each gets its own result, in request order.
#[utoipa::path(post, path = "/events/batch", tag = "events", request_body = Vec<Object>,
    responses(
        (status = 200, description = "Per-event results (202 / 422 / 503 each)", body = BatchAnswer),
        (status = 422, description = "Not a JSON array of objects, or more events than the batch limit", body = Problem, content_type = "application/problem+json"),
    ))]
async fn post_batch(
    State(intake): State<Intake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Json<BatchAnswer>, Error> {
    // Each object is judged on its own (a 422 in its result); something that is not an object at
    // all makes the whole batch malformed.
    let Value::Array(items) = body else {
        return Err(Error::invalid("body", "must be a JSON array of events"));
    };
    let not_objects: Vec<FieldError> = (items.iter().enumerate())
        .filter(|(_, item)| !item.is_object())
        .map(|(i, _)| FieldError::new(format!("body[{i}]"), "must be a JSON object"))
        .collect();
    if !not_objects.is_empty() {
        return Err(Error::Validation(not_objects));
    }
    if items.len() > intake.max_batch {
        return Err(Error::invalid(
            "body",
            format!("at most {} events per batch", intake.max_batch),
        ));
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
                    Err(e) => {
                        tracing::warn!(event_id = %event.event_id, error = %e, "broker did not acknowledge the event");
                        BatchResult::failed(event.event_id.to_string(), e.to_string())
                    }
                },
            }
        }
    }))
    .await;
    let count = |s: u16| results.iter().filter(|r| r.status == s).count();
    Ok(Json(BatchAnswer {
        accepted: count(202),
        rejected: count(422),
        failed: count(503),
        results,
    }))
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
