//! What a soak run measures of each service process: resident memory and open file descriptors,
//! read from `/proc`, and how much they grew between the run's first and last minute.

use std::path::Path;
use std::time::Duration;

/// One reading of one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Time since the load started.
    pub at: Duration,
    /// `VmRSS` in KiB.
    pub rss_kib: u64,
    /// Entries in `/proc/<pid>/fd`.
    pub fds: u64,
}

/// Reads `VmRSS` and the fd count of `pid` from `proc` (normally `/proc`); `None` once it is gone.
pub fn read(proc: &Path, pid: u32, at: Duration) -> Option<Reading> {
    let status = std::fs::read_to_string(proc.join(pid.to_string()).join("status")).ok()?;
    let rss_kib = vm_rss_kib(&status)?;
    let fds = std::fs::read_dir(proc.join(pid.to_string()).join("fd"))
        .ok()?
        .count() as u64;
    Some(Reading { at, rss_kib, fds })
}

/// The `VmRSS:` line of a `/proc/<pid>/status` text, in KiB.
pub fn vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Growth of one process over a run: the mean of the readings in the first `window` against the
/// mean of those in the last `window` (means, not single readings, so one allocation burst or a
/// reading taken mid-GC of a buffer does not decide the verdict).
#[derive(Debug, Clone, PartialEq)]
pub struct Growth {
    pub first_rss_kib: f64,
    pub last_rss_kib: f64,
    pub peak_rss_kib: u64,
    pub first_fds: f64,
    pub last_fds: f64,
    /// (last − first) ÷ first, in percent.
    pub rss_percent: f64,
}

/// `None` when the readings do not cover two distinct windows (a run shorter than 2 × `window`).
pub fn growth(readings: &[Reading], window: Duration) -> Option<Growth> {
    let start = readings.first()?.at;
    let end = readings.last()?.at;
    if end.saturating_sub(start) < window * 2 {
        return None;
    }
    let first: Vec<_> = readings.iter().filter(|r| r.at < start + window).collect();
    let last: Vec<_> = readings.iter().filter(|r| r.at + window > end).collect();
    #[allow(clippy::cast_precision_loss)]
    let mean = |rs: &[&Reading], f: fn(&Reading) -> u64| {
        rs.iter().map(|r| f(r) as f64).sum::<f64>() / rs.len() as f64
    };
    let first_rss_kib = mean(&first, |r| r.rss_kib);
    let last_rss_kib = mean(&last, |r| r.rss_kib);
    Some(Growth {
        first_rss_kib,
        last_rss_kib,
        peak_rss_kib: readings.iter().map(|r| r.rss_kib).max()?,
        first_fds: mean(&first, |r| r.fds),
        last_fds: mean(&last, |r| r.fds),
        rss_percent: (last_rss_kib - first_rss_kib) / first_rss_kib * 100.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64, rss_kib: u64) -> Reading {
        Reading {
            at: Duration::from_secs(s),
            rss_kib,
            fds: 10,
        }
    }

    #[test]
    fn reads_this_process_from_the_real_proc() {
        let r = read(Path::new("/proc"), std::process::id(), Duration::ZERO).unwrap();
        assert!(r.rss_kib > 100, "{r:?}");
        assert!(r.fds >= 3, "stdin, stdout, stderr at least: {r:?}");
        assert_eq!(read(Path::new("/proc"), u32::MAX, Duration::ZERO), None);
    }

    #[test]
    fn parses_vm_rss() {
        let status = "Name:\tcatalog\nVmHWM:\t   20480 kB\nVmRSS:\t   15360 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_kib(status), Some(15360));
        assert_eq!(vm_rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn growth_compares_the_first_and_last_window_means() {
        // 0–59 s at 10 000 KiB, then a step to 11 000 KiB from 120 s: +10 %.
        let readings: Vec<_> = (0..=180)
            .step_by(5)
            .map(|s| at(s, if s < 120 { 10_000 } else { 11_000 }))
            .collect();
        let g = growth(&readings, Duration::from_secs(60)).unwrap();
        assert_eq!(g.first_rss_kib, 10_000.0);
        assert_eq!(g.last_rss_kib, 11_000.0);
        assert_eq!(g.peak_rss_kib, 11_000);
        assert!((g.rss_percent - 10.0).abs() < 1e-9, "{g:?}");
    }

    #[test]
    fn a_run_shorter_than_two_windows_has_no_growth_figure() {
        let readings: Vec<_> = (0..=90).step_by(5).map(|s| at(s, 10_000)).collect();
        assert_eq!(growth(&readings, Duration::from_secs(60)), None);
    }
}
