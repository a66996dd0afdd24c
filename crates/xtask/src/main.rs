//! `cargo xtask`: the maintainers' tools (see the library's docs); `just soak`, `just wire`,
//! `just bench-obi` and `just scenario-local` run them.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// MOP's maintainer tools: measurements of the lab. (The repository checks are tests:
/// `cargo test -p xtask`.)
#[derive(Debug, clap::Parser)]
#[command(name = "xtask")]
struct Cli {
    /// State folder for the labs the tools start (default: a fresh one under $TMPDIR).
    #[arg(long, env = "LAB_STATE_DIR", global = true)]
    state_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Soak: a lab of its own on free ports under `mixed` for minutes, memory and fds sampled.
    Soak(xtask::soak::SoakArgs),
    /// Wire visibility: capture a fresh lab under `mixed` with tshark, print what each protocol shows.
    Wire(xtask::wire::WireArgs),
    /// The kind lab's services with and without OBI: the same fixed-rate run, CPU and latency compared.
    BenchObi(xtask::bench_obi::BenchObiArgs),
    /// Prove scenarios' triggers against a local lab of their own (their `local:` blocks): healthy,
    /// fault and recovery phases, effects measured from outside.
    ScenarioLocal {
        /// Scenario ids (default: the whole catalog).
        ids: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let state_dir = || -> anyhow::Result<PathBuf> {
        Ok(match &cli.state_dir {
            Some(dir) => std::env::current_dir()?.join(dir),
            None => std::env::temp_dir().join("mop-lab"),
        })
    };
    match cli.command {
        Command::Soak(args) => xtask::soak::main(args, state_dir()?).await,
        Command::Wire(args) => xtask::wire::main(args, state_dir()?).await,
        Command::BenchObi(ref args) => {
            xtask::bench_obi::main(args, &lab::kind::Paths::from_env(&lab::project_root()?))
        }
        Command::ScenarioLocal { ids } => {
            let scenarios = if ids.is_empty() {
                lab::scenarios::load_all()?
            } else {
                ids.iter()
                    .map(|id| lab::scenarios::find(id))
                    .collect::<anyhow::Result<Vec<_>>>()
                    .context("scenario-local")?
            };
            xtask::scenario_local::main(scenarios).await
        }
    }
}
