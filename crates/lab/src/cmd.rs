//! One way to run an external tool (kind, kubectl, nix, docker) and one way to wait for a condition.
//!
//! Every failure names the command line, and a tool that is not installed says how to get it: the
//! kind lab drives half a dozen CLIs, and "No such file or directory (os error 2)" helps nobody.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A command to run: program, arguments, optional stdin bytes.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: String,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn new(program: &str) -> Self {
        Self {
            program: program.to_owned(),
            args: Vec::new(),
            stdin: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Bytes written to the command's stdin (e.g. manifests for `kubectl apply -f -`).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn program(&self) -> &str {
        &self.program
    }

    /// The command line as a person would type it (for plans, logs and errors).
    pub fn display(&self) -> String {
        let mut line = self.program.clone();
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            line.push(' ');
            if arg.is_empty() || arg.contains([' ', '\'', '"', '$', '*']) {
                line.push_str(&format!("'{}'", arg.replace('\'', r"'\''")));
            } else {
                line.push_str(&arg);
            }
        }
        if self.stdin.is_some() {
            line.push_str(" < (stdin)");
        }
        line
    }

    /// Runs with stdout/stderr passed through; fails unless it exits 0.
    pub fn run(&self) -> anyhow::Result<()> {
        let status = self.status()?;
        if !status.success() {
            bail!("`{}` failed ({status})", self.display());
        }
        Ok(())
    }

    /// Runs with output passed through and returns the exit status, whatever it is.
    pub fn status(&self) -> anyhow::Result<ExitStatus> {
        let mut child = self.spawn(Stdio::inherit(), Stdio::inherit())?;
        self.feed(&mut child)?;
        child
            .wait()
            .with_context(|| format!("waiting for `{}`", self.display()))
    }

    /// Runs capturing stdout (returned) and stderr (quoted in the error when it fails).
    pub fn output(&self) -> anyhow::Result<String> {
        let mut child = self.spawn(Stdio::piped(), Stdio::piped())?;
        self.feed(&mut child)?;
        let out = child
            .wait_with_output()
            .with_context(|| format!("waiting for `{}`", self.display()))?;
        if !out.status.success() {
            bail!(
                "`{}` failed ({}): {}",
                self.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        String::from_utf8(out.stdout)
            .with_context(|| format!("`{}`: output not UTF-8", self.display()))
    }

    /// Runs with stdout written to `path` (e.g. an image stream into an archive).
    pub fn stdout_to_file(&self, path: &Path) -> anyhow::Result<()> {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut child = self.spawn(Stdio::from(file), Stdio::inherit())?;
        self.feed(&mut child)?;
        let status = child.wait()?;
        if !status.success() {
            bail!(
                "`{}` > {} failed ({status})",
                self.display(),
                path.display()
            );
        }
        Ok(())
    }

    fn spawn(&self, stdout: Stdio, stderr: Stdio) -> anyhow::Result<std::process::Child> {
        let stdin = if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::inherit()
        };
        // A tool scripts/install-deps.sh put in its virtual environment (kubectl) is found there too.
        Command::new(testkit::process::tool(&self.program))
            .args(&self.args)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| spawn_error(&self.program, &e))
    }

    fn feed(&self, child: &mut std::process::Child) -> anyhow::Result<()> {
        if let (Some(bytes), Some(mut stdin)) = (&self.stdin, child.stdin.take()) {
            stdin
                .write_all(bytes)
                .with_context(|| format!("writing stdin of `{}`", self.display()))?;
        }
        Ok(())
    }
}

fn spawn_error(program: &str, e: &std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!("`{program}` not found on PATH: {}", install_hint(program))
    } else {
        anyhow::anyhow!("cannot run `{program}`: {e}")
    }
}

/// How to get a tool the lab calls. `nix develop` provides all but the container engine.
pub fn install_hint(program: &str) -> String {
    let how = match program {
        "docker" => {
            "install Docker Engine (https://docs.docker.com/engine/install/) or podman with KIND_EXPERIMENTAL_PROVIDER=podman"
        }
        "podman" => "install podman (apt-get install podman) or use Docker",
        "nix" => "install Nix >= 2.31.2 (https://nixos.org/download) with flakes enabled",
        "kind" => "run inside `nix develop`, or install kind v0.32.0 (https://kind.sigs.k8s.io)",
        "kubectl" => {
            "run scripts/install-deps.sh (kubectl into its virtual environment) or `nix develop`, or install kubectl (https://kubernetes.io/docs/tasks/tools/)"
        }
        _ => "run inside `nix develop`, which provides every tool the lab calls",
    };
    how.to_owned()
}

/// Whether `program` can be found on PATH or in scripts/install-deps.sh's virtual environment
/// (doctor uses it to report, not to fail on spawn).
pub fn on_path(program: &str) -> bool {
    // `tool` names a path only when the virtual environment has the program.
    testkit::process::tool(program).is_absolute()
        || std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| {
                let candidate = dir.join(program);
                candidate.is_file()
                    && std::fs::metadata(&candidate).is_ok_and(|m| {
                        use std::os::unix::fs::PermissionsExt;
                        m.permissions().mode() & 0o111 != 0
                    })
            })
        })
}

/// Polls `check` every `interval` until it returns true, for at most `timeout`; the error names
/// `what` and the last error `check` returned, if any.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check() {
            Ok(true) => return Ok(()),
            Ok(false) => None,
            Err(e) => Some(e),
        };
        if Instant::now() + interval > deadline {
            return Err(match last {
                Some(e) => e.context(format!("{what}: not within {timeout:?}")),
                None => anyhow::anyhow!("{what}: not within {timeout:?}"),
            });
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_says_how_to_install_it() {
        let err = Cmd::new("kind-not-installed-here")
            .arg("version")
            .run()
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("`kind-not-installed-here` not found on PATH"),
            "{msg}"
        );
        assert!(msg.contains("nix develop"), "{msg}");
        let err = Cmd::new("docker-missing").output().unwrap_err();
        assert!(format!("{err:#}").contains("not found on PATH"));
        assert!(install_hint("docker").contains("podman"));
    }

    #[test]
    fn output_captures_stdout_and_feeds_stdin() {
        let out = Cmd::new("cat").stdin("kind: Namespace\n").output().unwrap();
        assert_eq!(out, "kind: Namespace\n");
    }

    #[test]
    fn a_failing_command_names_itself_and_its_stderr() {
        let err = Cmd::new("sh")
            .args(["-c", "echo broken >&2; exit 3"])
            .output()
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("`sh -c 'echo broken >&2; exit 3'` failed"),
            "{msg}"
        );
        assert!(msg.contains("broken"), "{msg}");
        let status = Cmd::new("sh").args(["-c", "exit 7"]).status().unwrap();
        assert_eq!(status.code(), Some(7));
    }

    #[test]
    fn wait_until_is_bounded_and_reports_the_last_error() {
        let mut calls = 0;
        wait_until(
            "third time",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                calls += 1;
                Ok(calls == 3)
            },
        )
        .unwrap();
        assert_eq!(calls, 3);
        let err = wait_until(
            "never",
            Duration::from_millis(20),
            Duration::from_millis(5),
            || anyhow::bail!("pod not scheduled"),
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("never: not within") && msg.contains("pod not scheduled"),
            "{msg}"
        );
    }

    #[test]
    fn on_path_finds_real_tools_only() {
        assert!(on_path("sh"));
        assert!(!on_path("kind-not-installed-here"));
    }
}
