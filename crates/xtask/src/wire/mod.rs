//! `lab wire` (`just wire`): what is really on the wire between MOP's processes, checked with
//! Wireshark's dissectors — the bytes OBI's user-space parsers work from. A lab of its own on free
//! ports starts *after* the capture (as OBI must start before the apps), runs `mixed` briefly, and
//! the capture is read back per protocol: TLS anywhere, HTTP/1.1 request lines and routes, gRPC's
//! `:path` over h2c, PostgreSQL's Parse/Bind/Execute, RESP commands, Kafka's API versions and how
//! Fetch names its topics. No OBI runs here: this shows what OBI gets to parse, not what it makes
//! of it (docs/visibility.md).
//!
//! - [`tshark`] — the capture and the read passes; [`dissect`] and [`kafka_pass`] — findings per
//!   protocol; [`kafka`] — the Kafka bodies Wireshark 4.0 cannot read; [`findings`] — the values.

pub mod dissect;
pub mod findings;
pub mod kafka;
pub mod kafka_pass;
pub mod tshark;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use dissect::{Owners, Routes};
pub use findings::Findings;
use lab::local::plan::{Plan, Ports};
use lab::local::supervisor::{Lab, LabOptions};

/// The HTTP services whose `<bin> openapi` lists their route templates.
const OPENAPI: [(&str, &str); 4] = [
    ("catalog", "catalog"),
    ("orders", "orders"),
    ("gateway", "gateway"),
    ("events-producer", "events-producer"),
];

#[derive(Debug, Clone)]
pub struct WireOptions {
    pub bin_dir: PathBuf,
    /// The lab's state and the capture (`wire.pcapng`) go here.
    pub state_dir: PathBuf,
    /// Peak arrivals per second of `mixed`.
    pub rate: f64,
    pub duration: Duration,
}

/// One run: the findings, where the capture is, and what the run looked like.
#[derive(Debug)]
pub struct WireRun {
    pub findings: Findings,
    pub capture: PathBuf,
    pub ports: Ports,
    /// tshark's closing words (`N packets captured`).
    pub tshark_said: String,
    pub loadgen_ok: bool,
    /// Every service exited 0 after SIGTERM.
    pub services_ok: bool,
    pub took: Duration,
}

/// Captures a fresh lab under `mixed` and reads the capture back.
pub async fn run(options: WireOptions) -> anyhow::Result<WireRun> {
    let started = Instant::now();
    tshark::version()?;
    let routes = routes(&options.bin_dir)?;
    let ports = Ports::free()?;
    let targets = tshark::targets(&ports);
    std::fs::create_dir_all(&options.state_dir)?;
    let file = options.state_dir.join("wire.pcapng");
    // Bounded on its own too: lab start (≤ 60 s per service), the load, the stop.
    let limit = options.duration + Duration::from_secs(180);
    let capture = tshark::Capture::start(&targets, &file, limit)?;

    let lab = Lab::start(LabOptions {
        plan: Plan {
            ports,
            state_dir: options.state_dir.clone(),
            bin_dir: options.bin_dir.clone(),
            env_overrides: Vec::new(),
        },
        seed_customers: 10_000,
        seed_orders: 100_000,
        ready_timeout: Duration::from_secs(60),
    })
    .await
    .context("the lab did not start")?;
    let report = options.state_dir.join("wire-loadgen.json");
    let mut loadgen = crate::mixed::spawn_loadgen(
        &lab,
        &options.bin_dir,
        options.rate,
        options.duration,
        &report,
        &options.state_dir.join("wire-loadgen.log"),
    )?;
    let mut owners = Owners::new();
    let deadline = Instant::now() + options.duration + Duration::from_secs(60);
    let status = loop {
        // Pools keep their connections, so a snapshot every 2 s sees every client.
        sockets(&ports, &mut owners);
        tokio::select! {
            status = loadgen.wait() => break status?,
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        if Instant::now() > deadline {
            let _ = loadgen.kill().await;
            bail!("loadgen did not finish within its duration + 60 s");
        }
    };
    sockets(&ports, &mut owners);
    let exits = lab.stop(Duration::from_secs(15));
    let tshark_said = capture.stop()?;
    let findings = dissect::all(&file, &targets, &routes, &owners)?;
    Ok(WireRun {
        findings,
        capture: file,
        ports,
        tshark_said,
        loadgen_ok: status.success(),
        services_ok: exits.iter().all(|(_, s)| s.is_some_and(|s| s.success())),
        took: started.elapsed(),
    })
}

/// The route templates of every HTTP service, from its own OpenAPI document.
pub fn routes(bin_dir: &Path) -> anyhow::Result<Routes> {
    let mut routes = Routes::new();
    for (name, bin) in OPENAPI {
        let out = std::process::Command::new(bin_dir.join(bin))
            .arg("openapi")
            .output()
            .with_context(|| format!("cannot run `{bin} openapi` from {}", bin_dir.display()))?;
        let doc = String::from_utf8_lossy(&out.stdout);
        let paths =
            lab::manifests::obi::openapi_paths(&doc).with_context(|| format!("`{bin} openapi`"))?;
        routes.insert(name, paths.into_iter().collect());
    }
    Ok(routes)
}

/// Adds `ss -tnp`'s established connections to a lab port: (client port, lab port) → process name.
fn sockets(ports: &Ports, owners: &mut Owners) {
    let lab_ports: Vec<u16> = ports.named().iter().map(|(_, p)| *p).collect();
    let Ok(out) = std::process::Command::new("ss").args(["-tnpH"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let port = |addr: &str| addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        let (Some(local), Some(peer)) = (
            cols.get(3).and_then(|a| port(a)),
            cols.get(4).and_then(|a| port(a)),
        ) else {
            continue;
        };
        // `users:(("gateway",pid=1,fd=9))` → gateway
        let name = line
            .split("((\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next());
        if let (true, Some(name)) = (lab_ports.contains(&peer), name) {
            owners.insert((local, peer), name.to_owned());
        }
    }
}

/// `lab wire`'s flags.
#[derive(Debug, clap::Args)]
pub struct WireArgs {
    /// Seconds of `mixed` load under capture.
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
    /// Peak arrivals per second of `mixed`.
    #[arg(long, default_value_t = 30.0)]
    pub rate: f64,
    /// Folder with the service binaries (default: next to this `lab` binary).
    #[arg(long, env = "LAB_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Also write the findings as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// `lab wire`: runs, prints the findings table and how to look at the capture yourself.
#[allow(clippy::print_stdout)]
pub async fn main(args: WireArgs, state_dir: PathBuf) -> anyhow::Result<()> {
    let bin_dir = match args.bin_dir {
        Some(dir) => dir,
        None => lab::local::plan::sibling_bin_dir(&std::env::current_exe()?)
            .context("cannot tell where the service binaries are; pass --bin-dir")?,
    };
    let state_dir = state_dir.join(format!("wire-{}", std::process::id()));
    println!(
        "wire: capturing a fresh lab under mixed at {} req/s for {} s; state in {}",
        args.rate,
        args.seconds,
        state_dir.display()
    );
    let run = run(WireOptions {
        bin_dir,
        state_dir,
        rate: args.rate,
        duration: Duration::from_secs(args.seconds),
    })
    .await?;
    print!("{}", run.findings.table());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&run.findings)?)?;
        println!("\nfindings as JSON: {}", path.display());
    }
    let decode = tshark::decode_as(&tshark::targets(&run.ports), None).join(" ");
    println!(
        "\ncapture: {} ({}; {:.0} s in all)\nlook yourself, e.g.: tshark -r {} {decode} -Y 'pgsql.type == \"Parse\"' -T fields -e pgsql.query",
        run.capture.display(),
        run.tshark_said,
        run.took.as_secs_f64(),
        run.capture.display()
    );
    if !run.loadgen_ok || !run.services_ok {
        bail!(
            "the run was not clean (loadgen ok: {}, services exited 0: {})",
            run.loadgen_ok,
            run.services_ok
        );
    }
    Ok(())
}
