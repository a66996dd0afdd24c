//! Integration tests for `events` against a real Kafka-protocol broker (tansu, from `testkit::kafka`).
//! Outcomes are verified by reading the topics back, never by trusting the services' own counters.

mod delivery;
mod failures;
mod intake;
mod memory;
mod openapi;
mod support;
