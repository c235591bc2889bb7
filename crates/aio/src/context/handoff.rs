//! Submitting without holding the context: how the shared driver ([`crate::rt`]) keeps its
//! lock free while `io_submit` runs.
//!
//! On tmpfs and for buffered I/O the kernel does the whole copy inside `io_submit`, so a batch
//! of 32 reads can take tens of microseconds; every other thread or task that wants to start
//! an operation or collect one would wait for it behind the lock. So the driver moves the
//! queue into a [`Batch`] under the lock ([`Context::begin_submit`]: the slots become
//! `Submitting`, counted in flight), calls `io_submit` with the lock released
//! ([`Batch::run`]), and settles the outcome under the lock again
//! ([`Context::finish_submit`]). Meanwhile other threads may push into free slots and reap:
//! a completion of an operation of the batch may even arrive before the batch is settled,
//! and is taken as any other.

use super::Context;
use super::slots::State;
use crate::error::Error;
use aio_abi::{aio_context_t, iocb};
use alloc::vec::Vec;
use core::num::NonZeroUsize;
use rustix::io::Errno;

/// Operations taken from a context's queue for one `io_submit` made without the context.
#[derive(Default)]
pub(crate) struct Batch {
    ctx: aio_context_t,
    /// The slots' own `iocb`s (their addresses name them to `io_cancel`).
    iocbs: Vec<*mut iocb>,
    indices: Vec<u32>,
    /// Per position: the operation's sequence number, whether it is a read or write (for
    /// [`Context::batch_unfinished`]), and whether it is quiet.
    seqs: Vec<(u64, bool, bool)>,
    /// After `run`: entries before this were accepted or rejected, the rest deferred.
    done: usize,
    /// After `run`: positions the kernel rejected, with its answer.
    rejected: Vec<(usize, Errno)>,
    calls: u64,
    unsupported: bool,
    /// The most iocbs one `io_submit` of [`run`](Self::run) carries; `None`: all in one.
    chunk: Option<NonZeroUsize>,
}

// SAFETY: the pointers name iocbs of slots that nobody else touches while they are
// `Submitting`; the batch only travels with its context's lock (or the thread that took it).
unsafe impl Send for Batch {}

impl Batch {
    /// From now on, [`run`](Self::run) passes at most `chunk` iocbs to each `io_submit`
    /// (`None`, the default: all in one call); see `rt::batching::ChunkPolicy`.
    pub(crate) fn set_chunk(&mut self, chunk: Option<NonZeroUsize>) {
        self.chunk = chunk;
    }

    /// After [`run`](Self::run): the operations left for later because the kernel's ring was
    /// full (`EAGAIN`).
    pub(crate) fn deferred(&self) -> usize {
        self.indices.len() - self.done
    }

    /// After [`Context::finish_submit`]: the reads and writes the kernel accepted, as (slot,
    /// sequence number).
    pub(super) fn accepted_io(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let mut rejected = self.rejected.iter().map(|&(p, _)| p).peekable();
        (0..self.done).filter_map(move |position| {
            if rejected.next_if_eq(&position).is_some() {
                return None;
            }
            let (seq, io, _) = self.seqs[position];
            io.then_some((self.indices[position], seq))
        })
    }

    /// `io_submit` of the whole batch, as [`Context::submit`] does it (in calls of at most
    /// [`set_chunk`](Self::set_chunk) iocbs): a short count submits the rest again, the
    /// operation the kernel rejects is noted, `EAGAIN` (a full kernel ring) defers what is
    /// left.
    ///
    /// # Safety
    /// The context that filled the batch must be alive, and [`Context::finish_submit`] not yet
    /// called for it.
    pub(crate) unsafe fn run(&mut self) {
        let n = self.iocbs.len();
        let mut i = 0;
        while i < n {
            let nr = self.chunk.map_or(n - i, |chunk| (n - i).min(chunk.get()));
            // SAFETY: the caller keeps the context alive; the `nr` iocbs from `i` are
            // initialised, their buffers and descriptors held by their slots, which nobody
            // else touches while they are `Submitting`.
            let result =
                unsafe { aio_sys::io_submit(self.ctx, nr as isize, self.iocbs[i..].as_ptr()) }
                    .map_err(Errno::from);
            self.calls += 1;
            match result {
                Ok(0) | Err(Errno::AGAIN) => break,
                Ok(accepted) => i += accepted,
                Err(Errno::NOSYS) => {
                    self.unsupported = true;
                    break;
                }
                Err(errno) => {
                    self.rejected.push((i, errno));
                    i += 1;
                }
            }
        }
        self.done = i;
    }
}

impl<B> Context<B> {
    /// Whether `id` is in a batch between [`begin_submit`](Self::begin_submit) and
    /// [`finish_submit`](Self::finish_submit).
    pub(crate) fn is_submitting(&self, id: super::OpId) -> bool {
        self.slots
            .get(id.index as usize)
            .is_some_and(|slot| slot.seq == id.seq && slot.state == State::Submitting)
    }

    /// Moves every queued operation into `batch` for [`Batch::run`]; `false` when there is
    /// nothing to submit this way (an empty queue, or the emulated backend, which submits with
    /// [`submit`](Context::submit)).
    ///
    /// # Errors
    /// [`Error::Forked`] in a child process.
    pub(crate) fn begin_submit(&mut self, batch: &mut Batch) -> Result<bool, Error> {
        self.check_fork()?;
        if self.emulated.is_some() || self.pending.is_empty() {
            return Ok(false);
        }
        batch.ctx = self.ctx;
        batch.iocbs.clear();
        batch.indices.clear();
        batch.seqs.clear();
        batch.rejected.clear();
        batch.done = 0;
        batch.calls = 0;
        batch.unsupported = false;
        let base = self.slots.as_mut_ptr();
        for &index in &self.pending {
            // SAFETY: index < slots.len(); only a raw pointer is made, for the kernel.
            batch
                .iocbs
                .push(unsafe { &raw mut (*base.add(index as usize)).iocb });
            batch.indices.push(index);
            let slot = &mut self.slots[index as usize];
            batch
                .seqs
                .push((slot.seq, slot.kind.may_complete_inline(), slot.quiet));
            slot.state = State::Submitting;
            if slot.quiet {
                self.quiet_in_flight += 1;
            }
        }
        // Counted in flight from now: a completion may come before the batch is settled.
        self.in_flight += self.pending.len();
        self.pending.clear();
        Ok(true)
    }

    /// Settles a batch after [`Batch::run`]: accepted operations are in flight (or already
    /// completed), rejected ones complete with the kernel's answer, deferred ones go back to
    /// the front of the queue, in order.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if `io_submit` answered `ENOSYS` (the operations it did not take
    /// are queued again).
    pub(crate) fn finish_submit(&mut self, batch: &mut Batch) -> Result<(), Error> {
        self.stats.submit_calls += batch.calls;
        let mut rejected = batch.rejected.iter().peekable();
        let deferred = batch.indices.len() - batch.done;
        for (position, &index) in batch.indices[..batch.done].iter().enumerate() {
            if let Some(&(_, errno)) = rejected.next_if(|(p, _)| *p == position) {
                // The kernel never had it.
                self.landed(index);
                self.complete_locally(index, errno);
                continue;
            }
            self.stats.submitted += 1;
            let (seq, _, quiet) = batch.seqs[position];
            self.stats.unsignalled += u64::from(quiet);
            let slot = &mut self.slots[index as usize];
            if slot.seq != seq {
                // It completed and was collected before this settlement, and the slot holds
                // a later operation now (perhaps in another submitter's batch): not ours.
                continue;
            }
            if slot.state == State::Submitting {
                slot.state = State::InFlight;
            }
        }
        if deferred > 0 {
            for &index in &batch.indices[batch.done..] {
                self.landed(index);
                self.slots[index as usize].state = State::Queued;
            }
            // Before what was pushed meanwhile: submission order is push order.
            self.pending
                .splice(0..0, batch.indices[batch.done..].iter().copied());
        }
        // `indices`, `seqs` and `rejected` stay for `batch_unfinished`.
        if batch.unsupported {
            return Err(Error::Unsupported { call: "io_submit" });
        }
        Ok(())
    }
}
