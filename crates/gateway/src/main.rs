//! `gateway` binary: parse config, start logging, bind, and hand over to [`gateway::run`] — or, for
//! `gateway openapi`, print the OpenAPI document and exit.

use anyhow::Context;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = gateway::Config::parse();
    if let Some(common::args::Command::Openapi) = config.command {
        return common::http::api::print(&gateway::http::openapi());
    }
    common::logging::init(config.common.log_format);
    let shutdown = common::shutdown::on_signal().context("installing signal handlers")?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("binding {}", config.listen_addr))?;
    gateway::run(config, listener, shutdown).await
}
