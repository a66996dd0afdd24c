//! Reading a check's value from outside the services: loadgen's report of the phase, or a counter
//! read before and after it — a service's JSON statistics over HTTP, Redis' `INFO stats` over RESP,
//! a PostgreSQL statistics query, a consumer group's lag computed from the broker's offsets.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use loadgen::report::{Report, StepReport};
use loadgen::stats::class_matches;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::spec::{LoadgenProbe, Probe, Stat};
use lab::Lab;
use lab::local::plan::Probe as Ready;

/// Longest a single reading may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The value of a loadgen probe in a phase's report (NaN when the step ran no request).
pub fn loadgen(p: &LoadgenProbe, report: &Report) -> anyhow::Result<f64> {
    let step: &StepReport = match &p.step {
        None => &report.total,
        Some(name) => report
            .steps
            .iter()
            .find(|s| &s.name == name)
            .ok_or_else(|| anyhow!("the load has no step {name:?}"))?,
    };
    #[allow(clippy::cast_precision_loss)]
    let completed = step.completed as f64;
    let classes = || {
        step.ok_classes
            .iter()
            .chain(&step.expected_errors)
            .chain(&step.unexpected_errors)
    };
    let of_class = || -> anyhow::Result<f64> {
        let class = p.class.as_deref().context("share and count need a class")?;
        #[allow(clippy::cast_precision_loss)]
        let n = classes()
            .filter(|(c, _)| class_matches(class, c))
            .map(|(_, n)| *n)
            .sum::<u64>() as f64;
        Ok(n)
    };
    Ok(match p.stat {
        Stat::Count => of_class()?,
        Stat::Share => of_class()? / completed,
        Stat::ErrorShare => {
            // A success of the protocol: planned and successful (`ok_classes`), or an unplanned 2xx /
            // OK (a step expecting only errors that got answers).
            let success = |c: &str| {
                let bare = c.split_once(':').map_or(c, |(_, b)| b);
                bare == "OK" || (bare.len() == 3 && bare.starts_with('2'))
            };
            #[allow(clippy::cast_precision_loss)]
            let failed = step
                .expected_errors
                .iter()
                .chain(&step.unexpected_errors)
                .filter(|(c, _)| !success(c))
                .map(|(_, n)| *n)
                .sum::<u64>() as f64;
            failed / completed
        }
        Stat::P99Ms if step.completed == 0 => f64::NAN,
        Stat::P99Ms => step.latency_from_send_ms.p99,
    })
}

/// One reading of a counter probe.
pub async fn counter(probe: &Probe, lab: &Lab) -> anyhow::Result<f64> {
    let read = async {
        match probe {
            Probe::Loadgen(_) => bail!("a loadgen probe is read from the report"),
            Probe::Http(h) => {
                let port = service_port(lab, &h.service)?;
                let body = http_get(port, &h.path).await?;
                let json: serde_json::Value = serde_json::from_str(&body)
                    .with_context(|| format!("{} {} is not JSON: {body}", h.service, h.path))?;
                json[&h.field]
                    .as_f64()
                    .ok_or_else(|| anyhow!("{} {} has no number {:?}", h.service, h.path, h.field))
            }
            Probe::Redis(c) => {
                let info = redis_info(lab.plan.ports.redis).await?;
                info.lines()
                    .find_map(|l| l.strip_prefix(&format!("{}:", c.field)))
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| anyhow!("Redis INFO stats has no {:?}", c.field))
            }
            Probe::Postgres(q) => {
                let options = lab.postgres().admin_options().database("orders");
                let mut db = sqlx::PgConnection::connect_with(&options).await?;
                let v: Option<f64> = sqlx::query_scalar(sqlx::AssertSqlSafe(q.query.clone()))
                    .fetch_one(&mut db)
                    .await
                    .with_context(|| format!("PostgreSQL: {}", q.query))?;
                db.close().await?;
                Ok(v.unwrap_or(0.0))
            }
            Probe::KafkaLag(k) => {
                let brokers = lab.plan.kafka_brokers();
                let (group, topic) = (k.group.clone(), k.topic.clone());
                tokio::task::block_in_place(|| lag(&brokers, &group, &topic))
            }
        }
    };
    tokio::time::timeout(READ_TIMEOUT, read)
        .await
        .map_err(|_| anyhow!("no reading within {READ_TIMEOUT:?}"))?
}

/// The HTTP port of a lab service, by its lab name.
fn service_port(lab: &Lab, name: &str) -> anyhow::Result<u16> {
    let s = lab
        .services()
        .iter()
        .find(|s| s.spec.name == name)
        .ok_or_else(|| anyhow!("the lab has no service {name:?}"))?;
    match s.spec.probe {
        Ready::HttpReady(port) => Ok(port),
        Ready::Listening(_) | Ready::GrpcServing(_) => bail!("{name} serves no HTTP"),
    }
}

/// The body of a plain HTTP/1.1 GET that must answer 200.
async fn http_get(port: u16, path: &str) -> anyhow::Result<String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("no HTTP answer on :{port}{path}"))?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!(
            "GET :{port}{path}: {}",
            head.lines().next().unwrap_or_default()
        );
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        bail!("GET :{port}{path}: chunked answers are not read here");
    }
    Ok(body.to_owned())
}

/// `INFO stats` over RESP (one bulk string).
async fn redis_info(port: u16) -> anyhow::Result<String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(b"INFO stats\r\n").await?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            bail!("Redis closed the connection");
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((len, rest)) = text.strip_prefix('$').and_then(|t| t.split_once("\r\n")) {
            let len: usize = len.parse().context("RESP bulk length")?;
            if rest.len() >= len {
                return Ok(rest[..len].to_owned());
            }
        } else if !text.is_empty() && !text.starts_with('$') {
            bail!("Redis answered {text}");
        }
    }
}

/// Σ over `topic`'s partitions of (high watermark − `group`'s committed offset); a partition the
/// group never committed counts from its low watermark.
fn lag(brokers: &str, group: &str, topic: &str) -> anyhow::Result<f64> {
    let timeout = Duration::from_secs(5);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        bail!("the broker knows no partitions of {topic}");
    }
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition(topic, *p);
    }
    let committed = consumer.committed_offsets(tpl, timeout)?;
    let mut total = 0i64;
    for p in partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, timeout)?;
        let at = match committed.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => low,
        };
        total += (high - at).max(0);
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(total as f64)
}
