//! Shared by the lab tests: starting a lab on free ports in a temporary folder, running `loadgen`
//! against it, and reading Kafka topics back.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use lab::local::plan::sibling_bin_dir;
use lab::{Lab, LabOptions, Plan, Ports};
use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard};

/// A lab for one test; its folder goes with it.
pub struct TestLab {
    pub lab: Option<Lab>,
    pub dir: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl TestLab {
    pub fn lab(&self) -> &Lab {
        self.lab.as_ref().unwrap()
    }

    pub fn plan(&self) -> &Plan {
        &self.lab().plan
    }

    /// Stops the lab (services drain on SIGTERM) and returns each service's exit status.
    pub fn stop(&mut self) -> Vec<(&'static str, Option<ExitStatus>)> {
        self.lab.take().unwrap().stop(Duration::from_secs(15))
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        drop(self.lab.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One whole-system test at a time in this binary (a lab is ten processes, the machine may have two
/// cores): the lab tests and the manifest run test take turns through this.
pub async fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::const_new(());
    TURN.lock().await
}

/// Starts a lab from the binaries `cargo test` built next to this test (`target/<profile>`), with
/// extra environment per service. One lab at a time: a lab is ten processes, and the machine may
/// have two cores.
pub async fn start(env_overrides: Vec<(&'static str, &'static str, String)>) -> TestLab {
    let turn = turn().await;
    let exe = std::env::current_exe().unwrap();
    let bin_dir = sibling_bin_dir(&exe).unwrap();
    let dir = testkit::process::temp_dir("lab-test").unwrap();
    let options = LabOptions {
        plan: Plan {
            ports: Ports::free().unwrap(),
            state_dir: dir.clone(),
            bin_dir,
            env_overrides,
        },
        seed_customers: 10_000,
        seed_orders: 100_000,
        ready_timeout: Duration::from_secs(60),
    };
    let lab = Lab::start(options)
        .await
        .unwrap_or_else(|e| panic!("the lab did not start: {e:#}"));
    TestLab {
        lab: Some(lab),
        dir,
        _turn: turn,
    }
}

/// Runs `loadgen <args> --out <dir>/report-….json` against the lab of `plan`; returns its exit
/// status and report. Owned arguments, so a test can run it in the background.
pub async fn loadgen(plan: Plan, dir: PathBuf, args: &[&str]) -> (ExitStatus, Value) {
    let out = dir.join(format!("report-{}.json", uuid::Uuid::new_v4()));
    let output = tokio::process::Command::new(plan.bin_dir.join("loadgen"))
        .args(args)
        .arg("--out")
        .arg(&out)
        .envs(plan.client_env())
        .env("LOG_FORMAT", "json")
        .output()
        .await
        .expect("loadgen runs (built by cargo test next to this test)");
    let report = std::fs::read(&out).unwrap_or_else(|e| {
        panic!(
            "loadgen wrote no report ({e}); stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status, serde_json::from_slice(&report).unwrap())
}

/// The step called `name` in a loadgen report.
pub fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name:?} in the report"))
}

/// A count from a report object (0 when absent).
pub fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Topics are read back whole: all partitions of an events topic.
pub use testkit::kafka_reader::{Record, read_events_topic as read_topic};

/// `GET` a JSON document from a lab service.
pub async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// The checkout these tests were built from.
pub fn repo() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
