//! `lab` binary: `lab up` runs the local lab in the foreground until Ctrl-C; `lab down` stops it from
//! another terminal. Everything else is in the library (`lab::cli`).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = lab::cli::Cli::parse();
    match lab::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
