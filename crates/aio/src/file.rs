//! [`File`]: a file opened for `O_DIRECT` where its file system allows it, its alignment known,
//! read and written through a context of its own, misuse refused before the kernel's bare
//! `EINVAL`. [`FileOptions`] opens it; `aio::rt::tokio::File` is its async twin.

use crate::{
    AlignedBuf, Backend, Bufs, Context, DEFAULT_DIO_ALIGN, DioAlignment, Error, Op, dio_alignment,
};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How to open a [`File`] (or an `aio::rt::tokio::File`): `std::fs::OpenOptions`'s choices,
/// plus whether `O_DIRECT` is required and which [`Backend`] the file's context runs on.
///
/// ```
/// let path = std::env::temp_dir().join(format!("aio-options-doc-{}", std::process::id()));
/// let file = aio::File::options().read(true).write(true).create(true).open(&path)?;
/// println!("direct: {}", file.is_direct());
/// # drop(file);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct FileOptions {
    read: bool,
    write: bool,
    create: bool,
    truncate: bool,
    require_direct: bool,
    backend: Backend,
    mode: u32,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            read: true,
            write: false,
            create: false,
            truncate: false,
            require_direct: false,
            backend: Backend::KernelOrEmulated,
            mode: 0o644,
        }
    }
}

impl FileOptions {
    /// Read-only, `O_DIRECT` where the file system allows it, on
    /// [`Backend::KernelOrEmulated`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Open for reading (on by default).
    pub fn read(mut self, on: bool) -> Self {
        self.read = on;
        self
    }

    /// Open for writing.
    pub fn write(mut self, on: bool) -> Self {
        self.write = on;
        self
    }

    /// Create the file if it does not exist (`O_CREAT`, with [`mode`](Self::mode)).
    pub fn create(mut self, on: bool) -> Self {
        self.create = on;
        self
    }

    /// Truncate the file to length 0 (`O_TRUNC`; needs [`write`](Self::write)).
    pub fn truncate(mut self, on: bool) -> Self {
        self.truncate = on;
        self
    }

    /// The permission bits of a created file (default `0o644`, less the umask).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Fail instead of falling back to buffered I/O when the file system refuses `O_DIRECT`
    /// (`open` answers `EINVAL` there: tmpfs before Linux 6.6, FUSE without direct I/O,
    /// some overlay setups). Off by default: [`File::is_direct`] says which one you got.
    pub fn require_direct(mut self, on: bool) -> Self {
        self.require_direct = on;
        self
    }

    /// The backend of the file's context (default [`Backend::KernelOrEmulated`]: the file
    /// works where the kernel has no AIO, through the crate's emulation; [`Backend::Kernel`]
    /// answers [`Error::Unsupported`] or [`Error::NotPermitted`] there instead).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Opens `path` as asked, `O_DIRECT` first; a synchronous [`File`].
    ///
    /// # Errors
    /// [`Error::Os`] from `open(2)` (`ENOENT`, `EACCES`, …, and `EINVAL` with
    /// [`require_direct`](Self::require_direct) where the file system refuses `O_DIRECT`); as
    /// [`Context::builder`]'s `build` for the file's context.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<File, Error> {
        let opened = self.open_raw(path.as_ref())?;
        let ctx = Context::builder()
            .buffers::<AlignedBuf>()
            .depth(1)
            .backend(self.backend)
            .build()?;
        Ok(File { ctx, opened })
    }

    /// Opens the descriptor: `O_DIRECT` first, without it if the file system refuses it (and
    /// that is allowed); then learns the alignment.
    pub(crate) fn open_raw(&self, path: &Path) -> Result<Opened, Error> {
        let mut flags = OFlags::CLOEXEC;
        flags |= match (self.read, self.write) {
            (true, true) => OFlags::RDWR,
            (false, true) => OFlags::WRONLY,
            _ => OFlags::RDONLY,
        };
        if self.create {
            flags |= OFlags::CREATE;
        }
        if self.truncate {
            flags |= OFlags::TRUNC;
        }
        let mode = Mode::from_bits_truncate(self.mode);
        let (fd, direct) = match rustix::fs::open(path, flags | OFlags::DIRECT, mode) {
            Ok(fd) => (fd, true),
            Err(Errno::INVAL) if !self.require_direct => (
                rustix::fs::open(path, flags, mode)
                    .map_err(|errno| Error::from_call("open", errno))?,
                false,
            ),
            Err(errno) => return Err(Error::from_call("open (O_DIRECT)", errno)),
        };
        let file = std::fs::File::from(fd);
        let align = if direct {
            dio_alignment(&file)?
        } else {
            buffered_alignment()
        };
        Ok(Opened {
            file: Arc::new(file),
            direct,
            align,
        })
    }
}

/// The kernel's `UIO_MAXIOV`: the most buffers one vectored operation takes.
const MAX_IOVECS: usize = 1024;

/// What a buffered file asks of its buffers: nothing; its buffers are still allocated at
/// [`DEFAULT_DIO_ALIGN`], which costs nothing and keeps them usable for direct I/O.
fn buffered_alignment() -> DioAlignment {
    DioAlignment {
        memory: 1,
        offset: 1,
        source: crate::DioSource::Default,
    }
}

/// An open descriptor with what direct I/O asks of it: shared by the synchronous and the async
/// file types.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) file: Arc<std::fs::File>,
    pub(crate) direct: bool,
    pub(crate) align: DioAlignment,
}

impl Opened {
    /// The alignment buffers are allocated with.
    pub(crate) fn buf_align(&self) -> usize {
        self.align.memory.max(DEFAULT_DIO_ALIGN) as usize
    }

    /// Refuses what `O_DIRECT` would refuse with `EINVAL`: an offset or a length that is not a
    /// multiple of the file's offset alignment, a buffer address not a multiple of its memory
    /// alignment. Nothing on a buffered file.
    pub(crate) fn check(&self, offset: u64, bufs: &[&[u8]]) -> Result<(), Error> {
        if !self.direct {
            return Ok(());
        }
        let DioAlignment {
            memory,
            offset: block,
            ..
        } = self.align;
        if offset % u64::from(block) != 0 {
            return Err(Error::Misaligned {
                what: "offset",
                value: offset,
                required: block,
            });
        }
        for buf in bufs {
            if buf.len() % block as usize != 0 {
                return Err(Error::Misaligned {
                    what: "length",
                    value: buf.len() as u64,
                    required: block,
                });
            }
            if buf.as_ptr() as usize % memory as usize != 0 {
                return Err(Error::Misaligned {
                    what: "buffer address",
                    value: buf.as_ptr() as u64,
                    required: memory,
                });
            }
        }
        Ok(())
    }

    /// [`check`](Self::check) of every buffer of a vectored operation, and their number.
    pub(crate) fn check_all(&self, offset: u64, bufs: &[AlignedBuf]) -> Result<(), Error> {
        if bufs.len() > MAX_IOVECS {
            return Err(Error::InvalidInput(
                "a vectored read or write takes at most 1024 buffers (UIO_MAXIOV)",
            ));
        }
        let slices: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
        self.check(offset, &slices)
    }

    /// An aligned buffer of `len` bytes for a read, checked as [`check`](Self::check) would.
    pub(crate) fn read_buf(&self, len: usize, offset: u64) -> Result<AlignedBuf, Error> {
        let buf = AlignedBuf::new(len, self.buf_align())?;
        self.check(offset, &[&buf])?;
        Ok(buf)
    }

    /// The file's length (`fstat`).
    pub(crate) fn len(&self) -> Result<u64, Error> {
        rustix::fs::fstat(&*self.file)
            .map(|st| st.st_size as u64)
            .map_err(|errno| Error::from_call("fstat", errno))
    }
}

/// The result of a completed read or write: bytes done, or the kernel's errno as an
/// [`Error::Os`] naming the operation.
pub(crate) fn transferred(res: Result<usize, Errno>, call: &'static str) -> Result<usize, Error> {
    res.map_err(|errno| Error::Os { call, errno })
}

/// A file for `O_DIRECT` I/O through native AIO, one operation at a time, each call returning
/// when the kernel is done.
///
/// - **Opens with `O_DIRECT`** ([`File::open`], [`File::create`], [`File::options`]); where the
///   file system refuses it (`EINVAL` from `open`), it opens the file buffered instead and
///   [`is_direct`](Self::is_direct) says so (or fails, with
///   [`require_direct`](FileOptions::require_direct)).
/// - **Knows its alignment** ([`alignment`](Self::alignment), from
///   [`dio_alignment`]: `statx(STATX_DIOALIGN)`, the block size, or 4096), allocates aligned
///   buffers ([`read_at`](Self::read_at)) and refuses a misaligned offset, length or buffer
///   with [`Error::Misaligned`] naming the alignment required, before the kernel's bare
///   `EINVAL`.
/// - **Owns the buffers in flight**: a write takes its [`AlignedBuf`] and gives it back with
///   the result; a read returns the buffer it filled, shortened to the bytes read.
///
/// Each call pushes one operation onto the file's own context (depth 1), submits it and waits
/// for its completion: `IOCB_CMD_PREAD`/`PWRITE`/`PREADV`/`PWRITEV`/`FSYNC`/`FDSYNC` (see
/// `io_submit(2)`). For queue depth, use [`Context`] or the tokio `File`, which share one
/// context among many operations.
///
/// ```
/// let path = std::env::temp_dir().join(format!("aio-file-doc-{}", std::process::id()));
/// let mut file = aio::File::create(&path)?;
/// let align = file.alignment().offset.max(512) as usize;
/// let mut block = aio::AlignedBuf::new(align, align)?;
/// block.fill(b'a');
/// let (written, _block) = file.write_at(block, 0);
/// assert_eq!(written?, align);
/// file.sync_data()?;
/// let read = file.read_at(align, 0)?;
/// assert!(read.iter().all(|&b| b == b'a'));
/// assert_eq!(file.len()?, align as u64);
/// # drop(file);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct File {
    ctx: Context<AlignedBuf>,
    opened: Opened,
}

impl File {
    /// Opens `path` read-only, `O_DIRECT` where the file system allows it.
    ///
    /// # Errors
    /// As [`FileOptions::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        FileOptions::new().open(path)
    }

    /// Opens `path` for reading and writing, creating it or truncating it to length 0,
    /// `O_DIRECT` where the file system allows it.
    ///
    /// # Errors
    /// As [`FileOptions::open`].
    pub fn create(path: impl AsRef<Path>) -> Result<Self, Error> {
        FileOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// The options to open a file with: read-only, `O_DIRECT` where allowed, on
    /// [`Backend::KernelOrEmulated`], until changed.
    pub fn options() -> FileOptions {
        FileOptions::new()
    }

    /// Whether the file is open with `O_DIRECT` (false where the file system refused it and
    /// the file was opened buffered).
    pub fn is_direct(&self) -> bool {
        self.opened.direct
    }

    /// What direct I/O on this file needs of offsets, lengths and buffer addresses (all 1 on
    /// a buffered file).
    pub fn alignment(&self) -> DioAlignment {
        self.opened.align
    }

    /// The backend the file's context runs on.
    pub fn backend(&self) -> Backend {
        self.ctx.backend()
    }

    /// The file's length in bytes (`fstat(2)`).
    ///
    /// # Errors
    /// [`Error::Os`] if `fstat` fails.
    pub fn len(&self) -> Result<u64, Error> {
        self.opened.len()
    }

    /// Whether the file is empty.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn is_empty(&self) -> Result<bool, Error> {
        self.len().map(|len| len == 0)
    }

    /// The descriptor, shared (for `std::fs` calls, or operations on another context).
    pub fn as_std(&self) -> &Arc<std::fs::File> {
        &self.opened.file
    }

    /// Reads `len` bytes at `offset` into a new aligned buffer (`IOCB_CMD_PREAD`), shortened
    /// to the bytes read (fewer at the end of the file).
    ///
    /// # Errors
    /// [`Error::Misaligned`] on an `O_DIRECT` file when `offset` or `len` is not a multiple of
    /// [`alignment().offset`](DioAlignment::offset); [`Error::OutOfMemory`]; the kernel's
    /// errno as [`Error::Os`] (`EIO`, or `EINVAL` from a file system stricter than it said);
    /// as [`Context::submit`] and [`Context::wait`].
    pub fn read_at(&mut self, len: usize, offset: u64) -> Result<AlignedBuf, Error> {
        let buf = self.opened.read_buf(len, offset)?;
        let (res, mut buf) = self.read_into_at(buf, offset);
        buf.truncate(res?);
        Ok(buf)
    }

    /// Reads into `buf` at `offset` (`IOCB_CMD_PREAD`); the bytes read, and the buffer back.
    /// A buffer from a pool or an earlier call is used as it is: call
    /// [`restore_len`](AlignedBuf::restore_len) first if an earlier read shortened it.
    ///
    /// # Errors
    /// As [`read_at`](Self::read_at). Only where the context itself fails with the read in it
    /// and cannot give it back ([`Error::Forked`]: a child process after `fork`) does an empty
    /// buffer come back in its place; the original goes with the parent's context.
    pub fn read_into_at(
        &mut self,
        buf: AlignedBuf,
        offset: u64,
    ) -> (Result<usize, Error>, AlignedBuf) {
        if let Err(e) = self.opened.check(offset, &[&buf]) {
            return (Err(e), buf);
        }
        let op = Op::read(self.opened.file.clone(), buf, offset);
        let (res, bufs) = self.run(op, "pread (IOCB_CMD_PREAD)");
        (res, one(bufs))
    }

    /// Writes `buf` at `offset` (`IOCB_CMD_PWRITE`); the bytes written, and the buffer back.
    ///
    /// # Errors
    /// [`Error::Misaligned`] on an `O_DIRECT` file (offset, length or address); the kernel's
    /// errno as [`Error::Os`] (`ENOSPC`, `EFBIG`, `EIO`); as [`Context::submit`]. The buffer
    /// comes back as in [`read_into_at`](Self::read_into_at).
    pub fn write_at(&mut self, buf: AlignedBuf, offset: u64) -> (Result<usize, Error>, AlignedBuf) {
        if let Err(e) = self.opened.check(offset, &[&buf]) {
            return (Err(e), buf);
        }
        let op = Op::write(self.opened.file.clone(), buf, offset);
        let (res, bufs) = self.run(op, "pwrite (IOCB_CMD_PWRITE)");
        (res, one(bufs))
    }

    /// Reads into `bufs`, in order, at `offset` (`IOCB_CMD_PREADV`, at most 1024 buffers);
    /// the bytes read over all of them, and the buffers back.
    ///
    /// # Errors
    /// As [`read_at`](Self::read_at), for each buffer; [`Error::InvalidInput`] beyond 1024
    /// buffers (the kernel's `UIO_MAXIOV`).
    pub fn read_vectored_at(
        &mut self,
        bufs: Vec<AlignedBuf>,
        offset: u64,
    ) -> (Result<usize, Error>, Vec<AlignedBuf>) {
        self.vectored(bufs, offset, Op::readv, "preadv (IOCB_CMD_PREADV)")
    }

    /// Writes `bufs`, in order, at `offset` (`IOCB_CMD_PWRITEV`, at most 1024 buffers); the
    /// bytes written over all of them, and the buffers back.
    ///
    /// # Errors
    /// As [`write_at`](Self::write_at), for each buffer; [`Error::InvalidInput`] beyond 1024
    /// buffers.
    pub fn write_vectored_at(
        &mut self,
        bufs: Vec<AlignedBuf>,
        offset: u64,
    ) -> (Result<usize, Error>, Vec<AlignedBuf>) {
        self.vectored(bufs, offset, Op::writev, "pwritev (IOCB_CMD_PWRITEV)")
    }

    /// Flushes the file's data and metadata to its device (`IOCB_CMD_FSYNC`, `fsync(2)`).
    ///
    /// # Errors
    /// The kernel's errno as [`Error::Os`] (`EIO`; `EINVAL` where the file system has no
    /// fsync); as [`Context::submit`].
    pub fn sync_all(&mut self) -> Result<(), Error> {
        let op = Op::fsync(self.opened.file.clone());
        self.run(op, "fsync (IOCB_CMD_FSYNC)").0.map(drop)
    }

    /// Flushes the file's data, and the metadata needed to read it back
    /// (`IOCB_CMD_FDSYNC`, `fdatasync(2)`).
    ///
    /// # Errors
    /// As [`sync_all`](Self::sync_all).
    pub fn sync_data(&mut self) -> Result<(), Error> {
        let op = Op::fdatasync(self.opened.file.clone());
        self.run(op, "fdatasync (IOCB_CMD_FDSYNC)").0.map(drop)
    }

    /// A readv or writev (`make`) of `bufs` at `offset`, checked first; the buffers back.
    fn vectored(
        &mut self,
        bufs: Vec<AlignedBuf>,
        offset: u64,
        make: fn(Arc<std::fs::File>, Vec<AlignedBuf>, u64) -> Op<AlignedBuf>,
        call: &'static str,
    ) -> (Result<usize, Error>, Vec<AlignedBuf>) {
        if let Err(e) = self.opened.check_all(offset, &bufs) {
            return (Err(e), bufs);
        }
        let op = make(self.opened.file.clone(), bufs, offset);
        let (res, bufs) = self.run(op, call);
        (res, many(bufs))
    }

    /// Pushes `op`, submits it and waits for its completion: its result and its buffers. On
    /// an error of the context itself, the operation is taken back with
    /// [`drain`](Context::drain) where it still can be.
    fn run(
        &mut self,
        op: Op<AlignedBuf>,
        call: &'static str,
    ) -> (Result<usize, Error>, Bufs<AlignedBuf>) {
        if let Err(refused) = self.ctx.push(op) {
            return (Err(refused.error), refused.op.into_parts().1);
        }
        loop {
            let step = self.ctx.submit().and_then(|_| {
                if self.ctx.in_flight() + self.ctx.ready() == 0 {
                    // io_submit answered EAGAIN (the kernel is short of memory): the operation
                    // is still queued; try again in a moment.
                    std::thread::sleep(Duration::from_millis(1));
                    Ok(0)
                } else {
                    self.ctx.wait(1, None)
                }
            });
            if let Err(e) = step {
                let back = self
                    .ctx
                    .drain()
                    .ok()
                    .and_then(|mut drained| drained.next())
                    .map(|done| done.into_parts().1)
                    .unwrap_or_default();
                return (Err(e), back);
            }
            if let Some(done) = self.ctx.completions().next() {
                return (transferred(done.result(), call), done.into_parts().1);
            }
        }
    }
}

/// The buffer of a read or write (an empty one if the context kept it).
fn one(bufs: Bufs<AlignedBuf>) -> AlignedBuf {
    match bufs {
        Bufs::One(buf) => buf,
        _ => empty(),
    }
}

/// The buffers of a readv or writev (none if the context kept them).
fn many(bufs: Bufs<AlignedBuf>) -> Vec<AlignedBuf> {
    match bufs {
        Bufs::Many(bufs) => bufs,
        _ => Vec::new(),
    }
}

/// A zero-length buffer (no allocation).
fn empty() -> AlignedBuf {
    AlignedBuf::new(0, 1).expect("an empty buffer allocates nothing")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DioSource;

    fn direct(memory: u32, offset: u32) -> Opened {
        Opened {
            file: Arc::new(std::fs::File::open("/dev/null").unwrap()),
            direct: true,
            align: DioAlignment {
                memory,
                offset,
                source: DioSource::Statx,
            },
        }
    }

    /// Each of the three alignments refused with its own name and the value required; a
    /// buffered file refuses nothing.
    #[test]
    fn check_names_what_is_misaligned() {
        let opened = direct(512, 4096);
        let buf = AlignedBuf::new(8192 + 512, 4096).unwrap();
        assert_eq!(opened.check(4096, &[&buf[..8192]]), Ok(()));
        assert_eq!(
            opened.check(512, &[&buf[..4096]]),
            Err(Error::Misaligned {
                what: "offset",
                value: 512,
                required: 4096
            })
        );
        assert_eq!(
            opened.check(0, &[&buf[..4096], &buf[..100]]),
            Err(Error::Misaligned {
                what: "length",
                value: 100,
                required: 4096
            })
        );
        let shifted = &buf[1..4097];
        assert_eq!(
            opened.check(0, &[shifted]),
            Err(Error::Misaligned {
                what: "buffer address",
                value: shifted.as_ptr() as u64,
                required: 512
            })
        );
        let buffered = Opened {
            direct: false,
            ..direct(512, 4096)
        };
        assert_eq!(buffered.check(1, &[shifted]), Ok(()));
        let many: Vec<AlignedBuf> = (0..1025).map(|_| AlignedBuf::new(0, 1).unwrap()).collect();
        assert!(matches!(
            opened.check_all(0, &many),
            Err(Error::InvalidInput(_))
        ));
    }
}
