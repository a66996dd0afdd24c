//! `events-consumer` binary: parse config, start logging, bind the admin port, and hand over to
//! [`events::consumer::run`] — or, for `events-consumer openapi`, print the admin port's OpenAPI
//! document and exit.

use anyhow::Context;
use clap::{CommandFactory, Parser};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `events-consumer openapi` describes the admin port, which is the same for every role, so it
    // must work without `--role`: clap finds the subcommand with the missing requirement ignored.
    let peek = events::ConsumerConfig::command()
        .ignore_errors(true)
        .get_matches();
    if peek.subcommand_name() == Some("openapi") {
        return common::http::api::print(&events::consumer::admin::openapi());
    }
    let config = events::ConsumerConfig::parse();
    common::logging::init(config.common.log_format);
    let shutdown = common::shutdown::on_signal().context("installing signal handlers")?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("binding {}", config.listen_addr))?;
    events::consumer::run(config, listener, shutdown).await
}
