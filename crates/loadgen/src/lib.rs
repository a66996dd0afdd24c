//! `loadgen`: an open-model load generator for the MOP lab.
//!
//! Latency is measured from each request's *intended* send time (coordinated-omission-free, like wrk2
//! and pgbench `--rate`) as well as from its actual send time; results go into HDR histograms, never
//! into a list of samples. Reading order: [`schedule`] (when each arrival is meant to happen),
//! [`driver`] (what an arrival does), [`stats`] (what is recorded), [`runner`] (the loop),
//! [`report`] (table, JSON), [`threshold`] (conditions checked at start-up, evaluated at the end), [`plot`] (SVG), [`scenario`] (YAML files and built-in profiles), [`cli`].

pub mod cli;
pub mod driver;
pub mod plot;
pub mod report;
pub mod run_cli;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod stats;
pub mod threshold;
