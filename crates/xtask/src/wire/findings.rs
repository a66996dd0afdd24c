//! What the capture showed, per protocol, as typed values (the test asserts on them, `lab wire`
//! prints them, docs/visibility.md quotes them) — and the table that prints them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

/// Everything found in one capture.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    /// `tshark -v`'s first line.
    pub tshark: String,
    pub packets: u64,
    pub tls: Tls,
    pub http: Vec<Http>,
    pub grpc: Grpc,
    pub postgres: Postgres,
    pub redis: Redis,
    pub kafka: Kafka,
}

/// TLS, looked for two ways: every lab port decoded *as* TLS (a handshake would dissect), and the
/// first payload bytes of every TCP stream (a TLS record starts `16 03`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tls {
    /// ClientHello or ServerHello messages when every port is decoded as TLS.
    pub handshakes: u64,
    /// TCP streams with payload, on any lab port.
    pub streams: u64,
    /// Of those, streams whose first payload byte in either direction starts a TLS record.
    pub tls_record_starts: u64,
}

/// HTTP/1.x requests to one service's port.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Http {
    pub service: String,
    pub port: u16,
    pub requests: u64,
    /// Request-line versions (`HTTP/1.1`).
    pub versions: BTreeSet<String>,
    /// `METHOD /template` (the service's OpenAPI templates, matched like OBI's route matcher) → count.
    pub routes: BTreeMap<String, u64>,
    /// Request paths no template matched.
    pub unmatched: BTreeMap<String, u64>,
    /// Processes that sent them (from `ss -tnp` during the run).
    pub clients: BTreeSet<String>,
    /// Requests carrying a W3C `traceparent` header.
    pub with_traceparent: u64,
    /// Client process → (requests, of which with `traceparent`).
    pub traceparent_by_client: BTreeMap<String, (u64, u64)>,
}

/// gRPC over h2c to auth.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Grpc {
    pub port: u16,
    /// HTTP/2 connection prefaces (`PRI * HTTP/2.0`): h2c with prior knowledge, no Upgrade, no ALPN.
    pub prefaces: u64,
    /// Request HEADERS frames whose `:path` Wireshark decoded (HPACK) → count per path.
    pub paths: BTreeMap<String, u64>,
    /// Request HEADERS frames without a decodable `:path`.
    pub without_path: u64,
    /// `grpc-status` values in responses → count.
    pub statuses: BTreeMap<String, u64>,
    pub clients: BTreeSet<String>,
}

/// PostgreSQL's frontend messages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Postgres {
    pub port: u16,
    pub startups: u64,
    pub ssl_requests: u64,
    pub parse: u64,
    pub bind: u64,
    pub execute: u64,
    /// Parse messages whose statement text the same connection had parsed before (0: every statement
    /// is prepared once per connection and then only bound — sqlx's statement cache).
    pub reparsed: u64,
    /// Statement names used by Parse/Bind (`sqlx_s_N`; `""` is the unnamed statement).
    pub statement_names: BTreeSet<String>,
    /// Parse statement text (whitespace folded) → count.
    pub statements: BTreeMap<String, u64>,
    /// Simple-query text → count.
    pub simple_queries: BTreeMap<String, u64>,
    /// Longest Parse statement, in bytes (OBI's parser ignores a first message over 3000 bytes).
    pub longest_statement: usize,
    pub clients: BTreeSet<String>,
}

/// RESP commands to Redis.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Redis {
    pub port: u16,
    /// Command word (upper case) → count.
    pub commands: BTreeMap<String, u64>,
    /// Client process → the command words it sent.
    pub by_client: BTreeMap<String, BTreeSet<String>>,
    /// Pub/sub `message` pushes from the server.
    pub pushes: u64,
}

/// Kafka requests to the broker.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Kafka {
    pub port: u16,
    /// `client_software_name/version` from ApiVersions requests (`librdkafka/2.12.1`).
    pub software: BTreeSet<String>,
    /// API key → version → request count, as Wireshark's Kafka dissector read the headers.
    pub requests: BTreeMap<i16, BTreeMap<i16, u64>>,
    /// API key → the broker's highest version, from its ApiVersions responses.
    pub broker_max: BTreeMap<i16, i16>,
    /// Client process → the `Name vN` requests it sent.
    pub by_client: BTreeMap<String, BTreeSet<String>>,
    pub fetch: Topics,
    pub produce: Topics,
    /// Topic name → id (hex) from Metadata v10–13 responses: what OBI resolves Fetch ids with.
    pub metadata_ids: BTreeMap<String, String>,
    /// Largest Metadata response, in bytes: OBI reads it only if `ebpf.buffer_sizes.kafka` holds it.
    pub metadata_response_max: usize,
}

/// How requests named their topics (decoded from the bytes: see `wire::kafka`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Topics {
    pub by_name: BTreeMap<String, u64>,
    /// Topic id (hex; resolved to `id (name)` when a Metadata response named it) → count.
    pub by_id: BTreeMap<String, u64>,
    /// Requests with no topic at all (e.g. an incremental fetch of an unchanged session).
    pub empty: u64,
    /// Requests whose bytes were not one whole message in the frame.
    pub undecoded: u64,
}

/// Kafka's API key names (Apache Kafka's `ApiKeys`), for the keys a librdkafka client sends.
pub fn api_name(key: i16) -> &'static str {
    match key {
        0 => "Produce",
        1 => "Fetch",
        2 => "ListOffsets",
        3 => "Metadata",
        8 => "OffsetCommit",
        9 => "OffsetFetch",
        10 => "FindCoordinator",
        11 => "JoinGroup",
        12 => "Heartbeat",
        13 => "LeaveGroup",
        14 => "SyncGroup",
        15 => "DescribeGroups",
        16 => "ListGroups",
        17 => "SaslHandshake",
        18 => "ApiVersions",
        19 => "CreateTopics",
        22 => "InitProducerId",
        32 => "DescribeConfigs",
        36 => "SaslAuthenticate",
        68 => "ConsumerGroupHeartbeat",
        71 => "GetTelemetrySubscriptions",
        72 => "PushTelemetry",
        _ => "other",
    }
}

fn join<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items.into_iter().cloned().collect::<Vec<_>>().join(", ")
}

fn counts(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Findings {
    /// The findings table `lab wire` prints.
    pub fn table(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "{} — {} packets on the lab's ports",
            self.tshark, self.packets
        );
        let t = &self.tls;
        let _ = writeln!(
            o,
            "\nTLS: {} ClientHello/ServerHello with every port decoded as TLS; {} of {} TCP streams begin with a TLS record",
            t.handshakes, t.tls_record_starts, t.streams
        );
        for h in &self.http {
            let _ = writeln!(
                o,
                "\nHTTP {} (:{}): {} requests, {}; {} with traceparent; clients: {}",
                h.service,
                h.port,
                h.requests,
                join(&h.versions),
                h.with_traceparent,
                join(&h.clients)
            );
            for (client, (n, tp)) in &h.traceparent_by_client {
                let _ = writeln!(o, "  {client}: {n} requests, {tp} with traceparent");
            }
            for (route, n) in &h.routes {
                let _ = writeln!(o, "  {n:>6}  {route}");
            }
            for (path, n) in &h.unmatched {
                let _ = writeln!(o, "  {n:>6}  {path}  (no template)");
            }
        }
        let g = &self.grpc;
        let _ = writeln!(
            o,
            "\ngRPC auth (:{}): {} h2c prefaces; {} request HEADERS without a decodable :path; statuses: {}; clients: {}",
            g.port,
            g.prefaces,
            g.without_path,
            counts(&g.statuses),
            join(&g.clients)
        );
        for (path, n) in &g.paths {
            let _ = writeln!(o, "  {n:>6}  {path}");
        }
        let p = &self.postgres;
        let _ = writeln!(
            o,
            "\nPostgreSQL (:{}): {} startups, {} SSLRequests; Parse {}, Bind {}, Execute {}; re-parsed on the same connection {}; statement names: {}; longest statement {} bytes; clients: {}",
            p.port,
            p.startups,
            p.ssl_requests,
            p.parse,
            p.bind,
            p.execute,
            p.reparsed,
            join(&p.statement_names),
            p.longest_statement,
            join(&p.clients)
        );
        for (s, n) in &p.statements {
            let _ = writeln!(o, "  {n:>6}  Parse  {s}");
        }
        for (s, n) in &p.simple_queries {
            let _ = writeln!(o, "  {n:>6}  Query  {s}");
        }
        let r = &self.redis;
        let _ = writeln!(
            o,
            "\nRedis (:{}): {}; pub/sub pushes {}",
            r.port,
            counts(&r.commands),
            r.pushes
        );
        for (client, cmds) in &r.by_client {
            let _ = writeln!(o, "  {client}: {}", join(cmds));
        }
        self.kafka_table(&mut o);
        o
    }

    fn kafka_table(&self, o: &mut String) {
        let k = &self.kafka;
        let _ = writeln!(o, "\nKafka (:{}): clients {}", k.port, join(&k.software));
        for (key, versions) in &k.requests {
            let seen: Vec<String> = versions.iter().map(|(v, n)| format!("v{v} ×{n}")).collect();
            let max = k
                .broker_max
                .get(key)
                .map_or(String::new(), |m| format!(" (broker max v{m})"));
            let _ = writeln!(
                o,
                "  {:<26} {}{max}",
                format!("{} ({key})", api_name(*key)),
                seen.join(", ")
            );
        }
        for (client, reqs) in &k.by_client {
            let _ = writeln!(o, "  {client}: {}", join(reqs));
        }
        for (what, t) in [("Fetch", &k.fetch), ("Produce", &k.produce)] {
            let _ = writeln!(
                o,
                "  {what} topic entries by name: {}; by id: {}; requests with no topic {}; undecoded {}",
                counts(&t.by_name),
                counts(&t.by_id),
                t.empty,
                t.undecoded
            );
        }
        let ids: Vec<String> = k
            .metadata_ids
            .iter()
            .map(|(name, id)| format!("{name}={id}"))
            .collect();
        let _ = writeln!(
            o,
            "  Metadata topic ids: {}; largest Metadata response {} bytes",
            ids.join(", "),
            k.metadata_response_max
        );
    }
}
