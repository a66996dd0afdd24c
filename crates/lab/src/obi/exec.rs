//! `lab obi build|config` carried out, and the checks `lab dev --obi` makes before anything starts.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;

use crate::cli::ObiCommand;
use crate::local::plan::{Plan, Ports};
use crate::obi::run::{ObiOptions, ObiPorts};

/// Checks the host and finds the binary before anything starts: a missing kprobe or binary must not
/// cost a minute of seeding first.
pub fn options(
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
    let repo = crate::project_root()?;
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

/// `lab obi build` and `lab obi config`.
pub fn exec(command: ObiCommand) -> anyhow::Result<()> {
    use crate::obi::build;
    match command {
        ObiCommand::Build {
            version,
            src,
            clang,
        } => {
            let pinned = build::pinned_version(&crate::project_root()?)?;
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
                state_dir: crate::local::plan::state_dir_or_default(None)?,
                bin_dir: crate::local::plan::bin_dir_or_default(bin_dir)?,
                env_overrides: Vec::new(),
            };
            let sentinel = plan
                .state_dir
                .join("obi")
                .join(crate::obi::config::SENTINEL);
            let kind = crate::obi::config::kind_config(&crate::project_root()?)?;
            let targets = crate::obi::config::targets(&plan, &sentinel);
            let derived = crate::obi::config::derive(&kind, &targets, ObiPorts::standard().metrics);
            print!("{}", serde_yaml::to_string(&derived)?);
            Ok(())
        }
    }
}
