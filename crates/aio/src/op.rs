//! Typed operations: one constructor per `IOCB_CMD_*`, with the options the kernel takes.

use crate::buf::{IoBuf, IoBufMut};
use aio_abi::{IOCB_FLAG_IOPRIO, IocbCmd, IoprioClass, RwFlags, iocb, ioprio_value};
use rustix::event::PollFlags;
use rustix::fd::{AsFd, AsRawFd};

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

/// The buffers an operation owns while in flight.
pub(crate) enum Payload<B> {
    None,
    One(B),
    Many(Vec<B>),
}

/// One operation, ready to [`push`](crate::Context::push) onto a context.
///
/// The descriptor is only **borrowed for the construction**: the raw number is stored and read
/// by the kernel during the `io_submit` that queues the operation; the kernel then holds its own
/// reference to the file until the operation completes. Keep the descriptor open until
/// [`submit`](crate::Context::submit) has taken the operation; closing it earlier makes the
/// operation fail with `EBADF` (or act on whatever file reuses the number), never touching memory
/// the context does not own.
///
/// ```
/// use aio::{Op, RwFlags};
/// # let file = std::fs::File::open("/dev/null").unwrap();
/// let op: Op<Vec<u8>> = Op::read(&file, vec![0; 4096], 0).user_data(7).flags(RwFlags::NOWAIT);
/// assert_eq!(op.kind(), aio::OpKind::Read);
/// ```
pub struct Op<B> {
    pub(crate) kind: OpKind,
    pub(crate) iocb: iocb,
    pub(crate) payload: Payload<B>,
    pub(crate) user_data: u64,
    /// For readv/writev: writes the iovec array for the buffers (monomorphised for the
    /// direction, so that a read takes write access to its buffers).
    pub(crate) fill_iovecs: Option<FillIovecs<B>>,
}

/// Fills an iovec array from owned buffers.
pub(crate) type FillIovecs<B> = fn(&mut [B], &mut Vec<IoVec>);

/// `struct iovec` (`include/uapi/linux/uio.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct IoVec {
    pub(crate) base: *mut u8,
    pub(crate) len: usize,
}

fn fill_for_read<B: IoBufMut>(bufs: &mut [B], iovecs: &mut Vec<IoVec>) {
    iovecs.clear();
    iovecs.extend(bufs.iter_mut().map(|b| IoVec {
        len: b.bytes_len(),
        base: b.stable_mut_ptr(),
    }));
}

fn fill_for_write<B: IoBuf>(bufs: &mut [B], iovecs: &mut Vec<IoVec>) {
    iovecs.clear();
    iovecs.extend(bufs.iter().map(|b| IoVec {
        base: b.stable_ptr().cast_mut(),
        len: b.bytes_len(),
    }));
}

impl<B> Op<B> {
    #[inline]
    fn new(kind: OpKind, fd: impl AsFd, payload: Payload<B>) -> Self {
        let iocb = iocb {
            aio_lio_opcode: kind.cmd() as u16,
            aio_fildes: fd.as_fd().as_raw_fd() as u32,
            ..iocb::default()
        };
        Self {
            kind,
            iocb,
            payload,
            user_data: 0,
            fill_iovecs: None,
        }
    }

    /// `fsync(2)` of `fd` (generic for every file system since Linux 4.18).
    pub fn fsync(fd: impl AsFd) -> Self {
        Self::new(OpKind::Fsync, fd, Payload::None)
    }

    /// `fdatasync(2)` of `fd` (Linux 4.18).
    pub fn fdatasync(fd: impl AsFd) -> Self {
        Self::new(OpKind::Fdatasync, fd, Payload::None)
    }

    /// A one-shot `poll(2)` for `events` on `fd` (Linux 4.19). Completes when one of them is
    /// ready, with the ready mask ([`Completion::poll_flags`](crate::Completion::poll_flags)).
    /// The one operation [`Context::cancel`](crate::Context::cancel) can cancel on current
    /// kernels.
    pub fn poll(fd: impl AsFd, events: PollFlags) -> Self {
        let mut op = Self::new(OpKind::Poll, fd, Payload::None);
        // The bits are u16 with rustix's linux_raw backend and C `short` (i16) with its libc
        // backend (used on some architectures): go through the bytes to serve both.
        op.iocb.aio_buf = u64::from(u16::from_ne_bytes(events.bits().to_ne_bytes()));
        op
    }

    /// Sets the caller's tag, returned in the completion (default 0).
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
}

impl<B: IoBufMut> Op<B> {
    /// `pread(2)` of up to `buf.bytes_len()` bytes at `offset` into `buf`.
    ///
    /// An offset above `i64::MAX` reaches the kernel as a negative offset and fails with
    /// `EINVAL`.
    #[inline]
    pub fn read(fd: impl AsFd, mut buf: B, offset: u64) -> Self {
        let (ptr, len) = (buf.stable_mut_ptr(), buf.bytes_len());
        let mut op = Self::new(OpKind::Read, fd, Payload::One(buf));
        op.set_range(ptr as u64, len as u64, offset);
        op
    }

    /// `preadv(2)` at `offset`, filling `bufs` in order. The iovec array lives in the context,
    /// reused between operations.
    pub fn readv(fd: impl AsFd, bufs: Vec<B>, offset: u64) -> Self {
        let mut op = Self::new(OpKind::Readv, fd, Payload::Many(bufs));
        op.iocb.aio_offset = offset as i64;
        op.fill_iovecs = Some(fill_for_read::<B>);
        op
    }
}

impl<B: IoBuf> Op<B> {
    /// `pwrite(2)` of `buf` at `offset` (ignored for `O_APPEND` files and with
    /// [`RwFlags::APPEND`]).
    #[inline]
    pub fn write(fd: impl AsFd, buf: B, offset: u64) -> Self {
        let (ptr, len) = (buf.stable_ptr(), buf.bytes_len());
        let mut op = Self::new(OpKind::Write, fd, Payload::One(buf));
        op.set_range(ptr as u64, len as u64, offset);
        op
    }

    /// `pwritev(2)` of `bufs`, in order, at `offset`.
    pub fn writev(fd: impl AsFd, bufs: Vec<B>, offset: u64) -> Self {
        let mut op = Self::new(OpKind::Writev, fd, Payload::Many(bufs));
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
