//! The async handle (`aio::rt::tokio`) on a multi-thread runtime, every test under a timeout,
//! on both backends.
#![cfg(feature = "tokio")]

use crate::support;

use aio::rt::tokio::Handle;
use aio::{AlignedBuf, Backend, Context, Error, IoBuf, IoBufMut, Op, PollFlags};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{backend, expect_enosys, on_kernel, temp_file};

support::each_backend!(
    concurrent_verified_reads_and_writes,
    concurrent_direct_reads_and_writes,
    dropped_futures_keep_buffers_and_lose_nothing,
    poll_woken_by_pipe_write,
    dropped_poll_is_cancelled,
    backpressure_beyond_the_kernel_ring,
    cold_buffered_read_does_not_block_the_worker,
    refused_operations_give_their_buffers_back,
    dropping_the_last_handle_releases_the_context,
    quiet_reads_then_queued_reads_on_one_handle,
    backlogged_operation_enters_a_freed_slot,
    quiet_operation_left_by_the_helper_is_watched,
    a_panicking_buffer_panics_its_task_and_the_driver_lives,
    pooled_blocks_come_back_from_every_path,
);

/// Runs `test` on a two-worker multi-thread runtime under a 120 s timeout.
pub(crate) fn run<F: std::future::Future<Output = ()>>(name: &str, test: F) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if tokio::time::timeout(Duration::from_secs(120), test)
            .await
            .is_err()
        {
            panic!("{name} ({:?}): did not finish within 120 s", backend());
        }
    });
}

/// A handle on the test's backend, or `None` after proving the ENOSYS path (qemu-user).
pub(crate) fn handle<B: IoBuf + Send>(test: &str, builder: aio::Builder) -> Option<Handle<B>> {
    match Handle::new(builder.buffers().backend(backend())) {
        Ok(handle) => {
            assert_eq!(handle.backend(), backend());
            Some(handle)
        }
        Err(Error::Unsupported { call }) if on_kernel() && expect_enosys() => {
            assert_eq!(call, "io_setup");
            println!("ENOSYS path: {test} got Error::Unsupported as expected");
            None
        }
        Err(e) => panic!("{test} ({:?}): Handle::new: {e}", backend()),
    }
}

/// Waits until the handle owns nothing any more (abandoned operations completed).
async fn settled<B: IoBuf + Send>(aio: &Handle<B>, what: &str) {
    let start = Instant::now();
    while aio.outstanding() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: {} operations still owned after 30 s",
            aio.outstanding()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn pattern(task: u64, block: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (task * 31 + block * 7 + i as u64) as u8)
        .collect()
}

/// 64 tasks, each writing then reading back 40 blocks of its own on one buffered file: 5120
/// operations through a context of depth 16 (most wait in the backlog).
fn concurrent_verified_reads_and_writes() {
    run("concurrent_verified_reads_and_writes", async {
        let Some(aio) = handle::<Vec<u8>>("concurrent", Context::builder().depth(16)) else {
            return;
        };
        let file = aio.register(temp_file("async-concurrent")).unwrap();
        const TASKS: u64 = 64;
        const BLOCKS: u64 = 40;
        const LEN: usize = 512;
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..TASKS {
            let aio = aio.clone();
            tasks.spawn(async move {
                let offset = |block: u64| (block * TASKS + task) * LEN as u64;
                for block in 0..BLOCKS {
                    let (written, _) = aio
                        .write_at(file, pattern(task, block, LEN), offset(block))
                        .await;
                    assert_eq!(written.unwrap(), LEN);
                }
                for block in 0..BLOCKS {
                    let (read, buf) = aio.read_at(file, vec![0; LEN], offset(block)).await;
                    assert_eq!(read.unwrap(), LEN);
                    assert!(
                        buf == pattern(task, block, LEN),
                        "task {task} block {block}"
                    );
                }
                2 * BLOCKS
            });
        }
        let mut done = 0;
        while let Some(ops) = tasks.join_next().await {
            done += ops.unwrap();
        }
        assert_eq!(done, 2 * TASKS * BLOCKS);
        assert_eq!(aio.outstanding(), 0);
        let stats = aio.stats();
        // Every operation went to the kernel (or the emulation) exactly once: accepted, or
        // refused at submit (EOPNOTSUPP: a file system that cannot honour RWF_NOWAIT, such as
        // tmpfs before Linux 6.6), and then run on a blocking thread.
        assert_eq!(
            stats.submitted + stats.local_completions,
            2 * TASKS * BLOCKS,
            "{stats:?}"
        );
        println!("concurrent ({:?}): {stats:?}", backend());
    });
}

/// The same with O_DIRECT and aligned buffers: straight to the kernel, nothing offloaded.
fn concurrent_direct_reads_and_writes() {
    let Some(target) = support::direct_target("async_direct") else {
        return;
    };
    run("concurrent_direct_reads_and_writes", async move {
        let Some(aio) = handle::<AlignedBuf>("direct", Context::builder().depth(32)) else {
            return;
        };
        let (fd, _path) = target.open();
        let file = aio.register(fd).unwrap();
        const TASKS: u64 = 32;
        const BLOCKS: u64 = 32;
        const LEN: usize = 4096;
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..TASKS {
            let aio = aio.clone();
            tasks.spawn(async move {
                for block in 0..BLOCKS {
                    let offset = (block * TASKS + task) * LEN as u64;
                    let mut buf = AlignedBuf::new(LEN, LEN).unwrap();
                    buf.copy_from_slice(&pattern(task, block, LEN));
                    let (written, _) = aio.write_at(file, buf, offset).await;
                    assert_eq!(written.unwrap(), LEN);
                    let (read, buf) = aio
                        .read_at(file, AlignedBuf::new(LEN, LEN).unwrap(), offset)
                        .await;
                    assert_eq!(read.unwrap(), LEN);
                    assert!(buf[..] == pattern(task, block, LEN)[..]);
                }
            });
        }
        while let Some(result) = tasks.join_next().await {
            result.unwrap();
        }
        let stats = aio.stats();
        assert_eq!(aio.outstanding(), 0);
        if on_kernel() {
            assert_eq!(stats.offloaded, 0, "O_DIRECT goes to the kernel: {stats:?}");
        }
        println!("direct ({:?}): {stats:?}", backend());
    });
}

/// Page-cache reads complete inside `io_submit`: after a streak of them the driver submits
/// reads and writes without the eventfd (`Stats::unsignalled`). Then `O_DIRECT` reads that the
/// kernel queues (a block-based file system) are mixed in on the same handle: one that went
/// quiet is found by the driver without the eventfd, the eventfd comes back on, and every
/// read of both files completes exactly once with the right data.
fn quiet_reads_then_queued_reads_on_one_handle() {
    run("quiet_reads_then_queued_reads", async move {
        let Some(aio) = handle::<AlignedBuf>("quiet", Context::builder().depth(32)) else {
            return;
        };
        const LEN: usize = 4096;
        const BLOCKS: u64 = 64;
        let buffered = aio.register(temp_file("async-quiet")).unwrap();
        // On the target directory's file system (block-based on a development machine), not
        // tmpfs, which completes O_DIRECT reads inside io_submit too.
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "aio-async-quiet-direct-{:?}-{}",
            backend(),
            std::process::id()
        ));
        let direct = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
            .open(&path)
        {
            Ok(file) => {
                std::fs::remove_file(&path).unwrap();
                Some(aio.register(file).unwrap())
            }
            Err(e) => {
                println!(
                    "quiet: the mixed part is skipped: {} refuses O_DIRECT ({e})",
                    path.display()
                );
                None
            }
        };
        let block = |task: u64, i: u64| {
            let mut buf = AlignedBuf::new(LEN, LEN).unwrap();
            buf.copy_from_slice(&pattern(task, i, LEN));
            buf
        };
        for i in 0..BLOCKS {
            let (written, _) = aio.write_at(buffered, block(0, i), i * LEN as u64).await;
            assert_eq!(written.unwrap(), LEN);
            if let Some(direct) = direct {
                let (written, _) = aio.write_at(direct, block(1, i), i * LEN as u64).await;
                assert_eq!(written.unwrap(), LEN);
            }
        }
        let reads = |file, task: u64, rounds: u64| {
            let aio = aio.clone();
            async move {
                for r in 0..rounds {
                    let i = (r * 13 + task) % BLOCKS;
                    let buf = AlignedBuf::new(LEN, LEN).unwrap();
                    let (read, buf) = aio.read_at(file, buf, i * LEN as u64).await;
                    assert_eq!(read.unwrap(), LEN);
                    assert!(
                        buf[..] == pattern(task % 2, i, LEN)[..],
                        "file {task} block {i}"
                    );
                }
            }
        };
        // 32 tasks × 40 page-cache reads: well past the streak that turns quiet on.
        let before = aio.stats();
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..32 {
            tasks.spawn(reads(buffered, 2 * t, 40));
        }
        while let Some(result) = tasks.join_next().await {
            result.unwrap();
        }
        let quiet = aio.stats();
        println!("quiet ({:?}), page-cache reads: {quiet:?}", backend());
        if backend() == aio::Backend::Emulated {
            assert_eq!(quiet.unsignalled, 0, "no eventfd to spare: {quiet:?}");
        } else if quiet.local_completions > before.local_completions {
            println!(
                "quiet: not checked: the kernel refused RWF_NOWAIT on this file system \
                 (tmpfs before Linux 6.6), so the reads ran on blocking threads"
            );
        } else {
            assert!(
                quiet.unsignalled > 0,
                "page-cache reads went quiet: {quiet:?}"
            );
        }
        // Both files at once: the O_DIRECT reads may stay in flight past their io_submit.
        let Some(direct) = direct else {
            return;
        };
        for t in 0..16 {
            tasks.spawn(reads(buffered, 2 * t, 40));
            tasks.spawn(reads(direct, 2 * t + 1, 40));
        }
        while let Some(result) = tasks.join_next().await {
            result.unwrap();
        }
        assert_eq!(aio.outstanding(), 0);
        let mixed = aio.stats();
        println!(
            "quiet ({:?}), both files: {} of {} reads unsignalled",
            backend(),
            mixed.unsignalled - quiet.unsignalled,
            mixed.submitted - quiet.submitted
        );
    });
}

/// A buffer that counts its drops, to prove that nothing is freed twice or leaked.
struct Tracked {
    bytes: Vec<u8>,
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: the Vec's heap storage does not move with the struct.
unsafe impl IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.bytes.len()
    }
}

// SAFETY: as above; u8 takes any byte.
unsafe impl IoBufMut for Tracked {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut_ptr()
    }
}

/// Futures dropped after they started (by `timeout` and by `select!`): their writes still
/// land whole (the buffers were kept until the kernel was done), every buffer is dropped
/// exactly once, and the handle ends up owning nothing.
fn dropped_futures_keep_buffers_and_lose_nothing() {
    run("dropped_futures", async {
        let Some(aio) = handle::<Tracked>("dropped_futures", Context::builder().depth(8)) else {
            return;
        };
        let file = Arc::new(temp_file("async-dropped"));
        let drops = Arc::new(AtomicUsize::new(0));
        const OPS: u64 = 200;
        const LEN: usize = 4096;
        let tracked = |bytes| Tracked {
            bytes,
            drops: drops.clone(),
        };
        for op in 0..OPS {
            let write = aio.write_at(file.clone(), tracked(pattern(op, 1, LEN)), op * LEN as u64);
            if op % 2 == 0 {
                // Polled once (which starts it), then dropped.
                let _ = tokio::time::timeout(Duration::ZERO, write).await;
            } else {
                tokio::select! {
                    biased;
                    _ = write => {}
                    _ = std::future::ready(()) => {}
                }
            }
        }
        settled(&aio, "dropped writes").await;
        // The last completions' buffers are dropped just after their slots are freed, by the
        // thread that collected them.
        let start = Instant::now();
        while drops.load(Ordering::SeqCst) < OPS as usize
            && start.elapsed() < Duration::from_secs(10)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            drops.load(Ordering::SeqCst),
            OPS as usize,
            "one drop per buffer"
        );
        // Every write ran to its end with its buffer intact.
        for op in 0..OPS {
            let (read, buf) = aio
                .read_at(file.clone(), tracked(vec![0; LEN]), op * LEN as u64)
                .await;
            assert_eq!(read.unwrap(), LEN, "block {op}");
            assert!(
                buf.bytes == pattern(op, 1, LEN),
                "block {op} was not written whole"
            );
        }
        drop(aio);
        assert_eq!(drops.load(Ordering::SeqCst), 2 * OPS as usize);
    });
}

/// A `BufPool`'s blocks through the handle: awaited writes and reads, writes whose futures are
/// dropped mid-flight; every block is back in the pool once the handle owns nothing, and the
/// data read is what was written.
fn pooled_blocks_come_back_from_every_path() {
    run("pooled", async {
        let Some(aio) = handle::<aio::PooledBuf>("pooled", Context::builder().depth(8)) else {
            return;
        };
        const LEN: usize = 4096;
        const BLOCKS: u64 = 64;
        let pool = aio::BufPool::new(16, LEN, 4096).unwrap();
        let file = aio.register(temp_file("async-pooled")).unwrap();
        for op in 0..BLOCKS {
            let mut buf = pool
                .take()
                .expect("blocks are given back as operations end");
            buf.copy_from_slice(&pattern(op, 2, LEN));
            let write = aio.write_at(file, buf, op * LEN as u64);
            if op % 3 == 0 {
                // Started, then dropped: the context keeps the block until the write ends.
                let _ = tokio::time::timeout(Duration::ZERO, write).await;
                settled(&aio, "a dropped pooled write").await;
            } else {
                assert_eq!(write.await.0.unwrap(), LEN);
            }
        }
        settled(&aio, "pooled writes").await;
        assert_eq!(pool.available(), 16, "every block is back");
        let mut reads = tokio::task::JoinSet::new();
        for op in 0..BLOCKS {
            let (aio, pool) = (aio.clone(), pool.clone());
            reads.spawn(async move {
                let buf = loop {
                    match pool.take() {
                        Some(buf) => break buf,
                        None => tokio::task::yield_now().await,
                    }
                };
                let (read, buf) = aio.read_at(file, buf, op * LEN as u64).await;
                assert_eq!(read.unwrap(), LEN);
                assert!(*buf == *pattern(op, 2, LEN), "block {op}");
            });
        }
        while let Some(done) = reads.join_next().await {
            done.unwrap();
        }
        assert_eq!(pool.available(), 16, "every block is back after the reads");
    });
}

/// A poll future sleeps until another task writes the pipe.
fn poll_woken_by_pipe_write() {
    run("poll_woken_by_pipe_write", async {
        let Some(aio) = handle::<Vec<u8>>("poll_woken", Context::builder().depth(8)) else {
            return;
        };
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        let reader = Arc::new(reader);
        let poll = tokio::spawn(aio.poll_ready(reader.clone(), PollFlags::IN));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!poll.is_finished(), "the pipe is empty: the poll must pend");
        rustix::io::write(&writer, b"x").unwrap();
        let ready = poll.await.unwrap().unwrap();
        assert!(ready.contains(PollFlags::IN), "{ready:?}");
        // The data is still there for a read: the poll only watched.
        let (read, buf) = aio.read_at(reader, vec![0; 8], 0).await;
        assert_eq!(read.unwrap(), 1);
        assert_eq!(buf[0], b'x');
        assert_eq!(aio.outstanding(), 0);
    });
}

/// Dropped poll futures are cancelled in the kernel: on a pipe nobody ever writes, the handle
/// still ends up owning nothing.
fn dropped_poll_is_cancelled() {
    run("dropped_poll_is_cancelled", async {
        let Some(aio) = handle::<Vec<u8>>("dropped_poll", Context::builder().depth(64)) else {
            return;
        };
        let (reader, _writer) = rustix::pipe::pipe().unwrap();
        let reader = Arc::new(reader);
        for _ in 0..50 {
            let poll = aio.poll_ready(reader.clone(), PollFlags::IN);
            assert!(
                tokio::time::timeout(Duration::from_millis(1), poll)
                    .await
                    .is_err(),
                "nothing was written: the poll must not complete"
            );
        }
        settled(&aio, "dropped polls").await;
        // Only the handle holds the reader now: every poll gave its share back.
        assert_eq!(Arc::strong_count(&reader), 1);
    });
}

/// More polls in flight than the kernel's ring holds: `io_submit` answers EAGAIN beyond it,
/// and the rest wait for room; all complete once the pipe is written. Then 2000 reads through
/// a depth-8 context.
fn backpressure_beyond_the_kernel_ring() {
    run("backpressure", async {
        let builder = Context::builder().depth(8192).kernel_events(1);
        let Some(aio) = handle::<Vec<u8>>("backpressure", builder) else {
            return;
        };
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        let reader = Arc::new(reader);
        // The kernel rounds the ring up to whole pages (127 events with 4 KiB pages, 2047 with
        // 64 KiB, more with many CPUs): go 200 beyond it.
        let ring = aio.ring_slots().unwrap_or(200) as usize;
        let wanted = ring + 200;
        assert!(wanted <= 8192, "a ring of {ring} events");
        let mut polls = tokio::task::JoinSet::new();
        for _ in 0..wanted {
            polls.spawn(aio.poll_ready(reader.clone(), PollFlags::IN));
        }
        let start = Instant::now();
        while aio.outstanding() < wanted {
            assert!(start.elapsed() < Duration::from_secs(30));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let stats = aio.stats();
        if on_kernel() {
            assert!(
                stats.submitted < wanted as u64,
                "a ring of {ring} events took {wanted}: {stats:?}"
            );
        }
        rustix::io::write(&writer, b"x").unwrap();
        let mut woken = 0;
        while let Some(ready) = polls.join_next().await {
            assert!(ready.unwrap().unwrap().contains(PollFlags::IN));
            woken += 1;
        }
        assert_eq!(woken, wanted);
        println!("backpressure ({:?}): {:?}", backend(), aio.stats());

        let Some(small) = handle::<Vec<u8>>("backpressure", Context::builder().depth(8)) else {
            return;
        };
        let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
        let mut reads = tokio::task::JoinSet::new();
        for _ in 0..2000 {
            reads.spawn(small.read_at(zero.clone(), vec![1; 64], 0));
        }
        while let Some(done) = reads.join_next().await {
            let (read, buf) = done.unwrap();
            assert_eq!(read.unwrap(), 64);
            assert!(buf.iter().all(|&b| b == 0));
        }
        assert_eq!(small.outstanding(), 0);
    });
}

/// A buffered read of a file not in the page cache goes with `RWF_NOWAIT`, answers `EAGAIN`
/// and runs on a blocking thread: a timer task on the same single worker keeps ticking while
/// it is read.
fn cold_buffered_read_does_not_block_the_worker() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(aio) = handle::<Vec<u8>>("cold_read", Context::builder().depth(8)) else {
            return;
        };
        const LEN: usize = 16 << 20;
        let file = temp_file("async-cold");
        std::io::Write::write_all(&mut &file, &vec![5u8; LEN]).unwrap();
        rustix::fs::fsync(&file).unwrap();
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        let file = aio.register(file).unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(Duration::from_millis(1));
                loop {
                    interval.tick().await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        tokio::task::yield_now().await;
        let before = ticks.load(Ordering::SeqCst);
        let started = Instant::now();
        let (read, buf) = tokio::time::timeout(
            Duration::from_secs(60),
            aio.read_at(file, vec![0; LEN], 0),
        )
        .await
        .expect("the cold read did not finish in 60 s");
        let took = started.elapsed();
        let during = ticks.load(Ordering::SeqCst) - before;
        ticker.abort();
        assert_eq!(read.unwrap(), LEN);
        assert!(buf.iter().all(|&b| b == 5));
        let stats = aio.stats();
        println!(
            "cold_read ({:?}): {LEN} bytes in {took:?}, timer ticked {during} times meanwhile; {stats:?}",
            backend()
        );
        if stats.offloaded == 0 {
            // The read did not block: it was served from memory (tmpfs, or a file system that
            // ignores POSIX_FADV_DONTNEED), within io_submit.
            assert!(on_kernel());
            println!(
                "cold_read: the page cache kept the file (tmpfs?): RWF_NOWAIT read it at once, no offload needed"
            );
        } else if took > Duration::from_millis(20) {
            assert!(
                during > 0,
                "the timer task never ran during a {took:?} read on the only worker"
            );
        }
    });
}

/// An operation the context refuses (a `Fixed` of another context) comes back at once with
/// its buffer and `NotRegistered`.
fn refused_operations_give_their_buffers_back() {
    run("refused", async {
        let Some(aio) = handle::<Vec<u8>>("refused", Context::builder().depth(4)) else {
            return;
        };
        let Some(other) = handle::<Vec<u8>>("refused", Context::builder().depth(4)) else {
            return;
        };
        let foreign = other
            .register(std::fs::File::open("/dev/zero").unwrap())
            .unwrap();
        let (read, buf) = aio.read_at(foreign, vec![7; 16], 0).await;
        // As an io::Error: NotRegistered's errno, EBADF (`submit` below keeps the variant).
        let err = read.unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(aio::Errno::BADF.raw_os_error()),
            "{err}"
        );
        assert_eq!(buf, vec![7; 16]);
        match aio.submit(Op::read(foreign, vec![7; 16], 0)).await {
            Err(refused) => {
                assert_eq!(refused.error, Error::NotRegistered);
                // As it was given: the driver's RWF_NOWAIT is not left on it.
                assert_eq!(refused.op.rw_flags(), aio::RwFlags::empty());
                assert_eq!(refused.op.get_user_data(), 0);
            }
            Ok(done) => panic!("a foreign Fixed was accepted: {done:?}"),
        }
    });
}

/// When the last handle and future are gone, the context goes too (its registered files are
/// released), even with abandoned operations that were still in flight.
fn dropping_the_last_handle_releases_the_context() {
    run("dropping_the_last_handle", async {
        let Some(aio) = handle::<Vec<u8>>("last_handle", Context::builder().depth(8)) else {
            return;
        };
        let (reader, _writer) = rustix::pipe::pipe().unwrap();
        let reader = Arc::new(reader);
        let file = Arc::new(std::fs::File::open("/dev/zero").unwrap());
        aio.register(file.clone()).unwrap();
        let clone = aio.clone();
        let (read, _) = clone.read_at(file.clone(), vec![0; 8], 0).await;
        assert_eq!(read.unwrap(), 8);
        // A poll that never completes by itself, abandoned in flight.
        let poll = aio.poll_ready(reader.clone(), PollFlags::IN);
        assert!(
            tokio::time::timeout(Duration::from_millis(5), poll)
                .await
                .is_err()
        );
        drop((aio, clone));
        // A blocking thread of the runtime (the emulation's poll watcher, an offloaded read)
        // may hold the driver a moment longer.
        let start = Instant::now();
        while Arc::strong_count(&file) > 1 && start.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            Arc::strong_count(&file),
            1,
            "the context still holds the registered file"
        );
        assert_eq!(
            Arc::strong_count(&reader),
            1,
            "the abandoned poll still holds the pipe"
        );
    });
}

/// A read through a handle this function owns and drops: the future outlives it.
fn owned_read(
    aio: Handle<AlignedBuf>,
    file: Arc<std::fs::File>,
) -> impl std::future::Future<Output = (std::io::Result<usize>, AlignedBuf)> + Send + 'static {
    aio.read_at(file, AlignedBuf::new(512, 512).unwrap(), 0)
}

/// In a tokio runtime built without its IO driver, `Handle::new` answers an error that says
/// what to do, where tokio would panic.
#[test]
fn a_runtime_without_io_is_an_error_not_a_panic() {
    if !support::panics_can_be_caught("a_runtime_without_io_is_an_error_not_a_panic") {
        return;
    }
    let _shared = support::shared();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let built = runtime.block_on(async {
        Handle::<Vec<u8>>::new(Context::builder().backend(Backend::Emulated).depth(2))
    });
    match built {
        Err(Error::InvalidInput(why)) => assert!(why.contains("enable_io"), "{why}"),
        other => panic!("expected InvalidInput naming enable_io, got {other:?}"),
    }
}

/// The handle and its futures cross threads; a ticket's context too.
#[test]
fn handle_and_futures_are_send_and_sync() {
    let _shared = support::shared();
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send + 'static>(_: &T) {}
    run("send_sync", async {
        let Some(aio) = handle::<AlignedBuf>("send_sync", Context::builder().depth(2)) else {
            return;
        };
        send_sync(&aio);
        let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
        let read = aio.read_at(zero.clone(), AlignedBuf::new(512, 512).unwrap(), 0);
        send(&read);
        let (n, _) = read.await;
        assert_eq!(n.unwrap(), 512);
        let poll = aio.poll_ready(zero.clone(), PollFlags::IN);
        send(&poll);
        assert!(poll.await.unwrap().contains(PollFlags::IN));
        // The futures borrow nothing: a function that owns the handle returns one.
        let (n, buf) = owned_read(aio, zero).await;
        assert_eq!((n.unwrap(), buf.len()), (512, 512));
    });
    send_sync(
        &aio::rt::SharedContext::<Vec<u8>>::new(Context::builder().backend(Backend::Emulated))
            .unwrap(),
    );
}

/// Depth 1: a poll of an empty pipe takes the only slot and a read of `/dev/zero` waits in
/// the backlog. Once another thread writes the pipe, the poll resolves and the read, moved
/// into the freed slot, must be submitted and resolve too (it stayed queued for good before
/// the fix, with `outstanding() == 1`).
fn backlogged_operation_enters_a_freed_slot() {
    run("backlogged_operation", async {
        let Some(aio) = handle::<Vec<u8>>("backlogged", Context::builder().depth(1)) else {
            return;
        };
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        let poll = tokio::spawn(aio.poll_ready(Arc::new(reader), PollFlags::IN));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
        let read = tokio::spawn(aio.read_at(zero, vec![1; 64], 0));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            rustix::io::write(&writer, b"x").unwrap();
            writer
        });
        let ready = tokio::time::timeout(Duration::from_secs(5), poll)
            .await
            .expect("the poll resolved")
            .unwrap()
            .unwrap();
        assert!(ready.contains(PollFlags::IN));
        let (read, buf) = tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the backlogged read never resolved ({} outstanding)",
                    aio.outstanding()
                )
            })
            .unwrap();
        assert_eq!(read.unwrap(), 64);
        assert_eq!(buf, vec![0; 64]);
        assert_eq!(aio.outstanding(), 0);
        drop(writer.join().unwrap());
    });
}

/// Quiet submissions on (page-cache reads, which complete inside `io_submit`), then one
/// `O_DIRECT` read that stays in flight past its `io_submit`, started while the driver task
/// is busy (so the helper task may submit it), and then the load stops. Its completion does
/// not signal the eventfd: the driver task must still learn that it is in flight. Before the
/// fix the helper never told it, and the read did not resolve in about 1% of the runs; here
/// up to 2000 runs (10 s at most), each read given 2 s.
fn quiet_operation_left_by_the_helper_is_watched() {
    if !on_kernel() {
        println!("quiet helper: the emulated backend has no quiet submissions");
        return;
    }
    const LEN: usize = 4096;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("aio-quiet-helper-direct-{}", std::process::id()));
    std::fs::write(&path, [6; 16 * LEN]).unwrap();
    let direct = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(&path);
    std::fs::remove_file(&path).unwrap();
    let direct = match direct {
        Ok(file) => Arc::new(file),
        Err(e) => {
            println!(
                "quiet helper: skipped: {} refuses O_DIRECT ({e})",
                path.display()
            );
            return;
        }
    };
    let buffered = Arc::new(temp_file("async-quiet-helper"));
    std::os::unix::fs::FileExt::write_all_at(&*buffered, &[5; 16 * LEN], 0).unwrap();
    run("quiet_helper", async move {
        let started = Instant::now();
        let mut runs = 0;
        while runs < 2000 && started.elapsed() < Duration::from_secs(10) {
            runs += 1;
            let Some(aio) = handle::<AlignedBuf>("quiet_helper", Context::builder().depth(32))
            else {
                return;
            };
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut load = tokio::task::JoinSet::new();
            for t in 0..4u64 {
                let (aio, file, stop) = (aio.clone(), buffered.clone(), stop.clone());
                load.spawn(async move {
                    let mut i = t;
                    while !stop.load(Ordering::Relaxed) {
                        let buf = AlignedBuf::new(LEN, LEN).unwrap();
                        let (read, _) = aio.read_at(file.clone(), buf, (i % 16) * LEN as u64).await;
                        assert_eq!(read.unwrap(), LEN);
                        i += 4;
                    }
                });
            }
            let quiet = Instant::now();
            while aio.stats().unsignalled == 0 {
                if quiet.elapsed() > Duration::from_secs(2) {
                    // RWF_NOWAIT refused (tmpfs before 6.6): the reads are offloaded.
                    println!("quiet helper: skipped: the page-cache reads never went quiet");
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
                tokio::task::yield_now().await;
            }
            stop.store(true, Ordering::Relaxed);
            let read =
                tokio::spawn(aio.read_at(direct.clone(), AlignedBuf::new(LEN, LEN).unwrap(), 0));
            while let Some(result) = load.join_next().await {
                result.unwrap();
            }
            let (result, buf) = tokio::time::timeout(Duration::from_secs(2), read)
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "run {runs}: the O_DIRECT read did not resolve within 2 s once idle \
                         ({} outstanding, {:?})",
                        aio.outstanding(),
                        aio.stats()
                    )
                })
                .unwrap();
            assert_eq!(result.unwrap(), LEN);
            assert!(buf.iter().all(|&b| b == 6));
            // io_destroy waits for an RCU grace period: not on this task's time.
            drop(std::thread::spawn(move || drop(aio)));
        }
        println!("quiet helper: {runs} runs in {:?}", started.elapsed());
    });
}

/// A buffer's own code panics in the driver task's hands: in `bytes_len` when a backlogged
/// readv enters a freed slot, and in `Drop` when an abandoned completion is dropped. The first
/// panic reaches the task awaiting that readv; the driver task lives on (it once died, and
/// every later operation hung).
fn a_panicking_buffer_panics_its_task_and_the_driver_lives() {
    if !support::panics_can_be_caught("a_panicking_buffer_panics_its_task_and_the_driver_lives") {
        return;
    }
    use support::{Panicky, panic_message};
    run("panicking_buffer", async {
        let Some(aio) = handle::<Panicky>("panicking_buffer", Context::builder().depth(1)) else {
            return;
        };
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        let poll = tokio::spawn(aio.poll_ready(Arc::new(reader), PollFlags::IN));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
        let mut bad = Panicky::new(16);
        bad.panic_in_len = true;
        let readv = tokio::spawn(aio.readv_at(zero.clone(), vec![bad], 0));
        tokio::time::sleep(Duration::from_millis(20)).await;
        rustix::io::write(&writer, b"x").unwrap();
        let joined = tokio::time::timeout(Duration::from_secs(5), readv)
            .await
            .expect("the readv's task ended");
        let payload = joined.expect_err("the readv's task panicked").into_panic();
        assert_eq!(panic_message(&*payload), "Panicky: panic in bytes_len");
        let ready = tokio::time::timeout(Duration::from_secs(5), poll)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(ready.contains(PollFlags::IN));
        // An abandoned read (of a pipe, so it waits) whose buffer panics in Drop once the
        // write ends it, then a read that must still resolve.
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        let mut dropper = Panicky::new(16);
        dropper.panic_in_drop = true;
        let drops = dropper.drops.clone();
        let abandoned = aio.read_at(Arc::new(reader), dropper, 0);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), abandoned)
                .await
                .is_err(),
            "nothing was written yet"
        );
        rustix::io::write(&writer, b"y").unwrap();
        let (read, _) = tokio::time::timeout(
            Duration::from_secs(5),
            aio.read_at(zero, Panicky::new(16), 0),
        )
        .await
        .expect("the driver task still runs");
        assert_eq!(read.unwrap(), 16);
        settled(&aio, "panicking buffers").await;
        // The completion nobody waits for is dropped just after the driver lets it go.
        let start = Instant::now();
        while drops.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// The runtime a handle was made in shuts down while a poll future, started there, is held
/// outside it: the future still resolves (polled on another runtime) once the pipe is
/// written, and a new operation answers an error that says why, instead of never resolving.
#[test]
fn a_handle_outliving_its_runtime_resolves_and_refuses() {
    let _shared = support::shared();
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let Some(aio) = first.block_on(async { handle::<Vec<u8>>("outliving", Context::builder()) })
    else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let mut poll = Box::pin(aio.poll_ready(Arc::new(reader), PollFlags::IN));
    first.block_on(async {
        assert!(
            tokio::time::timeout(Duration::from_millis(20), &mut poll)
                .await
                .is_err(),
            "nothing written yet"
        );
    });
    drop(first);
    rustix::io::write(&writer, b"x").unwrap();
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        let ready = tokio::time::timeout(Duration::from_secs(5), &mut poll)
            .await
            .expect("the poll resolved after its runtime shut down")
            .unwrap();
        assert!(ready.contains(PollFlags::IN));
        let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
        let (read, buf) =
            tokio::time::timeout(Duration::from_secs(5), aio.read_at(zero, vec![1; 8], 0))
                .await
                .expect("a new operation answered at once");
        let err = read.unwrap_err();
        assert!(err.to_string().contains("has shut down"), "{err}");
        assert_eq!(buf, vec![1; 8]);
        assert_eq!(aio.outstanding(), 0);
    });
}
