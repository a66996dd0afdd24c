//! The `auth` server binary: parse config, set up logging, bind, run until SIGTERM/SIGINT.

use anyhow::Context as _;
use auth::Config;
use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    common::logging::init(config.common.log_format);
    let shutdown = common::shutdown::on_signal().context("installing signal handlers")?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("binding {}", config.listen_addr))?;
    auth::run(config, listener, shutdown).await
}
