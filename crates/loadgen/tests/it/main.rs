//! Integration tests for `loadgen`: the runner, the drivers and the CLI against real servers and
//! backends on loopback.

mod adhoc;
mod cli;
mod grpc;
mod http;
mod kafka;
mod redis;
mod runner;
mod sql;
mod support;
