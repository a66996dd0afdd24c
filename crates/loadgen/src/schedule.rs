//! When each arrival is *meant* to happen: piecewise-linear arrival-rate schedules (k6's
//! `ramping-arrival-rate`), uniform or seeded-Poisson spacing, and deterministic segments.
//!
//! Everything here is pure: arrival `i`'s intended offset from the start of the run is a function of
//! the schedule alone, never of how fast the target answered. That is what makes the generator *open*
//! and its latency honest (no coordinated omission).

use std::time::Duration;

use common::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// One stage: the rate moves linearly from the previous stage's target to `target` over `duration`.
/// A zero-length stage is a step (a spike starts or ends there).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Arrivals per second at the end of the stage.
    pub target: f64,
    /// How long the stage lasts.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
}

/// A full schedule: the rate at t = 0 and the stages that follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Arrivals per second at the start.
    #[serde(default)]
    pub start_rate: f64,
    pub stages: Vec<Stage>,
}

/// How arrivals are spaced within the rate curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Evenly spaced (the default: easiest to reason about).
    #[default]
    Uniform,
    /// A Poisson process with the same rate curve, from a seeded generator.
    Poisson,
}

/// Which share of a schedule one generator instance sends: arrival `j` belongs to segment `j % count`.
/// N instances with segments 0/N … (N-1)/N together send exactly the planned arrivals, interleaved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub index: u32,
    pub count: u32,
}

impl Segment {
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    pub fn contains(self, arrival: u64) -> bool {
        arrival % u64::from(self.count) == u64::from(self.index)
    }
}

impl std::str::FromStr for Segment {
    type Err = String;

    /// Parses `i/N`, e.g. `0/3`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("segment {s:?} must look like i/N, e.g. 0/3"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("segment index {i:?} is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("segment count {n:?} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("segment {s:?}: need 0 <= i < N"));
        }
        Ok(Segment { index, count })
    }
}

impl Schedule {
    /// A constant rate for `duration`.
    pub fn constant(rate: f64, duration: Duration) -> Self {
        Schedule {
            start_rate: rate,
            stages: vec![Stage {
                target: rate,
                duration,
            }],
        }
    }

    /// Checks rates are finite and non-negative and that the schedule has a length.
    pub fn validate(&self) -> Result<(), String> {
        let rates = std::iter::once(self.start_rate).chain(self.stages.iter().map(|s| s.target));
        if rates.into_iter().any(|r| !r.is_finite() || r < 0.0) {
            return Err("rates must be finite and 0 or more".into());
        }
        if self.duration().is_zero() {
            return Err("the schedule has no duration".into());
        }
        Ok(())
    }

    /// Total length.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// Stretches the schedule to `duration` and scales it so its peak rate is `peak` (`--duration` and
    /// `--rate` of `loadgen run`; the lab's scenario phases too). `None` keeps that dimension.
    pub fn reshaped(mut self, duration: Option<Duration>, peak: Option<f64>) -> Self {
        let total = self.duration().as_secs_f64();
        if let Some(d) = duration
            && total > 0.0
        {
            let factor = d.as_secs_f64() / total;
            for stage in &mut self.stages {
                stage.duration = stage.duration.mul_f64(factor);
            }
        }
        let max = self
            .stages
            .iter()
            .map(|st| st.target)
            .fold(self.start_rate, f64::max);
        match peak {
            Some(peak) if max > 0.0 => self.scaled(peak / max),
            _ => self,
        }
    }

    /// Multiplies every rate by `factor` (`--rate` scales a profile).
    pub fn scaled(&self, factor: f64) -> Self {
        Schedule {
            start_rate: self.start_rate * factor,
            stages: self
                .stages
                .iter()
                .map(|s| Stage {
                    target: s.target * factor,
                    ..*s
                })
                .collect(),
        }
    }

    /// Expected number of arrivals over the whole schedule (the area under the rate curve).
    pub fn expected_arrivals(&self) -> f64 {
        self.pieces().iter().map(|p| p.count()).sum()
    }

    /// The planned rate at `t` (for reports: planned vs achieved).
    pub fn rate_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        let mut start = 0.0;
        for p in self.pieces() {
            if t < start + p.len {
                return p.from + (p.to - p.from) * (t - start) / p.len;
            }
            start += p.len;
        }
        self.stages.last().map_or(self.start_rate, |s| s.target)
    }

    /// Intended offsets of every arrival, in order: uniform arrivals sit where the cumulative count
    /// crosses 0, 1, 2, …; Poisson arrivals where it crosses the running sum of seeded Exp(1) draws.
    /// Both are mapped through the inverse of the cumulative rate, so ramps and steps are exact and no
    /// error accumulates from one arrival to the next.
    pub fn offsets(&self, arrivals: Arrivals, seed: u64) -> Offsets {
        let mut offsets = Offsets {
            pieces: self.pieces(),
            piece: 0,
            before: 0.0,
            elapsed: 0.0,
            next: 0.0,
            arrivals,
            rng: SplitMix64(seed),
        };
        if arrivals == Arrivals::Poisson {
            offsets.next = offsets.exp1();
        }
        offsets
    }

    /// The non-empty linear pieces of the rate curve. A zero-length stage contributes no piece; it
    /// only moves the starting rate of the next one — that is what makes it a step.
    fn pieces(&self) -> Vec<Piece> {
        let mut from = self.start_rate;
        let mut pieces = Vec::new();
        for s in &self.stages {
            if !s.duration.is_zero() {
                pieces.push(Piece {
                    from,
                    to: s.target,
                    len: s.duration.as_secs_f64(),
                });
            }
            from = s.target;
        }
        pieces
    }
}

/// A linear piece of the rate curve: `from` → `to` arrivals/s over `len` seconds.
#[derive(Debug, Clone, Copy)]
struct Piece {
    from: f64,
    to: f64,
    len: f64,
}

impl Piece {
    /// Arrivals in the piece: the area of the trapezoid.
    fn count(self) -> f64 {
        (self.from + self.to) * self.len / 2.0
    }

    /// Time into the piece at which the cumulative count reaches `n` (0 ≤ n ≤ count): the root of
    /// `from·t + k·t²/2 = n` with `k = (to − from)/len`, in the form that stays accurate when `k` is
    /// tiny or `from` is 0.
    fn time_for(self, n: f64) -> f64 {
        let k = (self.to - self.from) / self.len;
        let disc = (self.from * self.from + 2.0 * k * n).max(0.0);
        let denom = self.from + disc.sqrt();
        if denom <= 0.0 { 0.0 } else { 2.0 * n / denom }
    }
}

/// Iterator over intended arrival offsets (see [`Schedule::offsets`]).
#[derive(Debug, Clone)]
pub struct Offsets {
    pieces: Vec<Piece>,
    piece: usize,
    /// Cumulative count before the current piece.
    before: f64,
    /// Time before the current piece, in seconds.
    elapsed: f64,
    /// Cumulative count at which the next arrival happens.
    next: f64,
    arrivals: Arrivals,
    rng: SplitMix64,
}

impl Offsets {
    fn exp1(&mut self) -> f64 {
        -self.rng.unit_open0().ln()
    }
}

impl Iterator for Offsets {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        loop {
            let piece = *self.pieces.get(self.piece)?;
            let count = piece.count();
            if self.next < self.before + count {
                let t = self.elapsed + piece.time_for(self.next - self.before);
                self.next += match self.arrivals {
                    Arrivals::Uniform => 1.0,
                    Arrivals::Poisson => self.exp1(),
                };
                return Some(Duration::from_secs_f64(t));
            }
            self.before += count;
            self.elapsed += piece.len;
            self.piece += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn stage(target: f64, s: f64) -> Stage {
        Stage {
            target,
            duration: secs(s),
        }
    }

    #[test]
    fn reshaped_keeps_the_shape_at_the_new_length_and_peak() {
        // 10/s → ramp to 100/s over 2 s → back to 10/s, 10 s in all; doubled in length, peak 500/s.
        let s = Schedule {
            start_rate: 10.0,
            stages: vec![stage(10.0, 4.0), stage(100.0, 2.0), stage(10.0, 4.0)],
        };
        let r = s.reshaped(Some(secs(20.0)), Some(500.0));
        assert_eq!(r.duration(), secs(20.0));
        assert!((r.rate_at(secs(1.0)) - 50.0).abs() < 1e-9);
        assert!((r.rate_at(secs(12.0)) - 500.0).abs() < 1e-9);
        assert!((r.rate_at(secs(16.0)) - 275.0).abs() < 1e-9);
    }

    #[test]
    fn reshaped_with_neither_keeps_the_schedule() {
        let s = Schedule::constant(10.0, secs(2.0));
        let r = s.clone().reshaped(None, None);
        assert_eq!(r.duration(), s.duration());
        assert!((r.rate_at(secs(1.0)) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn constant_rate_spaces_arrivals_evenly_from_zero() {
        let s = Schedule::constant(10.0, secs(2.0));
        let got: Vec<_> = s.offsets(Arrivals::Uniform, 0).collect();
        assert_eq!(got.len(), 20);
        assert_eq!(got[0], Duration::ZERO);
        assert!((got[1].as_secs_f64() - 0.1).abs() < 1e-9);
        assert!((got[19].as_secs_f64() - 1.9).abs() < 1e-9);
    }

    #[test]
    fn counts_per_stage_match_the_area_under_the_curve() {
        // 0 → 100/s over 10 s (500 arrivals), hold 100/s for 5 s (500), step down to 10/s for 10 s (100).
        let s = Schedule {
            start_rate: 0.0,
            stages: vec![
                stage(100.0, 10.0),
                stage(100.0, 5.0),
                stage(10.0, 0.0),
                stage(10.0, 10.0),
            ],
        };
        assert!((s.expected_arrivals() - 1100.0).abs() < 1e-9);
        let got: Vec<_> = s.offsets(Arrivals::Uniform, 0).collect();
        assert_eq!(got.len(), 1100);
        let within = |a: f64, b: f64| {
            got.iter()
                .filter(|t| (a..b).contains(&t.as_secs_f64()))
                .count()
        };
        assert_eq!(within(0.0, 10.0), 500);
        assert_eq!(within(10.0, 15.0), 500);
        assert_eq!(within(15.0, 25.0), 100);
        // In a linear ramp from 0 the first half of the time holds a quarter of the arrivals.
        assert_eq!(within(0.0, 5.0), 125);
        assert!(got.windows(2).all(|w| w[0] <= w[1]), "offsets are sorted");
    }

    #[test]
    fn a_spike_is_a_step_up_and_a_step_down() {
        let s = Schedule {
            start_rate: 10.0,
            stages: vec![
                stage(10.0, 5.0),
                stage(200.0, 0.0),
                stage(200.0, 2.0),
                stage(10.0, 0.0),
                stage(10.0, 5.0),
            ],
        };
        let got: Vec<_> = s.offsets(Arrivals::Uniform, 0).collect();
        let within = |a: f64, b: f64| {
            got.iter()
                .filter(|t| (a..b).contains(&t.as_secs_f64()))
                .count()
        };
        assert_eq!(
            (within(0.0, 5.0), within(5.0, 7.0), within(7.0, 12.0)),
            (50, 400, 50)
        );
        assert!((s.rate_at(secs(6.0)) - 200.0).abs() < 1e-9);
        assert!((s.rate_at(secs(8.0)) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn ramp_down_to_zero_ends_cleanly() {
        let s = Schedule {
            start_rate: 50.0,
            stages: vec![stage(0.0, 4.0)],
        };
        let got: Vec<_> = s.offsets(Arrivals::Uniform, 0).collect();
        assert_eq!(got.len(), 100);
        assert!(got.iter().all(|t| *t <= secs(4.0)));
    }

    #[test]
    fn poisson_is_seeded_and_close_to_the_planned_count() {
        let s = Schedule::constant(1000.0, secs(10.0));
        let a: Vec<_> = s.offsets(Arrivals::Poisson, 42).collect();
        let b: Vec<_> = s.offsets(Arrivals::Poisson, 42).collect();
        assert_eq!(a, b, "same seed, same arrivals");
        assert_ne!(a, s.offsets(Arrivals::Poisson, 43).collect::<Vec<_>>());
        // 10 000 expected; the standard deviation is 100, so ±500 is a 5-sigma bound.
        assert!((9_500..=10_500).contains(&a.len()), "{}", a.len());
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn segments_split_a_schedule_exactly() {
        let s = Schedule::constant(333.0, secs(3.0));
        let all: Vec<_> = s.offsets(Arrivals::Uniform, 0).collect();
        let mut union = Vec::new();
        for i in 0..4 {
            let seg = Segment { index: i, count: 4 };
            let part: Vec<_> = all
                .iter()
                .enumerate()
                .filter(|(j, _)| seg.contains(*j as u64))
                .map(|(_, t)| *t)
                .collect();
            assert!(part.len().abs_diff(all.len() / 4) <= 1);
            union.extend(part);
        }
        union.sort();
        assert_eq!(union, all);
        assert_eq!("2/4".parse::<Segment>(), Ok(Segment { index: 2, count: 4 }));
        assert!("4/4".parse::<Segment>().is_err() && "x".parse::<Segment>().is_err());
    }

    #[test]
    fn scaling_and_validation() {
        let s = Schedule::constant(10.0, secs(1.0)).scaled(3.0);
        assert_eq!(s.offsets(Arrivals::Uniform, 0).count(), 30);
        assert!(Schedule::constant(f64::NAN, secs(1.0)).validate().is_err());
        assert!(Schedule::constant(1.0, Duration::ZERO).validate().is_err());
    }
}
