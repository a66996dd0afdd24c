//! Money on the wire and in Rust: exact decimal text outside, integer cents inside.
//!
//! PostgreSQL stores `numeric(12,2)`; queries convert with `(x * 100)::bigint` and
//! `$n::bigint / 100.0`, so Rust only ever sees `i64` cents — no float, and no decimal crate (sqlx's
//! `rust_decimal`/`bigdecimal` features would work too, but integers make the arithmetic obvious).
//! Clients may send a price as a JSON number (`12.5`) or a string (`"12.50"`); responses are always
//! strings with two decimals, which every JSON parser keeps exact.

/// Largest amount a `numeric(12,2)` column holds, in cents.
pub const MAX_CENTS: i64 = 999_999_999_999; // 9999999999.99

/// Parses a non-negative decimal with at most two fraction digits into cents.
pub fn parse_cents(value: &serde_json::Value) -> Result<i64, &'static str> {
    let text = match value {
        // serde_json prints an f64 in its shortest round-trip form, so `12.34` stays "12.34".
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_owned(),
        _ => return Err("must be a decimal number or string such as 12.50"),
    };
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!frac.is_empty() && !digits(frac)) {
        return Err("must be a non-negative decimal such as 12.50");
    }
    if frac.len() > 2 {
        return Err("must have at most 2 decimals");
    }
    let whole: i64 = whole.parse().map_err(|_| "is too large")?;
    let frac_cents: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
    let cents = whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(frac_cents))
        .ok_or("is too large")?;
    if cents > MAX_CENTS {
        return Err("is too large (at most 9999999999.99)");
    }
    Ok(cents)
}

/// Formats cents as `"1234.50"`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_numbers_and_strings_exactly() {
        assert_eq!(parse_cents(&json!(12.34)), Ok(1234));
        assert_eq!(parse_cents(&json!(12.5)), Ok(1250));
        assert_eq!(parse_cents(&json!(7)), Ok(700));
        assert_eq!(parse_cents(&json!("0.01")), Ok(1));
        assert_eq!(parse_cents(&json!("9999999999.99")), Ok(MAX_CENTS));
    }

    #[test]
    fn rejects_what_numeric_12_2_cannot_hold() {
        for bad in [
            json!(-1),
            json!(1.234),
            json!("1e3"),
            json!("abc"),
            json!(null),
            json!(""),
        ] {
            assert!(parse_cents(&bad).is_err(), "{bad} accepted");
        }
        assert!(parse_cents(&json!("10000000000.00")).is_err());
        assert!(parse_cents(&json!("99999999999999999999999")).is_err());
    }

    #[test]
    fn formats_two_decimals() {
        assert_eq!(format_cents(1234), "12.34");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(0), "0.00");
    }
}
