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

/// `orders seed`: migrate, load the data set, report what was done (a CLI, so it may print).
#[allow(clippy::print_stdout)]
async fn seed(config: &Config, args: &orders::config::SeedArgs) -> anyhow::Result<()> {
    let db = orders::db::Db::new(&config.db)?;
    orders::MIGRATOR
        .run(&db.pool)
        .await
        .context("migrations failed")?;
    let mut conn = db
        .pool
        .acquire()
        .await
        .context("cannot connect to the database")?;
    let start = std::time::Instant::now();
    let s = orders::seed::seed(&mut conn, args.customers, args.orders, args.random_seed).await?;
    match s.already_seeded {
        true => println!("already seeded; nothing to do"),
        false => println!(
            "seeded {} customers, {} orders, {} items in {:.1?}",
            s.customers,
            s.orders,
            s.items,
            start.elapsed()
        ),
    }
    Ok(())
}
