//! `events`: the lab's Kafka reference service — an HTTP intake that produces order events, and
//! consumer-group members that turn them into notifications and analytics, at least once.
//!
//! OBI sees the intake as an HTTP server and a Kafka producer (`send orders.created`), and each
//! consumer as a Kafka consumer (`process orders.created`) and producer (`send notifications`).
//!
//! Reading order: [`config`] → [`event`] (the event and its validation rules) → [`kafka`] (topics,
//! client settings, headers; [`common::kafka_brokers`] says when a client forgot every broker) → [`error`] (what the intake answers when it fails) → [`producer`]
//! (the intake: start-up, Kafka send, HTTP handlers) → [`consumer`] (dispatcher, partition
//! workers, roles, admin server).

pub mod config;
pub mod consumer;
pub mod error;
pub mod event;
pub mod kafka;
pub mod producer;

pub use config::{ConsumerConfig, KafkaArgs, ProducerConfig, Role};
pub use producer::Intake;
