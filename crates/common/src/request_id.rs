//! The request id every MOP service accepts or generates, logs, and echoes back — over HTTP
//! (`common::http::observe`) and gRPC (auth's layer) alike, so one rule decides what a client may send.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Name of the header (gRPC: metadata key) carrying the request id.
pub const NAME: &str = "x-request-id";

/// [`NAME`] as a header name.
pub static HEADER: HeaderName = HeaderName::from_static(NAME);

/// The client's request id when it is acceptable, otherwise a fresh one (a UUID, 32 hex digits).
pub fn accept_or_generate(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(&HEADER)
        .filter(|v| acceptable(v))
        .cloned()
        .unwrap_or_else(generate)
}

fn generate() -> HeaderValue {
    let id = uuid::Uuid::new_v4().simple().to_string();
    // 32 hex digits are always a valid header value; the fallback only keeps this panic-free.
    HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid"))
}

/// A client-supplied id is kept if it is short printable ASCII; anything else (empty, huge, control
/// characters) is replaced, so a hostile header cannot bloat or corrupt our logs.
fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(u8::is_ascii_graphic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(&HEADER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn short_printable_ids_are_kept_and_others_replaced() {
        assert_eq!(accept_or_generate(&with("abc-123")), "abc-123");
        for bad in ["", "has space", &"x".repeat(129)] {
            let id = accept_or_generate(&with(bad));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32, "{bad:?} → {id:?}");
        }
        assert_eq!(accept_or_generate(&HeaderMap::new()).len(), 32);
    }
}
