//! `loadgen`: an open-model load generator for the MOP lab (work in progress).
//!
//! Reading order: [`schedule`] (when each arrival is meant to happen).

pub mod schedule;
