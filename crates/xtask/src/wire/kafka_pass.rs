//! The Kafka pass: request headers as Wireshark's dissector reads them (API key, version, client
//! software, the broker's ApiVersions ranges), and the bodies it cannot read at librdkafka's
//! versions decoded from the same frames' bytes (`wire::kafka`) — requests and responses paired by
//! connection and correlation id, as OBI pairs them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::dissect::{Owners, owner, request_label};
use super::findings::{Kafka, Topics};
use super::kafka::{TopicRef, fetch_topics, id_hex, metadata_topics, produce_topics};
use super::tshark::{hex, number, read, values};

/// The whole Kafka messages at the start of `bytes` (length-prefixed); a cut-off tail is left out.
fn messages(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 4 {
        let size = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let Ok(size) = usize::try_from(size) else {
            break;
        };
        if rest.len() < 4 + size || size < 4 {
            break;
        }
        out.push(&rest[..4 + size]);
        rest = &rest[4 + size..];
    }
    out
}

fn be16(m: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([m[at], m[at + 1]])
}

fn be32(m: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([m[at], m[at + 1], m[at + 2], m[at + 3]])
}

fn count(topics: &mut Topics, refs: Option<Vec<TopicRef>>) {
    match refs {
        None => topics.undecoded += 1,
        Some(refs) if refs.is_empty() => topics.empty += 1,
        Some(refs) => {
            for r in refs {
                let key = match r {
                    TopicRef::Name(name) => {
                        *topics.by_name.entry(name).or_default() += 1;
                        continue;
                    }
                    TopicRef::Id(id) => id_hex(&id),
                };
                *topics.by_id.entry(key).or_default() += 1;
            }
        }
    }
}

/// Topic ids become `id (name)` where a Metadata response named them.
fn resolve(topics: &mut Topics, names: &BTreeMap<String, String>) {
    let by_id: HashMap<&String, &String> = names.iter().map(|(n, id)| (id, n)).collect();
    topics.by_id = std::mem::take(&mut topics.by_id)
        .into_iter()
        .map(|(id, n)| match by_id.get(&id) {
            Some(name) => (format!("{id} ({name})"), n),
            None => (format!("{id} (never named by a Metadata response)"), n),
        })
        .collect();
}

pub fn kafka(file: &Path, decode: &[String], port: u16, owners: &Owners) -> anyhow::Result<Kafka> {
    let fields = [
        "tcp.srcport",
        "tcp.dstport",
        "kafka.api_key",
        "kafka.api_version",
        "kafka.client_software_name",
        "kafka.client_software_version",
        "kafka.api_versions.api_key",
        "kafka.api_versions.max_version",
        "tcp.reassembled.data",
        "tcp.payload",
    ];
    let mut k = Kafka {
        port,
        ..Kafka::default()
    };
    // (client port, correlation id) → (api key, version) of the request a response answers.
    let mut pending: HashMap<(u16, i32), (i16, i16)> = HashMap::new();
    for p in read(file, decode, "kafka", &fields)? {
        let src: u16 = number(&p, "tcp.srcport").unwrap_or(0);
        let dst: u16 = number(&p, "tcp.dstport").unwrap_or(0);
        let raw = values(&p, "tcp.reassembled.data")
            .first()
            .or(values(&p, "tcp.payload").first())
            .map(|h| hex(h))
            .unwrap_or_default();
        if dst == port {
            let client = owner(owners, Some(src), port);
            let keys = values(&p, "kafka.api_key");
            let versions = values(&p, "kafka.api_version");
            for (key, version) in keys.iter().zip(&versions) {
                let (Ok(key), Ok(version)) = (key.parse::<i16>(), version.parse::<i16>()) else {
                    continue;
                };
                *k.requests
                    .entry(key)
                    .or_default()
                    .entry(version)
                    .or_default() += 1;
                k.by_client
                    .entry(client.clone())
                    .or_default()
                    .insert(request_label(key, version));
            }
            let names = values(&p, "kafka.client_software_name");
            let soft = values(&p, "kafka.client_software_version");
            for (name, version) in names.iter().zip(&soft) {
                k.software.insert(format!("{name}/{version}"));
            }
            let whole = messages(&raw);
            for m in &whole {
                let (key, version, corr) = (be16(m, 4), be16(m, 6), be32(m, 8));
                pending.insert((src, corr), (key, version));
                match key {
                    0 => count(&mut k.produce, produce_topics(m)),
                    1 => count(&mut k.fetch, fetch_topics(m)),
                    _ => {}
                }
            }
            // Requests Wireshark saw in this frame that were not whole in its bytes.
            for (key, topics) in [("0", &mut k.produce), ("1", &mut k.fetch)] {
                let seen = keys.iter().filter(|k| **k == key).count();
                let decoded = whole
                    .iter()
                    .filter(|m| be16(m, 4).to_string() == key)
                    .count();
                topics.undecoded += seen.saturating_sub(decoded) as u64;
            }
        } else if src == port {
            for m in messages(&raw) {
                if let Some((3, version)) = pending.remove(&(dst, be32(m, 4))) {
                    k.metadata_response_max = k.metadata_response_max.max(m.len());
                    for (name, id) in metadata_topics(m, version).unwrap_or_default() {
                        k.metadata_ids.insert(name, id_hex(&id));
                    }
                }
            }
            let keys = values(&p, "kafka.api_versions.api_key");
            let max = values(&p, "kafka.api_versions.max_version");
            for (key, max) in keys.iter().zip(&max) {
                if let (Ok(key), Ok(max)) = (key.parse(), max.parse()) {
                    k.broker_max.insert(key, max);
                }
            }
        }
    }
    let names = k.metadata_ids.clone();
    resolve(&mut k.fetch, &names);
    resolve(&mut k.produce, &names);
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_split_on_their_length_prefix_and_a_cut_tail_is_dropped() {
        let bytes = [
            0, 0, 0, 4, 1, 2, 3, 4, 0, 0, 0, 5, 9, 9, 9, 9, 9, 0, 0, 0, 9, 1,
        ];
        let m = messages(&bytes);
        assert_eq!(m, vec![&bytes[..8], &bytes[8..17]]);
    }
}
