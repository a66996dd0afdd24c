//! `/reports/…` handlers: aggregations over customers, orders and items.

use axum::extract::State;
use chrono::NaiveDate;
use common::http::Problem;
use common::http::extract::{Json, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AppState, bounded, check};
use crate::error::Result;
use crate::money::format_cents;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopQuery {
    /// How many customers (default 10, 1 to 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopCustomerDto {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// Orders that were not cancelled.
    pub order_count: i64,
    #[schema(example = "10234.50")]
    pub revenue: String,
}

/// Customers ranked by revenue (cancelled orders excluded).
#[utoipa::path(get, path = "/reports/top-customers", tag = "reports", params(TopQuery),
    responses(
        (status = 200, description = "Biggest customers first", body = [TopCustomerDto]),
        (status = 422, description = "Invalid limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn top_customers(
    State(state): State<AppState>,
    Query(q): Query<TopQuery>,
) -> Result<Json<Vec<TopCustomerDto>>> {
    let mut errors = Vec::new();
    let limit = bounded("limit", q.limit, 10, 1..=100, &mut errors);
    check(errors)?;
    let rows = crate::store::reports::top_customers(&state.db.pool, i64::from(limit)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| TopCustomerDto {
                id: r.id,
                name: r.name,
                email: r.email,
                order_count: r.order_count,
                revenue: format_cents(r.revenue_cents),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DailyQuery {
    /// How many days back, today included (default 30, 1 to 366).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DailyRevenueDto {
    /// A UTC calendar day.
    pub day: NaiveDate,
    pub order_count: i64,
    pub items_sold: i64,
    #[schema(example = "5120.00")]
    pub revenue: String,
}

/// Revenue per UTC day (cancelled orders excluded); every day of the range is present.
#[utoipa::path(get, path = "/reports/daily-revenue", tag = "reports", params(DailyQuery),
    responses(
        (status = 200, description = "Oldest day first", body = [DailyRevenueDto]),
        (status = 422, description = "Invalid days", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn daily_revenue(
    State(state): State<AppState>,
    Query(q): Query<DailyQuery>,
) -> Result<Json<Vec<DailyRevenueDto>>> {
    let mut errors = Vec::new();
    let days = bounded("days", q.days, 30, 1..=366, &mut errors);
    check(errors)?;
    let days = i32::try_from(days).unwrap_or(30);
    let rows = crate::store::reports::daily_revenue(&state.db.pool, days).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| DailyRevenueDto {
                day: r.day,
                order_count: r.order_count,
                items_sold: r.items_sold,
                revenue: format_cents(r.revenue_cents),
            })
            .collect(),
    ))
}
