//! Waiting for descriptors with a signal mask: `ppoll(2)` and its time64 chain.
//!
//! Not an AIO call. Where the kernel has no AIO, the `aio` crate's emulated backend keeps its
//! poll operations pending in user space and waits for them here, and its
//! `wait_with_sigmask` needs what `io_pgetevents` gives: the signal mask swapped atomically
//! with the wait. rustix's `poll` takes no mask, so this crate issues the call itself, with the
//! same per-architecture instruction and the same time64-first rule as the wait calls.

use crate::Errno;
use crate::arch::{NR, call6, long, ptr};
use crate::wait::{TIME32_ABI, Time64Probe};
use aio_abi::{__kernel_timespec, KERNEL_SIGSET_SIZE, kernel_sigset_t, old_timespec32, pollfd};
use core::ptr::null;

/// `ppoll_time64`.
static TIME64: Time64Probe = Time64Probe::new();

/// Waits for events on `nfds` descriptors
/// ([`ppoll(2)`](https://man7.org/linux/man-pages/man2/ppoll.2.html)), with `sigmask` (if not
/// null) as the thread's signal mask for the duration of the call, set and restored atomically.
///
/// Returns how many entries have a non-zero `revents` (0 after the timeout). `timeout` is
/// relative; null waits without limit and `{0, 0}` does not wait. Unlike the AIO waits, ppoll
/// validates it (`EINVAL` for a negative one or a `tv_nsec` outside `0..1_000_000_000`). The
/// kernel writes the time left into the timeout it is given; this wrapper hands it a copy, so
/// `*timeout` is only read.
///
/// On 32-bit ABIs `ppoll_time64` (Linux 5.1) is tried first, and on `ENOSYS` the 32-bit
/// `ppoll` with the timeout converted (`EOVERFLOW` if its seconds do not fit); riscv32 has only
/// the time64 call.
///
/// # Errors
/// - `EINTR`: a signal the mask leaves unblocked was delivered (never restarted).
/// - `EINVAL`: `nfds` above `RLIMIT_NOFILE`, or an invalid timeout.
/// - `EFAULT`: `fds`, `timeout` or `sigmask` unreadable (or `fds` unwritable).
/// - `ENOMEM`: no memory for the kernel's copy of `fds`.
///
/// # Safety
/// `fds` must be valid for reads and writes of `nfds` [`pollfd`]s (or `nfds` 0); `timeout` and
/// `sigmask` must be null or readable.
#[inline]
pub unsafe fn ppoll(
    fds: *mut pollfd,
    nfds: u32,
    timeout: *const __kernel_timespec,
    sigmask: *const kernel_sigset_t,
) -> Result<usize, Errno> {
    // SAFETY: the caller vouches that a non-null timeout is readable.
    let mut timeout64 = (!timeout.is_null()).then(|| unsafe { *timeout });
    if !TIME32_ABI || TIME64.usable() {
        let call = if TIME32_ABI {
            NR.ppoll_time64
        } else {
            NR.ppoll
        };
        let ts = timeout64
            .as_mut()
            .map_or(null(), |t| t as *const __kernel_timespec);
        // SAFETY: this call takes a __kernel_timespec, which points to a writable local copy;
        // the caller vouches for `fds` and `sigmask`.
        match unsafe { poll6(call, fds, nfds, ptr(ts), sigmask) } {
            Err(Errno::NOSYS) if TIME32_ABI && NR.ppoll.is_some() => TIME64.set_missing(),
            done => return done,
        }
    }
    let mut timeout32 = match &timeout64 {
        Some(t) => Some(old_timespec32::from_timespec64(t).ok_or(Errno::OVERFLOW)?),
        None => None,
    };
    let ts = timeout32
        .as_mut()
        .map_or(null(), |t| t as *const old_timespec32);
    // SAFETY: on a time32 ABI `ppoll` takes an old_timespec32, here a writable local copy.
    unsafe { poll6(NR.ppoll, fds, nfds, ptr(ts), sigmask) }
}

/// One ppoll call with the timeout already in a register.
///
/// # Safety
/// `timeout` must match the call's timespec type; the pointers must be valid as for [`ppoll`].
#[inline]
unsafe fn poll6(
    call: Option<usize>,
    fds: *mut pollfd,
    nfds: u32,
    timeout: crate::arch::Word,
    sigmask: *const kernel_sigset_t,
) -> Result<usize, Errno> {
    let args = [
        ptr(fds),
        nfds as crate::arch::Word,
        timeout,
        ptr(sigmask),
        long(KERNEL_SIGSET_SIZE as isize),
        0,
    ];
    // SAFETY: forwarded from the caller.
    unsafe { call6(call, args) }.map(|n| n as usize)
}
