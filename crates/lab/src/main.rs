//! `lab` binary: parses the command line and exits with what the command decided; everything else is
//! in the library (`lab::cli` parses, `lab::run` hands the command to the part whose `exec` carries it out).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = lab::cli::Cli::parse();
    match lab::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A code a command decided (`lab load` exits with loadgen's).
        Err(e) if e.downcast_ref::<lab::Exit>().is_some() => {
            let code = e.downcast_ref::<lab::Exit>().map_or(1, |exit| exit.0);
            std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Err(e) => {
            eprintln!("lab: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
