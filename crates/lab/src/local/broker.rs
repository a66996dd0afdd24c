//! `lab kafka` (`just kafka`): one Apache Kafka broker in the foreground, the local lab's own, for
//! running an events service by hand (`just run-events-producer`) without the whole lab.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use anyhow::anyhow;
use testkit::kafka::KafkaBroker;
use testkit::process::Placement;

/// Starts the broker on `127.0.0.1:port` in a temporary folder (data and `kafka.log`, removed when it
/// stops), prints where it is, and runs until Ctrl-C.
pub async fn run(port: u16) -> anyhow::Result<()> {
    let shutdown = common::shutdown::on_signal()?;
    println!("kafka: starting an Apache Kafka broker on 127.0.0.1:{port} …");
    let started = Instant::now();
    let placement = Placement {
        port: Some(port),
        dir: None,
    };
    let broker = tokio::task::spawn_blocking(move || KafkaBroker::start_with(&placement))
        .await?
        .map_err(|e| anyhow!("{e}"))?;
    println!(
        "kafka: ready in {:.1} s — KAFKA_BROKERS={} (pid {}); Ctrl-C stops it and deletes its data",
        started.elapsed().as_secs_f64(),
        broker.bootstrap(),
        broker.pid().unwrap_or_default()
    );
    shutdown.cancelled().await;
    println!("kafka: stopping.");
    drop(broker);
    Ok(())
}
