//! The `lab` command line: `up` (start the local lab, print where everything is, supervise, stop on
//! Ctrl-C), `down` (stop a local lab running in another terminal, through its pid file), `kafka` (the
//! lab's broker alone), and `kind …` (the kind lab's lifecycle: `just up`, `down`, `status`, `logs`,
//! `load`, `doctor`, `prefetch`).
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::local::plan::{Plan, Ports, sibling_bin_dir};
use crate::local::process::log_tail;
use crate::local::supervisor::{Lab, LabOptions};
use crate::obi::run::{ObiOptions, ObiPorts};

/// MOP's local lab: PostgreSQL, Redis, an Apache Kafka broker and all five services on this machine.
#[derive(Debug, clap::Parser)]
#[command(name = "lab", version)]
pub struct Cli {
    /// State folder: backend data (fresh on every `up`), logs, `lab.env`, `lab.pid`. Default
    /// `$TMPDIR/mop-lab` (`/tmp/mop-lab`): PostgreSQL runs as the `postgres` user when we are root, and
    /// that user cannot reach into a checkout under `/root`.
    #[arg(long, env = "LAB_STATE_DIR", global = true)]
    pub state_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Start everything on the standard ports, wait until ready, run until Ctrl-C or `lab down`.
    Up {
        /// Folder with the service binaries (default: next to this `lab` binary).
        #[arg(long, env = "LAB_BIN_DIR")]
        bin_dir: Option<PathBuf>,
        /// Use free ports instead of the standard ones (then source `lab.env` before `loadgen`).
        #[arg(long)]
        free_ports: bool,
        /// Customers created by `orders seed` (the profiles assume 10 000).
        #[arg(long, default_value_t = 10_000)]
        seed_customers: u32,
        /// Orders created by `orders seed` (the profiles assume 100 000).
        #[arg(long, default_value_t = 100_000)]
        seed_orders: u32,
        /// How long each service may take to become ready.
        #[arg(long, default_value = "60s", value_parser = common::args::parse_duration)]
        ready_timeout: Duration,
        /// Watch the lab with OBI (Linux, root, kprobes and BTF): OBI and a Prometheus start first,
        /// the services once OBI's tracer is loaded.
        #[arg(long)]
        obi: bool,
        /// The OBI binary (default: the one `lab obi build` cached for the pinned version).
        #[arg(long, env = "LAB_OBI_BIN", requires = "obi")]
        obi_bin: Option<PathBuf>,
        /// Start OBI without checking root, kprobes, tracefs and BTF first (when you know better than
        /// a check; OBI's own failure then shows in the error).
        #[arg(long, requires = "obi")]
        obi_skip_checks: bool,
        /// How long OBI may take to load its tracer (minutes in an emulated VM).
        #[arg(long, default_value = "300s", value_parser = common::args::parse_duration)]
        obi_ready_timeout: Duration,
        /// With --obi, in a qemu VM (a kernel without kprobes or BTF): a recorded `mixed` run,
        /// results as files (`lab vm obi`).
        #[arg(long, requires = "obi")]
        vm: bool,
    },
    /// OBI on this machine: build the binary, print the local lab's OBI config.
    #[command(subcommand)]
    Obi(ObiCommand),
    /// Stop the lab started by `lab up` with the same state folder.
    Down,
    /// One Apache Kafka broker (the lab's, jars fetched once from Maven Central) until Ctrl-C.
    Kafka {
        #[arg(long, default_value_t = 9092)]
        port: u16,
    },
    /// Soak: a lab of its own on free ports under `mixed` for minutes, memory and fds sampled.
    Soak(crate::soak::SoakArgs),
    /// Wire visibility: capture a fresh lab under `mixed` with tshark, print what each protocol shows.
    Wire(crate::wire::WireArgs),
    /// The kind lab: a kind cluster with OBI, Prometheus, Tempo, Grafana and the services.
    #[command(subcommand)]
    Kind(KindCommand),
    /// Troubleshooting scenarios (crates/lab/scenarios): run one (or --all) on the kind lab, or print its plan.
    Scenario(crate::scenarios::cli::ScenarioArgs),
    /// Prove OBI's telemetry arrived in the kind lab: the protocol × signal grid and completeness.
    Verify(crate::verify::VerifyArgs),
    /// The kind lab's services with and without OBI: the same fixed-rate run, CPU and latency compared.
    BenchObi(crate::bench_obi::BenchObiArgs),
    /// A qemu VM with a kernel OBI can attach to (kprobes, BTF), for hosts without one.
    Vm(crate::vm::VmArgs),
}

#[derive(Debug, clap::Subcommand)]
pub enum ObiCommand {
    /// Build OBI from its Go module (bpf2go + clang, then go build) unless cached; print the path.
    Build {
        /// Version to build (default: the kind lab's, from obi-daemonset.yaml's image tag).
        #[arg(long)]
        version: Option<String>,
        /// A checkout of OBI's sources at that version, instead of the Go module proxy's copy.
        #[arg(long)]
        src: Option<PathBuf>,
        /// The clang to compile the eBPF programs with (default: the newest clang-N on PATH).
        #[arg(long)]
        clang: Option<String>,
    },
    /// Print the OBI config `lab up --obi` derives from the kind lab's obi-config.
    Config {
        /// Folder with the service binaries (default: next to this `lab` binary).
        #[arg(long, env = "LAB_BIN_DIR")]
        bin_dir: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum KindCommand {
    /// Create (or converge) the kind lab: doctor, cluster, images, observability, OBI Ready, apps.
    Up {
        /// Print the plan (and what the overlay renders to) without running anything.
        #[arg(long)]
        dry_run: bool,
        /// Reuse the image archives in target/images instead of building them with Nix.
        #[arg(long)]
        no_build: bool,
        /// Skip the host checks (when you know better than a check).
        #[arg(long)]
        skip_doctor: bool,
    },
    /// Delete the kind cluster.
    Down {
        #[arg(long)]
        dry_run: bool,
    },
    /// What runs, and why anything is not ready.
    Status,
    /// The logs of one workload (`catalog`, `obi`, `grafana`, …).
    Logs {
        name: String,
        /// Keep streaming.
        #[arg(short, long)]
        follow: bool,
        #[arg(long, default_value_t = 200)]
        tail: u32,
    },
    /// Run loadgen in the cluster as a Job: PROFILE is spike, constant, ramp, mixed or a scenario file.
    Load {
        profile: String,
        /// Passed to `loadgen run` (e.g. `--duration 60s`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Check every host prerequisite of the kind lab; each failure says how to fix it.
    Doctor,
    /// Pull and save every third-party image the overlay runs, so a later `just up` works offline.
    Prefetch {
        #[arg(long)]
        dry_run: bool,
    },
}

/// An exit code a command decided (`lab kind load` exits with loadgen's); `main` exits with it.
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Exit {}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up {
            bin_dir,
            free_ports,
            seed_customers,
            seed_orders,
            ready_timeout,
            obi,
            obi_bin,
            obi_skip_checks,
            obi_ready_timeout,
            vm,
        } => {
            if vm {
                let args = crate::vm::obi::ObiArgs::for_dev();
                return tokio::task::block_in_place(|| crate::vm::obi::main(&args, &repo_root()?));
            }
            let bin_dir = bin_dir_or_default(bin_dir)?;
            let ports = if free_ports {
                Ports::free()?
            } else {
                Ports::standard()
            };
            let obi = if obi {
                Some(obi_options(
                    obi_bin,
                    free_ports,
                    obi_skip_checks,
                    obi_ready_timeout,
                )?)
            } else {
                None
            };
            let state_dir = state_dir(cli.state_dir.as_deref())?;
            let options = LabOptions {
                plan: Plan {
                    ports,
                    state_dir,
                    bin_dir,
                    env_overrides: Vec::new(),
                },
                seed_customers,
                seed_orders,
                ready_timeout,
            };
            up(options, obi).await
        }
        Command::Obi(command) => obi_command(command),
        Command::Down => down(&state_dir(cli.state_dir.as_deref())?),
        Command::Kafka { port } => crate::local::broker::run(port).await,
        Command::Soak(args) => crate::soak::main(args, state_dir(cli.state_dir.as_deref())?).await,
        Command::Wire(args) => crate::wire::main(args, state_dir(cli.state_dir.as_deref())?).await,
        Command::Kind(command) => kind(command),
        Command::Scenario(args) => crate::scenarios::cli::main(args).await,
        Command::Verify(args) => crate::verify::main(args, repo_root()?).await,
        Command::BenchObi(args) => {
            crate::bench_obi::main(&args, &crate::kind::Paths::from_env(&repo_root()?))
        }
        Command::Vm(args) => crate::vm::main(args).await,
    }
}

fn kind(command: KindCommand) -> anyhow::Result<()> {
    use crate::kind::{plan, run, status};
    let paths = crate::kind::Paths::from_env(&repo_root()?);
    let (steps, dry_run, skip_doctor) = match command {
        KindCommand::Up {
            dry_run,
            no_build,
            skip_doctor,
        } => (plan::up(&paths, !no_build), dry_run, skip_doctor),
        KindCommand::Down { dry_run } => (plan::down(), dry_run, false),
        KindCommand::Load {
            profile,
            args,
            dry_run,
        } => (plan::load(&paths, &profile, &args), dry_run, false),
        KindCommand::Prefetch { dry_run } => (plan::prefetch(&paths), dry_run, false),
        KindCommand::Doctor => return run::run_doctor(),
        KindCommand::Status => return run::print_status(),
        KindCommand::Logs { name, follow, tail } => {
            let mut cmd = crate::cmd::Cmd::new("kubectl")
                .args([
                    "--context",
                    crate::kind::CONTEXT,
                    "-n",
                    status::namespace_of(&name),
                    "logs",
                ])
                .arg(format!("-lapp.kubernetes.io/name={name}"))
                .args(["--all-containers", "--prefix", "--max-log-requests", "10"])
                .arg(format!("--tail={tail}"));
            if follow {
                cmd = cmd.arg("-f");
            }
            return cmd.run();
        }
    };
    if dry_run {
        print!("{}", plan::describe(&steps));
        if steps.iter().any(|s| matches!(s, plan::Step::Render { .. })) {
            // Until kustomize/ exists there is nothing to render; once it does, a broken overlay fails.
            if paths.overlay().is_dir() {
                print!("\n{}", run::describe_render(&paths.overlay())?);
            } else {
                println!(
                    "\n({} does not exist yet: nothing to render)",
                    paths.overlay().display()
                );
            }
        }
        return Ok(());
    }
    let mut runner = run::Runner::new(paths);
    runner.skip_doctor = skip_doctor;
    match runner.run(&steps)? {
        Some(0) | None => Ok(()),
        Some(code) => Err(Exit(code).into()),
    }
}

fn bin_dir_or_default(bin_dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match bin_dir {
        Some(dir) => Ok(dir),
        None => sibling_bin_dir(&std::env::current_exe()?)
            .context("cannot tell where the service binaries are; pass --bin-dir"),
    }
}

/// Checks the host and finds the binary before anything starts: a missing kprobe or binary must not
/// cost a minute of seeding first.
fn obi_options(
    binary: Option<PathBuf>,
    free_ports: bool,
    skip_checks: bool,
    ready_timeout: Duration,
) -> anyhow::Result<ObiOptions> {
    let missing = crate::obi::host::missing(&crate::obi::host::Probe {
        root: Path::new("/"),
        euid: crate::obi::host::euid(),
    });
    if !missing.is_empty() && !skip_checks {
        bail!("{}", crate::obi::host::explain(&missing));
    }
    let repo = repo_root()?;
    let binary = match binary {
        Some(b) => b,
        None => {
            let version = crate::obi::build::pinned_version(&repo)?;
            let path = crate::obi::build::binary_path(&crate::obi::build::cache_root()?, &version);
            if !path.is_file() {
                bail!(
                    "no OBI {version} binary at {}: build it with `just obi-build` (minutes, once),                      or pass --obi-bin",
                    path.display()
                );
            }
            path
        }
    };
    Ok(ObiOptions {
        binary,
        repo,
        ports: if free_ports {
            ObiPorts::free()?
        } else {
            ObiPorts::standard()
        },
        ready_timeout,
    })
}

fn obi_command(command: ObiCommand) -> anyhow::Result<()> {
    use crate::obi::build;
    match command {
        ObiCommand::Build {
            version,
            src,
            clang,
        } => {
            let pinned = build::pinned_version(&repo_root()?)?;
            let version = version.unwrap_or_else(|| pinned.clone());
            let path = build::build(&build::BuildOptions {
                require_tag: version == pinned,
                version,
                src,
                cache: build::cache_root()?,
                clang,
            })?;
            println!("{}", path.display());
            Ok(())
        }
        ObiCommand::Config { bin_dir } => {
            let plan = Plan {
                ports: Ports::standard(),
                state_dir: state_dir(None)?,
                bin_dir: bin_dir_or_default(bin_dir)?,
                env_overrides: Vec::new(),
            };
            let sentinel = plan
                .state_dir
                .join("obi")
                .join(crate::obi::config::SENTINEL);
            let kind = crate::obi::config::kind_config(&repo_root()?)?;
            let targets = crate::obi::config::targets(&plan, &sentinel);
            let derived = crate::obi::config::derive(&kind, &targets, ObiPorts::standard().metrics);
            print!("{}", serde_yaml::to_string(&derived)?);
            Ok(())
        }
    }
}

/// The checkout: the nearest folder at or above the current one with a flake.nix.
pub(crate) fn repo_root() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    cwd.ancestors()
        .find(|dir| dir.join("flake.nix").is_file())
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "no flake.nix at or above {}: run from the MOP checkout",
                cwd.display()
            )
        })
}

async fn up(options: LabOptions, obi: Option<ObiOptions>) -> anyhow::Result<()> {
    let plan = options.plan.clone();
    std::fs::create_dir_all(&plan.state_dir)?;
    let pid_file = plan.state_dir.join("lab.pid");
    if let Some(pid) = running_pid(&pid_file) {
        bail!(
            "a lab is already running (pid {pid}, {}); stop it with `just dev-down`",
            pid_file.display()
        );
    }
    std::fs::write(&pid_file, std::process::id().to_string())?;
    let shutdown = common::shutdown::on_signal()?;
    println!("lab: starting in {} …", plan.state_dir.display());
    let started = Instant::now();
    if obi.is_some() {
        println!("lab: OBI first; the services start once its tracer is loaded …");
    }
    let start = async {
        match &obi {
            Some(o) => Lab::start_watched(options, o).await,
            None => Lab::start(options).await,
        }
    };
    let lab = tokio::select! {
        lab = start => lab,
        () = shutdown.cancelled() => {
            let _ = std::fs::remove_file(&pid_file);
            bail!("interrupted during start-up; everything started so far was stopped");
        }
    };
    let lab = match lab {
        Ok(lab) => lab,
        Err(e) => {
            let _ = std::fs::remove_file(&pid_file);
            return Err(e);
        }
    };
    print_summary(&lab, started.elapsed());

    let mut reported = Vec::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let watchers = lab.watchers().map(|w| w.exited()).unwrap_or_default();
        for (name, status) in lab.exited().into_iter().chain(watchers) {
            if !reported.contains(&name) {
                reported.push(name);
                println!(
                    "lab: {name} exited ({status}); the others keep running. End of its log:\n{}",
                    log_tail(&lab.plan.log_file(name), 15)
                );
            }
        }
    }
    println!("lab: stopping services (SIGTERM, drain), then backends …");
    for (name, status) in lab.stop(Duration::from_secs(15)) {
        let status = status.map_or("unknown".into(), |s| s.to_string());
        println!("lab:   {name}: {status}");
    }
    let _ = std::fs::remove_file(&pid_file);
    // `just load` sources lab.env when present: never leave one pointing at a lab that is gone.
    let _ = std::fs::remove_file(plan.state_dir.join("lab.env"));
    println!("lab: stopped.");
    Ok(())
}

fn print_summary(lab: &Lab, took: Duration) {
    let plan = &lab.plan;
    println!("lab: ready in {:.1} s\n", took.as_secs_f64());
    for service in lab.services() {
        println!("  {:<32} {}", service.spec.name, service.spec.url);
    }
    println!();
    println!(
        "  {:<32} {}",
        "PostgreSQL (orders database)",
        plan.database_url()
    );
    println!("  {:<32} {}", "Redis", plan.redis_url());
    println!(
        "  {:<32} {}",
        "Kafka broker (Apache Kafka)",
        plan.kafka_brokers()
    );
    println!();
    println!("  logs:       {}/<name>.log", plan.logs_dir().display());
    println!(
        "  backends:   {0}/postgres/postgres.log, {0}/redis/redis.log, {0}/kafka/kafka.log",
        plan.state_dir.display()
    );
    println!(
        "  client env: {}  (source it when not on the standard ports)",
        plan.state_dir.join("lab.env").display()
    );
    let p = &plan.ports;
    println!("\nTry:");
    println!("  curl -s localhost:{}/products/42", p.catalog);
    println!(
        "  curl -si localhost:{}/products/42 | grep -i x-cache      # MISS, then HIT",
        p.gateway
    );
    println!(
        "  curl -s 'localhost:{}/customers/7/orders?include=items&strategy=n-plus-one'",
        p.orders
    );
    println!(
        "  curl -s localhost:{}/events -H 'content-type: application/json' \\\n      \
         -d '{{\"type\":\"created\",\"order_id\":\"o-1\",\"customer_id\":\"c-1\",\"total\":9.5}}'",
        p.events_producer
    );
    println!(
        "  curl -s localhost:{}/stats                               # analytics",
        p.analytics
    );
    if let Some(w) = lab.watchers() {
        let p = &w.paths;
        println!("\nOBI (eBPF) watches every service and loadgen:");
        println!("  {:<32} {}", "Prometheus", p.prometheus_url);
        println!("  {:<32} {}", "OBI metrics", p.metrics_url);
        println!(
            "  {:<32} {}  (one JSON array of spans per line)",
            "spans",
            p.spans.display()
        );
        println!("  {:<32} {}", "OBI log", p.log.display());
        println!("  {:<32} {}", "OBI config (derived)", p.config.display());
        println!(
            "  curl -s '{}/api/v1/query?query=sum%20by%20(service_name,http_route)(http_server_request_duration_seconds_count)'",
            p.prometheus_url
        );
    }
    println!("\nIn another terminal: `just load spike` (or constant, ramp, mixed).");
    println!("Ctrl-C here, or `just dev-down`, stops everything.");
}

/// Stops the lab whose pid file is in `state_dir`: SIGTERM to the supervisor, which stops the rest.
fn down(state_dir: &Path) -> anyhow::Result<()> {
    let pid_file = state_dir.join("lab.pid");
    let Some(pid) = running_pid(&pid_file) else {
        println!(
            "lab: no lab running ({} absent or stale)",
            pid_file.display()
        );
        let _ = std::fs::remove_file(&pid_file);
        return Ok(());
    };
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .context("cannot run `kill`")?;
    println!("lab: asked the lab (pid {pid}) to stop; waiting …");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Path::new(&format!("/proc/{pid}")).exists() {
        if Instant::now() > deadline {
            bail!("the lab (pid {pid}) is still running after 60 s; `kill -9 {pid}` ends it");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("lab: stopped.");
    Ok(())
}

/// The pid in `pid_file` when that process is alive.
fn running_pid(pid_file: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

fn state_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    match given {
        Some(path) => Ok(std::env::current_dir()?.join(path)),
        None => Ok(std::env::temp_dir().join("mop-lab")),
    }
}
