//! One kubelet-style probe attempt against a running container: HTTP GET, gRPC health, TCP.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{anyhow, bail};

use super::ProbeKind;

/// One probe attempt, as the kubelet does it: an HTTP GET answered 200–399, a gRPC `Health/Check`
/// answered SERVING, or a TCP connection accepted.
pub async fn probe(ip: Ipv4Addr, kind: &ProbeKind) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(1);
    match kind {
        ProbeKind::Tcp { port } => {
            tokio::time::timeout(timeout, tokio::net::TcpStream::connect((ip, *port))).await??;
            Ok(())
        }
        ProbeKind::Http { path, port } => {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let exchange = async {
                let mut s = tokio::net::TcpStream::connect((ip, *port)).await?;
                s.write_all(
                    format!("GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: kube-probe/1.36\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await?;
                let mut buf = Vec::new();
                s.read_to_end(&mut buf).await?;
                anyhow::Ok(buf)
            };
            let buf = tokio::time::timeout(timeout, exchange).await??;
            let head = String::from_utf8_lossy(&buf);
            let code: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| anyhow!("not an HTTP response: {head:.80}"))?;
            if (200..400).contains(&code) {
                Ok(())
            } else {
                bail!("GET {path} answered {code}")
            }
        }
        ProbeKind::Grpc { port, service } => {
            use tonic_health::pb::{
                HealthCheckRequest, health_check_response::ServingStatus,
                health_client::HealthClient,
            };
            let check = async {
                let channel = tonic::transport::Endpoint::from_shared(format!(
                    "http://{}",
                    SocketAddr::from((ip, *port))
                ))?
                .connect()
                .await?;
                let reply = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: service.clone(),
                    })
                    .await?
                    .into_inner();
                anyhow::Ok(reply.status)
            };
            let status = tokio::time::timeout(timeout, check).await??;
            if status == ServingStatus::Serving as i32 {
                Ok(())
            } else {
                bail!("grpc.health.v1 status {status}, not SERVING")
            }
        }
    }
}
