//! The order event: its wire form (the JSON record on `orders.<type>`) and the validation rules of
//! the HTTP intake.
//!
//! Validation works on a `serde_json::Value` rather than a derived struct so that *every* invalid
//! field is reported at once (serde stops at the first), and so that the consumer can apply the same
//! rules to what it reads: a record that does not pass them is poison and goes to the DLQ.

use chrono::{DateTime, Utc};
use common::http::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Longest accepted identifier (`order_id`, `customer_id`, item `sku`).
const MAX_ID_LEN: usize = 64;
/// Most items in one event.
const MAX_ITEMS: usize = 100;

/// What happened to an order; it selects the topic (`orders.<type>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Created,
    Updated,
    Cancelled,
}

impl EventType {
    pub const ALL: [EventType; 3] = [Self::Created, Self::Updated, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    pub sku: String,
    pub quantity: u32,
    pub price: f64,
}

/// A validated order event, exactly as it is written to Kafka.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderEvent {
    /// Idempotency key: a client retrying after a 503 sends the same id, consumers dedupe on it.
    #[schema(value_type = String)]
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub order_id: String,
    pub customer_id: String,
    /// Order total in the shop's currency (≥ 0, at most 2 decimals).
    pub total: f64,
    #[serde(default)]
    pub items: Vec<Item>,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: DateTime<Utc>,
}

impl OrderEvent {
    /// Validates an intake body. Missing `event_id` / `occurred_at` are filled in (a fresh UUID v4,
    /// now); every invalid field is reported.
    pub fn from_json(body: &Value) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let Some(obj) = body.as_object() else {
            return Err(vec![FieldError::new("", "the body must be a JSON object")]);
        };
        let event_id = match obj.get("event_id") {
            None | Some(Value::Null) => Some(Uuid::new_v4()),
            Some(Value::String(s)) => Uuid::parse_str(s).ok(),
            Some(_) => None,
        };
        if event_id.is_none() {
            errors.push(FieldError::new("event_id", "must be a UUID"));
        }
        let event_type = match obj.get("type") {
            Some(Value::String(s)) => EventType::parse(s),
            _ => None,
        };
        if event_type.is_none() {
            errors.push(FieldError::new(
                "type",
                "must be one of created, updated, cancelled",
            ));
        }
        let order_id = identifier(obj.get("order_id"), "order_id", &mut errors);
        let customer_id = identifier(obj.get("customer_id"), "customer_id", &mut errors);
        let total = amount(obj.get("total"), "total", &mut errors);
        let items = match obj.get("items") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(items)) if items.len() <= MAX_ITEMS => {
                let parsed: Vec<_> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self::item(item, i, &mut errors))
                    .collect();
                parsed.into_iter().collect::<Option<Vec<_>>>()
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "items",
                    format!("must be an array of at most {MAX_ITEMS} items"),
                ));
                None
            }
        };
        let occurred_at = match obj.get("occurred_at") {
            None | Some(Value::Null) => Some(Utc::now()),
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            Some(_) => None,
        };
        if occurred_at.is_none() {
            errors.push(FieldError::new(
                "occurred_at",
                "must be an RFC 3339 timestamp",
            ));
        }
        match (
            event_id,
            event_type,
            order_id,
            customer_id,
            total,
            items,
            occurred_at,
        ) {
            (
                Some(event_id),
                Some(event_type),
                Some(order_id),
                Some(customer_id),
                Some(total),
                Some(items),
                Some(occurred_at),
            ) if errors.is_empty() => Ok(Self {
                event_id,
                event_type,
                order_id,
                customer_id,
                total,
                items,
                occurred_at,
            }),
            _ => Err(errors),
        }
    }

    /// Decodes a record read from Kafka with the intake's rules; the error says why it is poison.
    pub fn decode(payload: Option<&[u8]>) -> Result<Self, Poison> {
        let payload = payload.ok_or(Poison::Empty)?;
        let value: Value = serde_json::from_slice(payload)?;
        // A stored event always has both defaults filled in; their absence is a foreign record.
        if value.get("event_id").is_none_or(Value::is_null)
            || value.get("occurred_at").is_none_or(Value::is_null)
        {
            return Err(Poison::Foreign);
        }
        Self::from_json(&value).map_err(Poison::Invalid)
    }
}

/// Why a record read from Kafka is not an order event; it goes to the DLQ with this as its reason.
#[derive(Debug, thiserror::Error)]
pub enum Poison {
    #[error("empty payload")]
    Empty,
    #[error("not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("not an order event: event_id and occurred_at are required")]
    Foreign,
    #[error("invalid order event: {}", fields(.0))]
    Invalid(Vec<FieldError>),
}

fn fields(errors: &[FieldError]) -> String {
    let fields: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    fields.join("; ")
}

/// Identifiers may be given as a non-empty string or a non-negative integer (orders uses integers).
fn identifier(value: Option<&Value>, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let id = match value {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= MAX_ID_LEN => {
            Some(s.clone())
        }
        Some(Value::Number(n)) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    };
    if id.is_none() {
        errors.push(FieldError::new(
            field,
            format!("is required: a non-empty string of at most {MAX_ID_LEN} characters or a non-negative integer"),
        ));
    }
    id
}

/// A money amount: a finite number ≥ 0 with at most 2 decimals.
fn amount(value: Option<&Value>, field: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    let ok = value
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite() && *v >= 0.0 && *v <= 1e12)
        .filter(|v| ((v * 100.0).round() - v * 100.0).abs() < 1e-6);
    if ok.is_none() {
        errors.push(FieldError::new(
            field,
            "is required: a number ≥ 0 with at most 2 decimals",
        ));
    }
    ok
}

fn item(value: &Value, i: usize, errors: &mut Vec<FieldError>) -> Option<Item> {
    let sku = identifier(value.get("sku"), &format!("items[{i}].sku"), errors);
    let quantity = value
        .get("quantity")
        .and_then(Value::as_u64)
        .filter(|q| (1..=10_000).contains(q))
        .and_then(|q| u32::try_from(q).ok());
    if quantity.is_none() {
        errors.push(FieldError::new(
            format!("items[{i}].quantity"),
            "must be an integer from 1 to 10000",
        ));
    }
    let price = amount(value.get("price"), &format!("items[{i}].price"), errors);
    Some(Item {
        sku: sku?,
        quantity: quantity?,
        price: price?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_filled_in_and_ids_accept_integers() {
        let e = OrderEvent::from_json(
            &json!({"type": "created", "order_id": 7, "customer_id": "c1", "total": 12.5}),
        )
        .unwrap();
        assert_eq!(e.order_id, "7");
        assert!(e.items.is_empty());
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = OrderEvent::from_json(&json!({"event_id": "x", "type": "shipped",
            "total": -1, "occurred_at": "yesterday", "items": [{"sku": "", "quantity": 0}]}))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "event_id",
                "type",
                "order_id",
                "customer_id",
                "total",
                "items[0].sku",
                "items[0].quantity",
                "items[0].price",
                "occurred_at"
            ]
        );
    }

    #[test]
    fn decode_round_trips_and_rejects_foreign_records() {
        let e = OrderEvent::from_json(
            &json!({"type": "updated", "order_id": "o", "customer_id": "c", "total": 1}),
        )
        .unwrap();
        let bytes = serde_json::to_vec(&e).unwrap();
        assert_eq!(OrderEvent::decode(Some(&bytes)).unwrap(), e);
        assert!(OrderEvent::decode(Some(b"{oops")).is_err());
        assert!(OrderEvent::decode(None).is_err());
        assert!(OrderEvent::decode(Some(br#"{"type":"created"}"#)).is_err());
    }
}
