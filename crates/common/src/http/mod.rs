//! The HTTP pieces every MOP REST service shares: errors, extractors, layers, health and serving.
//!
//! A service describes its routes once (`OpenApiRouter` + `utoipa_axum::routes!`) and hands them to
//! [`api::router`] (to serve) or [`api::document`] (to describe); that adds the probes,
//! `/openapi.json` and [`layers::apply`], so the order of the layers and the rules they enforce
//! (request id, access log, timeout, body limit, rate limit) are the same everywhere.

pub mod api;
pub mod conditional;
pub mod extract;
pub mod health;
pub mod layers;
pub mod observe;
pub mod openapi;
pub mod problem;
pub mod serve;

pub use problem::{FieldError, Problem};
