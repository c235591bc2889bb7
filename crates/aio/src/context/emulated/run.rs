//! One read, write or sync by its synchronous system call, in place of the kernel's AIO:
//! the emulated backend's [`submit`](crate::Context::submit) and the async driver's offloaded
//! operations (`super::super::offload`) both run them here.

use super::super::negative;
use crate::op::{IoVec, OpKind};
use aio_abi::{RwFlags, iocb};
use core::sync::atomic::{AtomicU8, Ordering};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::{Errno, IoSlice, IoSliceMut, ReadWriteFlags};

/// Runs one read, write or sync; returns its `res`.
///
/// # Safety
/// `iocb.aio_fildes` must be an open descriptor, and `iocb.aio_buf`/`aio_nbytes` (or the
/// `iovecs` of a readv/writev) must describe buffers valid for that direction for the call.
pub(in crate::context) unsafe fn run(kind: OpKind, iocb: &iocb, iovecs: &mut [IoVec]) -> i64 {
    // SAFETY: the caller guarantees the descriptor is open for the call.
    let fd = unsafe { BorrowedFd::borrow_raw(iocb.aio_fildes as i32) };
    let flags = ReadWriteFlags::from_bits_retain(iocb.aio_rw_flags as u32);
    let offset = iocb.aio_offset as u64;
    let result = match kind {
        OpKind::Fsync | OpKind::Fdatasync if iocb.aio_rw_flags != 0 => Err(Errno::INVAL),
        OpKind::Fsync => rustix::fs::fsync(fd).map(|()| 0),
        OpKind::Fdatasync => rustix::fs::fdatasync(fd).map(|()| 0),
        // Negative as the kernel's `loff_t`: `rw_verify_area` refuses it, on every file that
        // has AIO, pipes included (their position is ignored only later). `preadv2` and
        // `pwritev2` would take -1 for "at the file position" instead.
        OpKind::Read | OpKind::Readv | OpKind::Write | OpKind::Writev if iocb.aio_offset < 0 => {
            Err(refused(fd, kind, Errno::INVAL))
        }
        // `aio_setup_rw` (`import_iovec`) refuses more than `UIO_MAXIOV` entries; rustix would
        // pass on the first 1024 and say nothing.
        OpKind::Readv | OpKind::Writev if iovecs.len() > UIO_MAXIOV => {
            Err(refused(fd, kind, Errno::INVAL))
        }
        OpKind::Read => {
            // SAFETY: the caller guarantees `aio_nbytes` writable, initialised bytes.
            let buf = unsafe { bytes_mut(iocb.aio_buf, iocb.aio_nbytes) };
            if flags.is_empty() {
                or_stream(fd, false, rustix::io::pread(fd, &mut *buf, offset), || {
                    rustix::io::read(fd, buf)
                })
            } else {
                read_with_flags(fd, &mut [IoSliceMut::new(buf)], offset, flags)
            }
        }
        OpKind::Readv => {
            no_null_entries(iovecs);
            // SAFETY: `IoSliceMut` is ABI-compatible with `struct iovec` on Unix, as `IoVec` is;
            // the caller guarantees each entry's bytes writable and initialised, and no entry's
            // pointer is null any more.
            let bufs = unsafe {
                core::slice::from_raw_parts_mut(
                    iovecs.as_mut_ptr().cast::<IoSliceMut<'_>>(),
                    iovecs.len(),
                )
            };
            if flags.is_empty() {
                or_stream(fd, false, rustix::io::preadv(fd, bufs, offset), || {
                    rustix::io::readv(fd, bufs)
                })
            } else {
                read_with_flags(fd, bufs, offset, flags)
            }
        }
        OpKind::Write => {
            // SAFETY: the caller guarantees `aio_nbytes` readable bytes.
            let buf = unsafe { bytes(iocb.aio_buf, iocb.aio_nbytes) };
            if flags.is_empty() {
                or_stream(fd, true, rustix::io::pwrite(fd, buf, offset), || {
                    rustix::io::write(fd, buf)
                })
            } else {
                write_with_flags(fd, &[IoSlice::new(buf)], offset, flags)
            }
        }
        OpKind::Writev => {
            no_null_entries(iovecs);
            // SAFETY: as for Readv, for reading.
            let bufs = unsafe {
                core::slice::from_raw_parts(iovecs.as_ptr().cast::<IoSlice<'_>>(), iovecs.len())
            };
            if flags.is_empty() {
                or_stream(fd, true, rustix::io::pwritev(fd, bufs, offset), || {
                    rustix::io::writev(fd, bufs)
                })
            } else {
                write_with_flags(fd, bufs, offset, flags)
            }
        }
        // Polls are started by the caller, never run here.
        OpKind::Poll => Err(Errno::INVAL),
    };
    match result {
        Ok(bytes) => bytes as i64,
        // `read(2)` of a directory answers `EISDIR` (`generic_read_dir`); `aio_read` refuses
        // it before, for want of `read_iter`, with `EINVAL`.
        Err(Errno::ISDIR) if matches!(kind, OpKind::Read | OpKind::Readv) => negative(Errno::INVAL),
        Err(errno) => negative(errno),
    }
}

/// `UIO_MAXIOV` (`include/uapi/linux/uio.h`), the most entries a readv or writev may have.
const UIO_MAXIOV: usize = 1024;

/// The `len` bytes at `addr`, readable: an empty slice for length 0, whose address the
/// [`IoBuf`](crate::IoBuf) contract lets be null (which no slice may have).
///
/// # Safety
/// For a non-zero `len`, `addr` must be valid for reads of `len` initialised bytes for `'a`.
unsafe fn bytes<'a>(addr: u64, len: u64) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: the caller guarantees the bytes, and a valid address is not null.
    unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) }
}

/// As [`bytes`], writable.
///
/// # Safety
/// For a non-zero `len`, `addr` must be valid for reads and writes of `len` initialised bytes
/// for `'a`, and used by nothing else meanwhile.
unsafe fn bytes_mut<'a>(addr: u64, len: u64) -> &'a mut [u8] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: the caller guarantees the bytes and their exclusive use; a valid address is not
    // null.
    unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, len as usize) }
}

/// Gives every empty entry of `iovecs` a dangling, non-null address in place of the null one
/// the [`IoBuf`](crate::IoBuf) contract allows, so that the array may be seen as
/// `IoSlice`s, which wrap slices. The kernel does not look at the address of an empty entry.
fn no_null_entries(iovecs: &mut [IoVec]) {
    for iovec in iovecs.iter_mut().filter(|iovec| iovec.len == 0) {
        iovec.base = core::ptr::NonNull::dangling().as_ptr();
    }
}

/// What `io_submit` answers for a read or write it refuses for its arguments (`aio_read`,
/// `aio_write`): `errno`, unless the descriptor is not open in that direction (or is an
/// `O_PATH` one), which it checks first (`EBADF`). One `fcntl`, on this error path only.
fn refused(fd: BorrowedFd<'_>, kind: OpKind, errno: Errno) -> Errno {
    use rustix::fs::OFlags;
    let Ok(mode) = rustix::fs::fcntl_getfl(fd) else {
        return errno;
    };
    let write = matches!(kind, OpKind::Write | OpKind::Writev);
    let access = mode & OFlags::RWMODE;
    let allowed = if write {
        access == OFlags::WRONLY || access == OFlags::RDWR
    } else {
        access == OFlags::RDONLY || access == OFlags::RDWR
    };
    if allowed && !mode.contains(OFlags::PATH) {
        errno
    } else {
        Errno::BADF
    }
}

/// `positioned`, or on a file without positions (`ESPIPE`: pipes, sockets, eventfds, …)
/// `at_position`, as the kernel's AIO, which ignores the offset there; but first `EINVAL` for
/// a stream `io_submit` refuses ([`has_iter`]).
fn or_stream(
    fd: BorrowedFd<'_>,
    write: bool,
    positioned: rustix::io::Result<usize>,
    at_position: impl FnOnce() -> rustix::io::Result<usize>,
) -> rustix::io::Result<usize> {
    match positioned {
        Err(Errno::SPIPE) if !has_iter(fd, write) => Err(Errno::INVAL),
        Err(Errno::SPIPE) => at_position(),
        other => other,
    }
}

/// Whether `fd`'s file has `read_iter` (`write_iter` for a write), which `aio_read`
/// (`aio_write`) requires, answering `EINVAL` without, where `read(2)` (`write(2)`) takes the
/// driver's plain `read` (`write`): an inotify descriptor has none, an eventfd no `write_iter`.
///
/// Asked of the kernel without reading or writing anything: `preadv2`/`pwritev2` of one byte
/// with `RWF_APPEND | RWF_NOAPPEND`, a pair `kiocb_set_rw_flags` refuses with `EINVAL` on the
/// `read_iter`/`write_iter` path, where the path for the other files (`do_loop_readv_writev`)
/// refuses every flag but `RWF_HIPRI` with `EOPNOTSUPP`; both before any I/O. Where the
/// kernel does not know `RWF_NOAPPEND` (before 6.9, see [`noappend_known`]) every file would
/// say `EOPNOTSUPP`: there the answer is `true`, and the operation runs as `read(2)` would.
fn has_iter(fd: BorrowedFd<'_>, write: bool) -> bool {
    !noappend_known() || contradictory_flags(fd, write) != Err(Errno::OPNOTSUPP)
}

/// The probe of [`has_iter`]: one byte at the file position with contradictory flags.
fn contradictory_flags(fd: BorrowedFd<'_>, write: bool) -> rustix::io::Result<usize> {
    let flags =
        ReadWriteFlags::from_bits_retain((RwFlags::APPEND | RwFlags::NOAPPEND).bits() as u32);
    let mut byte = [0u8];
    if write {
        pwritev2(fd, &[IoSlice::new(&byte)], u64::MAX, flags)
    } else {
        preadv2(fd, &mut [IoSliceMut::new(&mut byte)], u64::MAX, flags)
    }
}

/// Whether the running kernel knows `RWF_NOAPPEND` (Linux 6.9), asked once per process of a
/// new pipe, whose ends have `read_iter` and `write_iter`: `EINVAL` from
/// [`contradictory_flags`] says it does (`EOPNOTSUPP`: an unknown flag; `ENOSYS`: no
/// `preadv2`). If the pipe cannot be made (no descriptor left), `false` this time.
pub(in crate::context) fn noappend_known() -> bool {
    const UNKNOWN: u8 = 0;
    const KNOWN: u8 = 1;
    const NOT_KNOWN: u8 = 2;
    static NOAPPEND: AtomicU8 = AtomicU8::new(UNKNOWN);
    match NOAPPEND.load(Ordering::Relaxed) {
        KNOWN => true,
        NOT_KNOWN => false,
        _ => {
            let Ok((reader, _writer)) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            else {
                return false;
            };
            let known = contradictory_flags(reader.as_fd(), false) == Err(Errno::INVAL);
            NOAPPEND.store(if known { KNOWN } else { NOT_KNOWN }, Ordering::Relaxed);
            known
        }
    }
}

/// A flagged call's answer: before Linux 4.6 (no `preadv2`/`pwritev2`) no flag can be
/// honoured, as an old kernel's `io_submit` says (`EOPNOTSUPP`).
fn flagged(result: rustix::io::Result<usize>) -> rustix::io::Result<usize> {
    match result {
        Err(Errno::NOSYS) => Err(Errno::OPNOTSUPP),
        other => other,
    }
}

/// `preadv2` at `offset`, or at the file position (offset -1) where the file has none.
fn read_with_flags(
    fd: BorrowedFd<'_>,
    bufs: &mut [IoSliceMut<'_>],
    offset: u64,
    flags: ReadWriteFlags,
) -> rustix::io::Result<usize> {
    flagged(or_stream(
        fd,
        false,
        preadv2(fd, bufs, offset, flags),
        || preadv2(fd, bufs, u64::MAX, flags),
    ))
}

/// `pwritev2`, as [`read_with_flags`].
fn write_with_flags(
    fd: BorrowedFd<'_>,
    bufs: &[IoSlice<'_>],
    offset: u64,
    flags: ReadWriteFlags,
) -> rustix::io::Result<usize> {
    flagged(or_stream(
        fd,
        true,
        pwritev2(fd, bufs, offset, flags),
        || pwritev2(fd, bufs, u64::MAX, flags),
    ))
}

#[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
use rustix::io::{preadv2, pwritev2};

#[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
use x32::{preadv2, pwritev2};

/// `preadv2`/`pwritev2` on x32 by the system call itself. rustix takes its libc backend there,
/// and through it the flags did not reach the kernel (measured in the static test programs on
/// Linux 6.1 with `syscall.x32=y`: `RWF_APPEND` ignored, an unknown flag accepted; the path
/// rustix takes there, glibc's `preadv64v2` or its own fallback system call, was not traced). The x32 entries (`arch/x86/entry/syscalls/syscall_64.tbl`: 546
/// `compat_sys_preadv64v2`, 547 `compat_sys_pwritev64v2`, with `__X32_SYSCALL_BIT`) take the
/// 64-bit offset in one register and an x32 `iovec`, which is `IoSlice`'s layout there.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
mod x32 {
    use aio_sys::raw::{Word, syscall6};
    use rustix::fd::{AsRawFd, BorrowedFd};
    use rustix::io::{IoSlice, IoSliceMut, ReadWriteFlags};

    const X32_SYSCALL_BIT: usize = 0x4000_0000;
    const PREADV2: usize = X32_SYSCALL_BIT | 546;
    const PWRITEV2: usize = X32_SYSCALL_BIT | 547;

    /// The call `nr` on `fd` with `count` iovecs at `iov`.
    ///
    /// # Safety
    /// `iov` must point to `count` iovecs whose buffers the kernel may read (pwritev2) or write
    /// (preadv2) for the length of the call.
    unsafe fn call(
        nr: usize,
        fd: BorrowedFd<'_>,
        iov: *const u8,
        count: usize,
        offset: u64,
        flags: ReadWriteFlags,
    ) -> rustix::io::Result<usize> {
        let args: [Word; 6] = [
            fd.as_raw_fd() as i64 as Word,
            iov as usize as Word,
            count as Word,
            offset as Word,
            Word::from(flags.bits()),
            0,
        ];
        // SAFETY: the numbers are x32's, and the caller vouches for the iovecs.
        unsafe { syscall6(nr, args) }
            .map(|n| n as usize)
            .map_err(rustix::io::Errno::from)
    }

    pub(super) fn preadv2(
        fd: BorrowedFd<'_>,
        bufs: &mut [IoSliceMut<'_>],
        offset: u64,
        flags: ReadWriteFlags,
    ) -> rustix::io::Result<usize> {
        // SAFETY: `bufs` are live, writable for their lengths, and borrowed for the call.
        unsafe {
            call(
                PREADV2,
                fd,
                bufs.as_mut_ptr().cast(),
                bufs.len(),
                offset,
                flags,
            )
        }
    }

    pub(super) fn pwritev2(
        fd: BorrowedFd<'_>,
        bufs: &[IoSlice<'_>],
        offset: u64,
        flags: ReadWriteFlags,
    ) -> rustix::io::Result<usize> {
        // SAFETY: `bufs` are live, readable for their lengths, and borrowed for the call.
        unsafe {
            call(
                PWRITEV2,
                fd,
                bufs.as_ptr().cast(),
                bufs.len(),
                offset,
                flags,
            )
        }
    }
}
