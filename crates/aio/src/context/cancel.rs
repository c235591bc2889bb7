//! Cancelling one operation (`io_cancel`), and draining the whole context.

use super::Context;
use super::slots::{OpId, Slot, State};
use crate::buf::IoBuf;
use crate::completion::{CancelOutcome, Completion};
use crate::error::Error;
use crate::op::OpKind;
use aio_abi::io_event;
use core::fmt;
use rustix::io::Errno;

impl<B: IoBuf> Context<B> {
    /// Attempts to cancel the operation `id`; see [`CancelOutcome`] for what each answer means.
    /// A cancelled operation's completion says so ([`Completion::is_cancelled`]). An id of
    /// another context, or of an operation already handed back, answers
    /// [`CancelOutcome::NotFound`].
    ///
    /// Cancelling the same in-flight operation again answers [`CancelOutcome::InProgress`]
    /// without a system call: the kernel already took the first request, and would answer a
    /// second `io_cancel` with `EINVAL`, as if the operation could not be cancelled.
    ///
    /// # Errors
    /// [`Error::Forked`] in a child process (even for a queued operation: its local completion
    /// would signal the parent's eventfd); [`Error::Os`] for an `io_cancel` error other than
    /// `EINPROGRESS`, `EINVAL` or `EAGAIN` (which map to outcomes).
    pub fn cancel(&mut self, id: OpId) -> Result<CancelOutcome, Error> {
        self.check_fork()?;
        if id.context != self.serial {
            return Ok(CancelOutcome::NotFound);
        }
        let state = match self.slots.get(id.index as usize) {
            Some(slot) if slot.seq == id.seq => slot.state,
            _ => return Ok(CancelOutcome::NotFound),
        };
        match state {
            State::Free => Ok(CancelOutcome::NotFound),
            // A blocking thread runs it to completion, as the kernel runs a read.
            // A batch being submitted by the shared driver, which cancels after settling it.
            State::Ready | State::Offloaded | State::Submitting => {
                Ok(CancelOutcome::NotCancellable)
            }
            State::Queued => {
                self.pending.retain(|&i| i != id.index);
                self.slots[id.index as usize].cancelled = true;
                self.complete_locally(id.index, Errno::CANCELED);
                Ok(CancelOutcome::Unsubmitted)
            }
            // Asked before: the kernel answers EINVAL to a second io_cancel.
            State::InFlight if self.slots[id.index as usize].cancel_requested => {
                Ok(CancelOutcome::InProgress)
            }
            State::InFlight => self.cancel_in_flight(id.index),
        }
    }

    /// Ends everything the context owns without losing a result: cancels the queued operations
    /// (they complete with `ECANCELED`) and the in-flight polls (`io_cancel`), then yields
    /// every remaining completion, waiting for the in-flight reads and writes, which the kernel
    /// does not cancel. Afterwards the context is empty and can be used again.
    ///
    /// So "every pushed operation produces exactly one completion" holds across shutdown: call
    /// `drain` before dropping a context whose results matter.
    ///
    /// ```
    /// use aio::{Context, Op, PollFlags};
    /// use std::sync::Arc;
    /// let (reader, _writer) = rustix::pipe::pipe()?;
    /// let reader = Arc::new(reader);
    /// let mut ctx: Context = Context::new(4)?;
    /// ctx.push(Op::poll(reader.clone(), PollFlags::IN).user_data(1))?;
    /// ctx.submit()?; // the poll pends: the pipe is empty
    /// ctx.push(Op::poll(reader.clone(), PollFlags::IN).user_data(2))?;
    /// let mut tags: Vec<u64> = ctx.drain()?.map(|c| c.user_data()).collect();
    /// tags.sort();
    /// assert_eq!(tags, [1, 2]);
    /// assert_eq!(ctx.owned(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Forked`] in a child process; [`Error::Os`] if `io_cancel` fails unexpectedly.
    pub fn drain(&mut self) -> Result<Drain<'_, B>, Error> {
        self.check_fork()?;
        // The polls first: an error there leaves the queue as it was.
        self.cancel_polls()?;
        // In push order; the list keeps its capacity, so nothing allocates later.
        let mut pending = core::mem::take(&mut self.pending);
        for &index in &pending {
            self.slots[index as usize].cancelled = true;
            self.complete_locally(index, Errno::CANCELED);
        }
        pending.clear();
        self.pending = pending;
        Ok(Drain {
            ctx: self,
            error: None,
        })
    }
}

impl<B> Context<B> {
    fn cancel_in_flight(&mut self, index: u32) -> Result<CancelOutcome, Error> {
        if self.emulated.is_some() {
            // Only polls are in flight here. As the kernel's aio_poll_cancel: in progress now,
            // completed with res 0 by the next reap or wait.
            self.slots[index as usize].cancel_requested = true;
            return Ok(CancelOutcome::InProgress);
        }
        let mut result = io_event::default();
        // SAFETY: index < slots.len(); the pointer names the iocb the operation was submitted
        // from, which the kernel only reads.
        let iocb = unsafe { &raw mut (*self.slots.as_mut_ptr().add(index as usize)).iocb };
        // SAFETY: `iocb` as above, `result` is writable, the context is this process's own
        // (fork checked by the callers).
        match unsafe { aio_sys::io_cancel(self.ctx, iocb, &mut result) }.map_err(Errno::from) {
            Ok(()) => {
                let slot = &mut self.slots[index as usize];
                slot.cancelled = true;
                slot.state = State::Ready;
                self.landed(index);
                self.ready.push_back((index, result.res));
                Ok(CancelOutcome::Cancelled)
            }
            Err(Errno::INPROGRESS) => {
                self.slots[index as usize].cancel_requested = true;
                Ok(CancelOutcome::InProgress)
            }
            Err(Errno::INVAL | Errno::AGAIN) => Ok(CancelOutcome::NotCancellable),
            Err(errno) => Err(Error::from_call("io_cancel", errno)),
        }
    }

    /// `io_cancel` of every in-flight poll not yet asked to cancel.
    fn cancel_polls(&mut self) -> Result<(), Error> {
        for index in 0..self.slots.len() as u32 {
            let slot = &self.slots[index as usize];
            if slot.state == State::InFlight && slot.kind == OpKind::Poll && !slot.cancel_requested
            {
                self.cancel_in_flight(index)?;
            }
        }
        Ok(())
    }

    /// For drop: cancels the in-flight polls and collects completions until nothing is in
    /// flight (or the wait fails, which leaves the rest to io_destroy). Their results are
    /// discarded with the context.
    ///
    /// If `io_cancel` fails (a seccomp profile that forbids it answers `EPERM` or `ENOSYS`),
    /// the polls it could not cancel may never complete: it waits only for the rest, and
    /// leaves those to `io_destroy`, which cancels every request still on the context (polls
    /// included, since Linux 4.18 where they exist) and waits for them.
    pub(super) fn settle(&mut self) {
        let polls_cancelled = self.cancel_polls().is_ok();
        while self.in_flight > 0 {
            if !polls_cancelled && !self.slots.iter().any(Slot::completes_by_itself) {
                return;
            }
            match self.getevents(1, core::ptr::null(), None) {
                Ok(()) => {}
                Err(Error::Os {
                    errno: Errno::INTR, ..
                }) => {}
                Err(_) => return,
            }
        }
    }
}

/// Every remaining completion of a context; see [`Context::drain`].
///
/// Waits (`io_getevents`, restarted after `EINTR`) while operations are in flight. Should the
/// wait fail otherwise, which a live context does not do, the iterator ends early, says why in
/// [`error`](Self::error), and the operations still in flight stay owned by the context
/// ([`Context::in_flight`]).
#[must_use = "iterators are lazy: nothing is drained until it is iterated"]
pub struct Drain<'a, B: IoBuf> {
    ctx: &'a mut Context<B>,
    error: Option<Error>,
}

impl<B: IoBuf> Drain<'_, B> {
    /// Why the iterator ended before every operation completed, if it did.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }
}

impl<B: IoBuf> Iterator for Drain<'_, B> {
    type Item = Completion<B>;

    fn next(&mut self) -> Option<Completion<B>> {
        loop {
            if let Some(completion) = self.ctx.pop_ready() {
                return Some(completion);
            }
            if self.ctx.in_flight == 0 || self.error.is_some() {
                return None;
            }
            match self.ctx.wait(1, None) {
                Ok(_) => {}
                Err(Error::Os {
                    errno: Errno::INTR, ..
                }) => {}
                Err(error) => self.error = Some(error),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let ready = self.ctx.ready.len();
        (ready, Some(ready + self.ctx.in_flight))
    }
}

impl<B: IoBuf> core::iter::FusedIterator for Drain<'_, B> {}

impl<B: IoBuf> fmt::Debug for Drain<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("ready", &self.ctx.ready.len())
            .field("in_flight", &self.ctx.in_flight)
            .field("error", &self.error)
            .finish()
    }
}
