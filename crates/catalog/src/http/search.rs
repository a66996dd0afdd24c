//! `/search`: case-insensitive text search with category and price filters, paginated.

use axum::extract::State;
use common::http::extract::{Json, Query};
use common::http::{FieldError, Problem};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::products::{ProductBody, ProductPage, paging};
use crate::domain::Category;
use crate::error::Error;
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
        (status = 400, description = "A parameter is malformed (not a number, unknown category)",
         body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Parameters out of range or min_price > max_price, every one listed in `errors`",
         body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    Query(p): Query<SearchParams>,
) -> Result<Json<ProductPage>, Error> {
    // Every broken rule is reported at once, paging included (one 422, like a body's fields).
    let mut errors = match paging(p.page, p.per_page) {
        Err(Error::Validation(errors)) => errors,
        _ => Vec::new(),
    };
    let text = p.q.filter(|q| !q.is_empty());
    if text.as_ref().is_some_and(|q| q.chars().count() > QUERY_MAX) {
        errors.push(FieldError::new(
            "q",
            format!("must be at most {QUERY_MAX} characters"),
        ));
    }
    let min = price_bound(&mut errors, "min_price", p.min_price);
    let max = price_bound(&mut errors, "max_price", p.max_price);
    if let (Some(min), Some(max)) = (p.min_price, p.max_price)
        && min > max
    {
        errors.push(FieldError::new(
            "max_price",
            format!("must not be below min_price ({min})"),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (page, per_page, offset) = paging(p.page, p.per_page)?;
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

/// Validates a price bound and returns it in (fractional) cents; a bad one is added to `errors`.
fn price_bound(errors: &mut Vec<FieldError>, name: &str, value: Option<f64>) -> Option<f64> {
    match value {
        Some(v) if v.is_finite() && v >= 0.0 => Some(v * 100.0),
        Some(_) => {
            errors.push(FieldError::new(name, "must be a number, 0 or more"));
            None
        }
        None => None,
    }
}

/// Whole cents; values beyond `u64` saturate, which is the right answer for a bound.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn cents(v: f64) -> u64 {
    v as u64
}
