//! Integration tests of the auth service: a real server on 127.0.0.1:0 per test, driven over real
//! sockets with the generated tonic client (and a raw HTTP/2 client where tonic's client would get in
//! the way). Cheap argon2 parameters keep each server's start-up to milliseconds.

mod bad_input;
mod client_cli;
mod deadlines;
mod reflection;
mod rotation;
mod rpcs;
mod shutdown;
mod stream;
mod support;
mod throttle;
