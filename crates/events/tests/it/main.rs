//! Integration tests for `events` against a real Apache Kafka broker (from `testkit::kafka`).
//! Outcomes are verified by reading the topics back, never by trusting the services' own counters.

mod crash;
mod delivery;
mod failures;
mod intake;
mod memory;
mod openapi;
mod support;
