//! Integration tests for `loadgen`: the runner against real HTTP servers on loopback.

mod cli;
mod runner;
mod support;
