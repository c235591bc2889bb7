//! The parts of `aio-async-bench`: [`args`] (command line), [`files`] (the patterned test
//! files), [`engines`] (the three ways of reading), [`report`] (medians, ratios, markdown and
//! JSON, the project's targets).

pub mod args;
pub mod engines;
pub mod files;
pub mod report;

use std::time::Duration;

/// The size of every read, and the block the pattern numbers.
pub const BS: usize = 4096;

/// One way of running the reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// `aio::Context` on one thread.
    Sync,
    /// `aio::rt::tokio::Handle` from tokio tasks.
    Async,
    /// `spawn_blocking` + `pread` from tokio tasks.
    TokioFs,
}

impl Engine {
    /// Every engine, in the tables' order.
    pub const ALL: [Engine; 3] = [Engine::Sync, Engine::Async, Engine::TokioFs];

    /// The name in options and tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Async => "async",
            Self::TokioFs => "tokio-fs",
        }
    }

    /// Parses [`name`](Self::name).
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| format!("unknown engine {s:?} (sync, async or tokio-fs)"))
    }

    /// The index in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What one run of one engine measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct Run {
    /// Reads completed (all checked).
    pub ops: u64,
    /// From the first read started to the last completed.
    pub wall: Duration,
    /// The process's CPU time meanwhile (user + system, every thread).
    pub cpu: Duration,
    /// Of which user and system time, from `/proc/self/stat` (10 ms ticks).
    pub user: Duration,
    pub sys: Duration,
    /// The context's `io_submit` calls (not for tokio-fs).
    pub submit_calls: Option<u64>,
}

impl Run {
    pub fn iops(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.ops as f64 / secs
        } else {
            0.0
        }
    }

    /// `io_submit` calls per read.
    pub fn submits_per_op(&self) -> Option<f64> {
        let calls = self.submit_calls?;
        Some(if self.ops == 0 {
            0.0
        } else {
            calls as f64 / self.ops as f64
        })
    }

    /// CPU microseconds per read.
    pub fn cpu_us_per_op(&self) -> f64 {
        per_op_us(self.cpu, self.ops)
    }
}

/// Microseconds of `d` per operation.
pub fn per_op_us(d: Duration, ops: u64) -> f64 {
    if ops == 0 {
        0.0
    } else {
        d.as_secs_f64() * 1e6 / ops as f64
    }
}

/// The process's CPU clock and its user/system split.
#[derive(Clone, Copy, Debug)]
pub struct CpuSample {
    total: Duration,
    user_ticks: u64,
    sys_ticks: u64,
}

/// `USER_HZ`: the unit of `/proc/<pid>/stat`'s times (100 on every architecture this runs on).
const TICKS_PER_SEC: u64 = 100;

impl CpuSample {
    /// Now.
    pub fn now() -> Self {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        let total = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        let (user_ticks, sys_ticks) = stat_ticks().unwrap_or((0, 0));
        Self {
            total,
            user_ticks,
            sys_ticks,
        }
    }

    /// Total, user and system time from `earlier` to `self`.
    pub fn since(&self, earlier: &Self) -> (Duration, Duration, Duration) {
        let ticks = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SEC);
        (
            self.total.saturating_sub(earlier.total),
            ticks(self.user_ticks.saturating_sub(earlier.user_ticks)),
            ticks(self.sys_ticks.saturating_sub(earlier.sys_ticks)),
        )
    }
}

/// `utime` and `stime` (fields 14 and 15) of `/proc/self/stat`.
fn stat_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let user = fields.next()?.parse().ok()?;
    let sys = fields.next()?.parse().ok()?;
    Some((user, sys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_clock_moves_and_stat_parses() {
        let a = CpuSample::now();
        let mut x = 0u64;
        for i in 0..10_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = CpuSample::now();
        assert!(b.since(&a).0 > Duration::ZERO);
        assert!(stat_ticks().is_some());
    }

    #[test]
    fn engines_parse() {
        for e in Engine::ALL {
            assert_eq!(Engine::parse(e.name()), Ok(e));
            assert_eq!(Engine::ALL[e.index()], e);
        }
        assert!(Engine::parse("uring").is_err());
    }
}
