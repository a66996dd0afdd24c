//! All SQL of the service, as plain async functions over a `PgPool` or a transaction.
//!
//! Queries are runtime-checked (`sqlx::query_as` with bind parameters — never `format!`), not
//! compile-time checked with `query!`: the build then needs neither a live database nor a committed
//! `.sqlx/` cache, which keeps the Nix build and CI simple. The price is that a typo in SQL is found
//! by a test, not the compiler — so every function here is exercised by `tests/it`.
//!
//! Money columns are converted to integer cents in SQL (`(total * 100)::bigint`), see [`crate::money`].

pub mod customers;
pub mod orders;
pub mod reports;

/// `LIMIT`/`OFFSET` of a page (1-based `page`).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: u32,
    pub per_page: u32,
}

impl Page {
    /// One row more than the page, so the caller learns whether another page exists without a
    /// `count(*)` over the whole result.
    pub fn limit_plus_one(self) -> i64 {
        i64::from(self.per_page) + 1
    }

    pub fn offset(self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a `LIKE` pattern (the pattern
/// itself is still a bind parameter; this only stops a search for `_` from matching everything).
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(super::like_escape(r"a%b_c\d"), r"a\%b\_c\\d");
    }
}
