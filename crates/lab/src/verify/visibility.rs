//! The visibility matrix (crates/lab/visibility.yaml, embedded): protocol × signal → seen or gap, with
//! the reason and where the fact comes from. The grid asks it whether a missing row is an expected gap.

use anyhow::{Context, bail};
use serde::Deserialize;

/// The file, compiled in: `lab verify` needs no checkout to know the matrix it checks against.
pub const YAML: &str = include_str!("../../visibility.yaml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// The OBI version the matrix describes (a minor release may rename telemetry: OBI's VERSIONING.md).
    pub obi: String,
    pub matrix: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub protocol: String,
    pub signal: String,
    pub status: Status,
    pub reason: String,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Seen,
    Gap,
}

impl Matrix {
    pub fn load() -> anyhow::Result<Matrix> {
        Self::parse(YAML)
    }

    /// Parses and checks: one entry per (protocol, signal), a reason and a source on each.
    pub fn parse(text: &str) -> anyhow::Result<Matrix> {
        let m: Matrix = serde_yaml::from_str(text).context("crates/lab/visibility.yaml")?;
        let mut seen = std::collections::BTreeSet::new();
        for e in &m.matrix {
            if !seen.insert((e.protocol.as_str(), e.signal.as_str())) {
                bail!("visibility.yaml: {} × {} twice", e.protocol, e.signal);
            }
            if e.reason.trim().is_empty() || e.source.trim().is_empty() {
                bail!(
                    "visibility.yaml: {} × {} needs a reason and a source",
                    e.protocol,
                    e.signal
                );
            }
        }
        Ok(m)
    }

    pub fn entry(&self, protocol: &str, signal: &str) -> Option<&Entry> {
        self.matrix
            .iter()
            .find(|e| e.protocol == protocol && e.signal == signal)
    }

    /// The entry when (protocol, signal) is a known gap.
    pub fn gap(&self, protocol: &str, signal: &str) -> Option<&Entry> {
        self.entry(protocol, signal)
            .filter(|e| e.status == Status::Gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_matrix_parses_and_names_the_known_gaps() {
        let m = Matrix::load().unwrap();
        assert_eq!(m.obi, "v0.14.0");
        assert!(m.gap("redis-pubsub", "client metrics").is_some());
        assert!(m.gap("http", "in-process link").is_some());
        assert!(m.gap("http", "server metrics").is_none());
        assert_eq!(
            m.entry("grpc", "server metrics").map(|e| e.status),
            Some(Status::Seen)
        );
    }

    #[test]
    fn duplicates_and_missing_sources_are_refused() {
        let entry = "{protocol: http, signal: traces, status: seen, reason: r, source: s}";
        let twice = format!("obi: v0.14.0\nmatrix: [{entry}, {entry}]");
        assert!(
            Matrix::parse(&twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let bare = "obi: v0.14.0\nmatrix: [{protocol: http, signal: traces, status: gap, reason: r, source: ' '}]";
        assert!(Matrix::parse(bare).is_err());
        let typo = "obi: v0.14.0\nmatrix: [{protocol: http, signal: traces, status: maybe, reason: r, source: s}]";
        assert!(Matrix::parse(typo).is_err());
    }
}
