//! The grid: every expected row ([`super::expected`]) checked against Prometheus (and Tempo), marked
//! ✔ seen, ✘ missing, *expected gap* (the visibility matrix says OBI v0.14 cannot show it), or
//! "not exercised" (nothing in the run calls it, so its absence proves nothing).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::expected::{Check, Item};
use super::tempo;
use super::visibility::Matrix;
use crate::prom;

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Seen,
    Missing,
    /// Not seen, and the matrix says OBI cannot show it (the reason).
    Gap(String),
    /// Seen although the matrix lists a gap: the matrix is out of date.
    SeenDespiteGap,
    NotExercised,
    /// Not checked (why).
    Unchecked(String),
}

impl Status {
    pub fn mark(&self) -> &'static str {
        match self {
            Status::Seen => "✔",
            Status::Missing => "✘",
            Status::Gap(_) => "gap",
            Status::SeenDespiteGap => "✔!",
            Status::NotExercised => "–",
            Status::Unchecked(_) => "?",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub item: Item,
    pub status: Status,
    /// What the query returned (traffic in the window), when it ran.
    pub value: Option<f64>,
}

/// Where to look.
#[derive(Debug, Clone)]
pub struct Backends {
    pub prometheus: String,
    /// `None`: the Tempo rows are reported as unchecked.
    pub tempo: Option<String>,
    /// Tempo search range (Unix seconds).
    pub since: u64,
    pub until: u64,
}

/// Checks every item; `exercised` holds the keys the run's scenario makes happen.
pub async fn check(
    items: &[Item],
    exercised: &BTreeSet<String>,
    matrix: &Matrix,
    backends: &Backends,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for item in items {
        let gap = matrix
            .gap(item.protocol, item.signal)
            .map(|e| e.reason.clone());
        let (seen, value) = match &item.check {
            Check::Traffic(q) => {
                let v = prom::query_value(&backends.prometheus, q).await?;
                (Some(v.is_some_and(|v| v > 0.0)), v)
            }
            Check::Absent(q) => {
                let v = prom::query_value(&backends.prometheus, q).await?;
                // Seen = the bad thing did not happen.
                (Some(!v.is_some_and(|v| v > 0.0)), v)
            }
            Check::Tempo(service) => match &backends.tempo {
                Some(url) => {
                    let n = tempo::traces_of(url, service, backends.since, backends.until).await?;
                    #[allow(clippy::cast_precision_loss)]
                    (Some(n > 0), Some(n as f64))
                }
                None => (None, None),
            },
            Check::Matrix => (None, None),
        };
        let status = match (seen, gap) {
            (Some(true), Some(_)) => Status::SeenDespiteGap,
            (Some(true), None) => Status::Seen,
            (_, Some(reason)) => Status::Gap(reason),
            (Some(false), None) if matches!(item.check, Check::Absent(_)) => Status::Missing,
            (Some(false), None) if exercised.contains(&item.key()) => Status::Missing,
            (Some(false), None) => Status::NotExercised,
            (None, None) => Status::Unchecked(match item.check {
                Check::Tempo(_) => "no Tempo URL given".into(),
                _ => "no query can show it and the matrix lists no gap".into(),
            }),
        };
        rows.push(Row {
            item: item.clone(),
            status,
            value,
        });
    }
    Ok(rows)
}

/// No ✘ and no row contradicting the matrix.
pub fn passed(rows: &[Row]) -> bool {
    !rows
        .iter()
        .any(|r| matches!(r.status, Status::Missing | Status::SeenDespiteGap))
}

/// The grid, grouped by protocol × signal, then a count per status.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let mut last = ("", "");
    for r in rows {
        let cell = (r.item.protocol, r.item.signal);
        if cell != last {
            let _ = writeln!(out, "{} × {}", cell.0, cell.1);
            last = cell;
        }
        let detail = match &r.status {
            Status::Gap(reason) => format!("expected gap: {reason}"),
            Status::SeenDespiteGap => {
                "seen, but visibility.yaml lists a gap: update the matrix".into()
            }
            Status::NotExercised => "not exercised by the run".into(),
            Status::Unchecked(why) => format!("not checked: {why}"),
            Status::Missing if is_traffic_row(r) => "nothing in the window".into(),
            Status::Missing => format!("found {}", r.value.unwrap_or_default()),
            Status::Seen => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<3} {:<58} {}",
            r.status.mark(),
            r.item.subject,
            detail
        );
    }
    let count = |f: fn(&Status) -> bool| rows.iter().filter(|r| f(&r.status)).count();
    let _ = writeln!(
        out,
        "\n{} seen ✔, {} missing ✘, {} expected gaps, {} not exercised, {} unchecked, {} contradicting the matrix",
        count(|s| *s == Status::Seen),
        count(|s| *s == Status::Missing),
        count(|s| matches!(s, Status::Gap(_))),
        count(|s| *s == Status::NotExercised),
        count(|s| matches!(s, Status::Unchecked(_))),
        count(|s| *s == Status::SeenDespiteGap),
    );
    out
}

/// A row that wants traffic (not one that wants a bad value absent, such as method `*`).
fn is_traffic_row(r: &Row) -> bool {
    !matches!(r.item.check, Check::Absent(_))
}
