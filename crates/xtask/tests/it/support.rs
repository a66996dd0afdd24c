//! Shared by the xtask tests that start a whole lab (manifests' containers, scenario-local, wire):
//! they take turns.

use tokio::sync::{Mutex, MutexGuard};

/// One whole-system test at a time in this binary (a lab is ten processes, the machine may have two
/// cores). The lab crate's own whole-lab tests are another test binary, and cargo runs test
/// binaries one after another.
pub async fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::const_new(());
    TURN.lock().await
}

/// The `lab` binary `just test` built beside this test (`cargo build --workspace --bins` first):
/// cargo hands `CARGO_BIN_EXE_*` only to the tests of the binary's own crate.
pub fn lab_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = lab::local::plan::sibling_bin_dir(&exe).expect("target/<profile> above the test");
    let bin = dir.join("lab");
    assert!(
        bin.is_file(),
        "{} missing: build it first (`cargo build --workspace --bins`; `just test` does)",
        bin.display()
    );
    bin
}
