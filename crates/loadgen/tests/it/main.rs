//! Integration tests for `loadgen`: the runner against real HTTP servers on loopback.

mod cli;
mod grpc;
mod http;
mod kafka;
mod redis;
mod runner;
mod sql;
mod support;
