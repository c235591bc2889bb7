//! Reads and writes submitted without `IOCB_FLAG_RESFD`: how the async driver ([`crate::rt`])
//! saves the eventfd's cost where the kernel completes everything inside `io_submit`.
//!
//! With an eventfd, the kernel looks the eventfd up for every iocb at submit
//! (`eventfd_ctx_fdget`) and signals it for every completion (`eventfd_signal` in
//! `aio_complete`, which also runs the wake-ups of whoever polls it: tokio's `epoll`, and so
//! the parked worker thread). On tmpfs, and for buffered I/O with `RWF_NOWAIT`, every read and
//! write completes before `io_submit` returns, and the driver collects it from the ring right
//! after: the signal wakes nobody who needs it. Measured on tmpfs at depth 32 it costs about a
//! tenth of the whole operation.
//!
//! So the driver watches its batches ([`Context::batch_unfinished`]) and, once enough reads
//! and writes in a row were found complete right after their `io_submit`, pushes reads and
//! writes without the flag ([`Context::set_quiet_io`]). An operation of that kind that is
//! still in flight after its `io_submit` will not signal: the context counts those
//! ([`Context::quiet_in_flight`]) so that the driver knows to look at the ring again by
//! itself until they are collected, and the driver goes back to signalled submissions. Polls,
//! `fsync` and `fdatasync` always carry the flag: the kernel runs them later by design.

use super::Context;
#[cfg(feature = "std")]
use super::{handoff::Batch, slots::State};
use crate::op::OpKind;

impl OpKind {
    /// A read or write: the kinds the kernel may complete inside `io_submit`.
    pub(super) fn may_complete_inline(self) -> bool {
        matches!(self, Self::Read | Self::Write | Self::Readv | Self::Writev)
    }
}

impl<B> Context<B> {
    /// Whether an operation of `kind` goes quiet while [`set_quiet_io`](Self::set_quiet_io)
    /// is on.
    #[inline]
    pub(super) fn may_go_quiet(&self, kind: OpKind) -> bool {
        #[cfg(test)]
        if self.quiet_all {
            return true;
        }
        kind.may_complete_inline()
    }

    /// Tests only: every kind goes quiet from now on, polls too.
    #[cfg(test)]
    pub(crate) fn set_quiet_all(&mut self) {
        self.quiet_all = true;
        self.quiet_io = true;
    }

    /// Whether reads and writes pushed from now on go without `IOCB_FLAG_RESFD` (see the
    /// module docs). Without an eventfd, or with the emulated backend, nothing changes.
    #[cfg(feature = "std")]
    pub(crate) fn set_quiet_io(&mut self, quiet: bool) {
        self.quiet_io = quiet && self.emulated.is_none();
    }

    /// Operations submitted without `IOCB_FLAG_RESFD` whose completions have not been
    /// collected yet: nothing will signal the eventfd for them.
    #[cfg(feature = "std")]
    pub(crate) fn quiet_in_flight(&self) -> usize {
        self.quiet_in_flight
    }

    /// After [`finish_submit`](Self::finish_submit) and a reap: how many reads and writes
    /// the kernel accepted in `batch`, and how many of them are still in flight.
    #[cfg(feature = "std")]
    pub(crate) fn batch_unfinished(&self, batch: &Batch) -> (usize, usize) {
        let (mut accepted, mut unfinished) = (0, 0);
        for (index, seq) in batch.accepted_io() {
            let slot = &self.slots[index as usize];
            accepted += 1;
            // The slot may hold a later operation already (collected, handed back and pushed
            // again meanwhile by another thread): then this one is done.
            if slot.seq == seq && slot.state == State::InFlight {
                unfinished += 1;
            }
        }
        (accepted, unfinished)
    }

    /// Bookkeeping for slot `index` leaving flight (reaped, cancelled, rejected or deferred).
    #[inline]
    pub(super) fn landed(&mut self, index: u32) {
        self.in_flight -= 1;
        if self.slots[index as usize].quiet {
            self.quiet_in_flight -= 1;
        }
    }
}
