//! Creating and destroying a context: `io_setup(2)` and `io_destroy(2)`.

use crate::Errno;
use crate::arch::{NR, call3, ptr};
use aio_abi::aio_context_t;

/// Creates an AIO context able to hold at least `nr_events` in-flight requests
/// ([`io_setup(2)`](https://man7.org/linux/man-pages/man2/io_setup.2.html)).
///
/// On success the kernel writes the new context into `*ctxp`: the address of its completion ring
/// ([`aio_ring`](aio_abi::aio_ring)), mapped into this process. The ring has more slots than
/// asked (e.g. 127 for 1 on a 2-CPU machine), and `nr_events` is charged against the system-wide
/// limit.
///
/// # Errors
/// - `EINVAL`: `*ctxp` is not 0, or `nr_events` is 0 or too large.
/// - `EAGAIN`: `aio-nr + nr_events` would exceed `/proc/sys/fs/aio-max-nr`.
/// - `EFAULT`: `ctxp` is not writable. `ENOMEM`: out of memory.
/// - `ENOSYS`: no AIO on this kernel (`CONFIG_AIO=n`), in this sandbox (qemu-user, some
///   seccomp profiles), or on this architecture.
///
/// # Safety
/// `ctxp` must be valid for reads and writes of an [`aio_context_t`].
#[inline]
pub unsafe fn io_setup(nr_events: u32, ctxp: *mut aio_context_t) -> Result<(), Errno> {
    // SAFETY: the caller vouches for `ctxp`.
    unsafe { call3(NR.io_setup, nr_events as _, ptr(ctxp), 0) }.map(drop)
}

/// Destroys a context
/// ([`io_destroy(2)`](https://man7.org/linux/man-pages/man2/io_destroy.2.html)).
///
/// Cancels what can be cancelled, then **waits until every in-flight request has completed**,
/// and unmaps the ring: after it returns, the kernel no longer touches any buffer the context's
/// requests referred to, so they may be freed. Events not yet reaped are lost.
///
/// # Errors
/// - `EINVAL`: `ctx` is not a live context of this process (destroyed already, or inherited
///   over `fork`).
/// - `EFAULT`, `ENOSYS` as for [`io_setup`].
///
/// # Safety
/// Nothing may use the ring mapping at `ctx` after this call (it is unmapped), and no other
/// thread may be reaping from it concurrently.
#[inline]
pub unsafe fn io_destroy(ctx: aio_context_t) -> Result<(), Errno> {
    // SAFETY: io_destroy takes no pointers; the caller vouches for the ring's users.
    unsafe { call3(NR.io_destroy, ctx as _, 0, 0) }.map(drop)
}
