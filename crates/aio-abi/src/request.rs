//! `struct iocb`, one request, and its opcodes.

/// One asynchronous I/O request (`struct iocb`), 64 bytes on every architecture.
///
/// Passed to `io_submit(2)` by pointer; the kernel copies it during the call, so the block itself
/// may be reused once `io_submit` returns, but the memory it points to (`aio_buf`) must stay valid
/// until the operation's [`io_event`](crate::io_event) has been reaped. `io_cancel(2)` identifies
/// the request by the same pointer, so keep the block at a stable address while it may be
/// cancelled.
///
/// `aio_key` and `aio_rw_flags` trade places on big-endian targets (the kernel's `PADDED`
/// macro); this type follows `target_endian`, so write the fields by name, never by offset.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct iocb {
    /// Returned unchanged in [`io_event::data`](crate::io_event::data): the caller's tag.
    pub aio_data: u64,
    /// Written with 0 by `io_submit`; `io_cancel` requires it to still be 0 (else `EINVAL`).
    #[cfg(target_endian = "little")]
    pub aio_key: u32,
    /// Per-operation `RWF_*` flags ([`RwFlags`](crate::RwFlags)); unknown bits make `io_submit`
    /// fail with `EOPNOTSUPP`. Replaced `aio_reserved1` in Linux 4.13.
    pub aio_rw_flags: crate::__kernel_rwf_t,
    /// Written with 0 by `io_submit`; `io_cancel` requires it to still be 0 (else `EINVAL`).
    #[cfg(target_endian = "big")]
    pub aio_key: u32,
    /// The operation: one of the `IOCB_CMD_*` values ([`IocbCmd`]).
    pub aio_lio_opcode: u16,
    /// I/O priority, used when [`IOCB_FLAG_IOPRIO`](crate::IOCB_FLAG_IOPRIO) is set (see
    /// [`ioprio_value`](crate::ioprio_value)); an invalid class gives `EINVAL`.
    pub aio_reqprio: i16,
    /// The file descriptor. `io_submit` takes its own reference to the file.
    pub aio_fildes: u32,
    /// Buffer address (read/write), iovec array address (readv/writev), or the requested
    /// `POLL*` event mask (poll).
    pub aio_buf: u64,
    /// Byte count (read/write) or iovec count (readv/writev).
    pub aio_nbytes: u64,
    /// File offset in bytes; ignored for pipes and sockets.
    pub aio_offset: i64,
    /// Reserved: must be zero, or `io_submit` fails with `EINVAL`.
    pub aio_reserved2: u64,
    /// `IOCB_FLAG_*` bits ([`IocbFlags`](crate::IocbFlags)); unknown bits are ignored.
    pub aio_flags: u32,
    /// eventfd to signal on completion when [`IOCB_FLAG_RESFD`](crate::IOCB_FLAG_RESFD) is set;
    /// a descriptor that is not an eventfd gives `EINVAL`.
    pub aio_resfd: u32,
}

/// The operation codes of [`iocb::aio_lio_opcode`] (`IOCB_CMD_*`).
///
/// Code 4 (`IOCB_CMD_PREADX`) was retired before merging and is rejected, like
/// [`IocbCmd::Noop`], with `EINVAL` by `io_submit`.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IocbCmd {
    /// `pread(2)` into `aio_buf`.
    Pread = 0,
    /// `pwrite(2)` from `aio_buf`.
    Pwrite = 1,
    /// `fsync(2)` (generic for every file system since Linux 4.18).
    Fsync = 2,
    /// `fdatasync(2)` (generic since Linux 4.18).
    Fdsync = 3,
    /// One-shot `poll(2)` for the `POLL*` mask in `aio_buf`; `res` is the ready mask (Linux 4.19).
    /// The only generic operation `io_cancel` can cancel.
    Poll = 5,
    /// Defined but not implemented: `io_submit` rejects it with `EINVAL`.
    Noop = 6,
    /// `preadv(2)`: `aio_buf` points at `aio_nbytes` `struct iovec`s.
    Preadv = 7,
    /// `pwritev(2)`: `aio_buf` points at `aio_nbytes` `struct iovec`s.
    Pwritev = 8,
}

impl IocbCmd {
    /// The command for a raw opcode, or `None` for 4 (retired) and unknown values.
    pub const fn from_raw(raw: u16) -> Option<Self> {
        Some(match raw {
            IOCB_CMD_PREAD => Self::Pread,
            IOCB_CMD_PWRITE => Self::Pwrite,
            IOCB_CMD_FSYNC => Self::Fsync,
            IOCB_CMD_FDSYNC => Self::Fdsync,
            IOCB_CMD_POLL => Self::Poll,
            IOCB_CMD_NOOP => Self::Noop,
            IOCB_CMD_PREADV => Self::Preadv,
            IOCB_CMD_PWRITEV => Self::Pwritev,
            _ => return None,
        })
    }
}

/// `IOCB_CMD_PREAD`: see [`IocbCmd::Pread`].
pub const IOCB_CMD_PREAD: u16 = 0;
/// `IOCB_CMD_PWRITE`: see [`IocbCmd::Pwrite`].
pub const IOCB_CMD_PWRITE: u16 = 1;
/// `IOCB_CMD_FSYNC`: see [`IocbCmd::Fsync`].
pub const IOCB_CMD_FSYNC: u16 = 2;
/// `IOCB_CMD_FDSYNC`: see [`IocbCmd::Fdsync`].
pub const IOCB_CMD_FDSYNC: u16 = 3;
/// `IOCB_CMD_PREADX`, retired: commented out in the header, `io_submit` answers `EINVAL`.
pub const IOCB_CMD_PREADX: u16 = 4;
/// `IOCB_CMD_POLL`: see [`IocbCmd::Poll`].
pub const IOCB_CMD_POLL: u16 = 5;
/// `IOCB_CMD_NOOP`: see [`IocbCmd::Noop`].
pub const IOCB_CMD_NOOP: u16 = 6;
/// `IOCB_CMD_PREADV`: see [`IocbCmd::Preadv`].
pub const IOCB_CMD_PREADV: u16 = 7;
/// `IOCB_CMD_PWRITEV`: see [`IocbCmd::Pwritev`].
pub const IOCB_CMD_PWRITEV: u16 = 8;
