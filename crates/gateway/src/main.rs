//! `gateway` binary: parse config, start logging, bind, and hand over to [`gateway::run`].

use anyhow::Context;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = gateway::Config::parse();
    common::logging::init(config.common.log_format);
    let shutdown = common::shutdown::on_signal().context("installing signal handlers")?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("binding {}", config.listen_addr))?;
    gateway::run(config, listener, shutdown).await
}
