//! The C types of `<libaio.h>` as this ABI lays them out.

use aio_sys::abi::{__kernel_timespec, aio_context_t};

/// `io_context_t`: a pointer to an opaque struct, whose value is the kernel's context id (the
/// ring's address). Pointer-sized: on x32 narrower than the kernel's `aio_context_t`.
pub(crate) type IoContext = usize;

/// The kernel's id of a context.
#[inline]
pub(crate) fn kernel_id(ctx: IoContext) -> aio_context_t {
    ctx as aio_context_t
}

/// C's `struct timespec` as libaio's callers pass it: `time_t` and `long`, both the
/// register width on 64-bit ABIs (x32 included: its `time_t` is 64-bit) and on riscv32 (only
/// 64-bit time there); 32-bit on the other 32-bit ABIs, as glibc builds them by default and
/// Debian bookworm built libaio.
#[cfg(any(
    target_pointer_width = "64",
    target_arch = "x86_64",
    target_arch = "riscv32"
))]
pub(crate) type CTimespec = __kernel_timespec;

/// C's `struct timespec` as libaio's callers pass it (see the 64-bit definition).
#[cfg(not(any(
    target_pointer_width = "64",
    target_arch = "x86_64",
    target_arch = "riscv32"
)))]
pub(crate) type CTimespec = aio_sys::abi::old_timespec32;

/// `*timeout`, widened to the kernel's 64-bit form (signs kept: the kernel does not range-check
/// the AIO timeouts, so neither does this).
///
/// # Safety
/// `timeout` must be null or readable.
#[inline]
pub(crate) unsafe fn widen(timeout: *const CTimespec) -> Option<__kernel_timespec> {
    // SAFETY: the caller vouches for the pointer.
    let ts = unsafe { timeout.as_ref() }?;
    // Widening on the ABIs with a 32-bit C timespec.
    #[allow(clippy::unnecessary_cast)]
    Some(__kernel_timespec {
        tv_sec: ts.tv_sec as i64,
        tv_nsec: ts.tv_nsec as i64,
    })
}

/// `io_callback_t`: `void (*)(io_context_t ctx, struct iocb *iocb, long res, long res2)`,
/// set by `io_set_callback` in the iocb's `data` and called by `io_queue_run`.
pub(crate) type IoCallback =
    unsafe extern "C" fn(IoContext, *mut aio_sys::abi::iocb, core::ffi::c_long, core::ffi::c_long);
