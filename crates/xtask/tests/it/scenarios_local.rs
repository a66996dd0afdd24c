//! Every scenario's trigger proven against the local lab: one lab on free ports
//! with a relay on every edge the catalog cuts, each scenario's healthy, fault and recovery phases
//! run by xtask::scenario_local, each check measured from outside (loadgen's report, the services'
//! JSON statistics, Redis INFO, PostgreSQL's statistics views, the broker's consumer-group offsets).
//! A check passes only when it holds in the fault phase and in neither of the others, so each one
//! is shown, in the same run, to fail when its fault is absent.

use std::time::Instant;

use lab::local::plan::sibling_bin_dir;
use lab::scenarios::load_all;
use xtask::tidy::scenarios as check;

#[tokio::test(flavor = "multi_thread")]
async fn every_scenarios_trigger_shows_its_effect_on_the_local_lab() {
    let _turn = crate::support::turn().await;
    let scenarios = load_all().unwrap();
    assert!(
        check::catalog(&scenarios).unwrap().is_empty(),
        "the catalog passes its checks first (local: blocks included)"
    );
    let bin_dir = sibling_bin_dir(&std::env::current_exe().unwrap()).unwrap();
    let dir = testkit::process::temp_dir("lab-scenarios-local").unwrap();
    let started = Instant::now();
    let results = xtask::scenario_local::run_all(&scenarios, bin_dir, dir.clone(), |r| {
        eprint!("{}", r.render());
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!(
        "{} scenarios in {:.0} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(results.len(), scenarios.len());
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.render())
        .collect();
    assert!(
        failed.is_empty(),
        "not proven locally (logs in {}):\n{}",
        dir.display(),
        failed.join("")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
