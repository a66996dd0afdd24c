//! The docs cannot rot: README.md and docs/*.md checked against the repository — links and
//! anchors, OBI metric and label names against the pinned list the dashboards use, `just` recipes
//! against `just --summary`, command blocks against the `runs=` convention (xtask::tidy::docs), the
//! `runs=here` blocks run, README's index against the docs folder, docs/troubleshooting.md against the
//! scenario catalog (both ways), and every kubectl command against the rendered kind overlay.

use std::time::Duration;

use xtask::tidy::dashboards::names::Catalog;
use xtask::tidy::docs::checks::{
    command_blocks, config_quotes, just_recipes, links, metric_names, panel_titles, promql_blocks,
    recipes, run_here,
};
use xtask::tidy::docs::markdown::{anchors, parse, slug};
use xtask::tidy::docs::{Doc, cronjobs, kubectl, load_all, troubleshooting};

fn docs() -> Vec<Doc> {
    load_all().unwrap()
}

fn assert_none(what: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s)\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn docs_slugs_follow_github_rules() {
    // Cases GitHub renders (checked against headings of this repo's docs on github.com's rules).
    assert_eq!(slug("HTTP (`mop-http`)"), "http-mop-http");
    assert_eq!(
        slug("How the manifests are tested (`just test-manifests`, part of `just test`)"),
        "how-the-manifests-are-tested-just-test-manifests-part-of-just-test"
    );
    assert_eq!(slug("Scenario 2: slow query"), "scenario-2-slow-query");
    assert_eq!(slug("Sent vs seen — OBI's view"), "sent-vs-seen--obis-view");
    assert_eq!(
        slug("[Links](x.md) keep *their* text"),
        "links-keep-their-text"
    );
    let text = "# Usage\n\n```sh\n# not a heading\n```\n## Usage\n";
    assert_eq!(anchors(&parse(text)), ["usage", "usage-1"]);
}

#[test]
fn docs_links_and_anchors_resolve() {
    assert_none("links", links(&docs()));
}

#[test]
fn docs_links_check_catches_a_broken_link_and_anchor() {
    let bad = Doc {
        rel: "docs/x.md".into(),
        text: "[a](nope.md) [b](catalog.md#no-such-heading) [c](catalog.md#api) [d](#top)\n# Top\n"
            .into(),
    };
    let p = links(&[bad]);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].contains("nope.md") && p[1].contains("#no-such-heading"));
}

#[test]
fn docs_name_only_obi_metrics_and_labels_of_the_pinned_version() {
    let catalog = Catalog::load().unwrap();
    assert_none("OBI names", metric_names(&docs(), &catalog));
    // The check itself: an unknown name and an unmarked old name are findings; a marked one is not.
    let probe = Doc {
        rel: "probe.md".into(),
        text: "`http_server_duration_seconds`\n`rpc_grpc_status_code`\n\
               old names, do not use: `rpc_grpc_status_code`\n`rpc_method` `db_client_operation_duration_seconds_bucket`\n"
            .into(),
    };
    let p = metric_names(&[probe], &catalog);
    assert_eq!(p.len(), 2, "{p:#?}");
}

#[test]
fn docs_name_only_existing_just_recipes() {
    let known = just_recipes().unwrap();
    assert!(known.contains("up") && known.contains("dev"), "{known:?}");
    assert_none("recipes", recipes(&docs(), &known));
    let probe = Doc {
        rel: "probe.md".into(),
        text:
            "Run `just no-such-recipe` or `just <recipe>`.\n```sh\ncd x && just also-missing\n```\n"
                .into(),
    };
    assert_eq!(recipes(&[probe], &known).len(), 2);
}

#[test]
fn docs_command_blocks_say_where_they_run_and_runnable_ones_pass() {
    let (problems, here) = command_blocks(&docs());
    assert_none("command blocks", problems);
    assert!(
        !here.is_empty(),
        "no runs=here block: the runner is untested"
    );
    for (file, block) in &here {
        if let Err(e) = run_here(block, Duration::from_secs(60)) {
            panic!("{file}:{}: runs=here block failed: {e:#}", block.line);
        }
    }
}

#[test]
fn docs_readme_indexes_every_doc() {
    let all = docs();
    let readme = all.iter().find(|d| d.rel == "README.md").unwrap();
    let linked: Vec<String> = parse(&readme.text)
        .prose
        .iter()
        .flat_map(|l| xtask::tidy::docs::markdown::links(l.text))
        .map(|l| l.target.split('#').next().unwrap_or("").to_owned())
        .collect();
    let missing: Vec<&str> = all
        .iter()
        .map(|d| d.rel.as_str())
        .filter(|r| r.starts_with("docs/") && !linked.iter().any(|l| l == r))
        .collect();
    assert!(missing.is_empty(), "README.md does not link: {missing:?}");
}

/// Every panel (and row) title of grafana/dashboards/*.json.
fn panel_title_set() -> std::collections::BTreeSet<String> {
    let mut titles = std::collections::BTreeSet::new();
    for d in xtask::tidy::dashboards::model::Dashboard::load_all().unwrap() {
        for p in d.panels() {
            if let Some(t) = p["title"].as_str() {
                titles.insert(t.to_owned());
            }
        }
    }
    titles
}

#[test]
fn docs_guides_name_real_panels() {
    let titles = panel_title_set();
    assert!(titles.contains("DLQ rate"), "{titles:?}");
    assert_none("panel titles", panel_titles(&docs(), &titles));
    let probe = Doc {
        rel: "docs/http-instrumentation.md".into(),
        text: "| a | **DLQ rate** |\n| b | **No such panel** |\nProse **bold** is free.\n".into(),
    };
    assert_eq!(panel_titles(&[probe], &titles).len(), 1);
}

#[test]
fn docs_config_quotes_match_the_files_they_quote() {
    let all = docs();
    let quoted = all
        .iter()
        .flat_map(|d| parse(&d.text).blocks)
        .filter(|b| b.attr("from").is_some())
        .count();
    assert!(
        quoted >= 4,
        "expected the guides' OBI config quotes, found {quoted}"
    );
    assert_none("config quotes", config_quotes(&all));
    let obi = "kustomize/components/observability/config/obi-config.yml";
    let probe = |body: &str| Doc {
        rel: "probe.md".into(),
        text: format!("```yaml from={obi}\n{body}```\n"),
    };
    assert!(config_quotes(&[probe("ebpf:\n  buffer_sizes:\n    kafka: 8192\n")]).is_empty());
    assert_eq!(
        config_quotes(&[probe("ebpf:\n  buffer_sizes:\n    kafka: 4096\n")]).len(),
        1
    );
    assert_eq!(
        config_quotes(&[probe("routes:\n  patterns: [/nope]\n")]).len(),
        1
    );
}

#[test]
fn docs_promql_blocks_parse_and_use_known_names() {
    let catalog = Catalog::load().unwrap();
    let all = docs();
    let blocks = all
        .iter()
        .flat_map(|d| parse(&d.text).blocks)
        .filter(|b| b.lang() == "promql")
        .count();
    assert!(
        blocks >= 3,
        "expected the guides' PromQL blocks, found {blocks}"
    );
    assert_none("PromQL blocks", promql_blocks(&all, &catalog));
    let probe = Doc {
        rel: "probe.md".into(),
        text: "```promql\nsum(rate(rpc_server_call_duration_seconds_count{rpc_grpc_status_code=\"0\"}[5m]))\n```\n".into(),
    };
    assert_eq!(promql_blocks(&[probe], &catalog).len(), 1);
}

fn troubleshooting_page() -> Doc {
    docs()
        .into_iter()
        .find(|d| d.rel == troubleshooting::PAGE)
        .expect("docs/troubleshooting.md exists")
}

#[test]
fn docs_troubleshooting_has_a_section_per_scenario_and_a_scenario_per_section() {
    let catalog = lab::scenarios::load_all().unwrap();
    let page = troubleshooting_page();
    assert_none("troubleshooting", troubleshooting::check(&page, &catalog));
    let ids: Vec<String> = troubleshooting::sections(&page.text)
        .into_iter()
        .filter_map(|s| s.id)
        .collect();
    assert_eq!(ids.len(), catalog.len(), "{ids:?}");
}

#[test]
fn docs_troubleshooting_bold_phrases_are_panel_titles() {
    let titles = panel_title_set();
    let page = troubleshooting_page();
    assert_none("bold panels", troubleshooting::bold_panels(&page, &titles));
    let probe = Doc {
        rel: troubleshooting::PAGE.into(),
        text: "**Symptom.** **Memory:** **[a](#a)** **DLQ rate** **DLQ rates**\n".into(),
    };
    let p = troubleshooting::bold_panels(&probe, &titles);
    assert!(p.len() == 1 && p[0].contains("**DLQ rates**"), "{p:#?}");
}

#[test]
fn docs_troubleshooting_check_catches_drift_both_ways() {
    let catalog = lab::scenarios::load_all().unwrap();
    let page = troubleshooting_page();
    let probe = |text: String| {
        troubleshooting::check(
            &Doc {
                rel: troubleshooting::PAGE.into(),
                text,
            },
            &catalog,
        )
    };
    let s = lab::scenarios::find("http-error-burst").unwrap();
    let first_line = s.signal.promql.lines().next().unwrap().trim().to_owned();
    let cases: Vec<(&str, String)> = vec![
        // A scenario without its section.
        (
            "has no",
            page.text
                .replace("### `http-error-burst` —", "### The catalog's 5xx burst —"),
        ),
        // A section without a scenario.
        (
            "a section without a scenario",
            page.text.replace(
                "## The lab's own troubleshooting",
                "### `http-no-such-fault` — Made up\n\n## The lab's own troubleshooting",
            ),
        ),
        // The query drifted from the YAML.
        (
            "not the signal's query",
            page.text
                .replacen(&first_line, &first_line.replace("5..", "4.."), 1),
        ),
        // The threshold, the panel, the trace query, the way to run it.
        (
            "threshold `> 0.2`",
            page.text.replacen("`> 0.2`", "`> 0.25`", 1),
        ),
        (
            "its panel **Error ratio by service and route**",
            page.text.replacen(
                "→ panel **Error ratio by service and route**",
                "→ panel **Errors**",
                1,
            ),
        ),
        (
            "exactly one ```traceql",
            page.text.replacen(
                s.signal.traceql.as_deref().unwrap(),
                "{ status = error }",
                1,
            ),
        ),
        (
            "just scenario http-error-burst --assert",
            page.text.replacen(
                "just scenario http-error-burst --assert",
                "just scenario http-error-burst",
                1,
            ),
        ),
        // A revert the catalog has (sql-postgres-outage restores the cut).
        (
            "restore deployment/orders → statefulset/postgres",
            page.text.replacen(
                "restore deployment/orders → statefulset/postgres",
                "restore deployment/orders",
                1,
            ),
        ),
    ];
    for (want, text) in cases {
        assert!(text != page.text, "the probe for {want:?} changed nothing");
        let p = probe(text).join("\n");
        assert!(
            p.contains(want),
            "expected a finding with {want:?}, got:\n{p}"
        );
    }
}

fn kind_objects() -> Vec<lab::manifests::render::Object> {
    let overlay = xtask::project_root().join("kustomize/overlays/kind");
    lab::manifests::render::render(&overlay).unwrap().objects
}

#[test]
fn docs_load_testing_cronjob_table_matches_the_manifests() {
    let objects = kind_objects();
    let page = docs()
        .into_iter()
        .find(|d| d.rel == cronjobs::PAGE)
        .unwrap();
    assert_none("CronJob table", cronjobs::check(&page, &objects));
    // The check itself: a changed schedule, a dropped row, an invented row.
    let probe = |from: &str, to: &str| {
        assert!(page.text.contains(from), "{from:?} on the page");
        let text = page.text.replacen(from, to, 1);
        cronjobs::check(
            &Doc {
                rel: page.rel.clone(),
                text,
            },
            &objects,
        )
        .join("\n")
    };
    assert!(probe("`*/10 * * * *`", "`*/15 * * * *`").contains("schedule"));
    assert!(probe("| `loadgen-spike` |", "| spike |").contains("has no row"));
    assert!(probe("| `loadgen-spike` |", "| `loadgen-soak` |").contains("no CronJob loadgen-soak"));
    assert!(probe("--progress-every 60s`", "--progress-every 30s`").contains("args"));
}

#[test]
fn docs_kubectl_commands_name_the_kind_overlays_objects() {
    let objects = kind_objects();
    let all = docs();
    let commands = kubectl::commands(&all);
    assert!(
        commands
            .iter()
            .filter(|c| c.at.starts_with(troubleshooting::PAGE))
            .count()
            >= 10,
        "expected the troubleshooting page's kubectl commands"
    );
    assert_none("kubectl commands", kubectl::check(&commands, &objects));
    let probe = Doc {
        rel: "probe.md".into(),
        text: "`kubectl -n obi logs ds/obi` `kubectl -n mop get deploy auth`\n\
               `kubectl scale sts redis --replicas=0` `kubectl -n mop scale sts/redis --replicas=0`\n\
               ```sh\nkubectl -n mop logs job/<name> && kubectl get pods -A\n\
               kubectl -n observability port-forward svc/grafanna 3000\n\
               kubectl -n mop delete pod -l app.kubernetes.io/name=redis\n\
               kubectl -n mop delete pod -l app.kubernetes.io/name=valkey\n```\n"
            .into(),
    };
    let p = kubectl::check(&kubectl::commands(&[probe]), &objects);
    // `scale sts redis` without -n: two findings (no namespace; redis is a Deployment).
    assert_eq!(p.len(), 5, "{p:#?}");
    assert!(
        p[4].contains("pod label mop/app.kubernetes.io/name=valkey"),
        "{p:#?}"
    );
    assert!(
        p[0].contains("no `-n") && p[1].contains("no StatefulSet */redis"),
        "{p:#?}"
    );
    assert!(
        p[2].contains("Deployment mop/redis") && p[3].contains("svc/grafanna"),
        "{p:#?}"
    );
}
