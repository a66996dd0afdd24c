//! `orders` binary: parse flags, set up logging, then serve (or `seed`, or print the OpenAPI document) — everything else is in the lib.

use anyhow::Context;
use clap::Parser;
use orders::config::{Command, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    if let Some(Command::Common(common::args::Command::Openapi)) = config.command {
        return common::http::api::print(&orders::openapi());
    }
    common::logging::init(config.common.log_format);
    if let Some(Command::Seed(args)) = &config.command {
        return seed(&config, args).await;
    }
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen_addr))?;
    let shutdown = common::shutdown::on_signal().context("cannot install signal handlers")?;
    orders::run(config, listener, shutdown).await
}

/// `orders seed`: the work is [`orders::seed::run`]; a CLI may print what it did.
#[allow(clippy::print_stdout)]
async fn seed(config: &Config, args: &orders::config::SeedArgs) -> anyhow::Result<()> {
    let (s, took) = orders::seed::run(&config.db, args).await?;
    match s.already_seeded {
        true => println!("already seeded; nothing to do"),
        false => println!(
            "seeded {} customers, {} orders, {} items in {took:.1?}",
            s.customers, s.orders, s.items
        ),
    }
    Ok(())
}
