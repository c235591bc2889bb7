//! When the driver submits reads and writes without the eventfd, and how the runtime layer's
//! task then finds their completions (see `context::quiet` for the kernel's side).
//!
//! - [`QuietPolicy`] decides from what each batch did: reads and writes go quiet after
//!   [`QuietPolicy::FIRST`] of them in a row were found complete right after their
//!   `io_submit` (tmpfs, the page cache with `RWF_NOWAIT`). One found still in flight turns
//!   the eventfd back on, and the next streak must be [`QuietPolicy::GROWTH`] times longer,
//!   so a file that only sometimes completes inline settles on signalled submissions.
//! - [`SilentWatch`] covers the operations that went quiet and are still in flight: their
//!   completions will not wake the task, so it looks at the ring again by itself, first by
//!   yielding to the runtime ([`SilentWatch::SPINS`] times), then on a timer signalled from a
//!   blocking thread, its period doubling from [`SilentWatch::FIRST_TIMER`] to
//!   [`SilentWatch::MAX_TIMER`], until they are collected.

use super::sync::AtomicBool;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Whether reads and writes are submitted without `IOCB_FLAG_RESFD`; see the module docs.
#[derive(Debug)]
pub(crate) struct QuietPolicy {
    on: bool,
    /// Reads and writes found complete right after their `io_submit`, in a row.
    streak: u64,
    /// The streak that turns the policy on.
    needed: u64,
}

impl QuietPolicy {
    /// The first streak needed.
    pub(crate) const FIRST: u64 = 256;
    /// How much longer each later streak must be.
    pub(crate) const GROWTH: u64 = 8;
    /// The longest streak ever needed.
    const MAX: u64 = 1 << 24;

    pub(crate) fn new() -> Self {
        Self {
            on: false,
            streak: 0,
            needed: Self::FIRST,
        }
    }

    /// Takes in one batch: `accepted` reads and writes, `unfinished` of them still in flight
    /// after its `io_submit` and a reap. Returns the new setting when it changes.
    pub(crate) fn observe(&mut self, accepted: usize, unfinished: usize) -> Option<bool> {
        if unfinished > 0 {
            self.streak = 0;
            if self.on {
                self.on = false;
                self.needed = self.needed.saturating_mul(Self::GROWTH).min(Self::MAX);
                return Some(false);
            }
            return None;
        }
        self.streak = self.streak.saturating_add(accepted as u64);
        if !self.on && self.streak >= self.needed {
            self.on = true;
            return Some(true);
        }
        None
    }
}

/// What the runtime layer's task does next about unsignalled operations in flight.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Watch {
    /// Nothing to watch, or a timer already runs: wait for the eventfd or a kick as usual.
    Wait,
    /// Yield to the runtime once, then look at the ring again.
    Spin,
    /// Start a timer that signals the eventfd after this long, then wait as usual.
    Timer(Duration),
}

/// The runtime layer's task's state for unsignalled operations; see the module docs.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct SilentWatch {
    spins: u32,
    timer: Duration,
    /// A timer runs (its thread clears this when it fires).
    armed: Arc<AtomicBool>,
}

#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
impl SilentWatch {
    /// Yields before the first timer: about one device I/O's time on the machines measured.
    pub(crate) const SPINS: u32 = 32;
    pub(crate) const FIRST_TIMER: Duration = Duration::from_micros(50);
    pub(crate) const MAX_TIMER: Duration = Duration::from_millis(5);

    pub(crate) fn new() -> Self {
        Self {
            spins: 0,
            timer: Self::FIRST_TIMER,
            armed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// After a turn that left `unsignalled` operations in flight.
    pub(crate) fn after_turn(&mut self, unsignalled: usize) -> Watch {
        if unsignalled == 0 {
            self.spins = 0;
            self.timer = Self::FIRST_TIMER;
            return Watch::Wait;
        }
        if self.spins < Self::SPINS {
            self.spins += 1;
            return Watch::Spin;
        }
        if self.armed.swap(true, Ordering::AcqRel) {
            return Watch::Wait;
        }
        let period = self.timer;
        self.timer = (self.timer * 2).min(Self::MAX_TIMER);
        Watch::Timer(period)
    }

    /// The flag the timer's thread clears when it fires.
    pub(crate) fn armed(&self) -> Arc<AtomicBool> {
        self.armed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_turns_on_after_a_streak_and_backs_off() {
        let mut policy = QuietPolicy::new();
        assert_eq!(policy.observe(32, 0), None);
        for _ in 1..7 {
            assert_eq!(policy.observe(32, 0), None);
        }
        // 8 × 32 = 256 = FIRST.
        assert_eq!(policy.observe(32, 0), Some(true));
        assert_eq!(policy.observe(32, 0), None);
        assert_eq!(policy.observe(32, 1), Some(false));
        assert_eq!(policy.observe(32, 1), None);
        // Now 8 × 256 in a row are needed; an unfinished batch restarts the count.
        assert_eq!(policy.observe(2047, 0), None);
        assert_eq!(policy.observe(32, 3), None);
        assert_eq!(policy.observe(2047, 0), None);
        assert_eq!(policy.observe(1, 0), Some(true));
    }

    #[test]
    fn watch_spins_then_arms_one_timer_with_a_growing_period() {
        let mut watch = SilentWatch::new();
        assert_eq!(watch.after_turn(0), Watch::Wait);
        for _ in 0..SilentWatch::SPINS {
            assert_eq!(watch.after_turn(1), Watch::Spin);
        }
        assert_eq!(watch.after_turn(1), Watch::Timer(SilentWatch::FIRST_TIMER));
        // Armed: no second timer until it fires.
        assert_eq!(watch.after_turn(1), Watch::Wait);
        watch.armed().store(false, Ordering::Release);
        assert_eq!(
            watch.after_turn(1),
            Watch::Timer(SilentWatch::FIRST_TIMER * 2)
        );
        watch.armed().store(false, Ordering::Release);
        for _ in 0..20 {
            if let Watch::Timer(period) = watch.after_turn(1) {
                assert!(period <= SilentWatch::MAX_TIMER);
            }
            watch.armed().store(false, Ordering::Release);
        }
        // Collected: back to the start.
        assert_eq!(watch.after_turn(0), Watch::Wait);
        assert_eq!(watch.after_turn(1), Watch::Spin);
    }
}
