//! `catalog`'s configuration: flags with environment fallbacks (`catalog --help` lists them).

use std::net::SocketAddr;

use common::args::{Command, CommonArgs};
use common::http::layers::HttpArgs;

/// An in-memory product catalog over HTTP/1.1 — MOP's HTTP reference service.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "catalog", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8081")]
    pub listen_addr: SocketAddr,

    /// Number of products generated at start-up (ids 1..=N, spread over 10 categories).
    #[arg(long, env = "SEED_PRODUCTS", default_value_t = 1000)]
    pub seed_products: u64,

    /// Seed of the generator: the same seed always gives the same products.
    #[arg(long, env = "SEED", default_value_t = 42)]
    pub seed: u64,

    #[command(flatten)]
    pub http: HttpArgs,

    #[command(flatten)]
    pub common: CommonArgs,

    /// Something to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}
