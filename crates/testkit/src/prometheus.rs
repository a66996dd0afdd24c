//! A real Prometheus on loopback, loaded with fixture data, for tests that must prove a PromQL query
//! returns what the data implies (the dashboards' checks now; scenario verification later).
//!
//! [`Prometheus::start_with_openmetrics`] writes the fixture (OpenMetrics text, samples with explicit
//! timestamps) to a temporary directory, backfills it into TSDB blocks with `promtool tsdb
//! create-blocks-from openmetrics`, and starts `prometheus` on those blocks on a free 127.0.0.1 port
//! with an empty scrape configuration — so the only data is the fixture. [`Prometheus::query`] runs an
//! instant query at a given time over a plain HTTP/1.0 socket (no client library: one request, the
//! server closes the connection, no chunked encoding to decode).
//!
//! The server also accepts remote write (`--web.enable-remote-write-receiver`) for tests that push
//! samples as they go; Prometheus refuses remote-written samples older than the newest backfilled
//! block, so such tests should backfill only the past and push only the present.
//!
//! Works with Debian 12's Prometheus 2.42 (`apt-get install prometheus`; nothing starts by itself).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{self, find_binary, free_port};
use crate::{Error, Result};

const INSTALL_HINT: &str = "`apt-get install prometheus` (Debian/Ubuntu: provides prometheus and promtool; nothing is started by the package in a container)";
/// Loading blocks and opening the web server takes ~1 s here; allow for a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// One query against a handful of series answers in milliseconds.
const QUERY_TIMEOUT: Duration = Duration::from_secs(20);

/// A Prometheus server this process started on a backfilled fixture.
pub struct Prometheus {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    watchdog: Child,
}

/// One series of a query result: its labels (sorted) and its value (instant vector or scalar).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, or "" when the series has none.
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl Prometheus {
    /// Backfills `openmetrics` (must end with `# EOF`) and starts a server on it.
    pub fn start_with_openmetrics(openmetrics: &str) -> Result<Self> {
        let hint = [PathBuf::from("/usr/bin")];
        let promtool = find_binary("promtool", &hint, INSTALL_HINT)?;
        let server = find_binary("prometheus", &hint, INSTALL_HINT)?;
        let dir = process::temp_dir("testkit-prometheus")?;
        let data = dir.join("data");
        let fixture = dir.join("fixture.om");
        std::fs::write(&fixture, openmetrics)?;
        process::run(
            Command::new(&promtool)
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&fixture)
                .arg(&data),
            "promtool tsdb create-blocks-from openmetrics (the fixture is not valid OpenMetrics?)",
        )?;
        // Empty scrape configuration: the fixture is the only data.
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 15s\n")?;
        let pidfile = dir.join("prometheus.pid");
        let stop = [
            "sh".to_owned(),
            "-c".to_owned(),
            format!("kill $(cat '{}')", pidfile.display()),
        ];
        let watchdog = process::watchdog(&stop, Some(&dir))?;
        let mut last = Error("no attempt".into());
        for _ in 0..3 {
            let port = free_port()?;
            match spawn(&server, &config, &data, &dir, port) {
                Ok(child) => {
                    std::fs::write(&pidfile, child.id().to_string())?;
                    let mut p = Self {
                        port,
                        dir: dir.clone(),
                        child: Some(child),
                        watchdog,
                    };
                    p.wait_ready()?;
                    return Ok(p);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The instant query `expr` evaluated at `time` (Unix seconds): one [`Sample`] per series, or
    /// one unlabelled sample for a scalar. A PromQL error is an `Err` carrying Prometheus' message.
    pub fn query(&self, expr: &str, time: f64) -> Result<Vec<Sample>> {
        let body = self.get(&format!(
            "/api/v1/query?query={}&time={time}",
            percent_encode(expr)
        ))?;
        parse_query_response(&body).map_err(|e| Error(format!("query `{expr}`: {e}")))
    }

    /// The values of `label` on series matching `selector` within [start, end] (Grafana's
    /// `label_values(selector, label)`).
    pub fn label_values(
        &self,
        label: &str,
        selector: &str,
        start: f64,
        end: f64,
    ) -> Result<Vec<String>> {
        let body = self.get(&format!(
            "/api/v1/label/{label}/values?match[]={}&start={start}&end={end}",
            percent_encode(selector)
        ))?;
        let v: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| Error(format!("label values: not JSON ({e}): {body}")))?;
        if v["status"] != "success" {
            return Err(Error(format!(
                "label values of {label} on {selector}: {body}"
            )));
        }
        Ok(v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect())
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.get("/-/ready").is_ok() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(Error(format!(
                    "prometheus exited ({status}):\n{}",
                    self.log_tail()
                )));
            }
            if Instant::now() > deadline {
                return Err(Error(format!(
                    "prometheus was not ready within {START_TIMEOUT:?}:\n{}",
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// One HTTP/1.0 GET; a status other than 200 is an error carrying the body.
    fn get(&self, path_and_query: &str) -> Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(QUERY_TIMEOUT))?;
        write!(
            stream,
            "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"
        )?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let raw = String::from_utf8_lossy(&raw);
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .ok_or_else(|| Error(format!("malformed HTTP response: {raw}")))?;
        let status = head.split_whitespace().nth(1).unwrap_or("");
        if status != "200" {
            return Err(Error(format!(
                "GET {path_and_query}: HTTP {status}: {body}"
            )));
        }
        Ok(body.to_owned())
    }
}

fn spawn(server: &Path, config: &Path, data: &Path, dir: &Path, port: u16) -> Result<Child> {
    let log = std::fs::File::create(dir.join("prometheus.log"))?;
    Command::new(server)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // Backfilled samples are in the past: keep them whatever their age.
        .arg("--storage.tsdb.retention.time=100y")
        .arg("--web.enable-remote-write-receiver")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|e| Error(format!("could not start {}: {e}", server.display())))
}

/// Reads `{"status":"success","data":{"resultType":…,"result":…}}` into samples.
fn parse_query_response(body: &str) -> std::result::Result<Vec<Sample>, String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON ({e}): {body}"))?;
    if v["status"] != "success" {
        return Err(format!("{}: {}", v["errorType"], v["error"]));
    }
    let data = &v["data"];
    let value_of = |pair: &serde_json::Value| -> std::result::Result<f64, String> {
        pair[1]
            .as_str()
            .ok_or_else(|| format!("no value in {pair}"))?
            .parse::<f64>()
            .map_err(|e| format!("bad value in {pair}: {e}"))
    };
    match data["resultType"].as_str() {
        Some("scalar") => Ok(vec![Sample {
            labels: vec![],
            value: value_of(&data["result"])?,
        }]),
        Some("vector") => data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let mut labels: Vec<(String, String)> = s["metric"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect();
                labels.sort();
                Ok(Sample {
                    labels,
                    value: value_of(&s["value"])?,
                })
            })
            .collect(),
        other => Err(format!(
            "unexpected result type {other:?} (use an instant query)"
        )),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (enough for a query string).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backfilled_counter_gives_its_rate_and_bad_promql_is_an_error() {
        // 0, 15, 30, … at 1/s for 5 minutes, ending 10 minutes ago.
        let end = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 15)
            * 15
            - 600;
        let mut om = String::from("# TYPE t_requests counter\n");
        for i in 0..=20u64 {
            let t = end - 300 + i * 15;
            om.push_str(&format!(
                "t_requests_total{{route=\"/a\"}} {} {t}\n",
                i * 15
            ));
        }
        om.push_str("# EOF\n");
        let p = Prometheus::start_with_openmetrics(&om).unwrap();
        let r = p.query("rate(t_requests_total[1m])", end as f64).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].label("route"), "/a");
        assert!((r[0].value - 1.0).abs() < 1e-9, "{r:?}");
        assert!(p.query("rate(t_requests_total)", end as f64).is_err());
        let routes = p
            .label_values("route", "t_requests_total", (end - 300) as f64, end as f64)
            .unwrap();
        assert_eq!(routes, vec!["/a".to_owned()]);
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            percent_encode("a{b=\"c\"} [1m]"),
            "a%7Bb%3D%22c%22%7D%20%5B1m%5D"
        );
    }
}
