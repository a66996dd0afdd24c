//! A cached upstream answer (status, content type, ETag, body) and its byte encoding in Redis.
//!
//! The body is stored exactly as `catalog` sent it, so a hit is byte-for-byte the upstream response.
//! The encoding is a tiny length-prefixed binary frame rather than JSON: no escaping, no base64 of the
//! body, and a corrupt or foreign value is detected (and treated as a miss) instead of being served.

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};

/// Response header telling the client where the answer came from.
pub static X_CACHE: HeaderName = HeaderName::from_static("x-cache");
/// `L1` or `L2` on a hit: which cache level answered.
pub static X_CACHE_LEVEL: HeaderName = HeaderName::from_static("x-cache-level");

/// First byte of every stored value; bump it when the layout changes so old values read as misses.
const FORMAT: u8 = 1;

/// One upstream answer, as cached and as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub status: u16,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub body: Bytes,
}

/// How a read was served (the `X-Cache` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// From the in-process L1.
    HitL1,
    /// From Redis.
    Hit,
    /// Fetched from `catalog` (and stored when cacheable).
    Miss,
    /// Redis unusable: fetched from `catalog` without caching.
    Bypass,
}

impl CacheStatus {
    pub fn header(self) -> &'static str {
        match self {
            Self::HitL1 | Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Bypass => "BYPASS",
        }
    }
}

impl Entry {
    /// Only 200s and 404s are cached (404s briefly); anything else is passed through uncached.
    pub fn is_cacheable(&self) -> bool {
        self.status == 200 || self.status == 404
    }

    pub fn is_negative(&self) -> bool {
        self.status == 404
    }

    /// `[FORMAT][status u16][len u16][content type][len u16][etag][body…]`, integers big-endian.
    pub fn encode(&self) -> Vec<u8> {
        let ct = self.content_type.as_deref().unwrap_or("").as_bytes();
        let etag = self.etag.as_deref().unwrap_or("").as_bytes();
        let mut out = Vec::with_capacity(7 + ct.len() + etag.len() + self.body.len());
        out.push(FORMAT);
        out.extend_from_slice(&self.status.to_be_bytes());
        for field in [ct, etag] {
            // Header values we accept are far below 64 KiB; longer ones are cut rather than panic.
            let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&field[..usize::from(len)]);
        }
        out.extend_from_slice(&self.body);
        out
    }

    /// The inverse of [`encode`](Self::encode); `None` for anything malformed.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (&format, rest) = bytes.split_first()?;
        if format != FORMAT {
            return None;
        }
        let (status, rest) = take_u16(rest)?;
        let (ct, rest) = take_field(rest)?;
        let (etag, body) = take_field(rest)?;
        Some(Self {
            status,
            content_type: (!ct.is_empty()).then_some(ct),
            etag: (!etag.is_empty()).then_some(etag),
            body: Bytes::copy_from_slice(body),
        })
    }

    /// The HTTP response: catalog's status, body, content type and ETag, plus `X-Cache`.
    pub fn to_response(&self, cache: CacheStatus) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut response = (status, self.body.clone()).into_response();
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_TYPE);
        set(headers, header::CONTENT_TYPE, self.content_type.as_deref());
        set(headers, header::ETAG, self.etag.as_deref());
        headers.insert(X_CACHE.clone(), HeaderValue::from_static(cache.header()));
        let level = match cache {
            CacheStatus::HitL1 => Some("L1"),
            CacheStatus::Hit => Some("L2"),
            _ => None,
        };
        set(headers, X_CACHE_LEVEL.clone(), level);
        response
    }
}

fn set(headers: &mut http::HeaderMap, name: HeaderName, value: Option<&str>) {
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(name, v);
    }
}

fn take_u16(bytes: &[u8]) -> Option<(u16, &[u8])> {
    let (head, rest) = bytes.split_at_checked(2)?;
    Some((u16::from_be_bytes([head[0], head[1]]), rest))
}

fn take_field(bytes: &[u8]) -> Option<(String, &[u8])> {
    let (len, rest) = take_u16(bytes)?;
    let (field, rest) = rest.split_at_checked(usize::from(len))?;
    Some((String::from_utf8(field.to_vec()).ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let e = Entry {
            status: 200,
            content_type: Some("application/json".into()),
            etag: Some("\"1-1\"".into()),
            body: Bytes::from_static(b"{\"id\":1}"),
        };
        assert_eq!(Entry::decode(&e.encode()), Some(e.clone()));
        let bare = Entry {
            content_type: None,
            etag: None,
            ..e
        };
        assert_eq!(Entry::decode(&bare.encode()), Some(bare));
        assert_eq!(Entry::decode(b""), None);
        assert_eq!(Entry::decode(b"\x01\x00"), None);
        assert_eq!(Entry::decode(b"\x02\x00\xc8\x00\x00\x00\x00"), None);
        assert_eq!(Entry::decode(b"\x01\x00\xc8\x00\x09ab"), None);
    }
}
