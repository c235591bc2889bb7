//! The locks and atomics the driver shares between threads: std's, or, in the model check
//! (`RUSTFLAGS="--cfg aio_shuttle"`, `tests/integration/model_driver.rs`), [shuttle]'s, whose scheduler
//! then chooses every interleaving at these points.
//!
//! [shuttle]: https://docs.rs/shuttle

#[cfg(aio_shuttle)]
pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(aio_shuttle)]
pub(crate) use shuttle::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(aio_shuttle))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(not(aio_shuttle))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// Fixed bugs the model check can put back, to show that it finds them
/// (`tests/integration/model_driver.rs`). Only with `--cfg aio_shuttle`; per OS thread (shuttle runs a
/// model on the thread that calls it), so that other tests running meanwhile are unaffected.
#[cfg(aio_shuttle)]
#[doc(hidden)]
pub mod mutants {
    use std::cell::Cell;

    std::thread_local! {
        /// A collection at the end of a round that moves the backlog into freed slots does
        /// not bring the driver back to submit it (issue 25, item 1).
        pub static LOST_KICK: Cell<bool> = const { Cell::new(false) };
        /// `outstanding()` stops counting an abandoned operation when it leaves the context,
        /// before its buffers are dropped outside the lock (found by CI on aarch64: a pool
        /// short of a block after `outstanding()` said 0).
        pub static EARLY_RELEASE: Cell<bool> = const { Cell::new(false) };
    }

    pub(crate) fn lost_kick() -> bool {
        LOST_KICK.with(Cell::get)
    }

    pub(crate) fn early_release() -> bool {
        EARLY_RELEASE.with(Cell::get)
    }
}

/// Without the model check no bug is put back.
#[cfg(not(aio_shuttle))]
pub(crate) mod mutants {
    pub(crate) fn lost_kick() -> bool {
        false
    }

    pub(crate) fn early_release() -> bool {
        false
    }
}
