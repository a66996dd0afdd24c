//! `events-producer` binary: parse config, start logging, bind, and hand over to [`events::producer::run`].

use anyhow::Context;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = events::ProducerConfig::parse();
    if let Some(common::args::Command::Openapi) = config.command {
        return common::http::api::print(&events::producer::openapi());
    }
    common::logging::init(config.common.log_format);
    let shutdown = common::shutdown::on_signal().context("installing signal handlers")?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("binding {}", config.listen_addr))?;
    events::producer::run(config, listener, shutdown).await
}
