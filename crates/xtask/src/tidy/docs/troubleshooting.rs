//! docs/troubleshooting.md against the scenario catalog (crates/lab/scenarios/*.yaml): under its
//! `## Scenarios` heading, one `###` section per scenario and one scenario per section, each headed
//! `` `id` — title `` and stating the catalog's own facts — the panel, the signal's PromQL and
//! thresholds, the TraceQL, the kubectl lines of the trigger and the revert, how to run it — so a
//! changed YAML file fails the docs test instead of leaving the page to say something else.

use std::collections::BTreeSet;

use super::Doc;
use super::markdown::{self, Block, Line};
use lab::scenarios::Scenario;
use lab::scenarios::model::{Action, Assertion, Op};

/// The page these checks are for.
pub const PAGE: &str = "docs/troubleshooting.md";

/// The anchor of the `##` heading whose `###` sections are the scenarios.
pub const SCENARIOS_ANCHOR: &str = "scenarios";

/// One `###` section under `## Scenarios`: its heading, the scenario id its heading starts with (a
/// code span), and what it holds up to the next heading of level ≤ 3.
#[derive(Debug)]
pub struct Section<'a> {
    pub heading: String,
    pub id: Option<String>,
    pub line: usize,
    pub prose: Vec<Line<'a>>,
    pub blocks: Vec<Block>,
}

/// The heading level and text of a prose line, if it is an ATX heading.
fn heading(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_start();
    let hashes = t.chars().take_while(|c| *c == '#').count();
    ((1..=6).contains(&hashes) && t[hashes..].starts_with(' '))
        .then(|| (hashes, t[hashes..].trim()))
}

/// The `###` sections under the `## Scenarios` heading, in order.
pub fn sections(text: &str) -> Vec<Section<'_>> {
    let parsed = markdown::parse(text);
    let mut out: Vec<Section<'_>> = Vec::new();
    let mut inside = false;
    // Where the current section ends is only known at the next heading; blocks are placed after.
    let mut ends: Vec<usize> = Vec::new();
    for line in parsed.prose {
        if let Some((level, title)) = heading(line.text) {
            if level <= 3 && out.len() > ends.len() {
                ends.push(line.number);
            }
            if level <= 2 {
                inside = level == 2 && markdown::slug(title) == SCENARIOS_ANCHOR;
                continue;
            }
            if inside && level == 3 {
                let id = title
                    .starts_with('`')
                    .then(|| markdown::code_spans(title).first().map(|s| (*s).to_owned()))
                    .flatten();
                out.push(Section {
                    heading: title.to_owned(),
                    id,
                    line: line.number,
                    prose: Vec::new(),
                    blocks: Vec::new(),
                });
                continue;
            }
        }
        if inside
            && out.len() > ends.len()
            && let Some(s) = out.last_mut()
        {
            s.prose.push(line);
        }
    }
    if out.len() > ends.len() {
        ends.push(usize::MAX);
    }
    for b in parsed.blocks {
        if let Some(i) = out
            .iter()
            .zip(&ends)
            .position(|(s, end)| s.line < b.line && b.line < *end)
        {
            out[i].blocks.push(b);
        }
    }
    out
}

/// Whitespace-insensitive form of a query (the YAML folds and indents, the page may too).
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `> 0.2`: how the page writes an assertion's comparison, as in `lab scenario`'s plans.
pub fn comparison(a: &Assertion) -> String {
    let op = match a.op {
        Op::Above => ">",
        Op::Below => "<",
    };
    format!("{op} {}", a.threshold)
}

/// The command lines the page must show for a scenario's actions (trigger and revert): each kubectl
/// line `lab scenario` runs, and for a cut and its restore the edge (`cut A → B:port`, `restore A → B`
/// — NetworkPolicy changes computed from the overlay, see scenarios::netpol, so named, not quoted).
pub fn action_texts(s: &Scenario) -> Vec<String> {
    s.trigger
        .actions
        .iter()
        .chain(&s.revert)
        .map(|a| match a {
            Action::Cut { from, to, port } => format!("cut {from} → {to}:{port}"),
            Action::Restore { from, to } => format!("restore {from} → {to}"),
            other => other.describe(),
        })
        .collect()
}

/// Every problem with the page's scenario sections, as `file:line: problem`.
pub fn check(doc: &Doc, catalog: &[Scenario]) -> Vec<String> {
    let mut problems = Vec::new();
    let sections = sections(&doc.text);
    if sections.is_empty() {
        problems.push(format!(
            "{}: no `### ` sections under a `## Scenarios` heading",
            doc.rel
        ));
    }
    let mut seen = BTreeSet::new();
    for sec in &sections {
        let at = format!("{}:{}", doc.rel, sec.line);
        let Some(id) = &sec.id else {
            problems.push(format!(
                "{at}: section `{}` under Scenarios does not start with a scenario id in a code span",
                sec.heading
            ));
            continue;
        };
        if !seen.insert(id.clone()) {
            problems.push(format!("{at}: a second section for scenario {id}"));
            continue;
        }
        match catalog.iter().find(|s| &s.id == id) {
            None => problems.push(format!(
                "{at}: no scenario {id} in crates/lab/scenarios/ (a section without a scenario)"
            )),
            Some(s) => problems.extend(
                section(sec, s)
                    .into_iter()
                    .map(|p| format!("{at}: {id}: {p}")),
            ),
        }
    }
    for s in catalog.iter().filter(|s| !seen.contains(&s.id)) {
        problems.push(format!(
            "{}: scenario {} ({}) has no `### `{}` — …` section under Scenarios",
            doc.rel, s.id, s.title, s.id
        ));
    }
    problems
}

/// One section against its scenario.
fn section(sec: &Section<'_>, s: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    let want = format!("`{}` — {}", s.id, s.title);
    if sec.heading != want {
        out.push(format!(
            "heading is `{}`, the catalog's is `{want}`",
            sec.heading
        ));
    }
    let spans: Vec<&str> = sec
        .prose
        .iter()
        .flat_map(|l| markdown::code_spans(l.text))
        .collect();
    let block_lines: Vec<&str> = sec
        .blocks
        .iter()
        .flat_map(|b| b.body.lines().map(str::trim))
        .collect();
    let shows = |text: &str| {
        spans.contains(&text)
            || block_lines
                .iter()
                .any(|l| l.trim_start_matches("$ ").split(" #").next().map(str::trim) == Some(text))
    };

    let dashboard = format!("`{}`", s.panel.dashboard);
    let title = format!("**{}**", s.panel.title);
    if !sec
        .prose
        .iter()
        .any(|l| l.text.contains(&dashboard) && l.text.contains(&title))
    {
        out.push(format!(
            "no line names dashboard {dashboard} and its panel {title} (the scenario's panel)"
        ));
    }

    let promql: Vec<String> = sec
        .blocks
        .iter()
        .filter(|b| b.lang() == "promql")
        .map(|b| squash(&b.body))
        .collect();
    let signal = squash(&s.signal.promql);
    match promql.first() {
        None => out.push("no ```promql block with the signal's query".into()),
        Some(q) if *q != signal => out.push(format!(
            "the first ```promql block is not the signal's query:\n  page:    {q}\n  catalog: {signal}"
        )),
        Some(_) => {}
    }
    let recovery = squash(&s.recovery.promql);
    if recovery != signal && !promql.contains(&recovery) {
        out.push(format!(
            "no ```promql block with the recovery's query: {recovery}"
        ));
    }
    for (what, a) in [("signal", &s.signal), ("recovery", &s.recovery)] {
        let c = comparison(a);
        if !spans.contains(&c.as_str()) {
            out.push(format!(
                "the {what}'s threshold `{c}` is not stated (as a code span)"
            ));
        }
    }

    let traceql: Vec<&str> = sec
        .blocks
        .iter()
        .filter(|b| b.lang() == "traceql")
        .map(|b| b.body.trim())
        .collect();
    match (&s.signal.traceql, traceql.as_slice()) {
        (None, []) => {}
        (None, _) => out.push("a ```traceql block, but the scenario has no traceql".into()),
        (Some(t), [page]) if page == t => {}
        (Some(t), _) => out.push(format!("needs exactly one ```traceql block: {t}")),
    }

    for text in action_texts(s) {
        let found = if text.starts_with("kubectl") {
            shows(&text)
        } else {
            spans.iter().any(|sp| sp.contains(&text))
                || block_lines.iter().any(|l| l.contains(&text))
        };
        if !found {
            out.push(format!("does not show the action `{text}`"));
        }
    }
    let run = format!("just scenario {} --assert", s.id);
    if !shows(&run) {
        out.push(format!("does not show how to run it: `{run}`"));
    }
    out
}

/// Every **bold** phrase of the page is a panel title of the committed dashboards, except labels
/// (ending in `.` or `:`, like **Symptom.**) and links — so a renamed panel fails here too, not only
/// the scenarios' own panels.
pub fn bold_panels(doc: &Doc, titles: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for line in markdown::parse(&doc.text).prose {
        for phrase in line.text.split("**").skip(1).step_by(2) {
            let label = phrase.ends_with('.') || phrase.ends_with(':') || phrase.contains("](");
            if !label && !titles.contains(phrase) {
                problems.push(format!(
                    "{}:{}: **{phrase}** is not a panel title (a label ends in `.` or `:`)",
                    doc.rel, line.number
                ));
            }
        }
    }
    problems
}
