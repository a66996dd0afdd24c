//! `/search`: case-insensitive text search with category and price filters, paginated.

use axum::extract::State;
use common::http::Problem;
use common::http::extract::{Json, Query};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::products::{ProductBody, ProductPage, paging};
use crate::domain::Category;
use crate::store::Filter;

/// Longest accepted search text.
const QUERY_MAX: usize = 200;

/// Search filters; all given filters must match.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Text that must occur in the name or description (case-insensitive); at most 200 characters.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Only this category.
    category: Option<Category>,
    /// Lowest price, inclusive.
    #[param(minimum = 0)]
    min_price: Option<f64>,
    /// Highest price, inclusive; must not be below `min_price`.
    #[param(minimum = 0)]
    max_price: Option<f64>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    page: Option<u64>,
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    per_page: Option<u64>,
}

/// Search products by text, category and price range.
#[utoipa::path(get, path = "/search", tag = "search", params(SearchParams),
    responses(
        (status = 200, description = "A page of matching products, in id order", body = ProductPage),
        (status = 400, description = "A parameter is out of range or malformed, or min_price > max_price",
         body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    Query(p): Query<SearchParams>,
) -> Result<Json<ProductPage>, Problem> {
    let (page, per_page, offset) = paging(p.page, p.per_page)?;
    let text = p.q.filter(|q| !q.is_empty());
    if text.as_ref().is_some_and(|q| q.chars().count() > QUERY_MAX) {
        return Err(Problem::bad_request(format!(
            "q must be at most {QUERY_MAX} characters"
        )));
    }
    let min = price_bound("min_price", p.min_price)?;
    let max = price_bound("max_price", p.max_price)?;
    if let (Some(min), Some(max)) = (p.min_price, p.max_price)
        && min > max
    {
        return Err(Problem::bad_request(format!(
            "min_price ({min}) must not exceed max_price ({max})"
        )));
    }
    let filter = Filter {
        text: text.map(|q| q.to_lowercase()),
        category: p.category,
        // Inclusive bounds in whole cents: 9.995 as a minimum means "from 10.00".
        min_cents: min.map(f64::ceil).map(cents),
        max_cents: max.map(f64::floor).map(cents),
    };
    let result = state.store.search(&filter, offset, per_page);
    let items = result
        .items
        .iter()
        .map(|p| ProductBody::from(&**p))
        .collect();
    Ok(Json(ProductPage {
        items,
        page,
        per_page,
        total: result.total,
    }))
}

/// Validates a price bound and returns it in (fractional) cents.
fn price_bound(name: &str, value: Option<f64>) -> Result<Option<f64>, Problem> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(v * 100.0)),
        Some(_) => Err(Problem::bad_request(format!(
            "{name} must be a number, 0 or more"
        ))),
    }
}

/// Whole cents; values beyond `u64` saturate, which is the right answer for a bound.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn cents(v: f64) -> u64 {
    v as u64
}
