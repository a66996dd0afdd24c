//! docs/load-testing.md's table of the background CronJobs against the rendered kind overlay: one row
//! per CronJob and one CronJob per row, and each row's schedule, loadgen arguments and deadline are the
//! manifest's — so a changed CronJob cannot leave the page describing the old one.

use super::Doc;
use super::markdown;
use lab::manifests::render::Object;

/// The page and the anchor of the heading whose table lists the CronJobs.
pub const PAGE: &str = "docs/load-testing.md";
pub const HEADING: &str = "the-background-cronjobs";

/// One table row: its line, and its code spans (name, schedule, args, deadline).
fn rows(text: &str) -> Vec<(usize, Vec<&str>)> {
    let parsed = markdown::parse(text);
    let mut inside = false;
    let mut out = Vec::new();
    for line in parsed.prose {
        let t = line.text.trim_start();
        if t.starts_with('#') {
            inside = markdown::slug(t.trim_start_matches('#')) == HEADING;
            continue;
        }
        if inside && t.starts_with("| `") {
            out.push((line.number, markdown::code_spans(line.text)));
        }
    }
    out
}

/// Every problem with the table, as `file:line: problem`.
pub fn check(doc: &Doc, objects: &[Object]) -> Vec<String> {
    let mut problems = Vec::new();
    let cronjobs: Vec<&Object> = objects.iter().filter(|o| o.kind == "CronJob").collect();
    let rows = rows(&doc.text);
    for (line, spans) in &rows {
        let at = format!("{}:{line}", doc.rel);
        let [name, schedule, args, deadline, ..] = spans.as_slice() else {
            problems.push(format!(
                "{at}: a row needs `name`, `schedule`, `run …` and `activeDeadlineSeconds: N`"
            ));
            continue;
        };
        let Some(o) = cronjobs.iter().find(|o| o.name == *name) else {
            problems.push(format!(
                "{at}: the kind overlay has no CronJob {name} (a row without a CronJob)"
            ));
            continue;
        };
        let want_args: Vec<&str> = o
            .value
            .pointer("/spec/jobTemplate/spec/template/spec/containers/0/args")
            .and_then(|a| a.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let want_deadline = o
            .value
            .pointer("/spec/jobTemplate/spec/activeDeadlineSeconds")
            .map(ToString::to_string)
            .unwrap_or_default();
        let facts = [
            (
                "schedule",
                *schedule,
                o.str_at("/spec/schedule").unwrap_or("").to_owned(),
            ),
            ("args", *args, want_args.join(" ")),
            (
                "deadline",
                *deadline,
                format!("activeDeadlineSeconds: {want_deadline}"),
            ),
        ];
        for (what, page, manifest) in facts {
            if page != manifest {
                problems.push(format!(
                    "{at}: {name}'s {what} is `{page}` here, `{manifest}` in the manifest"
                ));
            }
        }
    }
    for o in &cronjobs {
        if !rows
            .iter()
            .any(|(_, s)| s.first() == Some(&o.name.as_str()))
        {
            problems.push(format!(
                "{}: CronJob {} has no row in the table under #{HEADING}",
                doc.rel,
                o.id()
            ));
        }
    }
    problems
}
