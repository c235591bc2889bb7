//! The driver's bookkeeping under its lock: an entry per started operation, the backlog, and
//! the steps that move operations between them and the context (push, submit under the lock,
//! collect, deliver).

use super::{AfterUnlock, Token};
use crate::buf::IoBuf;
use crate::completion::Completion;
use crate::context::{Batch, Context, Next, Offload, OpId, PushError, negative};
use crate::error::Error;
use crate::op::{Op, OpKind};
use crate::rt::batching::ChunkPolicy;
use crate::rt::quiet::QuietPolicy;
use aio_abi::RwFlags;
use rustix::fd::{BorrowedFd, RawFd};
use rustix::fs::OFlags;
use rustix::io::Errno;
use std::any::Any;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Waker;

pub(super) struct State<B> {
    pub(super) ctx: Context<B>,
    pub(super) entries: Vec<Entry<B>>,
    pub(super) free: Vec<u32>,
    /// Entries whose operation waits for a free slot, in start order.
    pub(super) backlog: VecDeque<u32>,
    /// A thread sleeps in `park` on the context's behalf.
    pub(super) parked: bool,
    /// Threads in a blocking wait (parked or on the condition variable).
    pub(super) waiting_threads: usize,
    /// Whether a [`Fixed`](crate::Fixed) names an `O_DIRECT` file, by registration index:
    /// (generation, direct).
    pub(super) direct: Vec<Option<(u64, bool)>>,
    pub(super) offloads: Vec<Offload>,
    /// A runtime runs blocking work: offload what would block (see the module docs).
    pub(super) offload: bool,
    /// Without a runtime, the emulated backend's reads, writes and syncs, for the waiting
    /// threads to run outside the lock ([`Driver::run_local_offload`](super::Driver::run_local_offload)).
    pub(super) local_offloads: VecDeque<Offload>,
    /// Batches for the `io_submit`s made outside the lock, kept for their memory.
    pub(super) batches: Vec<Batch>,
    /// Threads or tasks in an `io_submit` of theirs now (at most [`MAX_SUBMITTERS`](super::MAX_SUBMITTERS) with a
    /// runtime; without one, every waiting thread may be).
    pub(super) submitters: u32,
    /// Polls abandoned while in a batch being submitted: cancelled once it is settled.
    pub(super) cancel_after_submit: Vec<OpId>,
    /// Completions and operations nobody waits for, taken out of the context and handed to
    /// an [`AfterUnlock`] to be dropped outside the lock: still counted by
    /// [`Driver::outstanding`](super::Driver::outstanding) until their buffers are dropped
    /// (so that `outstanding() == 0` means every buffer is back).
    pub(super) releasing: usize,
    /// Whether reads and writes go quiet (with a runtime only).
    pub(super) quiet: QuietPolicy,
    /// How many operations each `io_submit` carries.
    pub(super) chunks: ChunkPolicy,
}

pub(super) struct Entry<B> {
    pub(super) generation: u32,
    /// The caller's `user_data`, given back in the completion.
    pub(super) user_data: u64,
    pub(super) stage: Stage<B>,
    pub(super) kind: OpKind,
    pub(super) waker: Option<Waker>,
    /// The future or ticket is gone: drop the completion when it comes.
    pub(super) abandoned: bool,
}

/// What a panic carried (`std::panic::catch_unwind`).
pub(crate) type PanicPayload = Box<dyn Any + Send>;

impl<B> Entry<B> {
    /// The completion, with the caller's `user_data`, if it has come, or the panic its
    /// buffers' code raised in the driver's hands; the entry is then free.
    pub(super) fn take_done(&mut self) -> Option<Result<Completion<B>, PanicPayload>> {
        match std::mem::replace(&mut self.stage, Stage::Free) {
            Stage::Done(mut completion) => {
                completion.user_data = self.user_data;
                self.waker = None;
                Some(Ok(completion))
            }
            Stage::Panicked(payload) => {
                self.waker = None;
                Some(Err(payload))
            }
            other => {
                self.stage = other;
                None
            }
        }
    }
}

pub(super) enum Stage<B> {
    Free,
    /// Waiting for a slot.
    Backlog(Op<B>),
    /// Owned by the context (queued, in flight, offloaded or ready).
    Owned(OpId),
    Done(Completion<B>),
    /// Its buffers' own code panicked when the driver pushed it (from the backlog): the
    /// operation is gone, and the panic goes to whoever waits for it.
    Panicked(PanicPayload),
}

impl<B: IoBuf + Send + 'static> State<B> {
    pub(super) fn entry_mut(&mut self, token: Token) -> Option<&mut Entry<B>> {
        self.entries
            .get_mut(token.index())
            .filter(|e| e.generation == token.generation())
    }

    /// Marks a read or write of a file not opened with `O_DIRECT` for `RWF_NOWAIT` and
    /// offload (see the module docs). `O_DIRECT` I/O, syncs (which the kernel runs on a
    /// workqueue) and polls go to the kernel as they are, and so does an operation that
    /// already carries `RWF_NOWAIT` (the caller wants the `EAGAIN`).
    pub(super) fn nowait_policy(&mut self, op: &mut Op<B>) {
        if !matches!(
            op.kind(),
            OpKind::Read | OpKind::Write | OpKind::Readv | OpKind::Writev
        ) || op.rw_flags().contains(RwFlags::NOWAIT)
        {
            return;
        }
        let direct = match op.fd().as_fixed() {
            Some(fixed) => {
                let cached = self.direct.get(fixed.index as usize).copied().flatten();
                match cached {
                    Some((generation, direct)) if generation == fixed.generation => Some(direct),
                    _ => {
                        let direct = self.ctx.raw_fd_of(op.fd()).map(is_direct);
                        if let Some(direct) = direct {
                            let index = fixed.index as usize;
                            if self.direct.len() <= index {
                                self.direct.resize(index + 1, None);
                            }
                            self.direct[index] = Some((fixed.generation, direct));
                        }
                        direct
                    }
                }
            }
            None => self.ctx.raw_fd_of(op.fd()).map(is_direct),
        };
        if direct != Some(true) {
            // Not registered (push refuses it) or not O_DIRECT.
            op.nowait_or_offload();
        }
    }

    /// Moves the backlog into free slots, in order.
    // `push`'s error hands the operation back by value.
    #[allow(clippy::result_large_err)]
    pub(super) fn fill_from_backlog(&mut self, after: &mut AfterUnlock<B>) {
        while let Some(&index) = self.backlog.front() {
            let entry = &mut self.entries[index as usize];
            let Stage::Backlog(op) = std::mem::replace(&mut entry.stage, Stage::Free) else {
                self.backlog.pop_front();
                continue;
            };
            // The buffers' own code runs in push (see `start`); here, on whichever thread or
            // task collects, so the panic is kept for the operation's waiter.
            let pushed = match catch_unwind(AssertUnwindSafe(|| self.ctx.push(op))) {
                Ok(pushed) => pushed,
                Err(payload) => {
                    self.backlog.pop_front();
                    self.panicked(index, payload, after);
                    continue;
                }
            };
            match pushed {
                Ok(id) => {
                    self.backlog.pop_front();
                    self.entries[index as usize].stage = Stage::Owned(id);
                }
                Err(PushError {
                    error: Error::QueueFull { .. },
                    op,
                }) => {
                    self.entries[index as usize].stage = Stage::Backlog(op);
                    break;
                }
                Err(PushError { error, op }) => {
                    // Unregistered while it waited: completes with the error's errno.
                    self.backlog.pop_front();
                    let errno = error.errno().unwrap_or(Errno::INVAL);
                    let completion = refused(op, errno);
                    self.deliver(index, completion, after);
                }
            }
        }
    }

    /// Submits everything queued under the lock: the emulated backend's way. Polls start;
    /// reads, writes and syncs become offloads, for the runtime's blocking threads or, without
    /// a runtime, for the waiting threads to run outside the lock (so that a read of an empty
    /// pipe blocks only the thread running it, never the lock).
    pub(super) fn submit_locked(&mut self, after: &mut AfterUnlock<B>) -> Result<(), Error> {
        if self.ctx.queued() == 0 {
            return Ok(());
        }
        let polls_before = self.ctx.in_flight();
        let mut offloads = std::mem::take(&mut self.offloads);
        let submitted = self.ctx.submit_offloading(&mut offloads);
        if self.offload {
            after.offloads.append(&mut offloads);
        } else {
            self.local_offloads.extend(offloads.drain(..));
        }
        self.offloads = offloads;
        match submitted {
            Ok(_) => {
                if self.ctx.in_flight() > polls_before {
                    // New polls: whoever sleeps on the old set must look again.
                    after.unpark = true;
                }
                Ok(())
            }
            Err(error) => {
                self.fail_queued(&error);
                Err(error)
            }
        }
    }

    /// Nothing can be submitted (a child after fork, or io_submit missing): ends the queued
    /// operations with the error rather than leave them waiting.
    pub(super) fn fail_queued(&mut self, error: &Error) {
        self.ctx.fail_queued(error.errno().unwrap_or(Errno::INVAL));
    }

    /// Cancels the abandoned polls whose batch is settled now (see [`Driver::abandon`](super::Driver::abandon)).
    pub(super) fn cancel_settled(&mut self) {
        let State {
            ctx,
            cancel_after_submit,
            ..
        } = self;
        cancel_after_submit.retain(|&id| {
            if ctx.is_submitting(id) {
                return true;
            }
            // The poll may have completed meanwhile (NotCancellable, NotFound): then its
            // completion is on its way as it is.
            let _ = ctx.cancel(id);
            false
        });
    }

    /// Collects what completed and hands it to its entries; freed slots take the backlog.
    pub(super) fn collect(&mut self, after: &mut AfterUnlock<B>) {
        if self.ctx.ready() == 0 {
            // An error (io_getevents failing in Reap::Syscall mode) leaves the completions in
            // the kernel for the next call.
            let _ = self.ctx.reap();
        }
        let mut freed = false;
        while let Some(next) = self.ctx.next_ready() {
            match next {
                Next::Offload(offload) => after.offloads.push(offload),
                Next::Done(completion) => {
                    freed = true;
                    let token = Token(completion.user_data);
                    self.deliver(token.index() as u32, completion, after);
                }
            }
        }
        if freed {
            after.freed += 1;
            self.fill_from_backlog(after);
        }
    }

    /// [`collect`](Self::collect) outside the driver's rounds (an offload finishing, a
    /// future dropped, a poll watcher): what it queued (the backlog, or what `EAGAIN` left)
    /// needs a round of the driver.
    pub(super) fn collect_and_kick(&mut self, after: &mut AfterUnlock<B>) {
        self.collect(after);
        // A submitter at work takes what is queued in its next round (with a runtime; without
        // one it may be blocked, see `pump`).
        if self.ctx.queued() > 0 && (self.submitters == 0 || !self.offload) {
            after.kick = true;
        }
    }

    /// The operation of entry `index` is gone in a panic of its buffers' code: its waiter
    /// gets the panic (see [`Stage::Panicked`]).
    pub(super) fn panicked(
        &mut self,
        index: u32,
        payload: PanicPayload,
        after: &mut AfterUnlock<B>,
    ) {
        let entry = &mut self.entries[index as usize];
        if entry.abandoned {
            entry.abandoned = false;
            self.free.push(index);
            return;
        }
        entry.stage = Stage::Panicked(payload);
        if let Some(waker) = entry.waker.take() {
            after.wakers.push(waker);
        }
        if self.waiting_threads > 0 {
            after.notify_threads = true;
        }
    }

    pub(super) fn deliver(
        &mut self,
        index: u32,
        completion: Completion<B>,
        after: &mut AfterUnlock<B>,
    ) {
        let Some(entry) = self.entries.get_mut(index as usize) else {
            after.discard(&mut self.releasing, completion);
            return;
        };
        if entry.abandoned {
            entry.abandoned = false;
            entry.stage = Stage::Free;
            self.free.push(index);
            after.discard(&mut self.releasing, completion);
            return;
        }
        entry.stage = Stage::Done(completion);
        if let Some(waker) = entry.waker.take() {
            after.wakers.push(waker);
        }
        if self.waiting_threads > 0 {
            after.notify_threads = true;
        }
    }
}

/// Whether `raw` was opened with `O_DIRECT` (an `fcntl(F_GETFL)`; `false` if that fails).
fn is_direct(raw: RawFd) -> bool {
    // SAFETY: the operation holds the descriptor (or the context its registration) for the
    // call.
    let fd = unsafe { BorrowedFd::borrow_raw(raw) };
    rustix::fs::fcntl_getfl(fd).is_ok_and(|flags| flags.contains(OFlags::DIRECT))
}

/// The completion of an operation that never reached the context (its registration ended
/// while it waited in the backlog): `errno`, with its buffers and owned descriptor.
fn refused<B>(op: Op<B>, errno: Errno) -> Completion<B> {
    let kind = op.kind();
    let user_data = op.get_user_data();
    let (fd, bufs) = op.into_parts();
    Completion {
        kind,
        user_data,
        res: negative(errno),
        cancelled: false,
        bufs,
        fd: fd.into_owned().ok(),
    }
}
