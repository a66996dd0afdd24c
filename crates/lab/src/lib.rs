//! The lab: what `just` runs for people using MOP — a module folder per part, so the layout shows
//! what the product does. The maintainers' tools (measurements, repository checks) are the `xtask`
//! crate, which may use this one; never the reverse.
//!
//! - [`cli`] — the `lab` binary's command line, parsed only; [`run`] hands it to each part's `exec`.
//! - [`local`] — the local lab (`just dev`): a small supervisor rather than a pile of background
//!   shell jobs, so start-up is ordered and waited for, every process's output lands in its own log
//!   file, and Ctrl-C stops everything in the right order (services drain first, then backends).
//! - [`kind`] — the kind lab's lifecycle (`just up`, `down`, `status`, `logs`, `load`, `doctor`,
//!   `prefetch`): each command's plan as data, carried out with kind, kubectl and nix.
//! - [`obi`] — OBI on this machine: `lab obi build` (the binary from OBI's Go module, cached by
//!   version) and `lab dev --obi` (the local lab watched by OBI, scraped by a local Prometheus).
//! - [`vm`] — `lab vm`: a qemu guest (Debian 13's kernel, virtme-ng, TCG) for hosts whose kernel
//!   cannot run OBI (no kprobes or BTF).
//! - [`manifests`] — the kustomize overlays rendered (`kubectl kustomize`) and read: pod templates,
//!   NetworkPolicy evaluation, OBI's config — what `up`, `scenario` and `verify` act on.
//! - [`scenarios`] — the troubleshooting scenarios (`lab scenario`): faults as data, with the
//!   signal OBI must show and the panel that shows it, carried out on the kind lab.
//! - [`verify`] — `just verify`: the kind lab's protocol × signal grid against the visibility matrix
//!   (crates/lab/visibility.yaml), and completeness of a measured loadgen run.
//! - [`prom`] — the Prometheus HTTP API client (instant query → one value or series).
//! - [`cmd`] — the one way to run an external command and to wait for a condition.

pub mod cli;
pub mod cmd;
pub mod kind;
pub mod local;
pub mod manifests;
pub mod obi;
pub mod prom;
pub mod scenarios;
pub mod verify;
pub mod vm;

use std::path::{Path, PathBuf};

use anyhow::Context;

pub use local::plan::{Plan, Ports};
pub use local::supervisor::{Lab, LabOptions};

/// Hands the parsed command to the part that carries it out.
pub async fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let state_dir = cli.state_dir.as_deref();
    match cli.command {
        cli::Command::Dev(args) => crate::local::exec::dev(args, state_dir).await,
        cli::Command::DevDown => {
            crate::local::exec::dev_down(&crate::local::plan::state_dir_or_default(state_dir)?)
        }
        cli::Command::Kafka { port } => crate::local::broker::run(port).await,
        cli::Command::Obi(command) => crate::obi::exec::exec(command),
        cli::Command::Kind(command) => crate::kind::exec::exec(command),
        cli::Command::Scenario(args) => crate::scenarios::cli::main(args).await,
        cli::Command::Verify(args) => crate::verify::main(args, crate::project_root()?).await,
        cli::Command::Vm(args) => crate::vm::main(args).await,
    }
}

/// The checkout `lab` works on: the nearest folder at or above the current one with a flake.nix.
/// (Found at run time, not from the build: the binary may have been built elsewhere, by Nix.)
pub fn project_root() -> anyhow::Result<PathBuf> {
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

/// An exit code a command decided (`lab load` exits with loadgen's); `main` exits with it.
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Exit {}
