//! What `O_DIRECT` needs of buffers and offsets for a given file.

use crate::Error;
use rustix::fd::AsFd;
use rustix::fs::{AtFlags, FileType, StatxFlags, ioctl_blksszget, statx};

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
/// block size; otherwise returns [`DEFAULT_DIO_ALIGN`]. Misaligned direct I/O completes with
/// `EINVAL`.
///
/// # Errors
/// [`Error::InvalidInput`] when the file system reports that it does not support direct I/O on
/// this file (`STATX_DIOALIGN` answered with zeros); [`Error::Os`] if `statx` fails outright.
pub fn dio_alignment(fd: impl AsFd) -> Result<DioAlignment, Error> {
    let fd = fd.as_fd();
    let st = statx(
        fd,
        "",
        AtFlags::EMPTY_PATH,
        StatxFlags::DIOALIGN | StatxFlags::TYPE,
    )
    .map_err(|errno| Error::from_call("statx", errno))?;
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
    if FileType::from_raw_mode(u32::from(st.stx_mode)) == FileType::BlockDevice {
        if let Ok(size) = ioctl_blksszget(fd) {
            return Ok(DioAlignment {
                memory: size,
                offset: size,
                source: DioSource::BlockDevice,
            });
        }
    }
    Ok(DioAlignment {
        memory: DEFAULT_DIO_ALIGN,
        offset: DEFAULT_DIO_ALIGN,
        source: DioSource::Default,
    })
}
