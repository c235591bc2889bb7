//! Waiting for completions: `io_getevents(2)`, `io_pgetevents(2)` and the time64/time32 chain.
//!
//! On 64-bit ABIs (x32 included) `io_getevents` and `io_pgetevents` take a 64-bit
//! [`__kernel_timespec`] and are called directly. On 32-bit ABIs those calls take a 32-bit
//! [`old_timespec32`]; the portable entry points here then use `io_pgetevents_time64` (Linux
//! 5.1) and fall back to the time32 calls when the kernel answers `ENOSYS`, remembering the
//! answer so that the probe happens once per process.

use crate::Errno;
use crate::arch::{NR, call6, long, ptr};
use aio_abi::{__aio_sigset, __kernel_timespec, aio_context_t, io_event, old_timespec32};
use core::ptr::null;

/// True on ABIs whose `io_getevents`/`io_pgetevents` take a 32-bit timespec.
pub(crate) const TIME32_ABI: bool = NR.io_pgetevents_time64.is_some() || NR.io_getevents.is_none();

/// Reads completions ([`io_getevents(2)`](https://man7.org/linux/man-pages/man2/io_getevents.2.html)).
///
/// Waits until at least `min_nr` events are available or `timeout` (relative; null waits forever,
/// `{0, 0}` does not wait) expires, then copies up to `nr` of them into `events` and returns how
/// many. A signal handler interrupts it with `EINTR` only if no event was read; it is never
/// restarted.
///
/// The kernel does **not** validate the timeout (`fs/aio.c` converts it with
/// `timespec64_to_ktime`, with no `timespec64_valid` check): `tv_nsec` is not range-checked and
/// the wait is `tv_sec * 1_000_000_000 + tv_nsec` nanoseconds. So `{0, 1_000_000_000}` waits one
/// second, `{1, -999_999_000}` one microsecond, and `{0, 0}` or any other total of zero does not
/// wait. A negative total waits without limit, like a null timeout (the hrtimer's relative
/// expiry saturates), and so does a `tv_sec` of `i64::MAX / 10^9` or more.
/// Of a 64-bit `tv_nsec` the kernel keeps only the low 32 bits for compat tasks (x32, and 32-bit
/// programs on a 64-bit kernel), as an unsigned number (`{0, -1}` there waits about 4.3 s), and
/// as a signed one on a 32-bit kernel. Callers that want `EINVAL` for a `tv_nsec` outside
/// `0..1_000_000_000`, as other timed calls give, must check it themselves.
///
/// On 32-bit ABIs this takes the time64 path described in the module docs above: a null
/// timeout goes straight to the time32 call, a timeout on a kernel without
/// `io_pgetevents_time64` is converted, and one whose seconds (or nanoseconds) do not fit 32
/// bits gives `EOVERFLOW`.
///
/// # Errors
/// - `EINVAL`: bad context, `min_nr < 0`, `min_nr > nr`, or `nr < 0`. Never for the timeout.
/// - `EINTR`: interrupted before any event. `EFAULT`: bad `events` or `timeout`.
/// - `EOVERFLOW`: a timeout beyond 32-bit seconds on a 32-bit kernel without the time64 call.
/// - `ENOSYS` as for [`io_setup`](crate::io_setup).
///
/// # Safety
/// `events` must be writable for `nr` [`io_event`]s; `timeout` must be null or readable.
#[inline]
pub unsafe fn io_getevents(
    ctx: aio_context_t,
    min_nr: isize,
    nr: isize,
    events: *mut io_event,
    timeout: *const __kernel_timespec,
) -> Result<usize, Errno> {
    if !TIME32_ABI {
        // SAFETY: this ABI's io_getevents takes a __kernel_timespec; the caller vouches for the
        // pointers.
        return unsafe { getevents(NR.io_getevents, ctx, min_nr, nr, events, ptr(timeout), 0) };
    }
    if timeout.is_null() && NR.io_getevents.is_some() {
        // SAFETY: as above; a null timeout means the same to the time32 call.
        return unsafe { io_getevents_time32(ctx, min_nr, nr, events, null()) };
    }
    // SAFETY: the caller vouches for the pointers.
    unsafe { time64_then_time32(ctx, min_nr, nr, events, timeout, null()) }
}

/// Reads completions with a temporary signal mask
/// ([`io_pgetevents(2)`](https://man7.org/linux/man-pages/man2/io_pgetevents.2.html), Linux 4.18).
///
/// As [`io_getevents`], except that for the duration of the wait the thread's signal mask is
/// replaced with `*sig.sigmask` (if `sig` and its mask are non-null), atomically, as `ppoll(2)`
/// does: a signal unblocked by that mask interrupts the wait with `EINTR`.
///
/// The kernel looks at `sig.sigsetsize` only when there is a mask to install
/// (`set_user_sigmask` returns early for a null mask): with a null `sig`, or a `sig` whose
/// `sigmask` is null, any `sigsetsize` is accepted and the thread's mask is left alone.
///
/// # Errors
/// As [`io_getevents`], plus:
/// - `EINVAL`: `sig.sigmask` is non-null and `sig.sigsetsize` is not
///   [`KERNEL_SIGSET_SIZE`](aio_abi::KERNEL_SIGSET_SIZE) (8; 16 on MIPS).
/// - `EFAULT`: `sig` is unreadable, or its non-null mask is.
///
/// # Safety
/// As [`io_getevents`]; `sig` must be null or point to a readable [`__aio_sigset`] whose mask is
/// null or readable for `sigsetsize` bytes.
#[inline]
pub unsafe fn io_pgetevents(
    ctx: aio_context_t,
    min_nr: isize,
    nr: isize,
    events: *mut io_event,
    timeout: *const __kernel_timespec,
    sig: *const __aio_sigset,
) -> Result<usize, Errno> {
    if !TIME32_ABI {
        // SAFETY: this ABI's io_pgetevents takes a __kernel_timespec; the caller vouches for the
        // pointers.
        return unsafe {
            getevents(
                NR.io_pgetevents,
                ctx,
                min_nr,
                nr,
                events,
                ptr(timeout),
                ptr(sig),
            )
        };
    }
    // SAFETY: the caller vouches for the pointers.
    unsafe { time64_then_time32(ctx, min_nr, nr, events, timeout, sig) }
}

/// `io_pgetevents_time64` itself (32-bit ABIs, Linux 5.1): [`io_pgetevents`] with a 64-bit
/// timeout and no fallback. `ENOSYS` on 64-bit ABIs, which have no such call.
///
/// # Safety
/// As [`io_pgetevents`].
#[inline]
pub unsafe fn io_pgetevents_time64(
    ctx: aio_context_t,
    min_nr: isize,
    nr: isize,
    events: *mut io_event,
    timeout: *const __kernel_timespec,
    sig: *const __aio_sigset,
) -> Result<usize, Errno> {
    // SAFETY: io_pgetevents_time64 takes a __kernel_timespec; the caller vouches for the rest.
    unsafe {
        getevents(
            NR.io_pgetevents_time64,
            ctx,
            min_nr,
            nr,
            events,
            ptr(timeout),
            ptr(sig),
        )
    }
}

/// The 32-bit-time `io_getevents` of 32-bit ABIs, with no conversion or fallback. `ENOSYS` on
/// 64-bit ABIs (whose `io_getevents` takes 64-bit time) and on riscv32 (which has none).
///
/// # Safety
/// As [`io_getevents`], with `timeout` null or readable as an [`old_timespec32`].
#[inline]
pub unsafe fn io_getevents_time32(
    ctx: aio_context_t,
    min_nr: isize,
    nr: isize,
    events: *mut io_event,
    timeout: *const old_timespec32,
) -> Result<usize, Errno> {
    let nr_call = if TIME32_ABI { NR.io_getevents } else { None };
    // SAFETY: on a time32 ABI this call takes an old_timespec32; the caller vouches for the rest.
    unsafe { getevents(nr_call, ctx, min_nr, nr, events, ptr(timeout), 0) }
}

/// The 32-bit-time `io_pgetevents` of 32-bit ABIs, with no conversion or fallback. `ENOSYS`
/// where [`io_getevents_time32`] is.
///
/// # Safety
/// As [`io_pgetevents`], with `timeout` null or readable as an [`old_timespec32`].
#[inline]
pub unsafe fn io_pgetevents_time32(
    ctx: aio_context_t,
    min_nr: isize,
    nr: isize,
    events: *mut io_event,
    timeout: *const old_timespec32,
    sig: *const __aio_sigset,
) -> Result<usize, Errno> {
    let nr_call = if TIME32_ABI { NR.io_pgetevents } else { None };
    // SAFETY: on a time32 ABI this call takes an old_timespec32; the caller vouches for the rest.
    unsafe { getevents(nr_call, ctx, min_nr, nr, events, ptr(timeout), ptr(sig)) }
}

/// One wait call of the getevents family, with the timeout and sigset already in registers.
///
/// # Safety
/// `timeout` must match the call's timespec type; the pointers must be valid as documented above.
#[inline]
unsafe fn getevents(
    call: Option<usize>,
    ctx: aio_context_t,
    min_nr: isize,
    nr: isize,
    events: *mut io_event,
    timeout: crate::arch::Word,
    sig: crate::arch::Word,
) -> Result<usize, Errno> {
    let args = [ctx as _, long(min_nr), long(nr), ptr(events), timeout, sig];
    // SAFETY: forwarded from the caller.
    unsafe { call6(call, args) }.map(|n| n as usize)
}

/// The time64-first wait of 32-bit ABIs.
///
/// # Safety
/// As [`io_pgetevents`].
unsafe fn time64_then_time32(
    ctx: aio_context_t,
    min_nr: isize,
    nr: isize,
    events: *mut io_event,
    timeout: *const __kernel_timespec,
    sig: *const __aio_sigset,
) -> Result<usize, Errno> {
    if TIME64.usable() {
        // SAFETY: forwarded from the caller.
        match unsafe { io_pgetevents_time64(ctx, min_nr, nr, events, timeout, sig) } {
            Err(Errno::NOSYS) => TIME64.set_missing(),
            done => return done,
        }
    }
    let converted;
    let timeout32 = if timeout.is_null() {
        null()
    } else {
        // SAFETY: the caller vouches that a non-null timeout is readable.
        converted = old_timespec32::from_timespec64(unsafe { &*timeout }).ok_or(Errno::OVERFLOW)?;
        &converted as *const old_timespec32
    };
    if sig.is_null() && NR.io_getevents.is_some() {
        // SAFETY: forwarded from the caller, with a converted timeout.
        unsafe { io_getevents_time32(ctx, min_nr, nr, events, timeout32) }
    } else {
        // SAFETY: forwarded from the caller, with a converted timeout.
        unsafe { io_pgetevents_time32(ctx, min_nr, nr, events, timeout32, sig) }
    }
}

/// Whether the kernel has a `*_time64` call, learnt from its first `ENOSYS`, so that the probe
/// happens once per process (per call).
pub(crate) struct Time64Probe {
    #[cfg(target_has_atomic = "8")]
    missing: core::sync::atomic::AtomicBool,
}

impl Time64Probe {
    pub(crate) const fn new() -> Self {
        Self {
            #[cfg(target_has_atomic = "8")]
            missing: core::sync::atomic::AtomicBool::new(false),
        }
    }

    /// False once the kernel has answered `ENOSYS`. Without atomics the probe is repeated on
    /// every call (correct, one extra system call).
    pub(crate) fn usable(&self) -> bool {
        #[cfg(target_has_atomic = "8")]
        return !self.missing.load(core::sync::atomic::Ordering::Relaxed);
        #[cfg(not(target_has_atomic = "8"))]
        true
    }

    pub(crate) fn set_missing(&self) {
        #[cfg(target_has_atomic = "8")]
        self.missing
            .store(true, core::sync::atomic::Ordering::Relaxed);
    }
}

/// `io_pgetevents_time64`.
static TIME64: Time64Probe = Time64Probe::new();

/// Which path a wait with a timeout takes on this ABI and kernel, for diagnostics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitPath {
    /// A 64-bit ABI: `io_getevents`/`io_pgetevents` take 64-bit time.
    Native64,
    /// A 32-bit ABI whose kernel has `io_pgetevents_time64` (or has not been asked yet).
    Time64,
    /// A 32-bit ABI whose kernel answered `ENOSYS` to `io_pgetevents_time64`: timeouts are
    /// converted to 32 bits.
    Time32Fallback,
}

/// The path [`io_getevents`]/[`io_pgetevents`] take with a timeout, as far as known so far.
pub fn wait_path() -> WaitPath {
    if !TIME32_ABI {
        WaitPath::Native64
    } else if TIME64.usable() {
        WaitPath::Time64
    } else {
        WaitPath::Time32Fallback
    }
}
