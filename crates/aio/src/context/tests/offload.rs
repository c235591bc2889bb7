//! [`Offload::run`](super::super::Offload::run), the async driver's blocking-thread path: on
//! the kernel backend for reads and writes the kernel answered `EAGAIN`/`EOPNOTSUPP` under
//! `RWF_NOWAIT` (tmpfs refuses the flag, so every one of its files goes this way), and for
//! every read and write on the emulated backend. It must answer what `io_submit` would have.

use super::super::emulated::noappend_known;
use super::super::{Context, Next};
use crate::{Backend, Error, IoBuf, Op, RwFlags};
use rustix::io::Errno;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

/// Contexts of both backends (the kernel's only where it has AIO).
fn contexts<B: IoBuf>(test: &str) -> Vec<Context<B>> {
    let mut contexts = Vec::new();
    for backend in [Backend::Kernel, Backend::Emulated] {
        match Context::builder()
            .buffers()
            .depth(8)
            .backend(backend)
            .build()
        {
            Ok(ctx) => contexts.push(ctx),
            Err(Error::Unsupported { .. })
                if std::env::var_os("AIO_TEST_EXPECT_ENOSYS").is_some_and(|v| v == "1") =>
            {
                println!("ENOSYS path: {test}: the kernel backend is not here, as expected");
            }
            Err(e) => panic!("{test} ({backend:?}): {e}"),
        }
    }
    contexts
}

/// A new unlinked file on tmpfs (`/dev/shm`), where the kernel refuses `RWF_NOWAIT`, so the
/// kernel backend offloads too; elsewhere if there is none. Says which.
fn shm_file(name: &str) -> (std::fs::File, bool) {
    let shm = std::path::Path::new("/dev/shm");
    let (dir, on_shm) = if shm.is_dir() {
        (shm.to_path_buf(), true)
    } else {
        (std::env::temp_dir(), false)
    };
    let path = dir.join(format!("aio-offload-{name}-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    (file, on_shm)
}

/// Runs `op` as the async driver does: with `RWF_NOWAIT` and a would-block answer (every
/// read and write, on the emulated backend) run by `Offload::run`. The result, and whether an
/// offload ran it.
fn through_the_driver<B: IoBuf>(
    ctx: &mut Context<B>,
    mut op: Op<B>,
) -> (Result<usize, Errno>, bool) {
    op.nowait_or_offload();
    ctx.push(op).unwrap();
    let mut offloads = Vec::new();
    ctx.submit_offloading(&mut offloads).unwrap();
    let mut offloaded = false;
    loop {
        for offload in offloads.drain(..) {
            offloaded = true;
            // SAFETY: the context is alive, and the offload is finished right after.
            let res = unsafe { offload.run() };
            ctx.finish_offload(offload.index, res);
        }
        match ctx.next_ready() {
            Some(Next::Done(done)) => return (done.result(), offloaded),
            Some(Next::Offload(offload)) => offloads.push(offload),
            None => {
                ctx.wait(1, Some(Duration::from_secs(10))).unwrap();
            }
        }
    }
}

/// An offset above `i64::MAX`, with flags left once `RWF_NOWAIT` is dropped: `EINVAL`, as
/// `io_submit` answers; not a read or write at the file position (`preadv2` with -1).
#[test]
fn an_offloaded_offset_beyond_i64_max_is_einval() {
    for mut ctx in contexts::<Vec<u8>>("offload_negative_offset") {
        let backend = ctx.backend();
        let (file, on_shm) = shm_file(&format!("offset-{backend:?}"));
        file.write_all_at(b"abcdefgh", 0).unwrap();
        let view = file.try_clone().unwrap();
        let file = Arc::new(file);
        for op in [
            Op::read(file.clone(), vec![0; 4], u64::MAX).flags(RwFlags::HIPRI),
            Op::write(file.clone(), b"XY".to_vec(), u64::MAX).flags(RwFlags::DSYNC),
            Op::readv(file.clone(), vec![vec![0; 2]], 1 << 63).flags(RwFlags::HIPRI),
            Op::writev(file.clone(), vec![b"Z".to_vec()], 1 << 63).flags(RwFlags::DSYNC),
        ] {
            let kind = op.kind();
            let (result, offloaded) = through_the_driver(&mut ctx, op);
            assert_eq!(result, Err(Errno::INVAL), "{backend:?} {kind:?}");
            if backend == Backend::Emulated || on_shm {
                assert!(offloaded, "{backend:?} {kind:?}: ran by Offload::run");
            }
        }
        let mut contents = [0; 16];
        assert_eq!(view.read_at(&mut contents, 0).unwrap(), 8, "{backend:?}");
        assert_eq!(&contents[..8], b"abcdefgh", "{backend:?}");
        let position = rustix::fs::seek(&view, rustix::fs::SeekFrom::Current(0)).unwrap();
        assert_eq!(position, 0, "{backend:?}: the file position did not move");
    }
}

/// An empty buffer whose pointer is null, as the `IoBuf` contract allows.
struct NullBuf;

// SAFETY: a null pointer is valid for reads of 0 bytes, and stays the same.
unsafe impl IoBuf for NullBuf {
    fn stable_ptr(&self) -> *const u8 {
        core::ptr::null()
    }
    fn bytes_len(&self) -> usize {
        0
    }
}

// SAFETY: as above, for writes of 0 bytes.
unsafe impl crate::IoBufMut for NullBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        core::ptr::null_mut()
    }
}

/// Offloaded reads and writes of empty buffers with a null pointer complete with 0, as the
/// kernel's do (no slice is made of the null pointer: debug builds abort on it).
#[test]
fn offloaded_empty_buffers_with_a_null_pointer_complete_with_0() {
    if std::env::var_os("AIO_TEST_EXPECT_ENOSYS").is_some_and(|v| v == "1") {
        println!(
            "SKIPPED: offloaded_empty_buffers_with_a_null_pointer_complete_with_0: under qemu-user (qemu-user's preadv2/pwritev2 refuse an iovec with a null base (EFAULT), which the kernel accepts for length 0); checked in the booted kernels"
        );
        return;
    }
    for mut ctx in contexts::<NullBuf>("offload_null_buffers") {
        let backend = ctx.backend();
        let (file, on_shm) = shm_file(&format!("null-{backend:?}"));
        let file = Arc::new(file);
        for op in [
            Op::read(file.clone(), NullBuf, 0),
            Op::write(file.clone(), NullBuf, 0),
            Op::read(file.clone(), NullBuf, 0).flags(RwFlags::HIPRI),
            Op::readv(file.clone(), vec![NullBuf, NullBuf], 0),
            Op::writev(file.clone(), vec![NullBuf], 0).flags(RwFlags::DSYNC),
        ] {
            let kind = op.kind();
            let (result, offloaded) = through_the_driver(&mut ctx, op);
            assert_eq!(result, Ok(0), "{backend:?} {kind:?}");
            if backend == Backend::Emulated || on_shm {
                assert!(offloaded, "{backend:?} {kind:?}: ran by Offload::run");
            }
        }
    }
}

/// Offloaded reads of a directory (`EINVAL`: no `read_iter`, where `read(2)` says `EISDIR`)
/// and readv/writev of more than 1024 buffers (`EINVAL`, nothing written), as `io_submit`.
#[test]
fn offloaded_directory_reads_and_long_iovec_arrays_are_einval() {
    if std::env::var_os("AIO_TEST_EXPECT_ENOSYS").is_some_and(|v| v == "1") {
        println!(
            "SKIPPED: offloaded_directory_reads_and_long_iovec_arrays_are_einval: under qemu-user (qemu-user's preadv2 of a directory answers EISDIR, not the kernel's EINVAL); checked in the booted kernels"
        );
        return;
    }
    for mut ctx in contexts::<Vec<u8>>("offload_einval") {
        let backend = ctx.backend();
        let (file, _) = shm_file(&format!("uio-{backend:?}"));
        let view = file.try_clone().unwrap();
        let file = Arc::new(file);
        let dir = Arc::new(std::fs::File::open(std::env::temp_dir()).unwrap());
        for op in [
            Op::read(dir.clone(), vec![0; 64], 0),
            Op::readv(dir.clone(), vec![vec![0; 8]], 0).flags(RwFlags::HIPRI),
            Op::writev(file.clone(), vec![b"w".to_vec(); 1025], 0),
            Op::writev(file.clone(), vec![b"w".to_vec(); 1025], 0).flags(RwFlags::DSYNC),
            Op::readv(file.clone(), vec![vec![0; 1]; 1025], 0),
        ] {
            let kind = op.kind();
            let (result, _) = through_the_driver(&mut ctx, op);
            assert_eq!(result, Err(Errno::INVAL), "{backend:?} {kind:?}");
        }
        assert_eq!(
            view.metadata().unwrap().len(),
            0,
            "{backend:?}: nothing written"
        );
    }
}

/// An offloaded read of an inotify descriptor, which has no `read_iter` (and refuses
/// `RWF_NOWAIT`, so the kernel backend offloads it too): `EINVAL`, as `io_submit` answers
/// without the flag, and the event stays.
#[test]
fn an_offloaded_read_of_an_inotify_descriptor_is_einval() {
    use rustix::fs::inotify;
    for mut ctx in contexts::<Vec<u8>>("offload_inotify") {
        let backend = ctx.backend();
        let dir = std::env::temp_dir().join(format!(
            "aio-offload-inotify-{backend:?}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let watcher = Arc::new(inotify::init(inotify::CreateFlags::NONBLOCK).unwrap());
        inotify::add_watch(&*watcher, &dir, inotify::WatchFlags::CREATE).unwrap();
        std::fs::File::create(dir.join("created")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let (result, _) = through_the_driver(&mut ctx, Op::read(watcher.clone(), vec![0; 4096], 0));
        if result.is_ok() && !noappend_known() {
            // Before Linux 6.9 the offload cannot tell a stream without read_iter (no
            // RWF_NOAPPEND to probe with): it reads it as read(2) would.
            println!("offload_inotify ({backend:?}): not checked before Linux 6.9");
            continue;
        }
        assert_eq!(result, Err(Errno::INVAL), "{backend:?}");
        let mut events = vec![0; 4096];
        assert!(
            rustix::io::read(&*watcher, &mut events).unwrap() > 0,
            "{backend:?}"
        );
    }
}
