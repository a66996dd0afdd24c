//! What a testkit Kafka broker runs on: a Java 17+ runtime and the broker's jars, fetched once from
//! Maven Central into the cache by `scripts/kafka-fetch.sh` (the version is the kind lab's image tag,
//! read by that script from `kustomize/components/backends/kafka-statefulset.yaml`).
//!
//! Every failure here is a message saying what to do: no Java, a Java older than 17 (Kafka 4 brokers
//! need 17), no Maven or no network on the first fetch.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::find_binary;
use crate::{Error, Result};

/// The oldest Java a Kafka 4 broker runs on.
const MIN_JAVA: u32 = 17;
const JAVA_HINT: &str = "install a Java 17+ runtime (Debian/Ubuntu: `apt-get install \
     openjdk-17-jre-headless` or `default-jre-headless`, or run scripts/install-deps.sh), set JAVA_HOME to one, or enter the Nix devShell";

/// A Java runtime and a fetched Kafka: everything a broker process needs.
#[derive(Debug, Clone)]
pub(crate) struct Distribution {
    /// The `java` binary (checked to be 17 or newer).
    pub java: PathBuf,
    /// `<cache>/kafka/<version>`: `libs/` (the jars) and `format/` (a formatted KRaft log directory's
    /// `meta.properties` and `bootstrap.checkpoint`).
    pub home: PathBuf,
}

impl Distribution {
    /// Finds Java (`$JAVA_HOME/bin/java`, else `java` on PATH), checks its version, and makes sure the
    /// jars are in the cache (the first call per version downloads ≈45 MB with Maven).
    pub(crate) fn locate() -> Result<Self> {
        let java = find_java()?;
        check_java(&java)?;
        let script = fetch_script();
        let mut cmd = Command::new("bash");
        cmd.arg(&script).env("JAVA", &java);
        let home = fetch(&script, cmd)?;
        Ok(Self { java, home })
    }

    /// A name for this Java installation (its real path, size and modification time), so a class
    /// archive dumped by one Java is never offered to another.
    pub(crate) fn java_key(&self) -> String {
        let real = std::fs::canonicalize(&self.java).unwrap_or_else(|_| self.java.clone());
        let stamp = std::fs::metadata(&real)
            .map(|m| {
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                format!("{}-{mtime}", m.len())
            })
            .unwrap_or_default();
        let name: String = real
            .to_string_lossy()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("{}-{stamp}", name.trim_matches('-'))
    }

    /// The broker's classpath (the JVM expands the `*` itself).
    pub(crate) fn classpath(&self) -> String {
        format!("{}/*", self.home.join("libs").display())
    }
}

fn find_java() -> Result<PathBuf> {
    let java_home: Vec<PathBuf> = std::env::var_os("JAVA_HOME")
        .map(|home| vec![PathBuf::from(home).join("bin")])
        .unwrap_or_default();
    // JAVA_HOME wins over PATH, as in Kafka's own start scripts.
    if let Some(java) = java_home
        .iter()
        .map(|d| d.join("java"))
        .find(|j| j.is_file())
    {
        return Ok(java);
    }
    find_binary("java", &java_home, JAVA_HINT)
}

/// Runs `java -version` and refuses anything older than Java 17; returns the major version.
pub(crate) fn check_java(java: &Path) -> Result<u32> {
    let out = Command::new(java)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Error(format!(
                "could not run {}: {e}; {JAVA_HINT}",
                java.display()
            ))
        })?;
    // `java -version` writes to stderr.
    let text = String::from_utf8_lossy(&out.stderr);
    let Some(major) = parse_java_major(&text) else {
        return Err(Error(format!(
            "could not read the version of {} (`java -version` said: {}); {JAVA_HINT}",
            java.display(),
            text.trim()
        )));
    };
    if major < MIN_JAVA {
        return Err(Error(format!(
            "the Kafka broker needs Java {MIN_JAVA} or newer, but {} is Java {major}; {JAVA_HINT}",
            java.display()
        )));
    }
    Ok(major)
}

/// The major version in `java -version` output: `openjdk version "17.0.15"` → 17, `"1.8.0_392"` → 8,
/// `"21"` → 21.
fn parse_java_major(text: &str) -> Option<u32> {
    let line = text.lines().find(|l| l.contains(" version \""))?;
    let quoted = line.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// The one fetcher (also run by install-deps.sh and `just kafka-fetch`), found from this crate's source.
fn fetch_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kafka-fetch.sh")
}

/// Runs `cmd`, the fetch `script` (instant when the cache is filled), and returns the folder it
/// prints. Its messages (the download notice, Maven's errors) come back in the error, or on stderr
/// once fetched.
fn fetch(script: &Path, mut cmd: Command) -> Result<PathBuf> {
    if !script.is_file() {
        return Err(Error(format!(
            "{} is missing: the Kafka broker is fetched by the repository's script",
            script.display()
        )));
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error(format!("could not run {}: {e}", script.display())))?;
    let messages = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(Error(format!(
            "no Kafka broker jars ({} {}):\n{}",
            script.display(),
            out.status,
            messages.trim_end()
        )));
    }
    if !messages.is_empty() {
        eprint!("{messages}");
    }
    let home = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !home.join("libs").is_dir() || !home.join("format/meta.properties").is_file() {
        return Err(Error(format!(
            "{} printed {}, which holds no libs/ and format/: remove that folder and fetch again",
            script.display(),
            home.display()
        )));
    }
    Ok(home)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fake `java` that prints `version` the way `java -version` does.
    fn fake_java(dir: &Path, version: &str) -> PathBuf {
        let java = dir.join("java");
        let script = format!(
            "#!/bin/sh\necho 'openjdk version \"{version}\" 2021-01-19' >&2\necho 'OpenJDK Runtime Environment' >&2\n"
        );
        std::fs::write(&java, script).unwrap();
        std::fs::set_permissions(&java, std::fs::Permissions::from_mode(0o755)).unwrap();
        java
    }

    #[test]
    fn java_versions_are_read_old_and_new_style() {
        assert_eq!(
            parse_java_major("openjdk version \"17.0.15\" 2025-04-15\n"),
            Some(17)
        );
        assert_eq!(parse_java_major("java version \"1.8.0_392\"\n"), Some(8));
        assert_eq!(
            parse_java_major("openjdk version \"21\" 2023-09-19"),
            Some(21)
        );
        assert_eq!(parse_java_major("openjdk version \"25-ea\""), Some(25));
        assert_eq!(parse_java_major("command not found"), None);
    }

    #[test]
    fn a_java_older_than_17_is_refused_with_what_to_install() {
        let dir = crate::process::temp_dir("testkit-java11").unwrap();
        let err = check_java(&fake_java(&dir, "11.0.21")).unwrap_err().0;
        assert!(err.contains("needs Java 17 or newer"), "{err}");
        assert!(err.contains("is Java 11"), "{err}");
        assert!(err.contains("openjdk-17-jre-headless"), "{err}");
        assert_eq!(check_java(&fake_java(&dir, "17.0.15")).unwrap(), 17);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_java_says_what_to_install() {
        let err = check_java(Path::new("/nonexistent/bin/java"))
            .unwrap_err()
            .0;
        assert!(err.contains("could not run /nonexistent/bin/java"), "{err}");
        assert!(err.contains("openjdk-17-jre-headless"), "{err}");
    }

    #[test]
    fn a_missing_fetch_script_is_named() {
        let script = Path::new("/nonexistent/kafka-fetch.sh");
        let err = fetch(script, Command::new("bash")).unwrap_err().0;
        assert!(
            err.contains("/nonexistent/kafka-fetch.sh is missing"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_cache_without_network_says_where_to_fetch() {
        // The real script and Maven in a network namespace of their own (no interface but a
        // downed loopback), on an empty cache: Maven cannot reach Central and gives up at once.
        let cache = crate::process::temp_dir("testkit-kafka-offline").unwrap();
        let script = fetch_script();
        let mut cmd = Command::new("unshare");
        cmd.args(["--map-root-user", "--net", "bash"])
            .arg(&script)
            .env("MOP_CACHE", &cache);
        let started = std::time::Instant::now();
        let err = fetch(&script, cmd).unwrap_err().0;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "{:?}",
            started.elapsed()
        );
        assert!(
            err.contains("could not fetch org.apache.kafka:kafka_2.13:"),
            "{err}"
        );
        assert!(
            err.contains("run `just kafka-fetch` where Maven Central is reachable"),
            "{err}"
        );
        assert!(
            !cache
                .join("kafka")
                .read_dir()
                .unwrap()
                .any(|e| { e.unwrap().path().join(".complete").exists() }),
            "nothing half-fetched is marked complete"
        );
        std::fs::remove_dir_all(cache).unwrap();
    }
}
