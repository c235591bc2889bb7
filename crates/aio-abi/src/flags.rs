//! Flag words of `struct iocb`: `aio_flags` (`IOCB_FLAG_*`) and `aio_rw_flags` (`RWF_*`).

/// The type of [`iocb::aio_rw_flags`](crate::iocb::aio_rw_flags) (`__kernel_rwf_t`, a C `int`).
pub type __kernel_rwf_t = i32;

/// `IOCB_FLAG_RESFD`: signal the eventfd in `aio_resfd` when the request completes.
pub const IOCB_FLAG_RESFD: u32 = 1 << 0;
/// `IOCB_FLAG_IOPRIO`: use `aio_reqprio` as the request's I/O priority (Linux 4.18).
pub const IOCB_FLAG_IOPRIO: u32 = 1 << 1;

bitflags::bitflags! {
    /// The `aio_flags` word of an [`iocb`](crate::iocb). Unknown bits are ignored by the kernel.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct IocbFlags: u32 {
        /// [`IOCB_FLAG_RESFD`]: signal `aio_resfd` (an eventfd, else `EINVAL`) on completion.
        const RESFD = IOCB_FLAG_RESFD;
        /// [`IOCB_FLAG_IOPRIO`]: apply `aio_reqprio` (an invalid class gives `EINVAL`). 4.18.
        const IOPRIO = IOCB_FLAG_IOPRIO;
    }
}

bitflags::bitflags! {
    /// Per-request read/write flags (`RWF_*`) for [`iocb::aio_rw_flags`](crate::iocb::aio_rw_flags),
    /// the same as `preadv2(2)`/`pwritev2(2)` take.
    ///
    /// A bit the running kernel does not know makes `io_submit` fail with `EOPNOTSUPP` (the
    /// whole call if it is the first iocb). Each flag names the release that introduced it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct RwFlags: i32 {
        /// `RWF_HIPRI` (4.6): high-priority request, polled if the device supports it.
        const HIPRI = 0x0000_0001;
        /// `RWF_DSYNC` (4.7): per-write `O_DSYNC`.
        const DSYNC = 0x0000_0002;
        /// `RWF_SYNC` (4.7): per-write `O_SYNC`.
        const SYNC = 0x0000_0004;
        /// `RWF_NOWAIT` (4.14; AIO 4.14): fail with `-EAGAIN` in `res` instead of blocking.
        const NOWAIT = 0x0000_0008;
        /// `RWF_APPEND` (4.16): per-write `O_APPEND`; the offset is ignored.
        const APPEND = 0x0000_0010;
        /// `RWF_NOAPPEND` (6.9): ignore `O_APPEND` for this write and honour the offset.
        const NOAPPEND = 0x0000_0020;
        /// `RWF_ATOMIC` (6.11): write untorn, within the file's atomic write limits.
        const ATOMIC = 0x0000_0040;
        /// `RWF_DONTCACHE` (6.14): buffered I/O that drops its page cache pages after use.
        const DONTCACHE = 0x0000_0080;
        /// `RWF_NOSIGNAL` (6.18): no `SIGPIPE` when writing to a broken pipe or socket.
        const NOSIGNAL = 0x0000_0100;
    }
}
