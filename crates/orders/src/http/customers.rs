//! `/customers…` handlers: create and fetch, a customer's orders (the N+1 scenario) and the two
//! email searches (the slow-query scenario).

use std::collections::HashMap;

use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use common::http::extract::{Json, Path, Query};
use common::http::{FieldError, Problem};
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::orders::OrderDto;
use super::{AppState, Paged, bounded, check, paging};
use crate::error::{Error, Result};
use crate::money::format_cents;
use crate::store::customers::{self as store, Customer, CustomerSummary};
use crate::store::orders::{self as order_store, Item};

/// Body of `POST /customers`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCustomer {
    /// 1 to 200 characters, no control characters (surrounding spaces are trimmed).
    #[schema(
        example = "Ada Lovelace",
        min_length = 1,
        max_length = 200,
        pattern = r"^\s*[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*\s*$"
    )]
    pub name: String,
    /// A unique address (`local@domain`, 3 to 320 characters); stored lower-case.
    #[schema(
        example = "ada@example.com",
        min_length = 3,
        max_length = 320,
        pattern = r"^\s*[^\s@\x00-\x1F\x7F-\x9F]+@[^\s@\x00-\x1F\x7F-\x9F]+\s*$"
    )]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerDto {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

impl From<Customer> for CustomerDto {
    fn from(c: Customer) -> Self {
        Self {
            id: c.id,
            name: c.name,
            email: c.email,
            created_at: c.created_at,
        }
    }
}

/// A customer with their order statistics (what both email searches return).
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerSummaryDto {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub order_count: i64,
    /// Sum of all their orders' totals, as a decimal string.
    #[schema(example = "1234.50")]
    pub spent: String,
    pub last_order_at: Option<DateTime<Utc>>,
}

impl From<CustomerSummary> for CustomerSummaryDto {
    fn from(c: CustomerSummary) -> Self {
        Self {
            id: c.id,
            name: c.name,
            email: c.email,
            order_count: c.order_count,
            spent: format_cents(c.spent_cents),
            last_order_at: c.last_order_at,
        }
    }
}

/// Normalizes and checks an email: trimmed, lower-case, one `@` with text on both sides, no spaces.
pub fn normalize_email(raw: &str, field: &str, errors: &mut Vec<FieldError>) -> String {
    let email = raw.trim().to_lowercase();
    let valid = (3..=320).contains(&email.chars().count())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if !valid {
        errors.push(FieldError::new(
            field,
            "must be an email address (3 to 320 characters)",
        ));
    }
    email
}

/// Create a customer.
#[utoipa::path(post, path = "/customers", tag = "customers", request_body = NewCustomer,
    responses(
        (status = 201, description = "Created; `Location` names the new customer", body = CustomerDto),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<NewCustomer>,
) -> Result<impl IntoResponse> {
    let mut errors = Vec::new();
    let name = body.name.trim();
    if !(1..=200).contains(&name.chars().count()) || name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            "must be 1 to 200 printable characters",
        ));
    }
    let email = normalize_email(&body.email, "email", &mut errors);
    check(errors)?;
    let customer = store::create(&state.db.pool, name, &email)
        .await
        .map_err(|e| match e {
            Error::Db(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Error::Conflict(format!("a customer with email {email} already exists"))
            }
            other => other,
        })?;
    let location = format!("/customers/{}", customer.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(CustomerDto::from(customer)),
    ))
}

/// Fetch a customer.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers",
    params(("id" = i64, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The customer", body = CustomerDto),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<CustomerDto>> {
    store::get(&state.db.pool, id)
        .await?
        .map(|c| Json(c.into()))
        .ok_or_else(|| Error::NotFound(format!("no customer {id}")))
}

/// What to embed in each order of `GET /customers/{id}/orders`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Include {
    /// Each order's line items.
    Items,
}

/// How items are loaded when `include=items`: the N+1 scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One query for the orders, then one query per order for its items (1 + N statements).
    NPlusOne,
    /// One query for the orders, one for all their items (a constant number of statements).
    #[default]
    Batched,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerOrdersQuery {
    /// 1-based page number (default 1, at most 10000).
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u32>,
    /// Orders per page (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
    /// `items` embeds each order's items.
    #[param(inline)]
    pub include: Option<Include>,
    /// `n-plus-one` or `batched` (default): identical bodies, different statement counts.
    #[param(inline)]
    pub strategy: Option<Strategy>,
}

/// A customer's orders, newest first; with `include=items` also their items, loaded per `strategy`.
#[utoipa::path(get, path = "/customers/{id}/orders", tag = "customers",
    params(("id" = i64, Path, description = "Customer id"), CustomerOrdersQuery),
    responses(
        (status = 200, description = "One page of orders", body = Paged<OrderDto>),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid paging", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn orders(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<CustomerOrdersQuery>,
) -> Result<Json<Paged<OrderDto>>> {
    let mut errors = Vec::new();
    let page = paging(q.page, q.per_page, &mut errors);
    check(errors)?;
    let pool = &state.db.pool;
    if !store::exists(pool, id).await? {
        return Err(Error::NotFound(format!("no customer {id}")));
    }
    let rows = order_store::list_for_customer(pool, id, page).await?;
    let mut paged = Paged::from_rows(page, rows, |o| (o, Vec::new()));
    if q.include == Some(Include::Items) {
        match q.strategy.unwrap_or_default() {
            Strategy::NPlusOne => {
                // Deliberately naive — the lazy-loading loop ORMs generate: one round trip per order.
                for (order, items) in &mut paged.data {
                    *items = order_store::items_of(pool, order.id).await?;
                }
            }
            Strategy::Batched => {
                let ids: Vec<i64> = paged.data.iter().map(|(o, _)| o.id).collect();
                let mut by_order: HashMap<i64, Vec<Item>> = HashMap::new();
                for item in order_store::items_of_many(pool, &ids).await? {
                    by_order.entry(item.order_id).or_default().push(item);
                }
                for (order, items) in &mut paged.data {
                    *items = by_order.remove(&order.id).unwrap_or_default();
                }
            }
        }
    }
    let with_items = q.include == Some(Include::Items);
    Ok(Json(Paged {
        page: paged.page,
        per_page: paged.per_page,
        has_more: paged.has_more,
        data: paged
            .data
            .into_iter()
            .map(|(order, items)| OrderDto::new(order, with_items.then_some(items)))
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Case-insensitive substring of the email (1 to 100 characters; `%` and `_` match literally).
    #[param(min_length = 1, max_length = 100)]
    pub email_contains: String,
    /// At most this many customers (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Slow on purpose: substring search over emails, ranked by money spent. No index can serve it.
#[utoipa::path(get, path = "/customers/search", tag = "customers", params(SearchQuery),
    responses(
        (status = 200, description = "Matching customers, biggest spenders first", body = [CustomerSummaryDto]),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Vec<CustomerSummaryDto>>> {
    let mut errors = Vec::new();
    let limit = i64::from(bounded("limit", q.limit, 20, 1..=100, &mut errors));
    if !(1..=100).contains(&q.email_contains.chars().count()) {
        errors.push(FieldError::new(
            "email_contains",
            "must be 1 to 100 characters",
        ));
    }
    check(errors)?;
    let found = store::search_email_contains(&state.db.pool, &q.email_contains, limit).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// Exact email (case-insensitive). Give this or `email_prefix`.
    pub email: Option<String>,
    /// Email prefix (case-insensitive, 1 to 100 characters).
    #[param(min_length = 1, max_length = 100)]
    pub email_prefix: Option<String>,
    /// At most this many customers (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The fast twin of `/customers/search`: the same result shape, served by an index.
#[utoipa::path(get, path = "/customers/lookup", tag = "customers", params(LookupQuery),
    responses(
        (status = 200, description = "Matching customers, biggest spenders first", body = [CustomerSummaryDto]),
        (status = 422, description = "Neither or both of email and email_prefix", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn lookup(
    State(state): State<AppState>,
    Query(q): Query<LookupQuery>,
) -> Result<Json<Vec<CustomerSummaryDto>>> {
    let mut errors = Vec::new();
    let limit = i64::from(bounded("limit", q.limit, 20, 1..=100, &mut errors));
    let email = q
        .email
        .as_deref()
        .map(|e| normalize_email(e, "email", &mut errors));
    let prefix = q.email_prefix.as_deref().map(|p| p.trim().to_lowercase());
    if let Some(p) = &prefix
        && !(1..=100).contains(&p.chars().count())
    {
        errors.push(FieldError::new(
            "email_prefix",
            "must be 1 to 100 characters",
        ));
    }
    if email.is_some() == prefix.is_some() {
        errors.push(FieldError::new(
            "email",
            "give exactly one of email and email_prefix",
        ));
    }
    check(errors)?;
    let found =
        store::lookup_email(&state.db.pool, email.as_deref(), prefix.as_deref(), limit).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}
