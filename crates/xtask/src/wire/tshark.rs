//! Running tshark: the install check, the live capture on `lo` (bounded in time, stopped with
//! SIGINT so the file is complete), and reading a capture back as JSON lines (`-T ek`) with every
//! lab port decoded as its protocol — the lab's ports are not the IANA ones Wireshark would guess.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use lab::local::plan::Ports;

/// What listens on a lab port, as Wireshark names the dissector for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http,
    /// gRPC: HTTP/2 without TLS (h2c, prior knowledge).
    Http2,
    Pgsql,
    Resp,
    Kafka,
}

impl Proto {
    /// The name `-d tcp.port==P,<name>` takes.
    pub fn dissector(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Http2 => "http2",
            Self::Pgsql => "pgsql",
            Self::Resp => "resp",
            Self::Kafka => "kafka",
        }
    }
}

/// One lab port: who listens on it and in which protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: &'static str,
    pub port: u16,
    pub proto: Proto,
}

/// Every port of a lab (`Ports::named`'s names), with its protocol.
pub fn targets(ports: &Ports) -> Vec<Target> {
    ports
        .named()
        .into_iter()
        .map(|(name, port)| {
            let proto = match name {
                "PostgreSQL" => Proto::Pgsql,
                "Redis" => Proto::Resp,
                "Kafka broker" => Proto::Kafka,
                "auth" => Proto::Http2,
                _ => Proto::Http,
            };
            Target { name, port, proto }
        })
        .collect()
}

/// The BPF capture filter for these ports.
pub fn capture_filter(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| format!("tcp port {}", t.port))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// `-d tcp.port==P,proto` for every target (or every target as `force`, for the TLS pass).
pub fn decode_as(targets: &[Target], force: Option<&str>) -> Vec<String> {
    targets
        .iter()
        .flat_map(|t| {
            [
                "-d".to_owned(),
                format!(
                    "tcp.port=={},{}",
                    t.port,
                    force.unwrap_or(t.proto.dissector())
                ),
            ]
        })
        .collect()
}

const INSTALL: &str = "tshark is not installed: `apt-get install tshark` (Debian/Ubuntu; \
                       scripts/install-deps.sh does it), or `nix shell nixpkgs#wireshark-cli`";

/// `tshark -v`'s first line, or an error saying how to install it.
pub fn version() -> anyhow::Result<String> {
    let out = Command::new("tshark").arg("-v").output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!("{INSTALL}")
        } else {
            anyhow::anyhow!("cannot run tshark: {e}")
        }
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

/// A running capture on `lo`. Dropping it kills tshark; [`Capture::stop`] ends it cleanly.
pub struct Capture {
    child: std::process::Child,
    pub file: PathBuf,
    log: PathBuf,
}

impl Capture {
    /// Starts `tshark -i lo -f <filter> -w <file>` for at most `limit`, and waits (≤ 15 s) until it
    /// says it is capturing — packets sent before that would be missed.
    pub fn start(targets: &[Target], file: &Path, limit: Duration) -> anyhow::Result<Self> {
        version()?;
        let log = file.with_extension("tshark.log");
        let stderr = std::fs::File::create(&log)?;
        // A 64 MiB kernel buffer: loopback bursts at a few hundred requests per second must not be
        // dropped by the capture itself.
        let child = Command::new("tshark")
            .args(["-i", "lo", "-B", "64", "-f", &capture_filter(targets), "-w"])
            .arg(file)
            .arg("-a")
            .arg(format!("duration:{}", limit.as_secs().max(1)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context(INSTALL)?;
        let mut capture = Self {
            child,
            file: file.to_owned(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let said = std::fs::read_to_string(&capture.log).unwrap_or_default();
            if said.contains("Capturing on") {
                return Ok(capture);
            }
            if let Some(status) = capture.child.try_wait()? {
                bail!(
                    "tshark ended before capturing ({status}): {}\n(capturing on `lo` needs root or \
                     CAP_NET_RAW + CAP_NET_ADMIN for dumpcap)",
                    said.trim()
                );
            }
            if Instant::now() > deadline {
                let _ = capture.child.kill();
                bail!(
                    "tshark did not start capturing within 15 s: {}",
                    said.trim()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGINT (tshark then writes its last packets and closes the file), waited for ≤ 10 s.
    /// Returns tshark's closing words (`N packets captured`, drops if any).
    pub fn stop(mut self) -> anyhow::Result<String> {
        if self.child.try_wait()?.is_none() {
            let _ = Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("tshark did not stop within 10 s of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let said = std::fs::read_to_string(&self.log).unwrap_or_default();
        Ok(said
            .lines()
            .filter(|l| l.contains("captured") || l.contains("dropped"))
            .collect::<Vec<_>>()
            .join("; "))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The command line of one read pass, as a person would type it (docs quote these).
pub fn read_command(file: &Path, decode: &[String], filter: &str, fields: &[&str]) -> String {
    let mut line = format!("tshark -r {} {}", file.display(), decode.join(" "));
    line.push_str(&format!(" -Y '{filter}' -T ek"));
    for f in fields {
        line.push_str(" -e ");
        line.push_str(f);
    }
    line
}

/// Reads `file` with `decode` and display filter `filter`, returning each packet's `fields` as
/// JSON: tshark's `-T ek` writes `{"layers": {"tcp_srcport": ["…"], …}}` per packet (dots in field
/// names become underscores; every value is a list, one entry per occurrence in the packet).
pub fn read(
    file: &Path,
    decode: &[String],
    filter: &str,
    fields: &[&str],
) -> anyhow::Result<Vec<Map<String, Value>>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(decode)
        .args(["-Y", filter, "-T", "ek"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.stderr(Stdio::piped()).output().context(INSTALL)?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            read_command(file, decode, filter, fields),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut packets = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if !line.contains("\"layers\"") {
            continue; // the `{"index": …}` line before every packet
        }
        let v: Value = serde_json::from_str(line).context("tshark -T ek printed a bad line")?;
        if let Some(Value::Object(layers)) = v.get("layers") {
            packets.push(layers.clone());
        }
    }
    Ok(packets)
}

/// The values of `field` (dotted name) in one packet.
pub fn values<'a>(packet: &'a Map<String, Value>, field: &str) -> Vec<&'a str> {
    packet
        .get(&field.replace('.', "_"))
        .and_then(Value::as_array)
        .map(|vs| vs.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The first value of `field` as a number.
pub fn number<T: std::str::FromStr>(packet: &Map<String, Value>, field: &str) -> Option<T> {
    values(packet, field).first()?.parse().ok()
}

/// Bytes of a hex string as tshark prints them (`0a1b…`, optionally with `:` between bytes).
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks_exact(2)
        .filter_map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lab_port_is_captured_and_decoded_as_its_protocol() {
        let t = targets(&Ports::standard());
        assert_eq!(t.len(), 10);
        let proto = |port: u16| t.iter().find(|t| t.port == port).unwrap().proto;
        assert_eq!(proto(5432), Proto::Pgsql);
        assert_eq!(proto(6379), Proto::Resp);
        assert_eq!(proto(9092), Proto::Kafka);
        assert_eq!(proto(50051), Proto::Http2);
        assert_eq!(proto(8084), Proto::Http);
        let filter = capture_filter(&t);
        assert!(
            filter.starts_with("tcp port 5432 or tcp port 6379"),
            "{filter}"
        );
        let d = decode_as(&t, None);
        assert!(
            d.windows(2).any(|w| w == ["-d", "tcp.port==50051,http2"]),
            "{d:?}"
        );
        let forced = decode_as(&t, Some("tls"));
        assert!(
            forced
                .iter()
                .filter(|a| *a != "-d")
                .all(|a| a.ends_with(",tls"))
        );
    }

    #[test]
    fn hex_reads_tsharks_byte_strings_with_or_without_colons() {
        assert_eq!(hex("474554"), b"GET");
        assert_eq!(hex("16:03:01"), [0x16, 0x03, 0x01]);
        assert_eq!(hex("abc"), [0xab], "a dangling nibble is dropped");
    }
}
