//! What comes back: one [`Completion`] per operation, and the outcome of a cancel.

use crate::op::{Bufs, OpKind};
use alloc::vec::Vec;
use rustix::event::PollFlags;
use rustix::fd::OwnedFd;
use rustix::io::Errno;

/// The result of one operation, with the buffers it owned handed back.
///
/// Every pushed operation produces exactly one completion: from the kernel, or from the context
/// itself when `io_submit` rejected the operation (its error is then in [`result`](Self::result)
/// just the same) or it was cancelled before being submitted (`ECANCELED`).
///
/// A descriptor given to the operation by value (a `File`, `OwnedFd`, socket) comes back with
/// it ([`take_fd`](Self::take_fd)), and is closed when the completion is dropped unless taken.
/// The other forms are released as the completion is handed back: an `Arc` share is dropped, a
/// [`Fixed`](crate::Fixed) registration is no longer named by the operation.
#[must_use = "a completion carries the operation's result and buffers"]
pub struct Completion<B> {
    pub(crate) kind: OpKind,
    pub(crate) user_data: u64,
    pub(crate) res: i64,
    pub(crate) cancelled: bool,
    pub(crate) bufs: Bufs<B>,
    pub(crate) fd: Option<OwnedFd>,
}

impl<B> Completion<B> {
    /// The tag given with [`Op::user_data`](crate::Op::user_data).
    #[inline]
    pub fn user_data(&self) -> u64 {
        self.user_data
    }

    /// The operation's kind.
    #[inline]
    pub fn kind(&self) -> OpKind {
        self.kind
    }

    /// The raw `io_event.res`: bytes transferred, the ready poll mask, 0 for a sync, or a
    /// negative errno.
    #[inline]
    pub fn raw_result(&self) -> i64 {
        self.res
    }

    /// The result as bytes transferred (or the ready mask for a poll), or the operation's error:
    /// `EINVAL` for misaligned `O_DIRECT`, `EAGAIN` under `RWF_NOWAIT`, `EBADF` for a descriptor
    /// not open for this direction, `EFBIG`, `ENOSPC`, `ECANCELED` for an operation cancelled
    /// before submission, …
    #[inline]
    pub fn result(&self) -> Result<usize, Errno> {
        if self.res < 0 {
            Err(Errno::from_raw_os_error((-self.res) as i32))
        } else {
            Ok(self.res as usize)
        }
    }

    /// For a poll, the ready events (empty for a cancelled poll).
    pub fn poll_flags(&self) -> PollFlags {
        // `as _`: the bits are u16 or i16 depending on rustix's backend (see `Op::poll`).
        PollFlags::from_bits_truncate(self.res.max(0) as u16 as _)
    }

    /// Whether the operation was cancelled by [`Context::cancel`](crate::Context::cancel)
    /// before it could complete (a cancelled poll completes with result 0).
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// The buffer of a read or write (`None` for other operations or if already taken).
    #[inline]
    pub fn take_buf(&mut self) -> Option<B> {
        match core::mem::take(&mut self.bufs) {
            Bufs::One(buf) => Some(buf),
            other => {
                self.bufs = other;
                None
            }
        }
    }

    /// The buffers of a readv or writev (`None` for other operations or if already taken).
    pub fn take_bufs(&mut self) -> Option<Vec<B>> {
        match core::mem::take(&mut self.bufs) {
            Bufs::Many(bufs) => Some(bufs),
            other => {
                self.bufs = other;
                None
            }
        }
    }

    /// The buffer of a read or write, consuming the completion.
    #[inline]
    pub fn into_buf(mut self) -> Option<B> {
        self.take_buf()
    }

    /// The buffers of a readv or writev, consuming the completion.
    pub fn into_bufs(mut self) -> Option<Vec<B>> {
        self.take_bufs()
    }

    /// The descriptor given to the operation by value (`None` for the other forms, or if
    /// already taken); `File::from(fd)` makes it a file again.
    #[inline]
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        self.fd.take()
    }

    /// Everything the operation owned: the descriptor it was given by value (see
    /// [`take_fd`](Self::take_fd)) and its buffers.
    pub fn into_parts(self) -> (Option<OwnedFd>, Bufs<B>) {
        (self.fd, self.bufs)
    }
}

impl<B> core::fmt::Debug for Completion<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Completion")
            .field("kind", &self.kind)
            .field("user_data", &self.user_data)
            .field("res", &self.res)
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

/// What [`Context::cancel`](crate::Context::cancel) achieved.
///
/// Kernels differ: before 3.12 a successful `io_cancel` returned 0 and handed the event back at
/// once; since 3.12 it returns `EINPROGRESS` and the event comes through the ring. Only
/// `IOCB_CMD_POLL` (and USB gadget I/O) can be cancelled on current kernels; reads and writes
/// run to completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CancelOutcome {
    /// The operation had not been submitted yet: it was taken off the queue and its completion
    /// (`ECANCELED`, [`is_cancelled`](Completion::is_cancelled)) is ready now.
    Unsubmitted,
    /// Cancelled, and the kernel handed the event back at once (kernels before 3.12): the
    /// completion is ready now.
    Cancelled,
    /// Cancellation started (`EINPROGRESS`, current kernels): the completion, marked cancelled,
    /// arrives through the ring like any other. Also the answer to a second cancel of the same
    /// operation, given without asking the kernel again.
    InProgress,
    /// The kernel cannot cancel it: it already completed (in the kernel, or collected and
    /// waiting to be handed back), or its kind is not cancellable (`EINVAL`). Its completion
    /// arrives normally.
    NotCancellable,
    /// No such operation: its completion was already handed back, or the id belongs to another
    /// context.
    NotFound,
}
