//! Sharing one context between threads and tasks: a runtime-agnostic driver, with a blocking
//! front for plain threads ([`SharedContext`]) and an async one for tokio
//! (`tokio::Handle`, behind the `tokio` feature).
//!
//! The [`Context`](crate::Context) itself takes `&mut self` for everything: one owner, no
//! locks, the fastest path. The driver puts it behind one lock with a record per operation
//! (who waits for it, and whether anyone still does), so that many threads or tasks can start
//! operations on it while one of them, or the runtime's task, submits them in batches and
//! collects completions from the ring. By role: `driver` (shared state, submit, collect,
//! dispatch, abandon, offload to blocking threads), `batching` (how many operations one
//! `io_submit` carries, and when the tokio task yields before it submits), `quiet` (when
//! reads and writes go without the eventfd, and how their completions are found then),
//! `shared` ([`SharedContext`], threads) and `tokio` (the reactor glue and the async API).

mod batching;
mod driver;
mod quiet;
mod shared;
mod sync;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use shared::{SharedContext, Ticket};

/// The driver's adaptive policies, each on by default. Turning one off is for measuring what
/// it earns (`aio-async-bench --without`), not for tuning: each stays only while a benchmark
/// shows a gain (the table in the README).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heuristics {
    /// Quiet submissions (`rt/quiet.rs`): where the kernel completes reads and writes inside
    /// `io_submit`, submit them without asking for the eventfd's signal (async handle only).
    pub quiet: bool,
    /// A second submitter (the tokio handle's helper task) while quiet submissions are on.
    pub helper: bool,
    /// The tokio driver task stops yielding before it submits while yielding gains nothing
    /// (`rt/batching.rs`); off, it always yields.
    pub adaptive_yield: bool,
    /// Calls of at most 8 iocbs while the device sets the pace (`rt/batching.rs`).
    pub chunks: bool,
}

impl Default for Heuristics {
    fn default() -> Self {
        Self {
            quiet: true,
            helper: true,
            adaptive_yield: true,
            chunks: true,
        }
    }
}
#[cfg(aio_shuttle)]
#[doc(hidden)]
pub use sync::mutants as model_mutants;
