//! The kind half of `lab verify` (and of xtask's bench-obi): a loadgen Job of our own (made like `just
//! load`'s, kind::load) whose JSON report comes back through its log (`--out /dev/stdout`), with the
//! background CronJobs suspended meanwhile — their traffic would otherwise land in the same window
//! and OBI's counts would exceed loadgen's for reasons that have nothing to do with OBI.

use std::time::Duration;

use anyhow::{Context, bail};

use crate::kind::job::{self, Job, now_s};
use crate::kind::kubectl;
use crate::kind::{APPS_NAMESPACE, Paths};

/// The background load's CronJobs, suspended while alive and resumed on drop.
pub struct Quiet {
    cronjobs: Vec<String>,
}

impl Quiet {
    /// Suspends every CronJob of the load component and deletes the Jobs they are running.
    pub fn start() -> anyhow::Result<Quiet> {
        let names = kubectl()
            .args(["-n", APPS_NAMESPACE, "get", "cronjobs", "-o", "name"])
            .args(["-l", "app.kubernetes.io/component=load"])
            .output()?;
        let quiet = Quiet {
            cronjobs: names.lines().map(str::to_owned).collect(),
        };
        for cj in &quiet.cronjobs {
            suspend(cj, true)?;
        }
        let jobs: serde_json::Value = serde_json::from_str(
            &kubectl()
                .args(["-n", APPS_NAMESPACE, "get", "jobs", "-o", "json"])
                .output()?,
        )?;
        for job in jobs["items"].as_array().into_iter().flatten() {
            let by_cron = job["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|o| o.iter().any(|r| r["kind"] == "CronJob"));
            let active = job["status"]["active"].as_u64().unwrap_or(0) > 0;
            let name = job["metadata"]["name"].as_str().unwrap_or_default();
            let is_load = job["metadata"]["labels"]["app.kubernetes.io/name"] == "loadgen";
            if active && is_load && !by_cron {
                // Dropping `quiet` resumes the CronJobs.
                bail!(
                    "job/{name} (a `just load` run) is still running: its traffic would be counted; wait for it or delete it"
                );
            }
            if let (true, true, false) = (by_cron, active, name.is_empty()) {
                println!("  stopping background job/{name} for the measured run");
                kubectl()
                    .args(["-n", APPS_NAMESPACE, "delete", "job", name, "--wait=true"])
                    .run()?;
            }
        }
        Ok(quiet)
    }
}

fn suspend(cronjob: &str, on: bool) -> anyhow::Result<()> {
    kubectl()
        .args([
            "-n",
            APPS_NAMESPACE,
            "patch",
            cronjob,
            "--type",
            "merge",
            "-p",
        ])
        .arg(format!("{{\"spec\":{{\"suspend\":{on}}}}}"))
        .run()
}

impl Drop for Quiet {
    fn drop(&mut self) {
        for cj in &self.cronjobs {
            if let Err(e) = suspend(cj, false) {
                eprintln!(
                    "lab: could not resume {cj}: {e:#} (`kubectl patch {cj} -p '{{\"spec\":{{\"suspend\":false}}}}'`)"
                );
            }
        }
    }
}

/// A finished run: the report's JSON and the window around it.
pub struct Run {
    pub report_json: String,
    pub start: f64,
    pub end: f64,
    pub exit_code: i32,
}

/// Runs `loadgen run PROFILE ARGS… --out /dev/stdout` as a Job and returns its report.
pub fn run_load(paths: &Paths, profile: &str, args: &[String]) -> anyhow::Result<Run> {
    let mut args = args.to_vec();
    args.extend(["--out".to_owned(), "/dev/stdout".to_owned()]);
    let start = now_s();
    let job = Job::apply(&job::template(&paths.load_template())?, profile, &args)?;
    job.wait_started(|_| {})?;
    let exit_code = job.wait_exited(Duration::from_secs(1800))?;
    let report_json = report_from_log(&job.logs()?)
        .with_context(|| format!("job/{}'s log holds no JSON report", job.name))?;
    Ok(Run {
        report_json,
        start,
        end: now_s(),
        exit_code,
    })
}

/// The pretty-printed report loadgen writes last: from the last line that is exactly `{` to the end.
/// Log lines (JSON, one per line) never are a lone `{`.
pub fn report_from_log(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.iter().rposition(|l| *l == "{")?;
    let end = lines.iter().rposition(|l| *l == "}")?;
    (end > start).then(|| lines[start..=end].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::load::{self, Profile};

    #[test]
    fn the_report_is_cut_out_of_the_log() {
        let log = "{\"level\":\"INFO\",\"message\":\"progress\"}\nscenario x\n{\n  \"scenario\": \"x\",\n  \"steps\": []\n}\n";
        let json = report_from_log(log).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap()["scenario"],
            "x"
        );
        assert_eq!(report_from_log("{\"a\":1}\nno report"), None);
    }

    #[test]
    fn the_measured_job_is_just_loads_job_writing_its_report_to_stdout() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let paths = Paths::new(&root, &root.join("target"));
        let template = std::fs::read_to_string(paths.load_template()).unwrap();
        let args: Vec<String> = ["--duration", "60s", "--out", "/dev/stdout"]
            .map(str::to_owned)
            .to_vec();
        let profile = Profile::BuiltIn("mixed".into());
        let yaml = load::objects(&template, "loadgen-mixed-v1", &profile, &args).unwrap();
        let job: serde_yaml::Value =
            serde_yaml::from_str(yaml.trim_start_matches("---\n")).unwrap();
        let run = &job["spec"]["template"]["spec"]["containers"][0]["args"];
        let run: Vec<&str> = run
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            run,
            ["run", "mixed", "--duration", "60s", "--out", "/dev/stdout"]
        );
        // loadgen accepts exactly those arguments.
        let mut argv = vec!["loadgen"];
        argv.extend(&run);
        assert!(<loadgen::cli::Cli as clap::Parser>::try_parse_from(argv).is_ok());
    }
}
