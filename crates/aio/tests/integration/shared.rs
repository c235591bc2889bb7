//! `aio::rt::SharedContext`: many threads starting operations on one context while whichever
//! waits collects for all, on both backends.

use crate::support;

use aio::rt::SharedContext;
use aio::{Context, Error, Op, PollFlags};
use std::sync::Arc;
use std::time::Duration;
use support::{
    backend, expect_enosys, in_child, lower_open_file_limit, on_kernel, temp_file, variant_path,
};

support::each_backend!(
    threads_write_and_read_back,
    dropped_tickets_lose_nothing,
    ticket_timeout_and_poll,
    backlogged_operation_enters_a_freed_slot_and_is_submitted,
    a_blocked_read_leaves_the_other_threads_free,
    polls_beyond_the_open_file_limit_all_complete,
    a_panicking_buffer_panics_its_waiter_and_nothing_hangs,
    polls_of_more_descriptors_than_the_open_file_limit_all_complete,
    a_write_started_behind_another_operation_is_not_left_behind,
    a_slot_freed_while_a_submitter_is_blocked_is_used,
);

fn shared(test: &str, builder: aio::Builder) -> Option<SharedContext> {
    shared_of(test, builder)
}

fn shared_of<B: aio::IoBuf + Send>(test: &str, builder: aio::Builder) -> Option<SharedContext<B>> {
    match SharedContext::new(builder.buffers().backend(backend())) {
        Ok(ctx) => Some(ctx),
        Err(Error::Unsupported { call }) if on_kernel() && expect_enosys() => {
            assert_eq!(call, "io_setup");
            println!("ENOSYS path: {test} got Error::Unsupported as expected");
            None
        }
        Err(e) => panic!("{test} ({:?}): SharedContext::new: {e}", backend()),
    }
}

/// 8 threads × 250 writes then reads of their own blocks through a depth-8 context: every
/// completion reaches the thread that started it, with its own `user_data` and data.
fn threads_write_and_read_back() {
    let Some(ctx) = shared("threads", Context::builder().depth(8)) else {
        return;
    };
    let file = ctx.register(temp_file("shared-threads")).unwrap();
    const THREADS: u64 = 8;
    const BLOCKS: u64 = 250;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                for b in 0..BLOCKS {
                    let offset = (b * THREADS + t) * 64;
                    let tag = t << 32 | b;
                    let op = Op::write(file, vec![(t * 16 + b) as u8; 64], offset).user_data(tag);
                    let done = ctx.start(op).unwrap().wait().unwrap();
                    assert_eq!((done.result(), done.user_data()), (Ok(64), tag));
                }
                for b in 0..BLOCKS {
                    let offset = (b * THREADS + t) * 64;
                    let done = ctx
                        .start(Op::read(file, vec![0; 64], offset))
                        .unwrap()
                        .wait()
                        .unwrap();
                    assert_eq!(done.result(), Ok(64));
                    assert!(
                        done.into_buf()
                            .unwrap()
                            .iter()
                            .all(|&x| x == (t * 16 + b) as u8)
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(ctx.outstanding(), 0);
    assert_eq!(ctx.stats().submitted, 2 * THREADS * BLOCKS);
}

/// Tickets dropped unwaited: the operations still run to their end, then the context owns
/// nothing; a dropped poll ticket is cancelled.
fn dropped_tickets_lose_nothing() {
    let Some(ctx) = shared("dropped_tickets", Context::builder().depth(4)) else {
        return;
    };
    let file = Arc::new(temp_file("shared-dropped"));
    for b in 0..100u64 {
        let ticket = ctx
            .start(Op::write(file.clone(), vec![b as u8; 512], b * 512))
            .unwrap();
        drop(ticket);
    }
    let (reader, _writer) = rustix::pipe::pipe().unwrap();
    let reader = Arc::new(reader);
    drop(ctx.start(Op::poll(reader.clone(), PollFlags::IN)).unwrap());
    // Any wait drives the rest: a last read, waited for.
    let done = ctx
        .start(Op::read(file.clone(), vec![0; 512], 99 * 512))
        .unwrap()
        .wait()
        .unwrap();
    assert!(done.into_buf().unwrap().iter().all(|&x| x == 99));
    for _ in 0..1000 {
        if ctx.outstanding() == 0 {
            break;
        }
        ctx.submit().unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(ctx.outstanding(), 0, "abandoned operations still owned");
    assert_eq!(
        Arc::strong_count(&reader),
        1,
        "the dropped poll gave its share back"
    );
    let mut contents = Vec::new();
    std::io::Read::read_to_end(&mut &*file, &mut contents).unwrap();
    for b in 0..100 {
        assert!(
            contents[b * 512..][..512].iter().all(|&x| x == b as u8),
            "block {b}"
        );
    }
}

/// A poll ticket times out while the pipe is empty, stays valid, and completes once another
/// thread writes.
fn ticket_timeout_and_poll() {
    let Some(ctx) = shared("ticket_timeout", Context::builder().depth(4)) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let mut ticket = ctx
        .start(Op::poll(Arc::new(reader), PollFlags::IN))
        .unwrap();
    assert!(
        ticket
            .wait_timeout(Some(Duration::from_millis(20)))
            .unwrap()
            .is_none()
    );
    assert!(ticket.try_take().is_none());
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        rustix::io::write(&writer, b"x").unwrap();
        writer
    });
    let done = ticket.wait_timeout(None).unwrap().unwrap();
    assert!(done.poll_flags().contains(PollFlags::IN));
    assert!(matches!(
        ticket.wait_timeout(None),
        Err(Error::InvalidInput(_))
    ));
    drop(writer.join().unwrap());
}

/// Depth 1: a poll of an empty pipe takes the only slot, a read of `/dev/zero` waits in the
/// backlog. When another thread writes the pipe, the poll's collection frees the slot and
/// moves the read into it: the read must then be submitted, not left queued while its waiter
/// sleeps (it was, for good, before the fix).
fn backlogged_operation_enters_a_freed_slot_and_is_submitted() {
    let Some(ctx) = shared("backlog_freed_slot", Context::builder().depth(1)) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let poll = ctx
        .start(Op::poll(Arc::new(reader), PollFlags::IN))
        .unwrap();
    let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
    let mut read = ctx.start(Op::read(zero, vec![1; 64], 0)).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        rustix::io::write(&writer, b"x").unwrap();
        writer
    });
    let start = std::time::Instant::now();
    // (A wait that ends by its timeout submits once more on its way out: time it.)
    let done = read
        .wait_timeout(Some(Duration::from_secs(10)))
        .unwrap()
        .expect("the backlogged read completed");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the backlogged read was left queued in the freed slot for {:?}",
        start.elapsed()
    );
    assert_eq!(done.result(), Ok(64));
    assert_eq!(done.into_buf().unwrap(), vec![0; 64]);
    let polled = poll.wait().unwrap();
    assert!(polled.poll_flags().contains(PollFlags::IN));
    assert_eq!(ctx.outstanding(), 0);
    drop(writer.join().unwrap());
}

/// Two threads block in reads of an empty pipe (inside `io_submit` on the kernel backend,
/// in `read(2)` on the emulated one); a third thread's write, which ends both, must still get
/// through: neither the driver's lock nor a limit on submitters may hold it back (the
/// emulated backend once ran the reads under the lock, and the kernel backend let only two
/// threads submit at a time).
fn a_blocked_read_leaves_the_other_threads_free() {
    let Some(ctx) = shared("blocked_read", Context::builder().depth(4)) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let reader = Arc::new(reader);
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (ctx, reader) = (ctx.clone(), reader.clone());
            std::thread::spawn(move || {
                let done = ctx
                    .start(Op::read(reader, vec![0; 1], 0))
                    .unwrap()
                    .wait()
                    .unwrap();
                assert_eq!(done.result(), Ok(1));
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (sent, wrote) = std::sync::mpsc::channel();
    let write = {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let done = ctx
                .start(Op::write(Arc::new(writer), b"xy".to_vec(), 0))
                .unwrap()
                .wait()
                .unwrap();
            sent.send(done.result()).unwrap();
        })
    };
    let result = wrote
        .recv_timeout(Duration::from_secs(10))
        .expect("the write got through while two reads were blocked");
    assert_eq!(result, Ok(2));
    write.join().unwrap();
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(ctx.outstanding(), 0);
}

/// A waiting ticket sleeps in one `ppoll(2)` on the emulated polls' descriptors, which refuses
/// more entries than the soft `RLIMIT_NOFILE` (`EINVAL`): with the limit at 64 (in a child
/// process), 1500 polls of one pipe (one entry) all complete when it is written.
fn polls_beyond_the_open_file_limit_all_complete() {
    if support::expect_enosys() {
        println!(
            "SKIPPED: polls_beyond_the_open_file_limit_all_complete: under qemu-user (qemu-user's own descriptors do not fit under a lowered RLIMIT_NOFILE); checked in the booted kernels"
        );
        return;
    }
    if !in_child(&variant_path(
        module_path!(),
        "polls_beyond_the_open_file_limit_all_complete",
    )) {
        return;
    }
    let Some(ctx) = shared("beyond_nofile", Context::builder().depth(1600)) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let reader = Arc::new(reader);
    lower_open_file_limit(64);
    let tickets: Vec<_> = (0..1500)
        .map(|_| ctx.start(Op::poll(reader.clone(), PollFlags::IN)).unwrap())
        .collect();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        rustix::io::write(&writer, b"x").unwrap();
        writer
    });
    for mut ticket in tickets {
        let done = ticket
            .wait_timeout(Some(Duration::from_secs(10)))
            .unwrap()
            .expect("completed");
        assert!(done.poll_flags().contains(PollFlags::IN));
    }
    drop(writer.join().unwrap());
}

/// A buffer's own code panics in the driver's hands: in `bytes_len` when a backlogged readv
/// enters a freed slot (on the thread that collects), and in `Drop` when a completion nobody
/// waits for is dropped. The first panic reaches the readv's ticket, not the thread that
/// happened to collect; nothing else is lost, and the context goes on.
fn a_panicking_buffer_panics_its_waiter_and_nothing_hangs() {
    if !support::panics_can_be_caught("a_panicking_buffer_panics_its_waiter_and_nothing_hangs") {
        return;
    }
    use support::{Panicky, panic_message};
    let Some(ctx) = shared_of::<Panicky>("panicking_buffer", Context::builder().depth(1)) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let poll = ctx
        .start(Op::poll(Arc::new(reader), PollFlags::IN))
        .unwrap();
    let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
    let mut bad = Panicky::new(16);
    bad.panic_in_len = true;
    let readv = ctx.start(Op::readv(zero.clone(), vec![bad], 0)).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        rustix::io::write(&writer, b"x").unwrap();
        writer
    });
    // This thread collects the poll's completion and so moves the readv into the freed slot:
    // the panic must wait for the readv's own waiter.
    assert!(poll.wait().unwrap().poll_flags().contains(PollFlags::IN));
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| readv.wait()));
    let message = waited.map(|_| ()).map_err(|p| panic_message(&*p));
    assert_eq!(message, Err("Panicky: panic in bytes_len".to_string()));
    drop(writer.join().unwrap());
    // A completion nobody waits for whose buffer panics in Drop.
    let mut dropper = Panicky::new(16);
    dropper.panic_in_drop = true;
    let drops = dropper.drops.clone();
    drop(ctx.start(Op::read(zero.clone(), dropper, 0)).unwrap());
    let done = ctx
        .start(Op::read(zero, Panicky::new(16), 0))
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(done.result(), Ok(16));
    for _ in 0..1000 {
        if ctx.outstanding() == 0 {
            break;
        }
        ctx.submit().unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(ctx.outstanding(), 0);
    // The completion nobody waits for is dropped just after the driver lets it go.
    let start = std::time::Instant::now();
    while drops.load(std::sync::atomic::Ordering::SeqCst) == 0
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// As [`polls_beyond_the_open_file_limit_all_complete`], with 100 distinct descriptors (100
/// pipes, opened before the limit is lowered to 64): they cannot share `ppoll` entries, so the
/// waiting thread sleeps on those that fit, for a bounded time, and every poll completes (a
/// waiting ticket once answered ppoll's EINVAL).
fn polls_of_more_descriptors_than_the_open_file_limit_all_complete() {
    if support::expect_enosys() {
        println!(
            "SKIPPED: polls_of_more_descriptors_than_the_open_file_limit_all_complete: under qemu-user (qemu-user's own descriptors do not fit under a lowered RLIMIT_NOFILE); checked in the booted kernels"
        );
        return;
    }
    if !in_child(&variant_path(
        module_path!(),
        "polls_of_more_descriptors_than_the_open_file_limit_all_complete",
    )) {
        return;
    }
    let Some(ctx) = shared("distinct_beyond_nofile", Context::builder().depth(128)) else {
        return;
    };
    let (readers, writers): (Vec<_>, Vec<_>) = (0..100)
        .map(|_| {
            let (reader, writer) = rustix::pipe::pipe().unwrap();
            (Arc::new(reader), writer)
        })
        .unzip();
    lower_open_file_limit(64);
    let tickets: Vec<_> = readers
        .iter()
        .map(|reader| ctx.start(Op::poll(reader.clone(), PollFlags::IN)).unwrap())
        .collect();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        for writer in &writers {
            rustix::io::write(writer, b"x").unwrap();
        }
        writers
    });
    for mut ticket in tickets {
        let done = ticket
            .wait_timeout(Some(Duration::from_secs(10)))
            .unwrap()
            .expect("completed");
        assert!(done.poll_flags().contains(PollFlags::IN));
    }
    drop(writer.join().unwrap());
    assert_eq!(ctx.outstanding(), 0);
}

/// A thread blocks in a read of an empty pipe; another starts a read of `/dev/zero` and then
/// the write that would end the first read, waits for its own read only, and drops the
/// write's ticket. The write must still run (the emulated backend once left it queued for a
/// thread that never came).
fn a_write_started_behind_another_operation_is_not_left_behind() {
    let Some(ctx) = shared("write_behind", Context::builder().depth(4)) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let (sent, read) = std::sync::mpsc::channel();
    {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let done = ctx
                .start(Op::read(Arc::new(reader), vec![0; 1], 0))
                .unwrap()
                .wait();
            sent.send(done.map(|d| d.result())).unwrap();
        });
    }
    std::thread::sleep(Duration::from_millis(100));
    let zero = ctx
        .start(Op::read(
            Arc::new(std::fs::File::open("/dev/zero").unwrap()),
            vec![1; 8],
            0,
        ))
        .unwrap();
    let write = ctx
        .start(Op::write(Arc::new(writer), b"w".to_vec(), 0))
        .unwrap();
    assert_eq!(zero.wait().unwrap().result(), Ok(8));
    drop(write);
    let done = read
        .recv_timeout(Duration::from_secs(10))
        .expect("the pipe's read ended: the write ran");
    assert_eq!(done, Ok(Ok(1)));
}

/// Depth 2: one thread blocks in a read of an empty pipe (inside `io_submit` on the kernel
/// backend), a poll of another pipe takes the other slot, and the write that would end the
/// read waits in the backlog, its thread asleep. When the poll completes, the write moves into
/// the freed slot and must be submitted although a submitter (the blocked reader) is at work.
fn a_slot_freed_while_a_submitter_is_blocked_is_used() {
    let Some(ctx) = shared("freed_while_blocked", Context::builder().depth(2)) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let (poll_r, poll_w) = rustix::pipe::pipe().unwrap();
    let (sent, read) = std::sync::mpsc::channel();
    {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let done = ctx
                .start(Op::read(Arc::new(reader), vec![0; 1], 0))
                .unwrap()
                .wait();
            sent.send(done.map(|d| d.result())).unwrap();
        });
    }
    std::thread::sleep(Duration::from_millis(100));
    let poll = ctx
        .start(Op::poll(Arc::new(poll_r), PollFlags::IN))
        .unwrap();
    let writing = {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let done = ctx
                .start(Op::write(Arc::new(writer), b"w".to_vec(), 0))
                .unwrap()
                .wait()
                .unwrap();
            assert_eq!(done.result(), Ok(1));
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    rustix::io::write(&poll_w, b"p").unwrap();
    let done = read
        .recv_timeout(Duration::from_secs(10))
        .expect("the pipe's read ended: the backlogged write was submitted");
    assert_eq!(done, Ok(Ok(1)));
    writing.join().unwrap();
    drop(poll);
}
