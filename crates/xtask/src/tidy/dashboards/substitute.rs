//! Grafana's variables replaced by what a viewer's Grafana would send, so queries can be parsed and
//! run: dashboard variables by their All value (`.*`) or current value, built-ins by the values the
//! fixture's 15 s sample step implies (`$__rate_interval` = 1m: four samples, what Grafana picks for a
//! 15 s scrape interval). An unknown variable is an error: the query would reach Prometheus as `$x`.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::model::Dashboard;

/// Values of Grafana's built-in variables for the checks.
pub const BUILTINS: [(&str, &str); 4] = [
    ("__rate_interval", "1m"),
    ("__interval", "15s"),
    ("__range", "15m"),
    ("__range_s", "900"),
];

/// The variables of `d` as a viewer sees them by default: All (`.*`) where offered, else current.
pub fn defaults(d: &Dashboard) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = BUILTINS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for v in d.variables() {
        let name = v["name"].as_str().unwrap_or_default().to_owned();
        let value = if v["includeAll"] == true {
            v["allValue"].as_str().unwrap_or(".*").to_owned()
        } else {
            v["current"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        vars.insert(name, value);
    }
    vars
}

/// Replaces `$name`, `${name}` and `${name:format}` (format ignored: values here need none).
pub fn substitute(expr: &str, vars: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            let Some(end) = braced.find('}') else {
                bail!("unclosed ${{ in {expr:?}")
            };
            let name = braced[..end].split(':').next().unwrap_or_default();
            (name, end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if name.is_empty() {
            // A literal `$` (PromQL has none, LogQL's regexes may end with one).
            out.push('$');
            rest = after;
            continue;
        }
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => bail!("unknown variable ${name} in {expr:?}"),
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_builtins_are_replaced_and_unknown_ones_rejected() {
        let vars: BTreeMap<String, String> = [("namespace", "mop"), ("__rate_interval", "1m")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert_eq!(
            substitute(
                r#"rate(m{ns="$namespace"}[$__rate_interval]) ${namespace:regex}"#,
                &vars
            )
            .unwrap(),
            r#"rate(m{ns="mop"}[1m]) mop"#
        );
        assert!(
            substitute("m{a=\"$nope\"}", &vars)
                .unwrap_err()
                .to_string()
                .contains("$nope")
        );
        assert_eq!(substitute("a$ b", &vars).unwrap(), "a$ b");
    }
}
