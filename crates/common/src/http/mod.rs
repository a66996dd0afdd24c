//! The HTTP pieces every MOP REST service shares: errors, extractors, layers, health and serving.
//!
//! A service builds its routes, then calls [`layers::apply`] once; the order of the layers and the
//! rules they enforce (request id, access log, timeout, body limit, rate limit) are the same everywhere.

pub mod extract;
pub mod health;
pub mod layers;
pub mod observe;
pub mod openapi;
pub mod problem;
pub mod serve;

pub use problem::{FieldError, Problem};
