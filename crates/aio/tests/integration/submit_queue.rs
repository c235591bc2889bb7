//! `Context::submit` as a queue: short counts, rejected operations and `EAGAIN` backpressure,
//! with every pushed operation completing exactly once; and the operations `io_submit` refuses,
//! refused by the emulation with the same errno.

use crate::support;

use aio::{Context, Errno, Op, PollFlags, Reap, RwFlags};
use std::collections::BTreeSet;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;
use support::{backend, build_or_enosys, each_backend, on_kernel, temp_file};

each_backend!(
    a_rejected_op_becomes_its_completion_and_the_rest_still_go,
    eagain_keeps_the_rest_queued_and_nothing_is_lost,
    offsets_beyond_i64_max_are_refused_with_einval,
    reads_of_a_directory_are_einval,
    more_than_1024_buffers_are_einval,
    streams_without_read_iter_or_write_iter_are_einval,
    procfs_files_without_read_iter_are_read_by_the_emulation
);

/// Submits everything queued (what `io_submit` refuses completes at once) and collects `n`
/// completions: `(user_data, result)`, sorted.
fn results(ctx: &mut Context, n: usize) -> Vec<(u64, Result<usize, Errno>)> {
    ctx.submit().unwrap();
    assert_eq!(ctx.queued(), 0);
    assert_eq!(ctx.wait(n, Some(Duration::from_secs(10))).unwrap(), n);
    let mut results: Vec<_> = ctx
        .completions()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    results.sort_by_key(|r| r.0);
    results
}

fn a_rejected_op_becomes_its_completion_and_the_rest_still_go() {
    for reap in [Reap::Ring, Reap::Syscall] {
        let Some(mut ctx) =
            build_or_enosys::<Vec<u8>>("rejected_op", Context::builder().depth(8).reap(reap))
        else {
            return;
        };
        let file = ctx
            .register(std::fs::File::open("/proc/self/exe").unwrap())
            .unwrap();
        // Reading a descriptor not open for reading is refused by io_submit itself (EBADF).
        let write_only = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        let bad = Op::read(write_only, vec![0; 16], 0).user_data(2);
        ctx.push(Op::read(file, vec![0; 16], 0).user_data(1))
            .unwrap();
        ctx.push(bad).unwrap();
        ctx.push(Op::read(file, vec![0; 16], 0).user_data(3))
            .unwrap();
        ctx.push(
            Op::read(file, vec![0; 16], 0)
                .flags(aio::RwFlags::from_bits_retain(1 << 30))
                .user_data(4),
        )
        .unwrap();
        ctx.push(Op::read(file, vec![0; 16], 0).user_data(5))
            .unwrap();

        if on_kernel() {
            // io_submit stops at each bad iocb (count 1, EBADF, 1, EOPNOTSUPP, then 1).
            assert_eq!(
                ctx.submit().unwrap(),
                3,
                "{reap:?}: the three good reads were accepted"
            );
            assert_eq!(ctx.stats().submit_calls, 5);
        } else {
            // The emulation accepts all five and runs them: pread answers EBADF and preadv2
            // EOPNOTSUPP, the same errors, in the completions.
            assert_eq!(ctx.submit().unwrap(), 5);
            assert_eq!(ctx.stats().submit_calls, 1);
            assert_eq!(ctx.stats().emulated, 5);
        }
        assert_eq!(ctx.queued(), 0);
        ctx.wait(5, Some(Duration::from_secs(5))).unwrap();
        let mut results: Vec<_> = ctx
            .completions()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        results.sort_by_key(|r| r.0);
        assert_eq!(
            results,
            [
                (1, Ok(16)),
                (2, Err(Errno::BADF)),
                (3, Ok(16)),
                (4, Err(Errno::OPNOTSUPP)),
                (5, Ok(16))
            ],
            "{reap:?}"
        );
    }
}

fn eagain_keeps_the_rest_queued_and_nothing_is_lost() {
    if !on_kernel() {
        // Kernel-only: EAGAIN comes from the kernel's ring, which the emulation does not have.
        return the_emulation_has_no_ring_to_fill();
    }
    // The kernel sizes even io_setup(1)'s ring to whole pages: 127 slots with 4 KiB pages, 2047
    // with 64 KiB (ppc64le). More polls than that, which cannot complete, must overflow it.
    let probe = Context::builder()
        .depth(1)
        .kernel_events(1)
        .reap(Reap::Ring);
    let Some(probe) = build_or_enosys::<Vec<u8>>("eagain_backpressure", probe) else {
        return;
    };
    let ring_slots = probe
        .ring_slots()
        .expect("a kernel ring readable in user space");
    drop(probe);
    let ops = ring_slots + 64;
    for reap in [Reap::Ring, Reap::Syscall] {
        let builder = Context::builder().depth(ops).kernel_events(1).reap(reap);
        let Some(mut ctx) = build_or_enosys::<Vec<u8>>("eagain_backpressure", builder) else {
            return;
        };
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        let reader = ctx.register(reader).unwrap();
        for i in 0..ops {
            ctx.push(Op::poll(reader, PollFlags::IN).user_data(u64::from(i)))
                .unwrap();
        }
        let accepted = ctx.submit().unwrap();
        assert!(
            accepted > 0 && accepted < ops as usize,
            "{reap:?}: accepted {accepted} of {ops}"
        );
        assert_eq!(
            ctx.queued(),
            ops as usize - accepted,
            "the rest stays queued"
        );
        assert_eq!(
            ctx.stats().local_completions,
            0,
            "EAGAIN is not an operation error"
        );

        // Make the pipe readable: every poll completes, and the queue drains as room appears.
        rustix::io::write(&writer, b"x").unwrap();
        let mut seen = BTreeSet::new();
        while seen.len() < ops as usize {
            ctx.submit().unwrap();
            ctx.wait(1, Some(Duration::from_secs(10))).unwrap();
            for c in ctx.completions() {
                assert!(c.poll_flags().contains(PollFlags::IN), "{c:?}");
                assert!(
                    seen.insert(c.user_data()),
                    "op {} completed twice",
                    c.user_data()
                );
            }
        }
        assert_eq!(ctx.queued() + ctx.in_flight() + ctx.ready(), 0);
    }
}

/// The emulated side of the EAGAIN test: no ring, so `kernel_events` does not bind and every
/// operation is accepted at once.
fn the_emulation_has_no_ring_to_fill() {
    let ops = 300;
    let builder = Context::builder().depth(ops).kernel_events(1);
    let mut ctx = build_or_enosys::<Vec<u8>>("eagain_backpressure", builder).unwrap();
    assert_eq!(ctx.ring_slots(), None);
    assert!(!ctx.reaps_from_ring());
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let reader = ctx.register(reader).unwrap();
    for i in 0..ops {
        ctx.push(Op::poll(reader, PollFlags::IN).user_data(u64::from(i)))
            .unwrap();
    }
    assert_eq!(ctx.submit().unwrap(), ops as usize);
    assert_eq!((ctx.queued(), ctx.in_flight()), (0, ops as usize));
    rustix::io::write(&writer, b"x").unwrap();
    assert_eq!(
        ctx.wait(ops as usize, Some(Duration::from_secs(10)))
            .unwrap(),
        ops as usize
    );
    let seen: BTreeSet<u64> = ctx.completions().map(|c| c.user_data()).collect();
    assert_eq!(seen.len(), ops as usize);
}

/// An offset above `i64::MAX` is negative as the kernel's `loff_t`: `io_submit` refuses the read
/// or write with `EINVAL` (`rw_verify_area`), with or without `RWF_*` flags, on a file and on a
/// pipe alike (a pipe has no position, but the check comes first). Nothing is read or written,
/// and the file position stays where it was: `preadv2`/`pwritev2` would take the offset -1 for
/// "at the file position".
fn offsets_beyond_i64_max_are_refused_with_einval() {
    let Some(mut ctx) = build_or_enosys::<Vec<u8>>("negative_offset", Context::builder().depth(64))
    else {
        return;
    };
    let file = temp_file("negative-offset");
    file.write_all_at(b"abcdefgh", 0).unwrap();
    // Shares the open file description, hence the file position.
    let view = file.try_clone().unwrap();
    let file = Arc::new(file);
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    rustix::io::write(&writer, b"pipe").unwrap();
    let (reader, writer) = (Arc::new(reader), Arc::new(writer));

    let mut tag = 0;
    // Tags of the operations that carry RWF_NOWAIT on a pipe.
    let mut nowait_on_a_pipe = Vec::new();
    let mut push = |op: Op<Vec<u8>>| {
        tag += 1;
        ctx.push(op.user_data(tag)).unwrap();
        tag
    };
    for offset in [u64::MAX, 1 << 63, (1 << 63) + 4096] {
        for flags in [RwFlags::empty(), RwFlags::HIPRI, RwFlags::DSYNC] {
            push(Op::read(file.clone(), vec![0; 4], offset).flags(flags));
            push(Op::write(file.clone(), b"XY".to_vec(), offset).flags(flags));
            push(Op::readv(file.clone(), vec![vec![0; 2]; 2], offset).flags(flags));
            push(Op::writev(file.clone(), vec![b"Z".to_vec(); 2], offset).flags(flags));
        }
    }
    for flags in [RwFlags::empty(), RwFlags::NOWAIT, RwFlags::HIPRI] {
        let read = push(Op::read(reader.clone(), vec![0; 4], u64::MAX).flags(flags));
        let write = push(Op::write(writer.clone(), b"x".to_vec(), u64::MAX).flags(flags));
        if flags == RwFlags::NOWAIT {
            nowait_on_a_pipe.extend([read, write]);
        }
    }
    // A descriptor not open for the direction is refused first, with EBADF.
    let write_only = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    push(Op::read(write_only, vec![0; 4], u64::MAX).flags(RwFlags::HIPRI));
    let n = tag as usize;
    let results = results(&mut ctx, n);
    for &(tag, result) in &results[..n - 1] {
        if on_kernel() && nowait_on_a_pipe.contains(&tag) && result == Err(Errno::OPNOTSUPP) {
            // Kernels whose pipes do not take RWF_NOWAIT (before 6.x; 6.12 takes it) refuse
            // the flag before they look at the offset: refused all the same.
            continue;
        }
        assert_eq!(result, Err(Errno::INVAL), "operation {tag}");
    }
    assert_eq!(
        results[n - 1].1,
        Err(Errno::BADF),
        "read of a write-only file"
    );
    let mut contents = [0; 16];
    assert_eq!(view.read_at(&mut contents, 0).unwrap(), 8);
    assert_eq!(&contents[..8], b"abcdefgh", "nothing written");
    assert_eq!(
        rustix::fs::seek(&view, rustix::fs::SeekFrom::Current(0)).unwrap(),
        0,
        "the file position did not move"
    );
    let mut left = [0; 8];
    assert_eq!(rustix::io::read(&*reader, &mut left).unwrap(), 4);
    assert_eq!(&left[..4], b"pipe", "nothing read or written on the pipe");
}

/// A directory has no `read_iter`: `io_submit` refuses a read of it with `EINVAL` (where
/// `read(2)` says `EISDIR`), whatever the length, the flags or the number of buffers.
fn reads_of_a_directory_are_einval() {
    if support::expect_enosys() {
        println!(
            "SKIPPED: reads_of_a_directory_are_einval: under qemu-user (qemu-user's preadv2 of a directory answers EISDIR, not the kernel's EINVAL); checked in the booted kernels"
        );
        return;
    }
    let Some(mut ctx) = build_or_enosys::<Vec<u8>>("directory", Context::builder().depth(8)) else {
        return;
    };
    let dir = Arc::new(std::fs::File::open(env!("CARGO_TARGET_TMPDIR")).unwrap());
    let ops = [
        Op::read(dir.clone(), vec![0; 64], 0),
        Op::read(dir.clone(), Vec::new(), 0),
        Op::read(dir.clone(), vec![0; 64], 0).flags(RwFlags::HIPRI),
        Op::readv(dir.clone(), vec![vec![0; 8]; 2], 0),
        Op::readv(dir.clone(), vec![vec![0; 8]], 0).flags(RwFlags::HIPRI),
    ];
    let n = ops.len();
    for (i, op) in ops.into_iter().enumerate() {
        ctx.push(op.user_data(i as u64)).unwrap();
    }
    for (tag, result) in results(&mut ctx, n) {
        assert_eq!(result, Err(Errno::INVAL), "operation {tag}");
    }
}

/// More buffers than `UIO_MAXIOV` (1024) in a readv or writev: `io_submit` refuses it with
/// `EINVAL` (after `EBADF` for a descriptor not open in that direction), as `Op::writev` says;
/// nothing is written. 1024 are fine.
fn more_than_1024_buffers_are_einval() {
    let Some(mut ctx) = build_or_enosys::<Vec<u8>>("uio_maxiov", Context::builder().depth(8))
    else {
        return;
    };
    let file = temp_file("uio-maxiov");
    let view = file.try_clone().unwrap();
    let file = Arc::new(file);
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let (reader, writer) = (Arc::new(reader), Arc::new(writer));
    let write_only = Arc::new(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap(),
    );
    let ops = [
        Op::writev(file.clone(), vec![b"w".to_vec(); 1025], 0),
        Op::writev(file.clone(), vec![b"w".to_vec(); 1025], 0).flags(RwFlags::DSYNC),
        Op::readv(file.clone(), vec![vec![0; 1]; 1025], 0),
        Op::writev(writer.clone(), vec![b"p".to_vec(); 1025], 0),
        Op::readv(reader.clone(), vec![vec![0; 1]; 1025], 0).flags(RwFlags::NOWAIT),
        Op::readv(write_only.clone(), vec![vec![0; 1]; 1025], 0),
        Op::writev(file.clone(), vec![b"w".to_vec(); 1024], 0),
    ];
    let n = ops.len();
    for (i, op) in ops.into_iter().enumerate() {
        ctx.push(op.user_data(i as u64)).unwrap();
    }
    let results = results(&mut ctx, n);
    for &(tag, result) in &results[..4] {
        assert_eq!(result, Err(Errno::INVAL), "operation {tag}");
    }
    // The refused writev left nothing in the pipe for the readv to find. (Kernels whose pipes
    // do not take RWF_NOWAIT refuse the flag first, with EOPNOTSUPP.)
    if !(on_kernel() && results[4].1 == Err(Errno::OPNOTSUPP)) {
        assert_eq!(results[4].1, Err(Errno::INVAL), "readv of the pipe");
    }
    assert_eq!(results[5].1, Err(Errno::BADF), "readv of a write-only file");
    assert_eq!(results[6].1, Ok(1024), "1024 buffers are fine");
    assert_eq!(
        view.metadata().unwrap().len(),
        1024,
        "only the last writev wrote"
    );
}

/// `aio_read` refuses a file without `read_iter` with `EINVAL` (`aio_write`: `write_iter`),
/// where `read(2)` and `write(2)` fall back on `read`/`write`: an inotify descriptor (which
/// keeps its event), an eventfd written to (whose counter stays 0). An eventfd has
/// `read_iter`: its read works.
fn streams_without_read_iter_or_write_iter_are_einval() {
    use rustix::fs::inotify;
    let Some(mut ctx) = build_or_enosys::<Vec<u8>>("no_iter", Context::builder().depth(8)) else {
        return;
    };
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "aio-no-iter-{:?}-{}",
        backend(),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let watcher = Arc::new(inotify::init(inotify::CreateFlags::NONBLOCK).unwrap());
    inotify::add_watch(&*watcher, &dir, inotify::WatchFlags::CREATE).unwrap();
    std::fs::File::create(dir.join("created")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let counter =
        Arc::new(rustix::event::eventfd(0, rustix::event::EventfdFlags::NONBLOCK).unwrap());
    let one = 1u64.to_ne_bytes().to_vec();
    let ops = [
        Op::read(watcher.clone(), vec![0; 4096], 0),
        Op::readv(watcher.clone(), vec![vec![0; 4096]], 0).flags(RwFlags::HIPRI),
        Op::write(counter.clone(), one.clone(), 0),
        Op::writev(counter.clone(), vec![one.clone()], 0).flags(RwFlags::HIPRI),
    ];
    let n = ops.len();
    for (i, op) in ops.into_iter().enumerate() {
        ctx.push(op.user_data(i as u64)).unwrap();
    }
    if !on_kernel() && !support::kernel_knows_noappend() {
        // Before Linux 6.9 the emulation cannot tell these streams (see
        // `kernel_knows_noappend`): it reads and writes them as read(2) and write(2) would.
        println!("no_iter (Emulated): not checked: this kernel has no RWF_NOAPPEND to probe with");
        drop(results(&mut ctx, n));
        return;
    }
    for (tag, result) in results(&mut ctx, n) {
        assert_eq!(result, Err(Errno::INVAL), "operation {tag}");
    }
    let mut events = vec![0; 4096];
    assert!(
        rustix::io::read(&*watcher, &mut events).unwrap() > 0,
        "the inotify event is still there"
    );
    let mut count = [0; 8];
    assert_eq!(
        rustix::io::read(&*counter, &mut count),
        Err(Errno::AGAIN),
        "nothing was added to the eventfd's counter"
    );
    rustix::io::write(&*counter, &one).unwrap();
    ctx.push(Op::read(counter.clone(), vec![0; 8], 0).user_data(9))
        .unwrap();
    let read = results(&mut ctx, 1);
    assert_eq!(read, [(9, Ok(8))], "an eventfd's read_iter");
}

/// A known difference, pinned: a procfs file whose entry has no `read_iter`
/// (`/proc/self/status`, measured on Linux 6.18) is refused by `io_submit` with `EINVAL`, but
/// read by the emulation, which would need one more system call per operation on every file to
/// tell (see `Backend::Emulated`). One with `read_iter` (`/proc/meminfo`) is read by both.
fn procfs_files_without_read_iter_are_read_by_the_emulation() {
    let Some(mut ctx) = build_or_enosys::<Vec<u8>>("procfs", Context::builder().depth(8)) else {
        return;
    };
    let status = std::fs::File::open("/proc/self/status").unwrap();
    let meminfo = std::fs::File::open("/proc/meminfo").unwrap();
    ctx.push(Op::read(status, vec![0; 64], 0).user_data(0))
        .unwrap();
    ctx.push(Op::read(meminfo, vec![0; 64], 0).user_data(1))
        .unwrap();
    let results = results(&mut ctx, 2);
    let status = if on_kernel() {
        Err(Errno::INVAL)
    } else {
        Ok(64)
    };
    assert_eq!(results, [(0, status), (1, Ok(64))]);
}
