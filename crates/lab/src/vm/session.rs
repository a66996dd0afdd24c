//! One recorded OBI session, run inside the VM: the local lab with OBI (`lab dev --obi`: OBI first,
//! the apps once its tracer is loaded, a Prometheus scraping it), a fixed-rate loadgen run, OBI's
//! scrapes and spans recorded, then verify's grid against the guest's Prometheus and a span table.
//! Everything lands in the results folder (shared with the host); the exit code says whether the
//! grid passed.

use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::recording::{self, Scrape};
use crate::local::plan::sibling_bin_dir;
use crate::local::process::log_tail;
use crate::verify::{completeness, expected, grid, steps, visibility};

/// Where `lab dev --obi` serves OBI's metrics and its Prometheus (crates/lab/src/obi: the standard
/// ports; the guest has nothing else listening).
pub const OBI_METRICS: &str = "http://127.0.0.1:9400/metrics";
pub const OBI_INTERNAL: &str = "http://127.0.0.1:9400/internal/metrics";
pub const PROMETHEUS: &str = "http://127.0.0.1:9090";

/// The files of a session (names the recording keeps: other tools read exactly these).
pub const METRICS: &str = "metrics.om";
pub const SPANS: &str = "spans.jsonl";
pub const REPORT: &str = "loadgen-report.json";
pub const GRID: &str = "grid.txt";
pub const TIMINGS: &str = "timings.json";

/// The span types the lab's protocols make (OBI's `request.EventType` names), with the span kind
/// that tells Kafka's send from its processing.
pub const SPAN_TYPES: [(&str, &str, &str); 7] = [
    ("HTTP", "SPAN_KIND_SERVER", "HTTP server request"),
    ("HTTPClient", "SPAN_KIND_CLIENT", "HTTP client call"),
    ("GRPC", "SPAN_KIND_SERVER", "gRPC server call"),
    ("SQLClient", "SPAN_KIND_CLIENT", "PostgreSQL statement"),
    ("RedisClient", "SPAN_KIND_CLIENT", "Redis command"),
    ("KafkaClient", "SPAN_KIND_PRODUCER", "Kafka produce"),
    ("KafkaClient", "SPAN_KIND_CONSUMER", "Kafka process"),
];

#[derive(Debug, Clone, clap::Args)]
pub struct SessionArgs {
    /// Results folder (shared with the host).
    #[arg(long)]
    pub results: PathBuf,
    #[arg(long, default_value = "mixed")]
    pub profile: String,
    #[arg(long, default_value = "60s")]
    pub duration: String,
    /// Peak arrivals per second (low: TCG runs everything ~15× slower).
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Seconds between two recorded scrapes of OBI.
    #[arg(long, default_value_t = 15)]
    pub scrape_every: u64,
    #[arg(long, default_value_t = 1_000)]
    pub seed_customers: u32,
    #[arg(long, default_value_t = 3_000)]
    pub seed_orders: u32,
    /// Fail unless every exercised grid row and every span type was seen.
    #[arg(long)]
    pub check: bool,
}

pub async fn main(args: SessionArgs, repo: PathBuf) -> anyhow::Result<()> {
    let started = Instant::now();
    let results = &args.results;
    std::fs::create_dir_all(results)?;
    let exe = std::env::current_exe()?;
    let bin_dir = sibling_bin_dir(&exe).context("cannot tell where the binaries are")?;
    let state = std::env::temp_dir().join("mop-lab-vm");
    let mut timings = serde_json::Map::new();
    let mark = |name: &str, t: &mut serde_json::Map<String, Value>| {
        let s = started.elapsed().as_secs_f64();
        eprintln!("session: {name} after {s:.0} s");
        t.insert(name.to_owned(), json!((s * 10.0).round() / 10.0));
    };

    let mut lab = Lab::start(&exe, &state, results, &args)?;
    let obi_log = state.join("logs/obi.log");
    // OBI loads its tracer first (~100 s under TCG); the apps follow, then seeding and readiness.
    let ready = tokio::time::timeout(Duration::from_secs(900), async {
        let mut attached = false;
        loop {
            if !attached && instrumented(OBI_INTERNAL).await > 0.0 {
                attached = true;
                mark("obi_attached", &mut timings);
            }
            if state.join("lab.env").is_file() {
                return Ok(());
            }
            if let Some(status) = lab.exited() {
                bail!(
                    "`lab dev --obi` exited ({status}) before the lab was ready; end of its output:\n{}\n\
                     end of OBI's log ({}):\n{}",
                    log_tail(&results.join("lab-up.log"), 25),
                    obi_log.display(),
                    log_tail(&obi_log, 25)
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    match ready {
        Ok(r) => r?,
        Err(_) => bail!(
            "the lab with OBI was not ready within 900 s; end of its output:\n{}\nend of OBI's log:\n{}",
            log_tail(&results.join("lab-up.log"), 25),
            log_tail(&obi_log, 25)
        ),
    }
    mark("lab_ready", &mut timings);

    // Scrapes every `scrape_every` s from before the first request until after the last export.
    let mut scrapes = vec![scrape().await?];
    let window_start = now_s();
    let mut loadgen = loadgen(&bin_dir, &state, results, &args)?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut next = Instant::now() + Duration::from_secs(args.scrape_every);
    let status = loop {
        if let Some(status) = loadgen.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = loadgen.kill();
            bail!(
                "loadgen did not finish within 600 s:\n{}",
                log_tail(&results.join("loadgen.log"), 20)
            );
        }
        if Instant::now() >= next {
            scrapes.push(scrape().await?);
            next += Duration::from_secs(args.scrape_every);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    mark("load_done", &mut timings);
    eprintln!("session: loadgen exited {status}");
    // OBI exports on its own interval and Prometheus scrapes every 5 s: two rounds of each.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(args.scrape_every)).await;
        scrapes.push(scrape().await?);
    }
    let window = completeness::Window {
        start: window_start,
        end: now_s(),
    };

    std::fs::write(results.join(METRICS), recording::to_openmetrics(&scrapes))?;
    let spans_text = std::fs::read_to_string(state.join("obi/spans.json")).unwrap_or_default();
    let sample = recording::sample_spans(&spans_text, 3);
    let lines: String = sample.iter().map(|s| format!("{s}\n")).collect();
    std::fs::write(results.join(SPANS), lines)?;

    let (text, passed) = check(&bin_dir, &repo, &args, &sample, window, results).await?;
    std::fs::write(results.join(GRID), &text)?;
    println!("{text}");
    let stopped = lab.stop();
    eprintln!("session: lab stopped ({stopped:?})");
    mark("total", &mut timings);
    std::fs::write(
        results.join(TIMINGS),
        serde_json::to_string_pretty(&timings)?,
    )?;
    if args.check && !passed {
        bail!(
            "the grid has a ✘ (or a span type is missing): see {}",
            results.join(GRID).display()
        );
    }
    Ok(())
}

/// verify's grid and completeness against the guest's Prometheus, then the span types.
async fn check(
    bin_dir: &Path,
    repo: &Path,
    args: &SessionArgs,
    spans: &[Value],
    window: completeness::Window,
    results: &Path,
) -> anyhow::Result<(String, bool)> {
    let sources = expected::Sources::read(bin_dir, repo)?;
    let matrix = visibility::Matrix::load()?;
    let scenario = loadgen::scenario::Scenario::load(&args.profile, &steps::variables())?;
    let mapped = steps::map(&scenario, &sources)?;
    let items = expected::items(&sources, expected::DEFAULT_WINDOW);
    let exercised = mapped.iter().flat_map(|m| m.exercised.clone()).collect();
    let backends = grid::Backends {
        prometheus: PROMETHEUS.into(),
        tempo: None,
        since: 0,
        until: 0,
    };
    let rows = grid::check(&items, &exercised, &matrix, &backends).await?;
    let mut text = grid::render(&rows);
    let mut passed = grid::passed(&rows);
    if let Ok(json) = std::fs::read_to_string(results.join(REPORT)) {
        let report = completeness::Report::parse(&json)?;
        let rows = completeness::check(PROMETHEUS, &report, &mapped, window, 0.01).await?;
        // Informative here: TCG and a short run make exact 1:1 a measurement, not the test's claim.
        text.push('\n');
        text.push_str(&completeness::render(&rows, &report, window));
    }
    let table = span_table(spans);
    passed &= table.iter().all(|(_, n)| *n > 0);
    let _ = writeln!(
        text,
        "\nspans (OBI's JSON trace printer, sampled into {SPANS})"
    );
    for ((ty, kind, what), n) in table {
        let mark = if n > 0 { "✔" } else { "✘" };
        let _ = writeln!(
            text,
            "  {mark:<3} {what:<24} {ty} {kind}: {n} kinds of span"
        );
    }
    Ok((text, passed))
}

/// How many distinct spans of each expected type the sample holds.
pub fn span_table(spans: &[Value]) -> Vec<((&'static str, &'static str, &'static str), usize)> {
    SPAN_TYPES
        .iter()
        .map(|&(ty, kind, what)| {
            let n = spans
                .iter()
                .filter(|s| s["type"] == ty && s["kind"] == kind)
                .count();
            ((ty, kind, what), n)
        })
        .collect()
}

async fn scrape() -> anyhow::Result<Scrape> {
    let at = now_s();
    let mut text = get(OBI_METRICS).await.context("scraping OBI's metrics")?;
    // OBI's own metrics (instrumented processes, build info) beside the application's.
    if let Ok(internal) = get(OBI_INTERNAL).await {
        text.push_str(&internal);
    }
    Ok(Scrape { at, text })
}

async fn instrumented(url: &str) -> f64 {
    get(url).await.map_or(0.0, |body| {
        body.lines()
            .filter(|l| l.starts_with("obi_instrumented_processes{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    })
}

async fn get(url: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    Ok(client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?)
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `lab dev --obi` as a child in its own process group.
struct Lab {
    child: Child,
}

impl Lab {
    fn start(exe: &Path, state: &Path, results: &Path, args: &SessionArgs) -> anyhow::Result<Self> {
        let log = std::fs::File::create(results.join("lab-up.log"))?;
        let child = Command::new(exe)
            .args(["dev", "--obi", "--ready-timeout", "300s"])
            .args(["--seed-customers", &args.seed_customers.to_string()])
            .args(["--seed-orders", &args.seed_orders.to_string()])
            .env("LAB_STATE_DIR", state)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("starting `lab dev --obi`")?;
        Ok(Self { child })
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM (the lab drains services, then backends; OBI detaches), at most 90 s.
    fn stop(mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Some(s) = self.exited() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        self.child.wait().ok()
    }
}

fn loadgen(
    bin_dir: &Path,
    state: &Path,
    results: &Path,
    args: &SessionArgs,
) -> anyhow::Result<Child> {
    let env = std::fs::read_to_string(state.join("lab.env"))?;
    let log = std::fs::File::create(results.join("loadgen.log"))?;
    let mut cmd = Command::new(bin_dir.join("loadgen"));
    cmd.args(["run", &args.profile, "--duration", &args.duration])
        .args(["--rate", &args.rate.to_string()])
        .arg("--out")
        .arg(results.join(REPORT))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    for line in env.lines() {
        if let Some((k, v)) = line.trim_start_matches("export ").split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.spawn().context("starting loadgen")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_span_type_is_counted_by_type_and_kind() {
        let spans = vec![
            json!({"type": "KafkaClient", "kind": "SPAN_KIND_PRODUCER"}),
            json!({"type": "HTTP", "kind": "SPAN_KIND_SERVER"}),
        ];
        let table = span_table(&spans);
        let n = |what: &str| table.iter().find(|((.., w), _)| *w == what).unwrap().1;
        assert_eq!(n("Kafka produce"), 1);
        assert_eq!(n("Kafka process"), 0);
        assert_eq!(n("HTTP server request"), 1);
    }
}
