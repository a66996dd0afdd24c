//! Closed-loop benchmark client for the auth service: N tasks, each sending one call, waiting for the
//! answer, sending the next, for D seconds; spread over C HTTP/2 connections. Prints one JSON line
//! with throughput and latency percentiles (from an HDR histogram).
//!
//! `validate` logs in once and then hammers ValidateToken with that token (works against the real
//! server and the `bare_server` baseline alike, given `--token` for the latter); `login` measures the
//! full cost of a login (argon2id verify) at whatever parameters the server runs with.

use std::io::Write as _;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use proto::auth::v1 as pb;
use proto::auth::v1::auth_service_client::AuthServiceClient;
use tonic::transport::{Channel, Endpoint};

#[derive(Debug, Parser)]
struct Options {
    /// Server URL.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// Which call to measure.
    #[arg(long, value_enum, default_value = "validate")]
    rpc: Rpc,
    /// Concurrent in-flight calls (closed loop).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections the calls are spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// How long to measure (after a 1 s warm-up).
    #[arg(long, default_value = "10s", value_parser = common::args::parse_duration)]
    duration: Duration,
    /// Label for the report line.
    #[arg(long, default_value = "auth")]
    label: String,
    /// Token to validate; by default obtained by logging in as user-0001 (the baseline has no Login).
    #[arg(long)]
    token: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Rpc {
    Validate,
    Login,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let mut channels = Vec::new();
    for _ in 0..options.connections.max(1) {
        channels.push(
            Endpoint::from_shared(options.addr.clone())?
                .connect()
                .await?,
        );
    }
    let token = match (&options.token, options.rpc) {
        (Some(token), _) => token.clone(),
        (None, Rpc::Validate) => login(channels[0].clone(), 1).await?,
        (None, Rpc::Login) => String::new(),
    };

    // Warm-up, then the measured run.
    run(&options, &channels, &token, Duration::from_secs(1)).await;
    let started = Instant::now();
    let (histogram, errors) = run(&options, &channels, &token, options.duration).await;
    let elapsed = started.elapsed().as_secs_f64();
    let ok = histogram.len();
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    let report = serde_json::json!({
            "label": options.label,
            "rpc": format!("{:?}", options.rpc),
            "concurrency": options.concurrency,
            "connections": options.connections,
            "seconds": elapsed,
            "ok": ok,
            "errors": errors,
            "rps": ok as f64 / elapsed,
            "p50_ms": ms(0.50),
            "p90_ms": ms(0.90),
            "p99_ms": ms(0.99),
            "max_ms": histogram.max() as f64 / 1000.0,
    });
    // writeln!, not println!: a closed pipe (`| head`) is not worth a panic.
    let _ = writeln!(std::io::stdout(), "{report}");
    Ok(())
}

async fn login(channel: Channel, n: u32) -> anyhow::Result<String> {
    let (username, password) = auth::users::demo_credentials(n);
    let response = AuthServiceClient::new(channel)
        .login(pb::LoginRequest { username, password })
        .await?
        .into_inner();
    Ok(response.tokens.map(|t| t.access_token).unwrap_or_default())
}

/// Runs the closed loop for `duration`; returns the latency histogram (µs) of successful calls and
/// the number of failed ones.
async fn run(
    options: &Options,
    channels: &[Channel],
    token: &str,
    duration: Duration,
) -> (Histogram<u64>, u64) {
    let deadline = tokio::time::Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..options.concurrency.max(1) {
        let mut client = AuthServiceClient::new(channels[i % channels.len()].clone());
        let token = token.to_owned();
        let rpc = options.rpc;
        tasks.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
            let mut errors = 0u64;
            // Spread logins over the first 50 demo users (the server seeds 100 by default).
            let mut n = u32::try_from(i % 50).unwrap_or(0) + 1;
            while tokio::time::Instant::now() < deadline {
                let start = Instant::now();
                let ok = match rpc {
                    Rpc::Validate => client
                        .validate_token(pb::ValidateTokenRequest {
                            access_token: token.clone(),
                        })
                        .await
                        .is_ok(),
                    Rpc::Login => {
                        let (username, password) = auth::users::demo_credentials(n);
                        n = n % 50 + 1;
                        client
                            .login(pb::LoginRequest { username, password })
                            .await
                            .is_ok()
                    }
                };
                let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                if ok {
                    let _ = histogram.record(micros.max(1));
                } else {
                    errors += 1;
                }
            }
            (histogram, errors)
        }));
    }
    let mut total = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
    let mut errors = 0;
    for task in tasks {
        if let Ok((histogram, e)) = task.await {
            let _ = total.add(histogram);
            errors += e;
        }
    }
    (total, errors)
}
