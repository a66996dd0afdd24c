//! `lab` binary: `lab up` runs the local lab in the foreground until Ctrl-C; `lab down` stops it from
//! another terminal. Everything else is in the library (`lab::cli`).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = lab::cli::Cli::parse();
    match lab::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A code a command decided (`lab kind load` exits with loadgen's).
        Err(e) if e.downcast_ref::<lab::cli::Exit>().is_some() => {
            let code = e.downcast_ref::<lab::cli::Exit>().map_or(1, |exit| exit.0);
            std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Err(e) => {
            eprintln!("lab: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
