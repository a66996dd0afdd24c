//! `catalog` binary: parse config, start logging, bind, and hand over to [`catalog::run`] — or, for
//! `catalog openapi`, print the OpenAPI document and exit.

use anyhow::Context;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = catalog::Config::parse();
    if let Some(common::args::Command::Openapi) = config.command {
        return common::http::api::print(&catalog::http::openapi());
    }
    common::logging::init(config.common.log_format);
    let shutdown = common::shutdown::on_signal().context("installing signal handlers")?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("binding {}", config.listen_addr))?;
    catalog::run(config, listener, shutdown).await
}
