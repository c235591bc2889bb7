//! libaio's functions. Each returns what libaio returns: the call's result, or a negative
//! errno (`errno` is never set).

use crate::contexts::{self, Reader, Retirement, Waiter};
use crate::ctypes::{CTimespec, IoCallback, IoContext, kernel_id, widen};
use aio_sys::Errno;
use aio_sys::abi::{__aio_sigset, __kernel_timespec, io_event, iocb, kernel_sigset_t};
use aio_sys::ring::Ring;
use core::ffi::{c_int, c_long};
use core::ptr::{null, null_mut};

/// `-errno`, libaio's error return.
fn fail(errno: Errno) -> c_int {
    -errno.raw_os_error()
}

fn int(result: Result<usize, Errno>) -> c_int {
    match result {
        Ok(n) => n as c_int,
        Err(errno) => fail(errno),
    }
}

/// 0 or `-errno`.
fn status(result: Result<(), Errno>) -> c_int {
    int(result.map(|()| 0))
}

/// `int io_setup(int maxevents, io_context_t *ctxp)`: the kernel's checks and errors as they
/// are (it reads and writes `*ctxp` itself: `EFAULT` for a bad pointer, `EINVAL` if `*ctxp` is
/// not 0); a context it makes is registered for the ring fast path.
pub(crate) unsafe extern "C" fn io_setup(maxevents: c_int, ctxp: *mut IoContext) -> c_int {
    // Where io_context_t and aio_context_t have one size (every ABI but x32) the kernel gets
    // the caller's pointer, as libaio passes it.
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
    {
        // SAFETY: the kernel validates the pointer (EFAULT) and the value behind it.
        let result = unsafe { aio_sys::io_setup(maxevents as u32, ctxp.cast()) };
        match result {
            Ok(()) => {
                // SAFETY: the kernel has just written the new id there.
                contexts::register(kernel_id(unsafe { ctxp.read() }));
                0
            }
            Err(errno) => fail(errno),
        }
    }
    // x32: the kernel writes a 64-bit id; the caller's io_context_t is 32 bits.
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
    {
        if ctxp.is_null() {
            return fail(Errno::FAULT);
        }
        // SAFETY: a caller's non-null ctxp is theirs to read and write (as for libaio).
        let mut ctx = kernel_id(unsafe { ctxp.read() });
        // SAFETY: `ctx` is a local the kernel may read and write.
        match unsafe { aio_sys::io_setup(maxevents as u32, &mut ctx) } {
            Ok(()) => {
                contexts::register(ctx);
                // SAFETY: as above.
                unsafe { ctxp.write(ctx as IoContext) };
                0
            }
            Err(errno) => fail(errno),
        }
    }
}

/// `int io_destroy(io_context_t ctx)`: waits for a user-space reader of the ring to finish,
/// then lets the kernel cancel, wait for what is in flight, and unmap the ring.
pub(crate) unsafe extern "C" fn io_destroy(ctx: IoContext) -> c_int {
    let id = kernel_id(ctx);
    let retirement = Retirement::begin(id);
    // SAFETY: no reader of this library's is in the ring, and none will start.
    let result = unsafe { aio_sys::io_destroy(id) };
    retirement.end(result.is_ok());
    status(result)
}

/// `int io_submit(io_context_t ctx, long nr, struct iocb *ios[])`.
pub(crate) unsafe extern "C" fn io_submit(
    ctx: IoContext,
    nr: c_long,
    ios: *mut *mut iocb,
) -> c_int {
    // SAFETY: the caller's array and blocks, checked by the kernel (EFAULT).
    int(unsafe { aio_sys::io_submit(kernel_id(ctx), nr as isize, ios.cast_const()) })
}

/// `int io_cancel(io_context_t ctx, struct iocb *iocb, struct io_event *evt)`: since Linux
/// 3.12 a started cancellation answers `-EINPROGRESS`, and the event comes through the ring.
pub(crate) unsafe extern "C" fn io_cancel(
    ctx: IoContext,
    iocb: *mut iocb,
    evt: *mut io_event,
) -> c_int {
    // SAFETY: the caller's pointers, checked by the kernel (EFAULT).
    status(unsafe { aio_sys::io_cancel(kernel_id(ctx), iocb, evt) })
}

/// libaio 0.1's `int io_cancel(io_context_t ctx, struct iocb *iocb)`.
pub(crate) unsafe extern "C" fn io_cancel_0_1(ctx: IoContext, iocb: *mut iocb) -> c_int {
    let mut event = io_event::default();
    // SAFETY: as io_cancel, with an event of our own.
    unsafe { io_cancel(ctx, iocb, &mut event) }
}

/// `int io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
/// struct timespec *timeout)`.
pub(crate) unsafe extern "C" fn io_getevents(
    ctx: IoContext,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut CTimespec,
) -> c_int {
    // SAFETY: the caller's pointers.
    unsafe { getevents(ctx, min_nr, nr, events, timeout, None) }
}

/// libaio 0.1's `int io_getevents(io_context_t ctx, long nr, struct io_event *events,
/// const struct timespec *timeout)`: at least one event.
pub(crate) unsafe extern "C" fn io_getevents_0_1(
    ctx: IoContext,
    nr: c_long,
    events: *mut io_event,
    timeout: *const CTimespec,
) -> c_int {
    // SAFETY: the caller's pointers.
    unsafe { getevents(ctx, 1, nr, events, timeout.cast_mut(), None) }
}

/// `int io_pgetevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
/// struct timespec *timeout, sigset_t *sigmask)`: `*sigmask` is the thread's mask while it
/// waits in the kernel (the C library's `sigset_t` begins with the kernel's).
pub(crate) unsafe extern "C" fn io_pgetevents(
    ctx: IoContext,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut CTimespec,
    sigmask: *const kernel_sigset_t,
) -> c_int {
    let sig = __aio_sigset::new(sigmask);
    // SAFETY: the caller's pointers.
    unsafe { getevents(ctx, min_nr, nr, events, timeout, Some(&sig)) }
}

/// `int io_queue_init(int maxevents, io_context_t *ctxp)`: `io_setup` with `*ctxp` cleared
/// first; `-EINVAL` for `maxevents <= 0`.
pub(crate) unsafe extern "C" fn io_queue_init(maxevents: c_int, ctxp: *mut IoContext) -> c_int {
    if maxevents <= 0 {
        return fail(Errno::INVAL);
    }
    if ctxp.is_null() {
        return fail(Errno::FAULT);
    }
    // SAFETY: the caller's ctxp, which libaio writes the same way.
    unsafe { ctxp.write(0) };
    // SAFETY: as io_setup.
    unsafe { io_setup(maxevents, ctxp) }
}

/// `int io_queue_release(io_context_t ctx)`: `io_destroy`.
pub(crate) unsafe extern "C" fn io_queue_release(ctx: IoContext) -> c_int {
    // SAFETY: as io_destroy.
    unsafe { io_destroy(ctx) }
}

/// `int io_queue_wait(io_context_t ctx, struct timespec *timeout)`: libaio's is
/// `io_getevents(ctx, 0, 0, NULL, timeout)`, which the kernel answers with 0 at once (or an
/// error for a bad context).
pub(crate) unsafe extern "C" fn io_queue_wait(ctx: IoContext, timeout: *mut CTimespec) -> c_int {
    // SAFETY: no events are written (nr = 0); the timeout is the caller's.
    unsafe { getevents(ctx, 0, 0, null_mut(), timeout, None) }
}

/// `int io_queue_run(io_context_t ctx)`: calls the callback of every completion ready now
/// (`io_set_callback` stores it in the iocb's `data`), one at a time, as libaio does; returns
/// 0 when none is left, or a negative errno.
pub(crate) unsafe extern "C" fn io_queue_run(ctx: IoContext) -> c_int {
    let mut zero = CTimespec::default();
    loop {
        let mut event = io_event::default();
        // SAFETY: one event of our own; a zero timeout of our own.
        let got = unsafe { getevents(ctx, 0, 1, &mut event, &mut zero, None) };
        if got != 1 {
            return got;
        }
        // The data's low bits hold the pointer (libaio.h pads it to 64 bits on every ABI).
        let callback = event.data as usize;
        if callback == 0 {
            // libaio would call through a null pointer; skip the event instead.
            continue;
        }
        // SAFETY: io_set_callback stored an io_callback_t there; the caller vouches for it.
        let callback: IoCallback = unsafe { core::mem::transmute::<usize, IoCallback>(callback) };
        let iocb = event.obj as usize as *mut iocb;
        // SAFETY: the callback is the caller's, called as libaio calls it.
        unsafe { callback(ctx, iocb, event.res as c_long, event.res2 as c_long) };
    }
}

/// The wait of `io_getevents` and `io_pgetevents`: events from the ring first, in user space,
/// then the kernel for what must still be waited for.
///
/// # Safety
/// `events` writable for `nr` events (when `nr > 0`), `timeout` null or readable.
unsafe fn getevents(
    ctx: IoContext,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut CTimespec,
    sig: Option<&__aio_sigset>,
) -> c_int {
    let id = kernel_id(ctx);
    let (min_nr, nr) = (min_nr as isize, nr as isize);
    // SAFETY: the caller's timeout.
    let timeout = unsafe { widen(timeout) };
    let mut got = 0usize;
    // Arguments the kernel refuses (EINVAL) or a null array (EFAULT) go to it as they are.
    if 0 <= min_nr && min_nr <= nr && !events.is_null() {
        if let Some(_reader) = Reader::try_take(id) {
            // SAFETY: a live context of this process (registered, not destroyed: the reader
            // holds it), read by this thread alone (`contexts`).
            if let Some(ring) = unsafe { Ring::new(id) } {
                // The ring never holds more than its slots.
                let room = (nr as usize).min(ring.slots() as usize);
                // SAFETY: the caller's array has room for `nr` events; only this thread
                // consumes.
                let out = unsafe { core::slice::from_raw_parts_mut(events, room) };
                // SAFETY: as above.
                got = unsafe { ring.reap(out) };
                // Enough, or no wait asked for: the kernel would not do more than this.
                let zero = timeout.is_some_and(|t| t.tv_sec == 0 && t.tv_nsec == 0);
                if got as isize >= min_nr || zero {
                    return got as c_int;
                }
            }
        }
    }
    let ts = timeout
        .as_ref()
        .map_or(null(), |t| t as *const __kernel_timespec);
    let sig = sig.map_or(null(), |s| s as *const __aio_sigset);
    // SAFETY: `events + got` has room for `nr - got` events (the caller's array).
    let rest = unsafe { events.add(got) };
    let result = {
        let _waiter = Waiter::enter(id);
        let (min_rest, nr_rest) = (min_nr - got as isize, nr - got as isize);
        // SAFETY: the caller's pointers (or ours); the kernel checks them (EFAULT).
        unsafe {
            if sig.is_null() {
                aio_sys::io_getevents(id, min_rest, nr_rest, rest, ts)
            } else {
                aio_sys::io_pgetevents(id, min_rest, nr_rest, rest, ts, sig)
            }
        }
    };
    match result {
        Ok(n) => (got + n) as c_int,
        // Events already taken from the ring are never dropped: the kernel, too, answers
        // with what it read before a signal or a fault.
        Err(_) if got > 0 => got as c_int,
        Err(errno) => fail(errno),
    }
}
