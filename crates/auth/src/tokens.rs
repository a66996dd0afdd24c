//! Opaque bearer tokens: 256 random bits, URL-safe base64 on the wire, SHA-256 digests at rest.
//!
//! A token is looked up by the first half of its digest and then confirmed by comparing the full
//! digest in constant time. The lookup key alone could, in theory, leak through a hash map's timing;
//! the constant-time comparison of the whole digest is what actually admits a token.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of a token's text form: 32 bytes in unpadded base64.
pub const TOKEN_CHARS: usize = 43;

/// A freshly issued token in its text form. `Debug` redacts it.
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A new random token and its digest (the digest is what gets stored).
    pub fn generate() -> (Self, TokenDigest) {
        let mut bytes = [0u8; 32];
        // `rand::rng()` is a CSPRNG seeded from the OS; 256 bits make guessing hopeless.
        rand::rng().fill_bytes(&mut bytes);
        let text = URL_SAFE_NO_PAD.encode(bytes);
        let digest = TokenDigest::of(&bytes);
        (Self(text), digest)
    }

    /// The text to hand to the client.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Why a presented token string was rejected before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedToken {
    /// Empty string.
    #[error("token is empty")]
    Empty,
    /// Not 43 characters of URL-safe base64 for 32 bytes.
    #[error("token is not 43 characters of URL-safe base64")]
    Format,
}

/// SHA-256 digest of a token's 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(<redacted>)")
    }
}

/// The part of a digest used as a map key.
pub type LookupKey = [u8; 16];

impl TokenDigest {
    fn of(bytes: &[u8; 32]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Parses a presented token and digests it.
    pub fn parse(text: &str) -> Result<Self, MalformedToken> {
        if text.is_empty() {
            return Err(MalformedToken::Empty);
        }
        if text.len() != TOKEN_CHARS {
            return Err(MalformedToken::Format);
        }
        let mut bytes = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(32) => Ok(Self::of(&bytes)),
            _ => Err(MalformedToken::Format),
        }
    }

    /// The map key this digest is filed under.
    pub fn lookup_key(&self) -> LookupKey {
        let mut key = [0u8; 16];
        key.copy_from_slice(&self.0[..16]);
        key
    }

    /// Constant-time equality of the full digests.
    pub fn matches(&self, other: &TokenDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_to_their_digest() {
        let (token, digest) = Token::generate();
        let text = token.into_string();
        assert_eq!(text.len(), TOKEN_CHARS);
        assert!(TokenDigest::parse(&text).unwrap().matches(&digest));
        let (other, _) = Token::generate();
        assert!(
            !TokenDigest::parse(&other.into_string())
                .unwrap()
                .matches(&digest)
        );
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        assert_eq!(TokenDigest::parse(""), Err(MalformedToken::Empty));
        assert_eq!(TokenDigest::parse("abc"), Err(MalformedToken::Format));
        assert_eq!(
            TokenDigest::parse(&"!".repeat(TOKEN_CHARS)),
            Err(MalformedToken::Format)
        );
        assert_eq!(
            TokenDigest::parse(&"é".repeat(21)), // 42 bytes, non-ASCII
            Err(MalformedToken::Format)
        );
    }
}
