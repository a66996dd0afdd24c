//! Redis key and channel names, all under one configurable prefix.
//!
//! Lists and searches are keyed by a *generation* (`<prefix>:gen`, bumped with `INCR` on every
//! write): a write makes every older list/search key unreachable at once, with no `KEYS`/`SCAN`, and
//! the orphans simply expire with their TTL. Items have stable keys and are deleted directly.

/// Key builder for one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// `<prefix>:product:<id>` — one product (or its cached 404).
    pub fn item(&self, id: u64) -> String {
        format!("{}:product:{id}", self.prefix)
    }

    /// `<prefix>:gen` — the list/search generation counter.
    pub fn generation(&self) -> String {
        format!("{}:gen", self.prefix)
    }

    /// `<prefix>:<kind>:<generation>:<canonical query>` — one page of a list or search.
    pub fn collection(&self, kind: &str, generation: u64, query: &str) -> String {
        format!("{}:{kind}:{generation}:{query}", self.prefix)
    }

    /// `<prefix>:invalidate` — the pub/sub channel every replica subscribes to.
    pub fn channel(&self) -> String {
        format!("{}:invalidate", self.prefix)
    }
}
