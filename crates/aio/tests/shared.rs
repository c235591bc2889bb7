//! `aio::rt::SharedContext`: many threads starting operations on one context while whichever
//! waits collects for all, on both backends.

mod support;

use aio::rt::SharedContext;
use aio::{Context, Error, Op, PollFlags};
use std::sync::Arc;
use std::time::Duration;
use support::{backend, expect_enosys, in_child, lower_open_file_limit, on_kernel, temp_file};

support::each_backend!(
    threads_write_and_read_back,
    dropped_tickets_lose_nothing,
    ticket_timeout_and_poll,
    polls_beyond_the_open_file_limit_all_complete
);

fn shared(test: &str, builder: aio::Builder) -> Option<SharedContext> {
    match SharedContext::new(builder.backend(backend())) {
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

/// A waiting ticket sleeps in one `ppoll(2)` on the emulated polls' descriptors, which refuses
/// more entries than the soft `RLIMIT_NOFILE` (`EINVAL`): with the limit at 64 (in a child
/// process), 1500 polls of one pipe (one entry) all complete when it is written.
fn polls_beyond_the_open_file_limit_all_complete() {
    if !in_child("polls_beyond_the_open_file_limit_all_complete") {
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
