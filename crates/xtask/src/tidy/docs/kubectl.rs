//! `kubectl` commands in the docs name objects the kind overlay really renders: a workload written
//! `deploy/orders` or `statefulset kafka` must exist in the namespace the command's `-n` gives, a
//! `-l app.kubernetes.io/name=X` selector must match some workload's pods there, and a command naming
//! one must give a namespace (nothing of the lab lives in `default`). Checked against
//! `kubectl kustomize kustomize/overlays/kind`, so a renamed Deployment fails here, not for a reader.

use super::Doc;
use super::markdown;
use lab::manifests::render::Object;

/// kubectl's names for the workload kinds the docs refer to (singular, plural, short), and the kind.
/// Jobs are left out: `just load`, the CronJobs and people create them at run time under new names.
const KINDS: &[(&[&str], &str)] = &[
    (&["deploy", "deployment", "deployments"], "Deployment"),
    (&["sts", "statefulset", "statefulsets"], "StatefulSet"),
    (&["ds", "daemonset", "daemonsets"], "DaemonSet"),
    (&["cj", "cronjob", "cronjobs"], "CronJob"),
    (&["svc", "service", "services"], "Service"),
];

/// Flags whose value is the next word (the rest are switches or `--flag=value`).
const WITH_VALUE: &[&str] = &[
    "-n",
    "--namespace",
    "--context",
    "-l",
    "--selector",
    "-o",
    "--output",
    "-c",
    "--container",
    "--tail",
    "--since",
    "--timeout",
];

/// A kubectl command found in a doc: where, and its words.
#[derive(Debug, Clone)]
pub struct Command {
    pub at: String,
    pub text: String,
}

/// Every kubectl command of the docs: inline code spans, and lines of fenced blocks (split at `&&`,
/// `;` and `|`, comments cut off).
pub fn commands(docs: &[Doc]) -> Vec<Command> {
    let mut out = Vec::new();
    let mut take = |at: String, text: &str| {
        let text = text
            .split(" #")
            .next()
            .unwrap_or("")
            .trim()
            .trim_start_matches("$ ");
        if text.starts_with("kubectl ") {
            out.push(Command {
                at,
                text: text.to_owned(),
            });
        }
    };
    for doc in docs {
        let parsed = markdown::parse(&doc.text);
        for line in &parsed.prose {
            for span in markdown::code_spans(line.text) {
                for part in span.split(['&', ';', '|']) {
                    take(format!("{}:{}", doc.rel, line.number), part);
                }
            }
        }
        for b in &parsed.blocks {
            for (i, l) in b.body.lines().enumerate() {
                for part in l.split(['&', ';', '|']) {
                    take(format!("{}:{}", doc.rel, b.line + 1 + i), part);
                }
            }
        }
    }
    out
}

/// The kind an alias names (`deploy` → `Deployment`).
fn kind_of(alias: &str) -> Option<&'static str> {
    let alias = alias.split('.').next().unwrap_or(alias); // deployment.apps
    KINDS
        .iter()
        .find(|(names, _)| names.contains(&alias))
        .map(|(_, k)| *k)
}

/// The pseudo-kind of a `-l key=value` selector: some pod template in the namespace must carry it.
const SELECTOR: &str = "pod label";

/// Whether an object (or the pods it makes) carries the label `key=value`.
fn carries(o: &Object, selector: &str) -> bool {
    let Some((key, value)) = selector.split_once('=') else {
        return false;
    };
    [
        "/metadata/labels",
        "/spec/template/metadata/labels",
        "/spec/jobTemplate/spec/template/metadata/labels",
    ]
    .iter()
    .any(|p| {
        o.value
            .pointer(p)
            .and_then(|l| l.get(key))
            .and_then(|v| v.as_str())
            == Some(value)
    })
}

/// A name that stands for one (`<name>`, `{id}`, `$JOB`): not checkable.
fn placeholder(name: &str) -> bool {
    name.is_empty() || name.contains(['<', '{', '$', '*', '…'])
}

/// The workloads a command names, as (kind, name), and its namespace (`-n`), or `None` with `-A`.
fn parse(text: &str) -> (Vec<(&'static str, String)>, Option<Option<String>>) {
    let words: Vec<&str> = text.split_whitespace().skip(1).collect();
    let mut namespace: Option<Option<String>> = Some(None);
    let mut positional: Vec<&str> = Vec::new();
    let mut named = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        i += 1;
        if w == "-A" || w == "--all-namespaces" {
            namespace = None;
        } else if let Some(ns) = w
            .strip_prefix("--namespace=")
            .or_else(|| w.strip_prefix("-n="))
        {
            namespace = Some(Some(ns.to_owned()));
        } else if WITH_VALUE.contains(&w) {
            match (w, words.get(i)) {
                ("-n" | "--namespace", Some(ns)) => namespace = Some(Some((*ns).to_owned())),
                // `-l app.kubernetes.io/name=redis`: one equality selects pods by a label.
                ("-l" | "--selector", Some(sel))
                    if sel.contains('=') && !sel.contains([',', '!']) =>
                {
                    named.push((SELECTOR, (*sel).to_owned()));
                }
                _ => {}
            }
            i += 1;
        } else if let Some((_, value)) = w.strip_prefix("--").and_then(|f| f.split_once('=')) {
            // `--from=cronjob/loadgen-constant` names a workload too.
            if let Some((k, n)) = value.split_once('/')
                && let Some(kind) = kind_of(k)
            {
                named.push((kind, n.to_owned()));
            }
        } else if !w.starts_with('-') {
            positional.push(w);
        }
    }
    let mut j = 0;
    while j < positional.len() {
        let w = positional[j];
        if let Some((k, n)) = w.split_once('/') {
            if let Some(kind) = kind_of(k) {
                named.push((kind, n.to_owned()));
            }
        } else if let Some(kind) = kind_of(w)
            && let Some(n) = positional.get(j + 1)
        {
            // `kubectl -n mop get deploy auth`: TYPE NAME.
            named.push((kind, (*n).to_owned()));
            j += 1;
        }
        j += 1;
    }
    (named, namespace)
}

/// Every command naming a workload gives its namespace, and the workload is in the rendered overlay
/// in that namespace.
pub fn check(commands: &[Command], objects: &[Object]) -> Vec<String> {
    let mut problems = Vec::new();
    for c in commands {
        let (named, namespace) = parse(&c.text);
        let named: Vec<_> = named.into_iter().filter(|(_, n)| !placeholder(n)).collect();
        if named.is_empty() {
            continue;
        }
        let ns = match namespace {
            None => None, // -A: any namespace will do
            Some(Some(ns)) => Some(ns),
            Some(None) => {
                problems.push(format!(
                    "{}: `{}`: no `-n NAMESPACE` (the lab's objects are in mop, obi, observability)",
                    c.at, c.text
                ));
                None
            }
        };
        for (kind, name) in named {
            let found = objects.iter().any(|o| {
                let here = ns
                    .as_ref()
                    .is_none_or(|ns| o.namespace.as_ref() == Some(ns));
                here && if kind == SELECTOR {
                    carries(o, &name)
                } else {
                    o.kind == kind && o.name == name
                }
            });
            if !found {
                let ns = ns.as_deref().unwrap_or("*");
                let elsewhere: Vec<String> = objects
                    .iter()
                    .filter(|o| o.name == name)
                    .map(Object::id)
                    .collect();
                problems.push(format!(
                    "{}: `{}`: the kind overlay has no {kind} {ns}/{name}{}",
                    c.at,
                    c.text,
                    if elsewhere.is_empty() {
                        String::new()
                    } else {
                        format!(" (it has {})", elsewhere.join(", "))
                    }
                ));
            }
        }
    }
    problems
}
