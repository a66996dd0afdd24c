//! The kind lab's commands carried out (`lab up`, `down`, `status`, `logs`, `load`, `doctor`,
//! `prefetch`): each becomes its plan (kind::plan), printed with `--dry-run` or run step by step.
#![allow(clippy::print_stdout)]

use crate::Exit;
use crate::cli::KindCommand;

pub fn exec(command: KindCommand) -> anyhow::Result<()> {
    use crate::kind::{plan, run, status};
    let paths = crate::kind::Paths::from_env(&crate::project_root()?);
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
