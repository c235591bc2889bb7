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
#[cfg(aio_shuttle)]
#[doc(hidden)]
pub use sync::mutants as model_mutants;
