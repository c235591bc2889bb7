//! Queueing and cancelling requests: `io_submit(2)` and `io_cancel(2)`.

use crate::Errno;
use crate::arch::{NR, call3, long, ptr};
use aio_abi::{aio_context_t, io_event, iocb};

/// Submits `nr` requests
/// ([`io_submit(2)`](https://man7.org/linux/man-pages/man2/io_submit.2.html)).
///
/// Returns how many of the first requests were queued, which may be **fewer than `nr`**: the
/// kernel stops at the first request it rejects (or when the ring is full) and reports that
/// request's error only if it was the first. The caller must resubmit the rest or they are lost.
/// `nr == 0` returns `Ok(0)`.
///
/// The kernel copies each `iocb` during the call and writes 0 into its `aio_key`. Errors of the
/// operation itself (a short read, `-EINVAL` for misaligned `O_DIRECT`, `-EAGAIN` under
/// `RWF_NOWAIT`) arrive later in [`io_event::res`], not here. Buffered file I/O, and a pipe read
/// without `RWF_NOWAIT`, run synchronously inside this call.
///
/// # Errors (only when the first request fails)
/// - `EAGAIN`: no free slot in the ring (reap, then retry).
/// - `EINVAL`: `nr < 0`, bad context, `aio_reserved2 != 0`, unknown or retired opcode
///   (`IOCB_CMD_NOOP`, 4), a resfd that is not an eventfd, a bad priority class.
/// - `EBADF`: bad `aio_fildes` (or, for `IOCB_FLAG_RESFD`, bad `aio_resfd`).
/// - `EOPNOTSUPP`: an `RWF_*` bit this kernel does not know; `EFAULT`: unreadable memory.
/// - `ENOSYS` as for [`io_setup`](crate::io_setup).
///
/// # Safety
/// `iocbpp` must point to `nr` readable pointers, each to a valid [`iocb`]. Every buffer (or
/// iovec array and its buffers) a queued request names must stay valid, and unaliased by Rust
/// references the kernel could race with, until that request's completion has been reaped or the
/// context destroyed.
#[inline]
pub unsafe fn io_submit(
    ctx: aio_context_t,
    nr: isize,
    iocbpp: *const *mut iocb,
) -> Result<usize, Errno> {
    // SAFETY: the caller vouches for the array, the blocks and the buffers.
    unsafe { call3(NR.io_submit, ctx as _, long(nr), ptr(iocbpp)) }.map(|n| n as usize)
}

/// Attempts to cancel a queued request
/// ([`io_cancel(2)`](https://man7.org/linux/man-pages/man2/io_cancel.2.html)).
///
/// The request is named by the address of the `iocb` it was submitted from (and its `aio_key`,
/// which must still be the 0 `io_submit` wrote).
///
/// **The man page describes kernels before 3.12**: success returned 0 and copied the event into
/// `*result` instead of the ring. Since 3.12 success is reported as `Err(EINPROGRESS)`:
/// cancellation has started and the cancelled request's event will arrive **through the ring**
/// like any other (a cancelled poll completes with `res == 0`); `*result` is never written. Only
/// `IOCB_CMD_POLL` (and USB gadget I/O) can be cancelled on current kernels.
///
/// # Errors
/// - `EINPROGRESS`: cancellation started (the modern success).
/// - `EINVAL`: not found, already completed, not cancellable, bad context, or non-zero key.
/// - `EFAULT`: unreadable `iocb`; `EAGAIN` (old kernels): not cancelled; `ENOSYS` as for
///   [`io_setup`](crate::io_setup).
///
/// # Safety
/// `iocb` must be readable as an [`iocb`]; `result` must be writable as an [`io_event`] (old
/// kernels write it).
#[inline]
pub unsafe fn io_cancel(
    ctx: aio_context_t,
    iocb: *mut iocb,
    result: *mut io_event,
) -> Result<(), Errno> {
    // SAFETY: the caller vouches for both pointers.
    unsafe { call3(NR.io_cancel, ctx as _, ptr(iocb), ptr(result)) }.map(drop)
}
