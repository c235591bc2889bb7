//! Pushing operations into slots and handing them to the kernel with `io_submit`.

use super::Context;
use super::slots::{OpId, State};
use crate::buf::IoBuf;
use crate::error::Error;
use crate::fd::Hold;
use crate::op::{Bufs, Op};
use aio_abi::IOCB_FLAG_RESFD;
use core::fmt;
use rustix::fd::AsRawFd;
use rustix::io::Errno;

/// An operation [`Context::push`] could not take, handed back with the reason.
pub struct PushError<B> {
    /// Why: [`Error::QueueFull`] or [`Error::NotRegistered`].
    pub error: Error,
    /// The operation, with its buffers and descriptor ([`Op::into_parts`]).
    pub op: Op<B>,
}

impl<B> PushError<B> {
    /// The operation, to push again later or to take apart with [`Op::into_parts`].
    pub fn into_op(self) -> Op<B> {
        self.op
    }
}

impl<B> fmt::Debug for PushError<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushError")
            .field("error", &self.error)
            .field("op", &self.op)
            .finish()
    }
}

impl<B> fmt::Display for PushError<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<B> core::error::Error for PushError<B> {}

/// For `?` where the operation is not wanted back: its buffers and descriptor are dropped.
impl<B> From<PushError<B>> for Error {
    fn from(e: PushError<B>) -> Self {
        e.error
    }
}

impl<B: IoBuf> Context<B> {
    /// Queues `op` for the next [`submit`](Self::submit). No system call, no allocation (except
    /// when a readv/writev has more buffers than its slot's iovec array held before).
    ///
    /// Panic-safe: if a buffer's [`IoBuf`] method panics while the iovec array of a
    /// readv/writev is filled, the slot stays free and the operation (with its buffers and
    /// descriptor) is dropped by the unwind.
    ///
    /// # Errors
    /// The operation comes back in the error with:
    /// - [`Error::QueueFull`] when all `depth` slots hold operations: collect completions first;
    /// - [`Error::NotRegistered`] when it names a [`Fixed`](crate::Fixed) that is not (or no
    ///   longer) registered with this context;
    /// - [`Error::OutOfMemory`] when a readv/writev's iovec array cannot grow.
    // The error hands the operation back by value: no allocation on the full-queue path.
    #[allow(clippy::result_large_err)]
    #[inline]
    pub fn push(&mut self, op: Op<B>) -> Result<OpId, PushError<B>> {
        let Some(&index) = self.free.last() else {
            return Err(PushError {
                error: Error::QueueFull {
                    depth: self.depth(),
                },
                op,
            });
        };
        let fixed = match &op.fd.0 {
            Hold::Fixed(fixed) => match self.files.resolve(self.serial, *fixed) {
                Some(raw) => Some((fixed.index, raw)),
                None => {
                    return Err(PushError {
                        error: Error::NotRegistered,
                        op,
                    });
                }
            },
            _ => None,
        };
        let Op {
            kind,
            iocb,
            fd,
            mut bufs,
            user_data,
            fill_iovecs,
            offload_on_again,
        } = op;
        // Quiet reads and writes go without the eventfd (`super::quiet`).
        let quiet = self.quiet_io && self.eventfd.is_some() && self.may_go_quiet(kind);
        let slot = &mut self.slots[index as usize];
        slot.iocb = iocb;
        if let (Some(fill), Bufs::Many(list)) = (fill_iovecs, &mut bufs) {
            // Runs the buffers' own code, which may panic: nothing is committed yet (the slot is
            // still on the free list), and the unwind drops `bufs` and `fd`.
            if fill(list, &mut slot.iovecs).is_err() {
                let bytes = list
                    .len()
                    .saturating_mul(core::mem::size_of::<crate::op::IoVec>());
                let op = Op {
                    kind,
                    iocb,
                    fd,
                    bufs,
                    user_data,
                    fill_iovecs,
                    offload_on_again,
                };
                return Err(PushError {
                    error: Error::OutOfMemory {
                        what: "iovec array",
                        bytes,
                    },
                    op,
                });
            }
            slot.iocb.aio_buf = slot.iovecs.as_ptr() as u64;
            slot.iocb.aio_nbytes = slot.iovecs.len() as u64;
        }
        // Nothing below can panic.
        self.free.pop();
        if let Some((entry, raw)) = fixed {
            slot.iocb.aio_fildes = raw as u32;
            self.files.acquire(entry);
        }
        slot.quiet = quiet;
        if let (Some(eventfd), false) = (&self.eventfd, quiet) {
            slot.iocb.aio_flags |= IOCB_FLAG_RESFD;
            slot.iocb.aio_resfd = eventfd.as_raw_fd() as u32;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        // The kernel echoes aio_data in the io_event: the slot index finds the operation.
        slot.iocb.aio_data = u64::from(index);
        slot.seq = seq;
        slot.kind = kind;
        slot.user_data = user_data;
        slot.bufs = bufs;
        slot.fd = Some(fd);
        slot.cancel_requested = false;
        slot.cancelled = false;
        slot.offload_on_again = offload_on_again;
        slot.state = State::Queued;
        self.pending.push(index);
        Ok(OpId {
            context: self.serial,
            seq,
            index,
        })
    }

    /// Submits every queued operation; returns how many the kernel accepted.
    ///
    /// One `io_submit` normally takes the whole queue. After a short count the rest is submitted
    /// again: an operation the kernel rejects (`EINVAL`, `EOPNOTSUPP`, `EBADF` for a descriptor
    /// not open in that direction, …) becomes that operation's completion with that error and
    /// the rest still go; `EAGAIN` (no room in the kernel's ring) stops here and **keeps** the
    /// rest queued for the next call: collect completions, then submit again.
    ///
    /// Only `O_DIRECT` I/O on block-based file systems and polls are queued by the kernel:
    /// buffered file I/O runs to completion inside this call, and a read of a pipe, socket or
    /// tty without [`RwFlags::NOWAIT`](crate::RwFlags::NOWAIT) **blocks this call** until data
    /// arrives (a full pipe or socket blocks a write the same way), delaying everything queued
    /// behind it. Poll first, or use `NOWAIT`.
    ///
    /// With [`Backend::Emulated`](crate::Backend::Emulated) every queued read, write and sync
    /// runs here, one after the other, and polls start (see the backend's notes); all are
    /// accepted.
    ///
    /// # Errors
    /// [`Error::Forked`] in a child process; [`Error::Unsupported`] without kernel AIO (the
    /// operations stay queued).
    #[inline]
    pub fn submit(&mut self) -> Result<usize, Error> {
        self.check_fork()?;
        if self.emulated.is_some() {
            return self.submit_emulated();
        }
        let mut submitted = 0;
        while !self.pending.is_empty() {
            let base = self.slots.as_mut_ptr();
            self.iocb_ptrs.clear();
            // SAFETY: every pending index is below slots.len(); the pointers are only read by
            // the kernel during io_submit, and no reference to these iocbs exists meanwhile.
            self.iocb_ptrs.extend(
                self.pending
                    .iter()
                    .map(|&i| unsafe { &raw mut (*base.add(i as usize)).iocb }),
            );
            let count = self.iocb_ptrs.len() as isize;
            // SAFETY: `iocb_ptrs` holds `count` pointers to initialised iocbs owned by this
            // context; their buffers (payloads, iovec arrays) and descriptors stay owned by the
            // slots until the completions are handed back or the context is destroyed.
            let result = unsafe { aio_sys::io_submit(self.ctx, count, self.iocb_ptrs.as_ptr()) }
                .map_err(Errno::from);
            self.stats.submit_calls += 1;
            match result {
                Ok(0) => break,
                Ok(accepted) => {
                    for &index in &self.pending[..accepted] {
                        let slot = &mut self.slots[index as usize];
                        slot.state = State::InFlight;
                        self.quiet_in_flight += usize::from(slot.quiet);
                        self.stats.unsignalled += u64::from(slot.quiet);
                    }
                    if accepted == self.pending.len() {
                        self.pending.clear();
                    } else {
                        self.pending.drain(..accepted);
                    }
                    self.in_flight += accepted;
                    submitted += accepted;
                    self.stats.submitted += accepted as u64;
                }
                Err(Errno::AGAIN) => break,
                Err(Errno::NOSYS) => return Err(Error::Unsupported { call: "io_submit" }),
                Err(errno) => {
                    let index = self.pending.remove(0);
                    self.complete_locally(index, errno);
                }
            }
        }
        Ok(submitted)
    }
}
