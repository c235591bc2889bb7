//! The two timeout layouts the AIO wait calls take.

/// A 64-bit time value (`struct __kernel_timespec`), 16 bytes on every architecture.
///
/// The timeout of `io_getevents`/`io_pgetevents` on 64-bit architectures and x32, and of
/// `io_pgetevents_time64` on 32-bit ones. The timeout is relative; a null pointer waits forever
/// and `{0, 0}` does not wait.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct __kernel_timespec {
    /// Seconds (`__kernel_time64_t`).
    pub tv_sec: i64,
    /// Nanoseconds, normally `0..1_000_000_000`. The AIO wait calls do not check the range (no
    /// `EINVAL`): they wait `tv_sec * 10^9 + tv_nsec` nanoseconds, and without limit if that is
    /// negative (see `aio_sys::io_getevents`).
    pub tv_nsec: i64,
}

/// A 32-bit time value (`struct old_timespec32`), 8 bytes.
///
/// The timeout of `io_getevents`/`io_pgetevents` on 32-bit architectures (i386, arm, mips o32):
/// it cannot express a time past 2038 or a relative timeout above `i32::MAX` seconds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct old_timespec32 {
    /// Seconds (`old_time32_t`).
    pub tv_sec: i32,
    /// Nanoseconds, normally `0..1_000_000_000`; not range-checked by the AIO wait calls.
    pub tv_nsec: i32,
}

impl old_timespec32 {
    /// The 32-bit form of `ts`, or `None` if its seconds or nanoseconds do not fit in an `i32`.
    pub const fn from_timespec64(ts: &__kernel_timespec) -> Option<Self> {
        if ts.tv_sec < i32::MIN as i64
            || ts.tv_sec > i32::MAX as i64
            || ts.tv_nsec < i32::MIN as i64
            || ts.tv_nsec > i32::MAX as i64
        {
            return None;
        }
        Some(Self {
            tv_sec: ts.tv_sec as i32,
            tv_nsec: ts.tv_nsec as i32,
        })
    }
}
