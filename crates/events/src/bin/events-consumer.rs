//! `events-consumer` binary: parse config, start logging, bind the admin port, and hand over to
//! [`events::consumer::run`].

use anyhow::Context;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = events::ConsumerConfig::parse();
    common::logging::init(config.common.log_format);
    let shutdown = common::shutdown::on_signal().context("installing signal handlers")?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("binding {}", config.listen_addr))?;
    events::consumer::run(config, listener, shutdown).await
}
