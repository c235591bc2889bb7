//! What `O_DIRECT` needs of buffers and offsets for a given file.

use crate::Error;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{AtFlags, FileType, StatxFlags, ioctl_blksszget, statx};
use rustix::io::Errno;

/// The alignment assumed when the kernel cannot tell: 4096 bytes, which satisfies every common
/// block size and page size.
pub const DEFAULT_DIO_ALIGN: u32 = 4096;

/// Where a [`DioAlignment`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DioSource {
    /// `statx(STATX_DIOALIGN)` (Linux 6.1 and file systems that implement it).
    Statx,
    /// The block device's logical block size (`BLKSSZGET`).
    BlockDevice,
    /// Neither was available: [`DEFAULT_DIO_ALIGN`] for both.
    Default,
}

/// The direct-I/O constraints of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DioAlignment {
    /// Required alignment of the buffer address (and, in practice, of the length).
    pub memory: u32,
    /// Required alignment of the file offset and the length.
    pub offset: u32,
    /// How this was found.
    pub source: DioSource,
}

/// Reports the alignment `O_DIRECT` needs on `fd`.
///
/// Asks `statx` for `STATX_DIOALIGN` (6.1+); for a block device without it, uses the logical
/// block size; otherwise returns [`DEFAULT_DIO_ALIGN`]. Where `statx` itself is missing (Linux
/// before 4.11) or forbidden (older container seccomp profiles), `fstat` tells block devices
/// apart instead. Misaligned direct I/O completes with `EINVAL`.
///
/// # Errors
/// [`Error::InvalidInput`] when the file system reports that it does not support direct I/O on
/// this file (`STATX_DIOALIGN` answered with zeros); [`Error::Os`] if `statx` fails outright.
pub fn dio_alignment(fd: impl AsFd) -> Result<DioAlignment, Error> {
    let fd = fd.as_fd();
    let st = match statx(
        fd,
        "",
        AtFlags::EMPTY_PATH,
        StatxFlags::DIOALIGN | StatxFlags::TYPE,
    ) {
        Ok(st) => st,
        Err(Errno::NOSYS | Errno::PERM) => {
            let st = rustix::fs::fstat(fd).map_err(|errno| Error::from_call("fstat", errno))?;
            return Ok(fallback(fd, FileType::from_raw_mode(st.st_mode as _)));
        }
        Err(errno) => return Err(Error::from_call("statx", errno)),
    };
    if st.stx_mask & StatxFlags::DIOALIGN.bits() != 0 {
        if st.stx_dio_mem_align == 0 || st.stx_dio_offset_align == 0 {
            return Err(Error::InvalidInput(
                "this file does not support O_DIRECT (statx DIOALIGN = 0)",
            ));
        }
        return Ok(DioAlignment {
            memory: st.stx_dio_mem_align,
            offset: st.stx_dio_offset_align,
            source: DioSource::Statx,
        });
    }
    Ok(fallback(
        fd,
        FileType::from_raw_mode(u32::from(st.stx_mode)),
    ))
}

/// Without `STATX_DIOALIGN`: a block device's logical block size, else the default.
fn fallback(fd: BorrowedFd<'_>, file_type: FileType) -> DioAlignment {
    if file_type == FileType::BlockDevice {
        if let Ok(size) = ioctl_blksszget(fd) {
            return DioAlignment {
                memory: size,
                offset: size,
                source: DioSource::BlockDevice,
            };
        }
    }
    DioAlignment {
        memory: DEFAULT_DIO_ALIGN,
        offset: DEFAULT_DIO_ALIGN,
        source: DioSource::Default,
    }
}
