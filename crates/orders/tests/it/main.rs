//! The orders service's integration tests: one binary, the real service on 127.0.0.1:0, a real
//! PostgreSQL from testkit (one server per binary, one database per test), driven over HTTP.

mod customers;
mod lifecycle;
mod openapi;
mod orders;
mod reports;
mod resilience;
mod scenarios;
mod security;
mod seed;
mod support;
