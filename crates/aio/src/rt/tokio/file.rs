//! [`File`]: the async twin of [`aio::File`](crate::File), on a [`Handle`].

use super::Handle;
use crate::buf::AlignedBuf;
use crate::direct::DioAlignment;

use crate::file::{FileOptions, Opened};
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// A file for async `O_DIRECT` I/O through a [`Handle`]: what [`aio::File`](crate::File) is
/// for threads, for tokio tasks.
///
/// It opens with `O_DIRECT` where the file system allows it (else buffered, and
/// [`is_direct`](Self::is_direct) says so), knows its [`alignment`](Self::alignment),
/// allocates aligned buffers for [`read_at`](Self::read_at), and refuses a misaligned offset,
/// length or buffer with an [`io::Error`] of kind `InvalidInput` that carries
/// [`Error::Misaligned`](crate::Error::Misaligned) (`get_ref()` and `downcast_ref::<aio::Error>()`), naming the alignment
/// required, before the kernel's bare `EINVAL`.
///
/// Its operations run on the handle's context, beside every other operation of that handle:
/// many files can share one handle, and a file's operations may be in flight together (spawn
/// them, or keep them in a `JoinSet`). Clones share the descriptor and the handle; every
/// future is `'static`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use aio::rt::tokio::{File, Handle};
/// use aio::{AlignedBuf, Context};
///
/// let aio = Handle::new(Context::builder().buffers::<AlignedBuf>().depth(64))?;
/// let path = std::env::temp_dir().join(format!("aio-async-file-doc-{}", std::process::id()));
/// let file = File::create(&aio, &path).await?;
/// let block = file.alignment().offset.max(512) as usize;
/// let mut buf = AlignedBuf::new(block, block)?;
/// buf.fill(7);
/// let (written, _buf) = file.write_at(buf, 0).await;
/// assert_eq!(written?, block);
/// file.sync_data().await?;
/// let read = file.read_at(block, 0).await?;
/// assert!(read.iter().all(|&b| b == 7));
/// # drop(file);
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct File {
    handle: Handle<AlignedBuf>,
    opened: Arc<Opened>,
}

impl File {
    /// Opens `path` read-only, `O_DIRECT` where the file system allows it, on `handle`'s
    /// context. The `open(2)` runs on tokio's blocking pool.
    ///
    /// # Errors
    /// As [`FileOptions::open`](crate::FileOptions::open), as an [`io::Error`].
    pub async fn open(handle: &Handle<AlignedBuf>, path: impl Into<PathBuf>) -> io::Result<Self> {
        Self::open_with(handle, FileOptions::new(), path).await
    }

    /// Opens `path` for reading and writing, creating it or truncating it to length 0.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn create(handle: &Handle<AlignedBuf>, path: impl Into<PathBuf>) -> io::Result<Self> {
        let options = FileOptions::new().write(true).create(true).truncate(true);
        Self::open_with(handle, options, path).await
    }

    /// Opens `path` with `options` (their [`backend`](FileOptions::backend) is the handle's:
    /// the option is not used here).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn open_with(
        handle: &Handle<AlignedBuf>,
        options: FileOptions,
        path: impl Into<PathBuf>,
    ) -> io::Result<Self> {
        let path = path.into();
        let opened = ::tokio::task::spawn_blocking(move || options.open_raw(&path))
            .await
            .map_err(io::Error::other)??;
        Ok(Self {
            handle: handle.clone(),
            opened: Arc::new(opened),
        })
    }

    /// Whether the file is open with `O_DIRECT`.
    pub fn is_direct(&self) -> bool {
        self.opened.direct
    }

    /// What direct I/O on this file needs (all 1 on a buffered file).
    pub fn alignment(&self) -> DioAlignment {
        self.opened.align
    }

    /// The handle the file's operations run on.
    pub fn handle(&self) -> &Handle<AlignedBuf> {
        &self.handle
    }

    /// The descriptor, shared.
    pub fn as_std(&self) -> &Arc<std::fs::File> {
        &self.opened.file
    }

    /// The file's length in bytes (`fstat(2)`, which does not block on local file systems).
    ///
    /// # Errors
    /// `fstat`'s errno.
    pub fn len(&self) -> io::Result<u64> {
        Ok(self.opened.len()?)
    }

    /// Whether the file is empty.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn is_empty(&self) -> io::Result<bool> {
        self.len().map(|len| len == 0)
    }

    /// Reads `len` bytes at `offset` into a new aligned buffer (`IOCB_CMD_PREAD`), shortened
    /// to the bytes read.
    ///
    /// # Errors
    /// `InvalidInput` carrying [`Error::Misaligned`](crate::Error::Misaligned) on an `O_DIRECT` file whose offset
    /// alignment `offset` or `len` does not respect; the kernel's errno.
    pub fn read_at(
        &self,
        len: usize,
        offset: u64,
    ) -> impl Future<Output = io::Result<AlignedBuf>> + Send + 'static + use<> {
        let buf = self.opened.read_buf(len, offset);
        let read = buf.map(|buf| self.handle.read_at(self.opened.file.clone(), buf, offset));
        async move {
            let (res, mut buf) = read?.await;
            buf.truncate(res?);
            Ok(buf)
        }
    }

    /// Reads into `buf` at `offset` (`IOCB_CMD_PREAD`); the bytes read and the buffer back.
    ///
    /// # Errors
    /// As [`read_at`](Self::read_at).
    pub fn read_into_at(
        &self,
        buf: AlignedBuf,
        offset: u64,
    ) -> impl Future<Output = (io::Result<usize>, AlignedBuf)> + Send + 'static + use<> {
        let checked = self.opened.check(offset, &[&buf]);
        let (handle, file) = (self.handle.clone(), self.opened.file.clone());
        guarded(checked, buf, move |buf| handle.read_at(file, buf, offset))
    }

    /// Writes `buf` at `offset` (`IOCB_CMD_PWRITE`); the bytes written and the buffer back.
    ///
    /// # Errors
    /// `InvalidInput` carrying [`Error::Misaligned`](crate::Error::Misaligned) (offset, length or address on an
    /// `O_DIRECT` file); the kernel's errno (`ENOSPC`, `EFBIG`, `EIO`).
    pub fn write_at(
        &self,
        buf: AlignedBuf,
        offset: u64,
    ) -> impl Future<Output = (io::Result<usize>, AlignedBuf)> + Send + 'static + use<> {
        let checked = self.opened.check(offset, &[&buf]);
        let (handle, file) = (self.handle.clone(), self.opened.file.clone());
        guarded(checked, buf, move |buf| handle.write_at(file, buf, offset))
    }

    /// Reads into `bufs`, in order, at `offset` (`IOCB_CMD_PREADV`, at most 1024 buffers).
    ///
    /// # Errors
    /// As [`read_at`](Self::read_at), for each buffer.
    pub fn read_vectored_at(
        &self,
        bufs: Vec<AlignedBuf>,
        offset: u64,
    ) -> impl Future<Output = (io::Result<usize>, Vec<AlignedBuf>)> + Send + 'static + use<> {
        let checked = self.opened.check_all(offset, &bufs);
        let (handle, file) = (self.handle.clone(), self.opened.file.clone());
        guarded(checked, bufs, move |bufs| {
            handle.readv_at(file, bufs, offset)
        })
    }

    /// Writes `bufs`, in order, at `offset` (`IOCB_CMD_PWRITEV`, at most 1024 buffers).
    ///
    /// # Errors
    /// As [`write_at`](Self::write_at), for each buffer.
    pub fn write_vectored_at(
        &self,
        bufs: Vec<AlignedBuf>,
        offset: u64,
    ) -> impl Future<Output = (io::Result<usize>, Vec<AlignedBuf>)> + Send + 'static + use<> {
        let checked = self.opened.check_all(offset, &bufs);
        let (handle, file) = (self.handle.clone(), self.opened.file.clone());
        guarded(checked, bufs, move |bufs| {
            handle.writev_at(file, bufs, offset)
        })
    }

    /// Flushes data and metadata (`IOCB_CMD_FSYNC`).
    ///
    /// # Errors
    /// The kernel's errno (`EIO`; `EINVAL` where the file system has no fsync).
    pub fn sync_all(&self) -> impl Future<Output = io::Result<()>> + Send + 'static + use<> {
        self.handle.fsync(self.opened.file.clone())
    }

    /// Flushes data and the metadata needed to read it (`IOCB_CMD_FDSYNC`).
    ///
    /// # Errors
    /// As [`sync_all`](Self::sync_all).
    pub fn sync_data(&self) -> impl Future<Output = io::Result<()>> + Send + 'static + use<> {
        self.handle.fdatasync(self.opened.file.clone())
    }
}

/// Runs `start(bufs)` if the alignment check passed; else answers its error (an `io::Error`
/// of kind `InvalidInput` with the [`Error`](crate::Error) inside) with the buffers untouched.
async fn guarded<T, F>(
    checked: Result<(), crate::Error>,
    bufs: T,
    start: impl FnOnce(T) -> F,
) -> (io::Result<usize>, T)
where
    F: Future<Output = (io::Result<usize>, T)>,
{
    match checked {
        Ok(()) => start(bufs).await,
        Err(e) => (Err(e.into()), bufs),
    }
}
