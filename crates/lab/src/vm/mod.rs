//! `lab vm`: runs a command in a qemu guest whose kernel has what OBI needs, for hosts whose own
//! kernel lacks kprobes or BTF (the build machines: kprobes not compiled in).
//!
//! Reading order: [`kernel`] (Debian 13's 6.12 kernel,
//! fetched once into the cache), [`run`] (virtme-ng under TCG, the guest script, bounded waits),
//! [`session`] (inside the guest: the lab with OBI under load, recorded and checked), [`recording`]
//! (scrapes → OpenMetrics, a bounded span sample), [`obi`] (the host side: `lab vm obi`, which
//! `just test-obi` and `just dev --obi --vm` run).
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod kernel;
pub mod obi;
pub mod recording;
pub mod run;
pub mod session;

use std::path::PathBuf;
use std::time::Duration;

use crate::Exit;

#[derive(Debug, Clone, clap::Args)]
pub struct VmArgs {
    #[command(subcommand)]
    pub command: VmCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum VmCommand {
    /// Whether this host's kernel can run OBI itself (kprobes, BTF), or needs the VM.
    Check,
    /// Fetch the guest kernel into the cache once (needs Debian's mirror); print where it is.
    Kernel,
    /// Boot the VM and run a bash command line in it; exits with the command's exit code.
    Run {
        /// Results folder, shared read-write with the guest (default: a fresh one under target/vm).
        #[arg(long)]
        results: Option<PathBuf>,
        /// The whole run, boot included.
        #[arg(long, default_value = "10m", value_parser = common::args::parse_duration)]
        timeout: Duration,
        /// Guest memory (qemu -m).
        #[arg(long, default_value = "4G")]
        memory: String,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// The lab with OBI in the VM under a fixed-rate `mixed` run: grid, recording, timings.
    Obi(obi::ObiArgs),
    /// Inside the guest: one recorded session (what `lab vm obi` boots the VM to run).
    #[command(hide = true)]
    Session(session::SessionArgs),
}

pub async fn main(args: VmArgs) -> anyhow::Result<()> {
    match args.command {
        VmCommand::Check => {
            // The kernel only (root is the user's to arrange): the checks `lab dev --obi` makes.
            let probe = crate::obi::host::Probe {
                root: std::path::Path::new("/"),
                euid: 0,
            };
            let missing = crate::obi::host::missing(&probe);
            if missing.is_empty() {
                println!(
                    "this kernel has kprobes and BTF: OBI runs on the host (`just dev --obi`)."
                );
            } else {
                for m in &missing {
                    println!("missing {m}");
                }
                println!(
                    "OBI cannot attach on this kernel: the lab runs it in a VM (`just dev --obi --vm`)."
                );
            }
            Ok(())
        }
        VmCommand::Kernel => {
            run::check_tools()?;
            let k = kernel::ensure(&kernel::vm_cache()?)?;
            println!("{} {}", k.release, k.vmlinuz().display());
            Ok(())
        }
        VmCommand::Run {
            results,
            timeout,
            memory,
            command,
        } => {
            run::check_tools()?;
            let kernel = kernel::ensure(&kernel::vm_cache()?)?;
            let results = match results {
                Some(dir) => std::env::current_dir()?.join(dir),
                None => run::results_dir(&crate::project_root()?.join("target/vm"), "run"),
            };
            let mut vm = run::VmRun::new(kernel, results, command.join(" "), timeout);
            vm.memory = memory;
            let out = vm.run()?;
            eprintln!(
                "vm: exit code {} (guest up after {:.0} s, {:.0} s in all); results in {}",
                out.exit_code,
                out.boot.as_secs_f64(),
                out.total.as_secs_f64(),
                out.results.display()
            );
            if out.exit_code != 0 {
                return Err(Exit(out.exit_code).into());
            }
            Ok(())
        }
        VmCommand::Obi(args) => obi::main(&args, &crate::project_root()?),
        VmCommand::Session(args) => session::main(args, crate::project_root()?).await,
    }
}
