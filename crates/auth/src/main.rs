//! The `auth` server binary: parse config, set up logging, bind, run until SIGTERM/SIGINT.

use anyhow::Context as _;
use auth::Config;
use clap::Parser as _;

// jemalloc instead of glibc malloc: every login hashes with argon2id, which allocates a 19 MiB block
// on whichever Tokio worker runs it. glibc keeps such freed blocks in per-thread arenas, so RSS grew
// with logins — 712 → 840 MiB over a 10-minute `just soak` at 800 req/s of `mixed` (≈ 24 logins/s),
// and 382 MB right after start (hashing the demo users). jemalloc returns them to the system; it
// runs with one arena (.cargo/config.toml says why).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
