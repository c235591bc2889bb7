//! Reads and writes, after libaio's harness cases 4.t (open mode, `O_APPEND`), 10.t (offsets
//! and end of file), 11.t (many small synchronous operations), 13.t (several 1 MiB writes in one
//! submit) and 15.t (vectored I/O at an offset).
//!
//! On both backends: the emulation's `pread`/`pwrite`/`preadv2`/... give the same results; only
//! where the kernel refuses an operation at `io_submit` (a local completion) does the emulation
//! run it and get the same errno from the system call.

use crate::common;

use aio::{Completion, Context, Errno, Op, OpKind, RwFlags};
use common::{TempFile, context_or_skip, each_backend, on_kernel};

each_backend!(
    wrong_open_mode_is_ebadf,
    append_mode_ignores_offsets,
    bad_offsets_and_end_of_file,
    many_small_synchronous_operations,
    several_large_writes_in_one_submit,
    vectored_io_at_offset,
    recent_rw_flags_by_kernel_version,
);
use std::fs::{File, OpenOptions};
use std::time::Duration;

const FIVE_SECONDS: Option<Duration> = Some(Duration::from_secs(5));

/// Pushes one operation, submits it, waits for it and returns its completion.
fn run_one(ctx: &mut Context, op: Op<Vec<u8>>) -> Completion<Vec<u8>> {
    ctx.push(op).expect("room for one operation");
    ctx.submit().expect("submit");
    assert_eq!(ctx.wait(1, FIVE_SECONDS), Ok(1), "one completion");
    let mut done: Vec<_> = ctx.completions().collect();
    assert_eq!(done.len(), 1);
    done.pop().unwrap()
}

fn open(temp: &TempFile, options: &mut OpenOptions) -> File {
    options
        .open(temp.path())
        .unwrap_or_else(|e| panic!("open {}: {e}", temp.path().display()))
}

/// 4.t: a write to a read-only descriptor and a read from a write-only one complete with EBADF
/// (the kernel rejects them at io_submit; the context turns that into their completions).
fn wrong_open_mode_is_ebadf() {
    let Some(mut ctx) = context_or_skip("wrong_open_mode_is_ebadf", Context::builder().depth(4))
    else {
        return;
    };
    const SIZE: usize = 512;
    let temp = TempFile::new("mode");
    std::fs::write(temp.path(), vec![b'r'; SIZE]).unwrap();
    let read_only = open(&temp, OpenOptions::new().read(true));
    let write_only = open(&temp, OpenOptions::new().write(true));
    let read_write = ctx
        .register(open(&temp, OpenOptions::new().read(true).write(true)))
        .unwrap();

    let c = run_one(&mut ctx, Op::write(read_only, vec![b'w'; SIZE], 0));
    assert_eq!(c.kind(), OpKind::Write);
    assert_eq!(c.result(), Err(Errno::BADF));
    assert_eq!(c.raw_result(), -i64::from(Errno::BADF.raw_os_error()));

    let c = run_one(&mut ctx, Op::read(write_only, vec![0; SIZE], 0));
    assert_eq!(c.kind(), OpKind::Read);
    assert_eq!(c.result(), Err(Errno::BADF));
    assert_eq!(
        c.into_buf().unwrap(),
        vec![0; SIZE],
        "nothing read into the buffer"
    );

    let c = run_one(&mut ctx, Op::write(read_write, vec![b'w'; SIZE], 0));
    assert_eq!(c.result(), Ok(SIZE));
    let c = run_one(&mut ctx, Op::read(read_write, vec![0; SIZE], 0));
    assert_eq!(c.result(), Ok(SIZE));
    assert_eq!(c.into_buf().unwrap(), vec![b'w'; SIZE]);
    if on_kernel() {
        assert_eq!(ctx.stats().local_completions, 2, "refused by io_submit");
    } else {
        // Run by the emulation: pwrite and pread answer EBADF themselves.
        assert_eq!(ctx.stats().local_completions, 0);
        assert_eq!(ctx.stats().emulated, 4);
    }
}

/// 4.t: on an `O_APPEND` descriptor every write goes to the end, whatever its offset;
/// `RWF_APPEND` does the same per write; `RWF_NOAPPEND` (6.9) honours the offset again.
fn append_mode_ignores_offsets() {
    let Some(mut ctx) = context_or_skip("append_mode_ignores_offsets", Context::builder().depth(4))
    else {
        return;
    };
    let temp = TempFile::new("append");
    let plain = temp.create_rw();
    let append = ctx
        .register(open(&temp, OpenOptions::new().read(true).append(true)))
        .unwrap();

    let c = run_one(&mut ctx, Op::read(append, vec![0; 512], 0));
    assert_eq!(c.result(), Ok(0), "empty file");
    for (chunk, offset) in [(b"1234", 0), (b"5678", 0), (b"9abc", 1000)] {
        let c = run_one(&mut ctx, Op::write(append, chunk.to_vec(), offset));
        assert_eq!(c.result(), Ok(4));
    }
    let c = run_one(&mut ctx, Op::read(append, vec![0; 512], 0));
    assert_eq!(c.result(), Ok(12));
    assert_eq!(&c.into_buf().unwrap()[..12], b"123456789abc");

    if common::emulated_without_rwf_calls() {
        let with_flags = [
            Op::write(plain, b"XY".to_vec(), 2).flags(RwFlags::APPEND),
            Op::write(append, b"XY".to_vec(), 2).flags(RwFlags::NOAPPEND),
        ];
        for op in with_flags {
            let c = run_one(&mut ctx, op);
            assert_eq!(c.result(), Err(Errno::OPNOTSUPP), "no pwritev2: no flag");
        }
        assert_eq!(std::fs::read(temp.path()).unwrap(), b"123456789abc");
        println!("no pwritev2 here (ENOSYS): the emulation refuses RWF_APPEND and RWF_NOAPPEND");
        return;
    }
    // RWF_APPEND on a descriptor without O_APPEND.
    let c = run_one(
        &mut ctx,
        Op::write(plain, b"def".to_vec(), 0).flags(RwFlags::APPEND),
    );
    assert_eq!(c.result(), Ok(3));
    assert_eq!(std::fs::read(temp.path()).unwrap(), b"123456789abcdef");

    // RWF_NOAPPEND on the O_APPEND descriptor.
    let c = run_one(
        &mut ctx,
        Op::write(append, b"XY".to_vec(), 2).flags(RwFlags::NOAPPEND),
    );
    let supported = common::kernel_version().is_some_and(|v| v >= (6, 9));
    if supported {
        assert_eq!(c.result(), Ok(2), "RWF_NOAPPEND on a 6.9+ kernel");
        assert_eq!(std::fs::read(temp.path()).unwrap(), b"12XY56789abcdef");
    } else {
        assert_eq!(
            c.result(),
            Err(Errno::OPNOTSUPP),
            "RWF_NOAPPEND before 6.9 is an unknown flag"
        );
        assert_eq!(std::fs::read(temp.path()).unwrap(), b"123456789abcdef");
    }
}

/// 10.t and friends: an offset above i64::MAX reaches the kernel negative (EINVAL); reading at
/// or past the end of file gives 0 bytes; a zero-length write gives 0.
fn bad_offsets_and_end_of_file() {
    let Some(mut ctx) = context_or_skip("bad_offsets_and_end_of_file", Context::builder().depth(4))
    else {
        return;
    };
    const SIZE: usize = 8192;
    let temp = TempFile::new("offsets");
    let file = ctx.register(temp.create_rw()).unwrap();
    std::fs::write(temp.path(), vec![b'z'; SIZE]).unwrap();

    for offset in [u64::MAX, i64::MAX as u64 + 1, (i64::MAX as u64 + 1) | 4096] {
        let c = run_one(&mut ctx, Op::read(file, vec![0; 512], offset));
        assert_eq!(c.result(), Err(Errno::INVAL), "read at {offset:#x}");
        let c = run_one(&mut ctx, Op::write(file, vec![1; 512], offset));
        assert_eq!(c.result(), Err(Errno::INVAL), "write at {offset:#x}");
    }
    let c = run_one(&mut ctx, Op::read(file, vec![0; 512], SIZE as u64));
    assert_eq!(c.result(), Ok(0), "read at end of file");
    let c = run_one(&mut ctx, Op::read(file, vec![0; 512], 1 << 40));
    assert_eq!(c.result(), Ok(0), "read far past end of file");
    let c = run_one(&mut ctx, Op::read(file, vec![0; 512], SIZE as u64 - 100));
    assert_eq!(c.result(), Ok(100), "short read across end of file");
    let c = run_one(&mut ctx, Op::write(file, Vec::new(), SIZE as u64 * 2));
    assert_eq!(c.result(), Ok(0), "zero-length write");
    assert_eq!(
        std::fs::metadata(temp.path()).unwrap().len(),
        SIZE as u64,
        "nothing written by the failed or empty writes"
    );
}

/// 11.t: many small writes, each submitted and waited for on its own, then read back one by one.
fn many_small_synchronous_operations() {
    let Some(mut ctx) = context_or_skip(
        "many_small_synchronous_operations",
        Context::builder().depth(2),
    ) else {
        return;
    };
    const COUNT: usize = 2000;
    const SIZE: usize = 16;
    let pattern = |i: usize| -> Vec<u8> {
        let mut record = format!("rec{i:08}").into_bytes();
        record.resize(SIZE, b'.');
        record
    };
    let temp = TempFile::new("small");
    let file = ctx.register(temp.create_rw()).unwrap();
    for i in 0..COUNT {
        let c = run_one(
            &mut ctx,
            Op::write(file, pattern(i), (i * SIZE) as u64).user_data(i as u64),
        );
        assert_eq!(c.user_data(), i as u64);
        assert_eq!(c.result(), Ok(SIZE), "write {i}");
    }
    for i in 0..COUNT {
        let c = run_one(&mut ctx, Op::read(file, vec![0; SIZE], (i * SIZE) as u64));
        assert_eq!(c.result(), Ok(SIZE), "read {i}");
        assert_eq!(c.into_buf().unwrap(), pattern(i), "record {i}");
    }
    let stats = ctx.stats();
    assert_eq!(stats.submitted, 2 * COUNT as u64);
    if on_kernel() {
        assert_eq!(stats.ring_reaped + stats.syscall_reaped, 2 * COUNT as u64);
    } else {
        // Each ran inside its submit: nothing to reap from a ring or io_getevents.
        assert_eq!(stats.emulated, 2 * COUNT as u64);
        assert_eq!(stats.ring_reaped + stats.syscall_reaped, 0);
    }
    assert_eq!(
        std::fs::metadata(temp.path()).unwrap().len(),
        (COUNT * SIZE) as u64
    );
}

/// 13.t: several 1 MiB writes in one io_submit, all complete in full.
fn several_large_writes_in_one_submit() {
    let Some(mut ctx) = context_or_skip(
        "several_large_writes_in_one_submit",
        Context::builder().depth(8),
    ) else {
        return;
    };
    const SIZE: usize = 1 << 20;
    const IOS: usize = 4;
    let temp = TempFile::new("large");
    let file = ctx.register(temp.create_rw()).unwrap();
    for i in 0..IOS {
        let buf = vec![b'A' + i as u8; SIZE];
        ctx.push(Op::write(file, buf, (i * SIZE) as u64).user_data(i as u64))
            .unwrap();
    }
    let before = ctx.stats();
    assert_eq!(ctx.submit(), Ok(IOS));
    assert_eq!(
        ctx.stats().submit_calls - before.submit_calls,
        1,
        "one io_submit"
    );
    assert_eq!(ctx.wait(IOS, Some(Duration::from_secs(30))), Ok(IOS));
    let mut seen = [false; IOS];
    for c in ctx.completions() {
        let i = c.user_data() as usize;
        assert!(!seen[i], "write {i} completed twice");
        seen[i] = true;
        assert_eq!(c.result(), Ok(SIZE), "write {i}");
        assert_eq!(c.raw_result(), SIZE as i64);
        assert_eq!(c.into_buf().unwrap().len(), SIZE, "buffer back");
    }
    assert!(seen.iter().all(|&s| s));
    let data = std::fs::read(temp.path()).unwrap();
    assert_eq!(data.len(), IOS * SIZE);
    for (i, chunk) in data.chunks(SIZE).enumerate() {
        assert!(chunk.iter().all(|&b| b == b'A' + i as u8), "chunk {i}");
    }
}

/// 15.t: writev of three buffers at offset 4096, then readv into buffers of other sizes.
fn vectored_io_at_offset() {
    let Some(mut ctx) = context_or_skip("vectored_io_at_offset", Context::builder().depth(4))
    else {
        return;
    };
    const OFFSET: u64 = 4096;
    let temp = TempFile::new("vectored");
    let file = ctx.register(temp.create_rw()).unwrap();
    let bufs = vec![vec![b'a'; 100], vec![b'b'; 4000], vec![b'c'; 1000]];
    let total: usize = bufs.iter().map(Vec::len).sum();

    let mut c = run_one(&mut ctx, Op::writev(file, bufs.clone(), OFFSET));
    assert_eq!(c.kind(), OpKind::Writev);
    assert_eq!(c.result(), Ok(total));
    assert_eq!(c.take_bufs().unwrap(), bufs, "buffers back in order");

    let data = std::fs::read(temp.path()).unwrap();
    assert_eq!(data.len(), OFFSET as usize + total);
    assert!(
        data[..OFFSET as usize].iter().all(|&b| b == 0),
        "hole before"
    );
    assert_eq!(data[OFFSET as usize..], bufs.concat());

    let read_bufs = vec![vec![0; 2048], vec![0; 3], vec![0; 4000]];
    let mut c = run_one(&mut ctx, Op::readv(file, read_bufs, OFFSET));
    assert_eq!(c.kind(), OpKind::Readv);
    assert_eq!(c.result(), Ok(total), "readv stops at end of file");
    let got = c.take_bufs().unwrap();
    assert_eq!(
        got.iter().map(Vec::len).collect::<Vec<_>>(),
        [2048, 3, 4000]
    );
    let flat = got.concat();
    assert_eq!(flat[..total], bufs.concat());
    assert!(
        flat[total..].iter().all(|&b| b == 0),
        "past the end untouched"
    );

    // An empty vector is a zero-length operation.
    let c = run_one(&mut ctx, Op::readv(file, Vec::new(), OFFSET));
    assert_eq!(c.result(), Ok(0));
}

/// The RWF flags of recent kernels, each asserted with what this run's kernel answers. An unknown
/// flag is `EOPNOTSUPP` at submit (`kiocb_set_rw_flags`); a known one may still be refused by
/// the file, so each expectation names the version and the reason:
/// - `RWF_NOSIGNAL` (6.18): a write to a pipe without readers answers `EPIPE` (no `SIGPIPE`);
///   before 6.18, `EOPNOTSUPP`;
/// - `RWF_ATOMIC` (6.11) on a memfd: `EOPNOTSUPP` on every kernel (shmem files cannot write
///   atomically; before 6.11 the flag is unknown);
/// - `RWF_DONTCACHE` (6.14) on a memfd: `EOPNOTSUPP` on every kernel (shmem has no
///   `FOP_DONTCACHE`; before 6.14 the flag is unknown).
fn recent_rw_flags_by_kernel_version() {
    const TEST: &str = "recent_rw_flags_by_kernel_version";
    let Some(mut ctx) = context_or_skip(TEST, Context::builder().depth(4)) else {
        return;
    };
    let version = common::kernel_version().expect("the kernel's version");
    let no_flags = common::emulated_without_rwf_calls();
    let expect = |since: (u32, u32), known: Result<usize, Errno>| {
        if no_flags {
            Err(Errno::OPNOTSUPP)
        } else if version >= since {
            known
        } else {
            Err(Errno::OPNOTSUPP)
        }
    };

    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    drop(reader);
    let c = run_one(
        &mut ctx,
        Op::write(File::from(writer), b"x".to_vec(), 0).flags(RwFlags::NOSIGNAL),
    );
    assert_eq!(
        c.result(),
        expect((6, 18), Err(Errno::PIPE)),
        "RWF_NOSIGNAL (6.18) on a pipe without readers, kernel {version:?}"
    );

    let memfd = rustix::fs::memfd_create("aio-rw-flags", rustix::fs::MemfdFlags::CLOEXEC)
        .expect("memfd_create");
    let memfd = ctx.register(File::from(memfd)).unwrap();
    for (flag, name, since) in [
        (RwFlags::ATOMIC, "RWF_ATOMIC", (6, 11)),
        (RwFlags::DONTCACHE, "RWF_DONTCACHE", (6, 14)),
    ] {
        let c = run_one(&mut ctx, Op::write(memfd, vec![b'a'; 512], 0).flags(flag));
        assert_eq!(
            c.result(),
            expect(since, Err(Errno::OPNOTSUPP)),
            "{name} ({}.{}) on a memfd, kernel {version:?}",
            since.0,
            since.1
        );
    }
    let c = run_one(&mut ctx, Op::write(memfd, b"plain".to_vec(), 0));
    assert_eq!(c.result(), Ok(5), "the same write without a flag");
}
