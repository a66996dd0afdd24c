//! Integration tests for `catalog`: router-level behaviour (`oneshot`) and the real server on a socket.

mod api;
mod bad_input;
mod openapi;
mod support;
mod wire;
