//! Operations run by a blocking thread on the async driver's behalf ([`crate::rt`]).
//!
//! `io_submit` runs buffered file I/O inside the call, and a read of an empty pipe blocks in
//! it: on an async runtime's worker that stalls every task. The driver therefore submits such
//! operations with `RWF_NOWAIT` ([`Op::nowait_or_offload`](crate::Op)); an answer of `EAGAIN`
//! (it would block) or `EOPNOTSUPP` (the file cannot honour the flag) is not handed back but
//! turned into an [`Offload`]: the slot keeps the buffers and the descriptor, and a blocking
//! thread runs the same operation without the flag (`preadv2`, `pwritev2`, …) and gives the
//! result back with [`Context::finish_offload`]. With the emulated backend every read, write
//! and sync is offloaded this way instead of running inside `submit`.

use super::slots::State;
use super::{Context, negative};
use crate::buf::IoBuf;
use crate::completion::Completion;
use crate::error::Error;
use crate::fd::{Fd, Hold};
use crate::op::{IoVec, OpKind};
use aio_abi::{RwFlags, iocb, pollfd};
use alloc::vec::Vec;
use rustix::fd::{AsFd, AsRawFd, RawFd};
use rustix::io::Errno;

/// One operation for a blocking thread: where its slot's `iocb` and iovec array are.
///
/// The slot is [`State::Offloaded`] until [`Context::finish_offload`]: nothing else touches
/// it, and its buffers and descriptor stay owned by the context, so running it is as sound as
/// the kernel using them.
pub(crate) struct Offload {
    pub(crate) index: u32,
    kind: OpKind,
    iocb: *const iocb,
    iovecs: *mut IoVec,
    iovecs_len: usize,
}

// SAFETY: the pointers name memory of a slot that no other thread touches while it is
// offloaded (see `Offload`); the context they belong to is `Send`.
unsafe impl Send for Offload {}

impl Offload {
    /// Runs the operation with the synchronous system call; returns its `res`.
    ///
    /// # Safety
    /// The context that made this must be alive, and [`Context::finish_offload`] not yet
    /// called for it.
    pub(crate) unsafe fn run(&self) -> i64 {
        // SAFETY: the caller keeps the context alive; the slot is offloaded, so its iocb, its
        // buffers, its iovec array and its descriptor are unchanged and used by nobody else.
        unsafe {
            let iovecs = core::slice::from_raw_parts_mut(self.iovecs, self.iovecs_len);
            super::emulated::run(self.kind, &*self.iocb, iovecs)
        }
    }
}

/// What [`Context::next_ready`] found.
pub(crate) enum Next<B> {
    /// A completion to hand back.
    Done(Completion<B>),
    /// An operation to run on a blocking thread.
    Offload(Offload),
}

impl<B> Context<B> {
    /// Makes slot `index` (queued, or completed with a would-block answer) an [`Offload`].
    fn offload(&mut self, index: u32) -> Offload {
        let slot = &mut self.slots[index as usize];
        slot.state = State::Offloaded;
        slot.offload_on_again = false;
        slot.iocb.aio_rw_flags &= !RwFlags::NOWAIT.bits();
        self.offloaded += 1;
        self.stats.offloaded += 1;
        Offload {
            index,
            kind: slot.kind,
            iocb: &raw const slot.iocb,
            iovecs: slot.iovecs.as_mut_ptr(),
            iovecs_len: slot.iovecs.len(),
        }
    }

    /// Ends an offloaded operation with its `res`: it becomes ready like a kernel completion,
    /// and the eventfd is signalled.
    pub(crate) fn finish_offload(&mut self, index: u32, res: i64) {
        let slot = &mut self.slots[index as usize];
        debug_assert_eq!(slot.state, State::Offloaded);
        slot.state = State::Ready;
        self.offloaded -= 1;
        self.ready.push_back((index, res));
        if !self.fork_guard.forked() {
            self.signal_eventfd(1);
        }
    }

    /// Ends every queued operation with `errno` (the driver, when `submit` cannot work).
    pub(crate) fn fail_queued(&mut self, errno: Errno) {
        let mut pending = core::mem::take(&mut self.pending);
        for &index in &pending {
            self.slots[index as usize].state = State::Ready;
            self.ready.push_back((index, negative(errno)));
            self.stats.local_completions += 1;
        }
        pending.clear();
        self.pending = pending;
    }

    /// The descriptor number `fd` names on this context (a [`Fixed`](crate::Fixed) resolved
    /// through the registrations), if any.
    pub(crate) fn raw_fd_of(&self, fd: &Fd) -> Option<RawFd> {
        match &fd.0 {
            Hold::Fixed(fixed) => self.files.resolve(self.serial, *fixed),
            Hold::Owned(fd) => Some(fd.as_raw_fd()),
            Hold::Shared(fd) => Some(fd.as_fd().as_raw_fd()),
            Hold::Static(fd) => Some(fd.as_raw_fd()),
        }
    }

    /// The polls the emulated backend has in flight and not asked to cancel (none with the
    /// kernel backend).
    fn emulated_polls(&self) -> impl Iterator<Item = &super::slots::Slot<B>> {
        let slots = if self.emulated.is_some() {
            &self.slots[..]
        } else {
            &[]
        };
        slots
            .iter()
            .filter(|s| s.state == State::InFlight && !s.cancel_requested)
    }

    /// Whether the emulated backend has polls to watch.
    pub(crate) fn emulated_polls_pending(&self) -> bool {
        self.emulated_polls().next().is_some()
    }

    /// Appends a `pollfd` for every descriptor the emulated backend's polls in flight watch
    /// (none with the kernel backend), with the events of all its polls: one entry for many
    /// polls of one pipe, as `ppoll` refuses more entries than `RLIMIT_NOFILE`. For a caller
    /// that sleeps on them outside the context.
    pub(crate) fn emulated_poll_fds(&self, out: &mut Vec<pollfd>) {
        let start = out.len();
        out.extend(self.emulated_polls().map(|s| pollfd {
            fd: s.iocb.aio_fildes as i32,
            events: s.iocb.aio_buf as u16 as i16,
            revents: 0,
        }));
        let ours = &mut out[start..];
        ours.sort_unstable_by_key(|entry| entry.fd);
        let mut kept = 0;
        for next in 0..ours.len() {
            let entry = ours[next];
            if kept > 0 && ours[kept - 1].fd == entry.fd {
                ours[kept - 1].events |= entry.events;
            } else {
                ours[kept] = entry;
                kept += 1;
            }
        }
        out.truncate(start + kept);
    }
}

impl<B: IoBuf> Context<B> {
    /// [`submit`](Context::submit), except that with the emulated backend every queued read,
    /// write and sync becomes an [`Offload`] in `out` instead of running here (polls start as
    /// usual).
    pub(crate) fn submit_offloading(&mut self, out: &mut Vec<Offload>) -> Result<usize, Error> {
        if self.emulated.is_none() {
            return self.submit();
        }
        self.check_fork()?;
        let mut pending = core::mem::take(&mut self.pending);
        let before = pending.len();
        pending.retain(|&index| {
            if self.slots[index as usize].kind == OpKind::Poll {
                return true;
            }
            out.push(self.offload(index));
            false
        });
        let offloaded = before - pending.len();
        self.stats.submitted += offloaded as u64;
        self.stats.emulated += offloaded as u64;
        self.pending = pending;
        Ok(offloaded + self.submit()?)
    }

    /// The next ready completion, or an operation whose would-block answer must be retried on
    /// a blocking thread (see the module docs).
    pub(crate) fn next_ready(&mut self) -> Option<Next<B>> {
        let &(index, res) = self.ready.front()?;
        let slot = &self.slots[index as usize];
        if slot.offload_on_again
            && !slot.cancelled
            && (res == negative(Errno::AGAIN) || res == negative(Errno::OPNOTSUPP))
        {
            self.ready.pop_front();
            return Some(Next::Offload(self.offload(index)));
        }
        self.pop_ready().map(Next::Done)
    }
}
