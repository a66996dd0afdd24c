//! The `lab` command line, parsed only: each part carries its commands out in its own `exec`
//! (local::exec, kind::exec, obi::exec, …). The verbs are `just`'s: `dev`/`dev-down` for the local
//! lab; `up`, `down`, `status`, `logs`, `load`, `doctor`, `prefetch` for the kind lab.

use std::path::PathBuf;
use std::time::Duration;

/// MOP's lab: the local lab (`dev`) and the kind lab (`up`), OBI, scenarios and verify.
#[derive(Debug, clap::Parser)]
#[command(name = "lab", version)]
pub struct Cli {
    /// State folder: backend data (fresh on every `dev`), logs, `lab.env`, `lab.pid`. Default
    /// `$TMPDIR/mop-lab` (`/tmp/mop-lab`): PostgreSQL runs as the `postgres` user when we are root, and
    /// that user cannot reach into a checkout under `/root`.
    #[arg(long, env = "LAB_STATE_DIR", global = true)]
    pub state_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The local lab: start everything on the standard ports, wait until ready, run until Ctrl-C or
    /// `lab dev-down`.
    Dev(DevArgs),
    /// Stop the local lab started by `lab dev` with the same state folder.
    DevDown,
    /// One Apache Kafka broker (the lab's, jars fetched once from Maven Central) until Ctrl-C.
    Kafka {
        #[arg(long, default_value_t = 9092)]
        port: u16,
    },
    /// OBI on this machine: build the binary, print the local lab's OBI config.
    #[command(subcommand)]
    Obi(ObiCommand),
    /// The kind lab: a kind cluster with OBI, Prometheus, Tempo, Grafana and the services.
    #[command(flatten)]
    Kind(KindCommand),
    /// Troubleshooting scenarios (crates/lab/scenarios): run one (or --all) on the kind lab, or print its plan.
    Scenario(crate::scenarios::cli::ScenarioArgs),
    /// Prove OBI's telemetry arrived in the kind lab: the protocol × signal grid and completeness.
    Verify(crate::verify::VerifyArgs),
    /// A qemu VM with a kernel OBI can attach to (kprobes, BTF), for hosts without one.
    Vm(crate::vm::VmArgs),
}

/// `lab dev`: the local lab's options.
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Folder with the service binaries (default: next to this `lab` binary).
    #[arg(long, env = "LAB_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Use free ports instead of the standard ones (then source `lab.env` before `loadgen`).
    #[arg(long)]
    pub free_ports: bool,
    /// Customers created by `orders seed` (the profiles assume 10 000).
    #[arg(long, default_value_t = 10_000)]
    pub seed_customers: u32,
    /// Orders created by `orders seed` (the profiles assume 100 000).
    #[arg(long, default_value_t = 100_000)]
    pub seed_orders: u32,
    /// How long each service may take to become ready.
    #[arg(long, default_value = "60s", value_parser = common::args::parse_duration)]
    pub ready_timeout: Duration,
    /// Watch the lab with OBI (Linux, root, kprobes and BTF): OBI and a Prometheus start first,
    /// the services once OBI's tracer is loaded.
    #[arg(long)]
    pub obi: bool,
    /// The OBI binary (default: the one `lab obi build` cached for the pinned version).
    #[arg(long, env = "LAB_OBI_BIN", requires = "obi")]
    pub obi_bin: Option<PathBuf>,
    /// Start OBI without checking root, kprobes, tracefs and BTF first (when you know better than
    /// a check; OBI's own failure then shows in the error).
    #[arg(long, requires = "obi")]
    pub obi_skip_checks: bool,
    /// How long OBI may take to load its tracer (minutes in an emulated VM).
    #[arg(long, default_value = "300s", value_parser = common::args::parse_duration)]
    pub obi_ready_timeout: Duration,
    /// With --obi, in a qemu VM (a kernel without kprobes or BTF): a recorded `mixed` run,
    /// results as files (`lab vm obi`).
    #[arg(long, requires = "obi")]
    pub vm: bool,
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
    /// Print the OBI config `lab dev --obi` derives from the kind lab's obi-config.
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
