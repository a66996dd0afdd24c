//! Command-line flags shared by every service binary, flattened into each service's own `Config`.

use std::time::Duration;

/// Flags every MOP service accepts. Each has an environment fallback, because in Kubernetes
/// configuration arrives only through the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Log line format: `json` (one JSON object per line, for collectors) or `pretty` (for humans).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    /// How long in-flight work may take to finish after SIGTERM/SIGINT before the process exits anyway
    /// (e.g. `10s`, `500ms`).
    #[arg(long, env = "SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
}

/// What an HTTP service binary can do instead of serving (`catalog openapi`, …). Flattened into each
/// service's own subcommands, so the name and its help text are written once.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Print this service's OpenAPI 3.1 document (JSON) to stdout and exit, without binding a port or
    /// reaching any backend.
    Openapi,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line: what log collectors (and Loki) want.
    Json,
    /// Human-readable, coloured when stdout is a terminal.
    Pretty,
}

/// A flags struct with nothing given: clap's own `default_value`s, which stay the one place a default
/// is written (so `Default` impls, test configs and `--help` cannot disagree). The environment is
/// ignored on purpose: a default must not depend on where the test runs.
///
/// Panics if `T` has a flag without a default — a programming error, caught by the unit test of each
/// `Default` impl built on this.
pub fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults"))
        .mut_args(|arg| arg.env(None::<&'static str>));
    command
        .try_get_matches_from(["defaults"])
        .and_then(|matches| T::from_arg_matches(&matches))
        .unwrap_or_else(|e| {
            panic!(
                "{} has a flag without a default: {e}",
                std::any::type_name::<T>()
            )
        })
}

impl Default for CommonArgs {
    fn default() -> Self {
        defaults()
    }
}

/// Parses a human duration such as `10s`, `250ms` or `1m 30s`, for clap `value_parser`s.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration {s:?}: {e} (try e.g. `10s` or `500ms`)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_claps_and_ignore_the_environment() {
        let args = CommonArgs::default();
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.shutdown_grace, Duration::from_secs(10));
    }

    #[test]
    fn durations_parse_in_human_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(
            parse_duration("ten")
                .unwrap_err()
                .contains("invalid duration")
        );
    }
}
