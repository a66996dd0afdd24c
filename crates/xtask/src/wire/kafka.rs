//! The Kafka message bodies Wireshark 4.0 cannot read: its dissector knows Fetch up to v11, Produce
//! up to v8 and Metadata up to v9, while librdkafka 2.12 sends Fetch v16, Produce v10 and Metadata
//! v12 (seen on the wire, docs/visibility.md). So the fields OBI's parser depends on — whether a
//! Fetch names its topics or carries topic ids (KIP-516, Fetch ≥ 13), and the id → name pairs of
//! Metadata responses that OBI caches to resolve them — are decoded here from the raw bytes, after
//! Apache Kafka's message schemas (clients/src/main/resources/common/message/*.json). Only the
//! flexible versions (compact arrays and strings, tagged fields) are decoded: older ones Wireshark
//! decodes itself.

/// A Kafka topic id: 16 bytes (a UUID), printed as Kafka does not — in plain hex.
pub type TopicId = [u8; 16];

/// How a Fetch or Produce request names one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicRef {
    Name(String),
    Id(TopicId),
}

/// Hex of a topic id, for tables and messages.
pub fn id_hex(id: &TopicId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A cursor over one message; every read fails (None) rather than reading past the end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }
    /// An unsigned varint (at most 5 bytes: Kafka's are 32-bit).
    fn uvarint(&mut self) -> Option<u32> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = *self.take(1)?.first()?;
            value |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    /// A compact array's length (stored + 1; 0 is null, read as empty).
    fn compact_len(&mut self) -> Option<usize> {
        Some(self.uvarint()?.saturating_sub(1) as usize)
    }
    fn compact_string(&mut self) -> Option<Option<String>> {
        let n = self.uvarint()?;
        if n == 0 {
            return Some(None);
        }
        let bytes = self.take(n as usize - 1)?;
        Some(Some(String::from_utf8_lossy(bytes).into_owned()))
    }
    fn skip_compact_bytes(&mut self) -> Option<()> {
        let n = self.uvarint()?;
        self.skip(n.saturating_sub(1) as usize)
    }
    fn tagged_fields(&mut self) -> Option<()> {
        for _ in 0..self.uvarint()? {
            self.uvarint()?;
            let len = self.uvarint()?;
            self.skip(len as usize)?;
        }
        Some(())
    }
    /// A topic as Fetch and Produce v13+ name it (its id), or by name before.
    fn topic_ref(&mut self, version: i16) -> Option<TopicRef> {
        Some(if version >= 13 {
            TopicRef::Id(self.topic_id()?)
        } else {
            TopicRef::Name(self.compact_string()?.unwrap_or_default())
        })
    }

    fn topic_id(&mut self) -> Option<TopicId> {
        self.take(16)?.try_into().ok()
    }
}

/// The request header (v2, flexible): api key, version, correlation id, client id (a *non*-compact
/// nullable string even here), tagged fields. Returns a reader positioned at the body.
fn request_body(message: &[u8]) -> Option<(i16, i16, Reader<'_>)> {
    let mut r = Reader {
        buf: message,
        pos: 0,
    };
    let size = usize::try_from(r.i32()?).ok()?;
    r.buf = message.get(..4 + size)?;
    let key = r.i16()?;
    let version = r.i16()?;
    r.skip(4)?;
    let client_id = r.i16()?;
    if client_id > 0 {
        r.skip(client_id as usize)?;
    }
    r.tagged_fields()?;
    Some((key, version, r))
}

/// The topics of a Fetch request, v12+ (v13+: by id). None when the bytes are not a whole Fetch
/// request of a flexible version.
pub fn fetch_topics(message: &[u8]) -> Option<Vec<TopicRef>> {
    let (key, version, mut r) = request_body(message)?;
    if key != 1 || version < 12 {
        return None;
    }
    if version < 15 {
        r.skip(4)?; // replica_id (a tagged field from v15)
    }
    // max_wait_ms, min_bytes, max_bytes, isolation_level, session_id, session_epoch
    r.skip(4 + 4 + 4 + 1 + 4 + 4)?;
    let mut topics = Vec::new();
    for _ in 0..r.compact_len()? {
        topics.push(r.topic_ref(version)?);
        for _ in 0..r.compact_len()? {
            // partition, current_leader_epoch, fetch_offset, last_fetched_epoch, log_start_offset,
            // partition_max_bytes
            r.skip(4 + 4 + 8 + 4 + 8 + 4)?;
            r.tagged_fields()?;
        }
        r.tagged_fields()?;
    }
    Some(topics)
}

/// The topics of a Produce request, v9+ (v13+: by id). None when not a whole flexible Produce.
pub fn produce_topics(message: &[u8]) -> Option<Vec<TopicRef>> {
    let (key, version, mut r) = request_body(message)?;
    if key != 0 || version < 9 {
        return None;
    }
    r.compact_string()?; // transactional_id
    r.skip(2 + 4)?; // acks, timeout_ms
    let mut topics = Vec::new();
    for _ in 0..r.compact_len()? {
        topics.push(r.topic_ref(version)?);
        for _ in 0..r.compact_len()? {
            r.skip(4)?; // index
            r.skip_compact_bytes()?; // records
            r.tagged_fields()?;
        }
        r.tagged_fields()?;
    }
    Some(topics)
}

/// The (name, id) pairs of a Metadata response of `version` 10..=13 — the versions that carry
/// topic ids, and the only ones OBI's parser accepts (kafkaparser/common.go). None otherwise.
pub fn metadata_topics(message: &[u8], version: i16) -> Option<Vec<(String, TopicId)>> {
    if !(10..=13).contains(&version) {
        return None;
    }
    let mut r = Reader {
        buf: message,
        pos: 0,
    };
    let size = usize::try_from(r.i32()?).ok()?;
    r.buf = message.get(..4 + size)?;
    r.skip(4)?; // correlation_id
    r.tagged_fields()?; // response header v1
    r.skip(4)?; // throttle_time_ms
    for _ in 0..r.compact_len()? {
        r.skip(4)?; // node_id
        r.compact_string()?; // host
        r.skip(4)?; // port
        r.compact_string()?; // rack
        r.tagged_fields()?;
    }
    r.compact_string()?; // cluster_id
    r.skip(4)?; // controller_id
    let mut topics = Vec::new();
    for _ in 0..r.compact_len()? {
        r.skip(2)?; // error_code
        let name = r.compact_string()?.unwrap_or_default();
        let id = r.topic_id()?;
        r.skip(1)?; // is_internal
        for _ in 0..r.compact_len()? {
            r.skip(2 + 4 + 4 + 4)?; // error_code, partition_index, leader_id, leader_epoch
            for _ in 0..3 {
                let n = r.compact_len()?; // replica, isr, offline replica nodes
                r.skip(4 * n)?;
            }
            r.tagged_fields()?;
        }
        r.skip(4)?; // topic_authorized_operations
        r.tagged_fields()?;
        topics.push((name, id));
    }
    Some(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uvarint(out: &mut Vec<u8>, mut v: u32) {
        while v >= 0x80 {
            out.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut m = (body.len() as i32).to_be_bytes().to_vec();
        m.extend_from_slice(body);
        m
    }

    fn header(key: i16, version: i16) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&key.to_be_bytes());
        h.extend_from_slice(&version.to_be_bytes());
        h.extend_from_slice(&7i32.to_be_bytes());
        h.extend_from_slice(&7i16.to_be_bytes());
        h.extend_from_slice(b"rdkafka");
        h.push(0); // tagged fields
        h
    }

    fn fetch(version: i16, topic: &[u8], by_id: bool) -> Vec<u8> {
        let mut b = header(1, version);
        if version < 15 {
            b.extend_from_slice(&(-1i32).to_be_bytes());
        }
        b.extend_from_slice(&[0; 4 + 4 + 4 + 1 + 4 + 4]);
        uvarint(&mut b, 2); // one topic
        if by_id {
            b.extend_from_slice(topic);
        } else {
            uvarint(&mut b, topic.len() as u32 + 1);
            b.extend_from_slice(topic);
        }
        uvarint(&mut b, 2); // one partition
        b.extend_from_slice(&[0; 4 + 4 + 8 + 4 + 8 + 4]);
        b.push(0);
        b.push(0);
        b.extend_from_slice(&[1, 0, 0, 1, 0, 0]); // forgotten topics (empty), rack "", tags
        framed(&b)
    }

    #[test]
    fn fetch_v13_and_later_carry_topic_ids_and_v12_names() {
        let id = [9u8; 16];
        assert_eq!(
            fetch_topics(&fetch(16, &id, true)),
            Some(vec![TopicRef::Id(id)])
        );
        assert_eq!(
            fetch_topics(&fetch(13, &id, true)),
            Some(vec![TopicRef::Id(id)])
        );
        assert_eq!(
            fetch_topics(&fetch(12, b"orders.created", false)),
            Some(vec![TopicRef::Name("orders.created".into())])
        );
    }

    #[test]
    fn a_truncated_or_foreign_message_is_not_decoded() {
        let m = fetch(16, &[1; 16], true);
        assert_eq!(fetch_topics(&m[..m.len() - 20]), None);
        assert_eq!(produce_topics(&m), None, "a Fetch is not a Produce");
        assert_eq!(fetch_topics(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn produce_v10_names_its_topic() {
        let mut b = header(0, 10);
        b.push(0); // transactional_id null
        b.extend_from_slice(&[0xff, 0xff, 0, 0, 0x75, 0x30]);
        uvarint(&mut b, 2);
        uvarint(&mut b, 4);
        b.extend_from_slice(b"dlq");
        uvarint(&mut b, 2);
        b.extend_from_slice(&0i32.to_be_bytes());
        uvarint(&mut b, 4);
        b.extend_from_slice(b"abc");
        b.extend_from_slice(&[0, 0]);
        assert_eq!(
            produce_topics(&framed(&b)),
            Some(vec![TopicRef::Name("dlq".into())])
        );
    }

    #[test]
    fn metadata_v12_pairs_names_with_ids() {
        let mut b = 7i32.to_be_bytes().to_vec();
        b.push(0);
        b.extend_from_slice(&0i32.to_be_bytes());
        uvarint(&mut b, 2); // one broker
        b.extend_from_slice(&1i32.to_be_bytes());
        uvarint(&mut b, 10);
        b.extend_from_slice(b"127.0.0.1");
        b.extend_from_slice(&9092i32.to_be_bytes());
        b.extend_from_slice(&[0, 0]); // rack null, tags
        b.push(0); // cluster id null
        b.extend_from_slice(&1i32.to_be_bytes());
        uvarint(&mut b, 2); // one topic
        b.extend_from_slice(&0i16.to_be_bytes());
        uvarint(&mut b, 4);
        b.extend_from_slice(b"dlq");
        b.extend_from_slice(&[5; 16]);
        b.push(0);
        uvarint(&mut b, 2); // one partition
        b.extend_from_slice(&[0; 2 + 4 + 4 + 4]);
        b.extend_from_slice(&[2, 0, 0, 0, 1, 2, 0, 0, 0, 1, 1, 0]);
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&[0, 0]);
        let m = framed(&b);
        assert_eq!(metadata_topics(&m, 12), Some(vec![("dlq".into(), [5; 16])]));
        assert_eq!(metadata_topics(&m, 9), None, "v9 has no topic ids");
    }
}
