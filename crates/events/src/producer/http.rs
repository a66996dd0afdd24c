//! The intake's routes: `POST /events` (one event) and `POST /events/batch` (many, each answered on
//! its own), their bodies, and their OpenAPI description.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use common::http::extract::Json;
use common::http::{FieldError, Problem};
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Accepted, Intake};
use crate::error::Error;
use crate::event::OrderEvent;

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
#[utoipa::path(post, path = "/events", tag = "events", request_body = Object,
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
        (status = 422, description = "Not a JSON array, or more events than the batch limit", body = Problem, content_type = "application/problem+json"),
    ))]
async fn post_batch(
    State(intake): State<Intake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Json<BatchAnswer>, Error> {
    let Value::Array(items) = body else {
        return Err(Error::invalid("body", "must be a JSON array of events"));
    };
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
