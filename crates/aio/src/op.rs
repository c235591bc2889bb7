//! Typed operations: one constructor per `IOCB_CMD_*`, with the options the kernel takes.

use crate::buf::{IoBuf, IoBufMut};
use crate::fd::Fd;
use aio_abi::{IOCB_FLAG_IOPRIO, IocbCmd, IoprioClass, RwFlags, iocb, ioprio_value};
use alloc::collections::TryReserveError;
use alloc::vec::Vec;
use core::fmt;
use rustix::event::PollFlags;

/// Which kind of operation an [`Op`] or a [`Completion`](crate::Completion) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `IOCB_CMD_PREAD`.
    Read,
    /// `IOCB_CMD_PWRITE`.
    Write,
    /// `IOCB_CMD_PREADV`.
    Readv,
    /// `IOCB_CMD_PWRITEV`.
    Writev,
    /// `IOCB_CMD_FSYNC`.
    Fsync,
    /// `IOCB_CMD_FDSYNC`.
    Fdatasync,
    /// `IOCB_CMD_POLL`.
    Poll,
}

impl OpKind {
    fn cmd(self) -> IocbCmd {
        match self {
            Self::Read => IocbCmd::Pread,
            Self::Write => IocbCmd::Pwrite,
            Self::Readv => IocbCmd::Preadv,
            Self::Writev => IocbCmd::Pwritev,
            Self::Fsync => IocbCmd::Fsync,
            Self::Fdatasync => IocbCmd::Fdsync,
            Self::Poll => IocbCmd::Poll,
        }
    }
}

/// The buffers an operation owns from construction to completion.
#[derive(Debug, Default)]
pub enum Bufs<B> {
    /// No buffer: fsync, fdatasync, poll (or already taken).
    #[default]
    None,
    /// The buffer of a read or write.
    One(B),
    /// The buffers of a readv or writev, in order.
    Many(Vec<B>),
}

/// One operation, ready to [`push`](crate::Context::push) onto a context.
///
/// It owns its buffers and holds its descriptor (an [`Fd`]: a registered [`Fixed`](crate::Fixed),
/// an `Arc`, or an owned `File`) until its completion is handed back, so the
/// kernel can act on nothing the caller gave up. An operation that is never pushed gives both
/// back with [`into_parts`](Self::into_parts).
///
/// ```
/// use aio::{Op, RwFlags};
/// use std::sync::Arc;
/// let file = Arc::new(std::fs::File::open("/dev/null")?);
/// let op: Op<Vec<u8>> = Op::read(file.clone(), vec![0; 4096], 0)
///     .user_data(7)
///     .flags(RwFlags::NOWAIT);
/// assert_eq!(op.kind(), aio::OpKind::Read);
/// let (_fd, bufs) = op.into_parts();
/// assert!(matches!(bufs, aio::Bufs::One(buf) if buf.len() == 4096));
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "an operation does nothing until it is pushed onto a context"]
pub struct Op<B> {
    pub(crate) kind: OpKind,
    pub(crate) iocb: iocb,
    pub(crate) fd: Fd,
    pub(crate) bufs: Bufs<B>,
    pub(crate) user_data: u64,
    /// For readv/writev: writes the iovec array for the buffers (monomorphised for the
    /// direction, so that a read takes write access to its buffers).
    pub(crate) fill_iovecs: Option<FillIovecs<B>>,
    /// Set by the async driver with `RWF_NOWAIT`: retry a would-block answer on a thread.
    pub(crate) offload_on_again: bool,
}

/// Fills an iovec array from owned buffers; `Err` (nothing filled) when it cannot grow.
pub(crate) type FillIovecs<B> = fn(&mut [B], &mut Vec<IoVec>) -> Result<(), TryReserveError>;

/// `struct iovec` (`include/uapi/linux/uio.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct IoVec {
    pub(crate) base: *mut u8,
    pub(crate) len: usize,
}

fn fill_for_read<B: IoBufMut>(
    bufs: &mut [B],
    iovecs: &mut Vec<IoVec>,
) -> Result<(), TryReserveError> {
    iovecs.clear();
    iovecs.try_reserve(bufs.len())?;
    iovecs.extend(bufs.iter_mut().map(|b| IoVec {
        len: b.bytes_len(),
        base: b.stable_mut_ptr(),
    }));
    Ok(())
}

fn fill_for_write<B: IoBuf>(
    bufs: &mut [B],
    iovecs: &mut Vec<IoVec>,
) -> Result<(), TryReserveError> {
    iovecs.clear();
    iovecs.try_reserve(bufs.len())?;
    iovecs.extend(bufs.iter().map(|b| IoVec {
        base: b.stable_ptr().cast_mut(),
        len: b.bytes_len(),
    }));
    Ok(())
}

impl<B> Op<B> {
    #[inline]
    fn new(kind: OpKind, fd: impl Into<Fd>, bufs: Bufs<B>) -> Self {
        let fd = fd.into();
        let iocb = iocb {
            aio_lio_opcode: kind.cmd() as u16,
            // A registered descriptor's number is filled in by `push`.
            aio_fildes: fd.as_raw_fd().map_or(u32::MAX, |raw| raw as u32),
            ..iocb::default()
        };
        Self {
            kind,
            iocb,
            fd,
            bufs,
            user_data: 0,
            fill_iovecs: None,
            offload_on_again: false,
        }
    }

    /// `fsync(2)` of `fd` (`IOCB_CMD_FSYNC`, generic for every file system since Linux 4.18).
    /// Runs inside `io_submit` on most file systems.
    pub fn fsync(fd: impl Into<Fd>) -> Self {
        Self::new(OpKind::Fsync, fd, Bufs::None)
    }

    /// `fdatasync(2)` of `fd` (`IOCB_CMD_FDSYNC`, Linux 4.18).
    pub fn fdatasync(fd: impl Into<Fd>) -> Self {
        Self::new(OpKind::Fdatasync, fd, Bufs::None)
    }

    /// A one-shot `poll(2)` for `events` on `fd` (`IOCB_CMD_POLL`, Linux 4.19). Completes when
    /// one of them is ready, with the ready mask
    /// ([`Completion::poll_flags`](crate::Completion::poll_flags)); never blocks `io_submit`.
    /// The one operation [`Context::cancel`](crate::Context::cancel) can cancel on current
    /// kernels.
    pub fn poll(fd: impl Into<Fd>, events: PollFlags) -> Self {
        let mut op = Self::new(OpKind::Poll, fd, Bufs::None);
        // The bits are u16 with rustix's linux_raw backend and C `short` (i16) with its libc
        // backend (used on some architectures): go through the bytes to serve both.
        op.iocb.aio_buf = u64::from(u16::from_ne_bytes(events.bits().to_ne_bytes()));
        op
    }

    /// Sets the caller's `user_data`, returned in the completion (default 0); read it back
    /// with [`get_user_data`](Self::get_user_data).
    #[inline]
    pub fn user_data(mut self, user_data: u64) -> Self {
        self.user_data = user_data;
        self
    }

    /// Sets the `RWF_*` flags. Reads and writes only: the kernel rejects a poll or sync with any
    /// flag set (`EINVAL`), and a flag the running kernel does not know completes a read or
    /// write with `EOPNOTSUPP`.
    #[inline]
    pub fn flags(mut self, flags: RwFlags) -> Self {
        self.iocb.aio_rw_flags = flags.bits();
        self
    }

    /// Sets the I/O priority (`IOCB_FLAG_IOPRIO`, Linux 4.18). `level` is 0 (highest) to 7;
    /// higher levels are clamped to 7. The real-time class needs `CAP_SYS_ADMIN` or
    /// `CAP_SYS_NICE`, else the operation completes with `EPERM`.
    pub fn priority(mut self, class: IoprioClass, level: u8) -> Self {
        let level = level.min(aio_abi::IOPRIO_BE_NR - 1);
        self.iocb.aio_flags |= IOCB_FLAG_IOPRIO;
        self.iocb.aio_reqprio = ioprio_value(class, level).unwrap_or(0);
        self
    }

    /// The operation's kind.
    pub fn kind(&self) -> OpKind {
        self.kind
    }

    /// The `user_data` set with [`user_data`](Self::user_data) (0 by default), which the
    /// completion hands back ([`Completion::user_data`](crate::Completion::user_data)). Named
    /// as the `io-uring` crate names its getter beside the builder's setter.
    pub fn get_user_data(&self) -> u64 {
        self.user_data
    }

    /// The `RWF_*` flags set with [`flags`](Self::flags).
    pub fn rw_flags(&self) -> RwFlags {
        RwFlags::from_bits_retain(self.iocb.aio_rw_flags)
    }

    /// The descriptor the operation holds.
    pub fn fd(&self) -> &Fd {
        &self.fd
    }

    /// For the async driver: submit with `RWF_NOWAIT`, and have a would-block answer
    /// (`EAGAIN`, or `EOPNOTSUPP` where the file cannot honour the flag) run again without it
    /// on a blocking thread ([`crate::context`]'s offload) rather than handed back.
    #[cfg(feature = "std")]
    pub(crate) fn nowait_or_offload(&mut self) {
        self.iocb.aio_rw_flags |= RwFlags::NOWAIT.bits();
        self.offload_on_again = true;
    }

    /// Undoes [`nowait_or_offload`](Self::nowait_or_offload): the operation goes back to its
    /// caller as it was given.
    #[cfg(feature = "std")]
    pub(crate) fn undo_nowait_or_offload(&mut self) {
        if self.offload_on_again {
            self.iocb.aio_rw_flags &= !RwFlags::NOWAIT.bits();
            self.offload_on_again = false;
        }
    }

    /// [`user_data`](Self::user_data) in place (the driver's token), without moving the
    /// operation.
    #[cfg(feature = "std")]
    pub(crate) fn set_user_data(&mut self, user_data: u64) {
        self.user_data = user_data;
    }

    /// The descriptor and the buffers, back to the caller: for an operation that was never
    /// pushed, or came back in a [`PushError`](crate::PushError).
    pub fn into_parts(self) -> (Fd, Bufs<B>) {
        (self.fd, self.bufs)
    }
}

impl<B> fmt::Debug for Op<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bufs = match &self.bufs {
            Bufs::None => 0,
            Bufs::One(_) => 1,
            Bufs::Many(bufs) => bufs.len(),
        };
        f.debug_struct("Op")
            .field("kind", &self.kind)
            .field("fd", &self.fd)
            .field("user_data", &self.user_data)
            .field("offset", &self.iocb.aio_offset)
            .field("nbytes", &self.iocb.aio_nbytes)
            .field(
                "rw_flags",
                &RwFlags::from_bits_retain(self.iocb.aio_rw_flags),
            )
            .field("bufs", &bufs)
            .finish()
    }
}

impl<B: IoBufMut> Op<B> {
    /// `pread(2)` of up to `buf.bytes_len()` bytes at `offset` into `buf` (`IOCB_CMD_PREAD`).
    ///
    /// An offset above `i64::MAX` reaches the kernel as a negative offset and fails with
    /// `EINVAL`. Only `O_DIRECT` files on block-based file systems read asynchronously: a
    /// buffered file is read inside `io_submit`, and a read of a pipe, socket or tty **blocks
    /// `io_submit`** (and everything queued behind it) until data arrives, unless it has
    /// [`RwFlags::NOWAIT`] (then `EAGAIN` in the result; pipes take it since Linux 6.4) or
    /// follows a completed [`Op::poll`].
    #[inline]
    pub fn read(fd: impl Into<Fd>, mut buf: B, offset: u64) -> Self {
        let (ptr, len) = (buf.stable_mut_ptr(), buf.bytes_len());
        let mut op = Self::new(OpKind::Read, fd, Bufs::One(buf));
        op.set_range(ptr as u64, len as u64, offset);
        op
    }

    /// `preadv(2)` at `offset`, filling `bufs` in order (`IOCB_CMD_PREADV`). The iovec array
    /// lives in the context's slot, reused between operations (it grows at push when an
    /// operation has more buffers than the slot held before). More than `UIO_MAXIOV` (1024)
    /// buffers completes with `EINVAL`. Blocks `io_submit` as [`read`](Self::read) does.
    pub fn readv(fd: impl Into<Fd>, bufs: Vec<B>, offset: u64) -> Self {
        let mut op = Self::new(OpKind::Readv, fd, Bufs::Many(bufs));
        op.iocb.aio_offset = offset as i64;
        op.fill_iovecs = Some(fill_for_read::<B>);
        op
    }
}

impl<B: IoBuf> Op<B> {
    /// `pwrite(2)` of `buf` at `offset` (`IOCB_CMD_PWRITE`; the offset is ignored for `O_APPEND`
    /// files and with [`RwFlags::APPEND`]). A write to a full pipe or socket blocks `io_submit`
    /// unless it has [`RwFlags::NOWAIT`].
    #[inline]
    pub fn write(fd: impl Into<Fd>, buf: B, offset: u64) -> Self {
        let (ptr, len) = (buf.stable_ptr(), buf.bytes_len());
        let mut op = Self::new(OpKind::Write, fd, Bufs::One(buf));
        op.set_range(ptr as u64, len as u64, offset);
        op
    }

    /// `pwritev(2)` of `bufs`, in order, at `offset` (`IOCB_CMD_PWRITEV`). The iovec array is
    /// kept as for [`readv`](Self::readv); more than 1024 buffers completes with `EINVAL`.
    pub fn writev(fd: impl Into<Fd>, bufs: Vec<B>, offset: u64) -> Self {
        let mut op = Self::new(OpKind::Writev, fd, Bufs::Many(bufs));
        op.iocb.aio_offset = offset as i64;
        op.fill_iovecs = Some(fill_for_write::<B>);
        op
    }
}

impl<B> Op<B> {
    #[inline]
    fn set_range(&mut self, addr: u64, len: u64, offset: u64) {
        self.iocb.aio_buf = addr;
        self.iocb.aio_nbytes = len;
        self.iocb.aio_offset = offset as i64;
    }
}
