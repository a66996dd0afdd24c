//! From a capture file to [`Findings`]: one tshark pass per protocol, Wireshark's own dissectors
//! doing the parsing; only the Kafka bodies Wireshark 4.0 cannot read are decoded here
//! (`wire::kafka`). Each pass's fields are the ones OBI's parser for that protocol relies on.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use super::findings::{Findings, Grpc, Http, Postgres, Redis, Tls, api_name};
use super::tshark::{self, Proto, Target, decode_as, number, read, values};
use lab::manifests::obi::route_for;

/// (client port, server port) → process name, from `ss -tnp` during the run: who sent what. Keyed
/// by both ports, since an ephemeral port freed by one process's short connection is soon reused by
/// another's to a different server.
pub type Owners = BTreeMap<(u16, u16), String>;

/// Route templates per HTTP service name (from `<bin> openapi`).
pub type Routes = BTreeMap<&'static str, Vec<String>>;

/// Reads the whole capture.
pub fn all(
    file: &Path,
    targets: &[Target],
    routes: &Routes,
    owners: &Owners,
) -> anyhow::Result<Findings> {
    let decode = decode_as(targets, None);
    let port_of = |proto: Proto| targets.iter().find(|t| t.proto == proto).map(|t| t.port);
    let (packets, tls) = tls(file, targets)?;
    let mut http = Vec::new();
    for t in targets.iter().filter(|t| t.proto == Proto::Http) {
        let templates = routes.get(t.name).cloned().unwrap_or_default();
        http.push(http1(file, &decode, t, &templates, owners)?);
    }
    Ok(Findings {
        tshark: tshark::version()?,
        packets,
        tls,
        http,
        grpc: grpc(file, &decode, port_of(Proto::Http2).unwrap_or(0), owners)?,
        postgres: postgres(file, &decode, port_of(Proto::Pgsql).unwrap_or(0), owners)?,
        redis: redis(file, &decode, port_of(Proto::Resp).unwrap_or(0), owners)?,
        kafka: super::kafka_pass::kafka(file, &decode, port_of(Proto::Kafka).unwrap_or(0), owners)?,
    })
}

/// Who sent from `client` to `server`; `unknown` when no snapshot saw that connection.
pub fn owner(owners: &Owners, client: Option<u16>, server: u16) -> String {
    client
        .and_then(|c| owners.get(&(c, server)).cloned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Every port decoded as TLS (handshakes would show), and the first bytes of every stream.
fn tls(file: &Path, targets: &[Target]) -> anyhow::Result<(u64, Tls)> {
    let forced = decode_as(targets, Some("tls"));
    let handshakes: u64 = read(
        file,
        &forced,
        "tls.handshake.type == 1 || tls.handshake.type == 2",
        &["tls.handshake.type"],
    )?
    .iter()
    .map(|p| values(p, "tls.handshake.type").len() as u64)
    .sum();
    let all = read(
        file,
        &[],
        "tcp",
        &["tcp.stream", "tcp.srcport", "tcp.payload"],
    )?;
    let mut first: BTreeMap<(u64, u16), Vec<u8>> = BTreeMap::new();
    for p in &all {
        let (Some(stream), Some(src)) = (number(p, "tcp.stream"), number(p, "tcp.srcport")) else {
            continue;
        };
        if let Some(payload) = values(p, "tcp.payload").first() {
            first
                .entry((stream, src))
                .or_insert_with(|| tshark::hex(&payload[..payload.len().min(8)]));
        }
    }
    let streams: BTreeSet<u64> = first.keys().map(|(s, _)| *s).collect();
    let tls_streams: BTreeSet<u64> = first
        .iter()
        .filter(|(_, b)| b.len() >= 2 && b[0] == 0x16 && b[1] == 0x03)
        .map(|((s, _), _)| *s)
        .collect();
    Ok((
        all.len() as u64,
        Tls {
            handshakes,
            streams: streams.len() as u64,
            tls_record_starts: tls_streams.len() as u64,
        },
    ))
}

fn http1(
    file: &Path,
    decode: &[String],
    target: &Target,
    templates: &[String],
    owners: &Owners,
) -> anyhow::Result<Http> {
    let filter = format!("http.request && tcp.dstport == {}", target.port);
    let fields = [
        "tcp.srcport",
        "http.request.method",
        "http.request.uri",
        "http.request.version",
        "http.request.line",
    ];
    let mut h = Http {
        service: target.name.to_owned(),
        port: target.port,
        ..Http::default()
    };
    for p in read(file, decode, &filter, &fields)? {
        let methods = values(&p, "http.request.method");
        let uris = values(&p, "http.request.uri");
        for (method, uri) in methods.iter().zip(&uris) {
            h.requests += 1;
            let path = uri.split('?').next().unwrap_or(uri);
            match route_for(templates, path) {
                Some(route) => *h.routes.entry(format!("{method} {route}")).or_default() += 1,
                None => *h.unmatched.entry(format!("{method} {path}")).or_default() += 1,
            }
        }
        h.versions.extend(
            values(&p, "http.request.version")
                .iter()
                .map(|v| v.to_string()),
        );
        let traced = values(&p, "http.request.line")
            .iter()
            .filter(|l| l.to_ascii_lowercase().starts_with("traceparent:"))
            .count() as u64;
        h.with_traceparent += traced;
        let client = owner(owners, number(&p, "tcp.srcport"), target.port);
        let entry = h.traceparent_by_client.entry(client.clone()).or_default();
        entry.0 += methods.len() as u64;
        entry.1 += traced;
        h.clients.insert(client);
    }
    Ok(h)
}

fn grpc(file: &Path, decode: &[String], port: u16, owners: &Owners) -> anyhow::Result<Grpc> {
    let fields = [
        "tcp.srcport",
        "tcp.dstport",
        "http2.magic",
        "http2.type",
        "http2.headers.path",
        "http2.header.name",
        "http2.header.value",
    ];
    let mut g = Grpc {
        port,
        ..Grpc::default()
    };
    for p in read(file, decode, "http2", &fields)? {
        let to_server = number::<u16>(&p, "tcp.dstport") == Some(port);
        if to_server {
            g.prefaces += values(&p, "http2.magic").len() as u64;
            let headers = values(&p, "http2.type")
                .iter()
                .filter(|t| **t == "1")
                .count();
            let paths = values(&p, "http2.headers.path");
            g.without_path += headers.saturating_sub(paths.len()) as u64;
            for path in paths {
                *g.paths.entry(path.to_owned()).or_default() += 1;
            }
            g.clients
                .insert(owner(owners, number(&p, "tcp.srcport"), port));
        } else {
            let names = values(&p, "http2.header.name");
            let vals = values(&p, "http2.header.value");
            for (name, value) in names.iter().zip(&vals) {
                if *name == "grpc-status" {
                    *g.statuses.entry((*value).to_owned()).or_default() += 1;
                }
            }
        }
    }
    Ok(g)
}

fn fold_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn postgres(
    file: &Path,
    decode: &[String],
    port: u16,
    owners: &Owners,
) -> anyhow::Result<Postgres> {
    let filter = format!("pgsql && tcp.dstport == {port}");
    let fields = [
        "tcp.srcport",
        "pgsql.type",
        "pgsql.statement",
        "pgsql.query",
    ];
    let mut pg = Postgres {
        port,
        ..Postgres::default()
    };
    let mut parsed: HashSet<(u16, String)> = HashSet::new();
    for p in read(file, decode, &filter, &fields)? {
        let src: u16 = number(&p, "tcp.srcport").unwrap_or(0);
        pg.clients.insert(owner(owners, Some(src), port));
        pg.statement_names
            .extend(values(&p, "pgsql.statement").iter().map(|s| s.to_string()));
        // pgsql.query occurs once per Parse and per Simple query, in message order.
        let mut queries = values(&p, "pgsql.query").into_iter();
        for kind in values(&p, "pgsql.type") {
            match kind {
                "Startup message" => pg.startups += 1,
                k if k.contains("SSL") => pg.ssl_requests += 1,
                "Parse" => {
                    pg.parse += 1;
                    let text = fold_whitespace(queries.next().unwrap_or_default());
                    pg.longest_statement = pg.longest_statement.max(text.len());
                    if !parsed.insert((src, text.clone())) {
                        pg.reparsed += 1;
                    }
                    *pg.statements.entry(text).or_default() += 1;
                }
                "Simple query" => {
                    let text = fold_whitespace(queries.next().unwrap_or_default());
                    *pg.simple_queries.entry(text).or_default() += 1;
                }
                "Bind" => pg.bind += 1,
                "Execute" => pg.execute += 1,
                _ => {}
            }
        }
    }
    Ok(pg)
}

fn redis(file: &Path, decode: &[String], port: u16, owners: &Owners) -> anyhow::Result<Redis> {
    let fields = [
        "tcp.srcport",
        "tcp.dstport",
        "resp.array.length",
        "resp.bulk_string.value",
    ];
    let mut r = Redis {
        port,
        ..Redis::default()
    };
    for p in read(file, decode, "resp", &fields)? {
        let to_server = number::<u16>(&p, "tcp.dstport") == Some(port);
        // A command is an array of bulk strings; the first is the command word.
        let mut bulks = values(&p, "resp.bulk_string.value").into_iter();
        for len in values(&p, "resp.array.length") {
            let n: usize = len.parse().unwrap_or(0);
            let words: Vec<String> = bulks
                .by_ref()
                .take(n)
                .map(|b| String::from_utf8_lossy(&tshark::hex(b)).into_owned())
                .collect();
            let Some(word) = words.first() else { continue };
            if to_server {
                let word = word.to_ascii_uppercase();
                *r.commands.entry(word.clone()).or_default() += 1;
                r.by_client
                    .entry(owner(owners, number(&p, "tcp.srcport"), port))
                    .or_default()
                    .insert(word);
            } else if word == "message" || word == "pmessage" {
                r.pushes += 1;
            }
        }
    }
    Ok(r)
}

/// `Name vN` for a Kafka request.
pub fn request_label(key: i16, version: i16) -> String {
    format!("{} v{version}", api_name(key))
}
