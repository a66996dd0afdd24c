//! `/orders…` handlers: create (one transaction), fetch (one JOIN), list with filters, status
//! transitions (`PATCH`) and cancellation (`DELETE`).

use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use common::http::extract::{Json, Path, Query};
use common::http::{FieldError, Problem};
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AppState, Paged, check, paging};
use crate::error::{Error, Result};
use crate::money::{MAX_CENTS, format_cents, parse_cents};
use crate::status::Status;
use crate::store::orders::{self as store, Filter, Item, NewItem, Order};

/// Most line items one order may have.
const MAX_ITEMS: usize = 100;
/// Largest quantity of one line.
const MAX_QUANTITY: i64 = 10_000;

/// Body of `POST /orders`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrder {
    #[schema(minimum = 1)]
    pub customer_id: i64,
    /// 1 to 100 lines.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<NewItemDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewItemDto {
    /// Positive product id.
    #[schema(minimum = 1)]
    pub product_id: i64,
    /// 1 to 10000.
    #[schema(minimum = 1, maximum = 10000)]
    pub quantity: i64,
    /// Unit price: a non-negative decimal with at most 2 decimals, as a number or a string.
    #[schema(value_type = PriceInput)]
    pub price: serde_json::Value,
}

/// How a client may write a price: `"19.99"` or `19.99`, ≥ 0 with at most 2 decimals (documentation
/// type, written by hand because it is a `oneOf`: [`parse_cents`] reads the raw JSON value).
pub struct PriceInput;

impl utoipa::PartialSchema for PriceInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let text = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^\s*[0-9]{1,10}(\.[0-9]{0,2})?\s*$"))
            .examples(["19.99"]);
        let number = ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0))
            .maximum(Some(9_999_999_999.99))
            .multiple_of(Some(0.01));
        OneOfBuilder::new().item(text).item(number).into()
    }
}

impl ToSchema for PriceInput {}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemDto {
    pub id: i64,
    pub product_id: i64,
    pub quantity: i32,
    #[schema(example = "19.99")]
    pub price: String,
}

impl From<Item> for ItemDto {
    fn from(i: Item) -> Self {
        Self {
            id: i.id,
            product_id: i.product_id,
            quantity: i.quantity,
            price: format_cents(i.price_cents),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDto {
    pub id: i64,
    pub customer_id: i64,
    pub status: Status,
    /// Sum of quantity × price over the items, as a decimal string.
    #[schema(example = "59.97")]
    pub total: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Present when the items were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemDto>>,
}

impl OrderDto {
    pub fn new(o: Order, items: Option<Vec<Item>>) -> Self {
        Self {
            id: o.id,
            customer_id: o.customer_id,
            status: o.status,
            total: format_cents(o.total_cents),
            created_at: o.created_at,
            updated_at: o.updated_at,
            items: items.map(|items| items.into_iter().map(Into::into).collect()),
        }
    }
}

/// Checks every line (reporting all problems at once) and computes the total in cents.
fn validate(body: &NewOrder) -> Result<(Vec<NewItem>, i64)> {
    let mut errors = Vec::new();
    if body.customer_id <= 0 {
        errors.push(FieldError::new("customer_id", "must be a positive id"));
    }
    if body.items.is_empty() || body.items.len() > MAX_ITEMS {
        errors.push(FieldError::new(
            "items",
            format!("must have 1 to {MAX_ITEMS} lines"),
        ));
    }
    let mut items = Vec::with_capacity(body.items.len());
    let mut total: i64 = 0;
    for (n, line) in body.items.iter().enumerate() {
        if line.product_id <= 0 {
            errors.push(FieldError::new(
                format!("items[{n}].product_id"),
                "must be a positive id",
            ));
        }
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            errors.push(FieldError::new(
                format!("items[{n}].quantity"),
                format!("must be between 1 and {MAX_QUANTITY}"),
            ));
        }
        let price = parse_cents(&line.price)
            .map_err(|msg| errors.push(FieldError::new(format!("items[{n}].price"), msg)))
            .unwrap_or(0);
        // Both factors are bounded above, so the product fits; the sum is checked.
        total = total.saturating_add(line.quantity.clamp(0, MAX_QUANTITY) * price);
        items.push(NewItem {
            product_id: line.product_id,
            quantity: i32::try_from(line.quantity.clamp(0, MAX_QUANTITY)).unwrap_or(0),
            price_cents: price,
        });
    }
    if total > MAX_CENTS {
        errors.push(FieldError::new(
            "items",
            "the order total exceeds 9999999999.99",
        ));
    }
    check(errors)?;
    Ok((items, total))
}

/// Place an order: the order, its items and its total are written in one transaction.
#[utoipa::path(post, path = "/orders", tag = "orders", request_body = NewOrder,
    responses(
        (status = 201, description = "Created; `Location` names the new order", body = OrderDto),
        (status = 422, description = "Unknown customer or invalid items; nothing was written", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<NewOrder>,
) -> Result<impl IntoResponse> {
    let (items, total) = validate(&body)?;
    let (order, items) = store::create(&state.db.pool, body.customer_id, &items, total).await?;
    let location = format!("/orders/{}", order.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(OrderDto::new(order, Some(items))),
    ))
}

/// Fetch an order with its items (one JOIN).
#[utoipa::path(get, path = "/orders/{id}", tag = "orders",
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order and its items", body = OrderDto),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<OrderDto>> {
    let (order, items) = store::get_with_items(&state.db.pool, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no order {id}")))?;
    Ok(Json(OrderDto::new(order, Some(items))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this customer's orders.
    pub customer_id: Option<i64>,
    /// Only orders in this status.
    #[param(inline)]
    pub status: Option<Status>,
    /// Created at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// 1-based page number (default 1, at most 10000).
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u32>,
    /// Orders per page (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// List orders, newest first, filtered by customer, status and creation time.
#[utoipa::path(get, path = "/orders", tag = "orders", params(ListQuery),
    responses(
        (status = 200, description = "One page of orders (without items)", body = Paged<OrderDto>),
        (status = 400, description = "A parameter does not parse", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid paging or range", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Paged<OrderDto>>> {
    let mut errors = Vec::new();
    let page = paging(q.page, q.per_page, &mut errors);
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        errors.push(FieldError::new("from", "must not be after `to`"));
    }
    check(errors)?;
    let filter = Filter {
        customer_id: q.customer_id,
        status: q.status,
        from: q.from,
        to: q.to,
    };
    let rows = store::list(&state.db.pool, &filter, page).await?;
    Ok(Json(Paged::from_rows(page, rows, |o| {
        OrderDto::new(o, None)
    })))
}

/// Body of `PATCH /orders/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusChange {
    /// The new status; allowed moves: pending → paid → shipped → delivered, pending|paid → cancelled.
    pub status: Status,
}

/// Move an order along its life cycle.
#[utoipa::path(patch, path = "/orders/{id}", tag = "orders", request_body = StatusChange,
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "The updated order (without items)", body = OrderDto),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The current status does not allow this move", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(body): Json<StatusChange>,
) -> Result<Json<OrderDto>> {
    let order = store::transition(&state.db.pool, id, body.status).await?;
    Ok(Json(OrderDto::new(order, None)))
}

/// Cancel an order (idempotent: cancelling a cancelled order succeeds).
#[utoipa::path(delete, path = "/orders/{id}", tag = "orders",
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 204, description = "The order is cancelled"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already shipped or delivered", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(State(state): State<AppState>, Path(id): Path<i64>) -> Result<StatusCode> {
    match store::transition(&state.db.pool, id, Status::Cancelled).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(Error::Conflict(_)) => {
            // Was it already cancelled (fine: DELETE is idempotent) or too late (shipped)?
            match store::get_with_items(&state.db.pool, id).await? {
                Some((order, _)) if order.status == Status::Cancelled => Ok(StatusCode::NO_CONTENT),
                Some((order, _)) => Err(Error::Conflict(format!(
                    "order {id} is {} and can no longer be cancelled",
                    order.status.as_str()
                ))),
                None => Err(Error::NotFound(format!("no order {id}"))),
            }
        }
        Err(e) => Err(e),
    }
}
