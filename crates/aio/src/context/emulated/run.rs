//! One read, write or sync by its synchronous system call, in place of the kernel's AIO:
//! the emulated backend's [`submit`](crate::Context::submit) and the async driver's offloaded
//! operations (`super::super::offload`) both run them here.

use super::super::negative;
use crate::op::{IoVec, OpKind};
use aio_abi::iocb;
use rustix::fd::BorrowedFd;
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
                or_stream(rustix::io::pread(fd, &mut *buf, offset), || {
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
                or_stream(rustix::io::preadv(fd, bufs, offset), || {
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
                or_stream(rustix::io::pwrite(fd, buf, offset), || {
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
                or_stream(rustix::io::pwritev(fd, bufs, offset), || {
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

/// `positioned`, or on a file without positions (`ESPIPE`: pipes, sockets) `at_position`: as
/// the kernel's AIO, which ignores the offset there.
fn or_stream(
    positioned: rustix::io::Result<usize>,
    at_position: impl FnOnce() -> rustix::io::Result<usize>,
) -> rustix::io::Result<usize> {
    match positioned {
        Err(Errno::SPIPE) => at_position(),
        other => other,
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
    flagged(or_stream(preadv2(fd, bufs, offset, flags), || {
        preadv2(fd, bufs, u64::MAX, flags)
    }))
}

/// `pwritev2`, as [`read_with_flags`].
fn write_with_flags(
    fd: BorrowedFd<'_>,
    bufs: &[IoSlice<'_>],
    offset: u64,
    flags: ReadWriteFlags,
) -> rustix::io::Result<usize> {
    flagged(or_stream(pwritev2(fd, bufs, offset, flags), || {
        pwritev2(fd, bufs, u64::MAX, flags)
    }))
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
