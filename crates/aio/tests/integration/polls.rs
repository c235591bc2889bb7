//! `Op::poll` on both backends, the emulation's `ppoll(2)` against the kernel's
//! `IOCB_CMD_POLL`: the polls `io_submit` refuses, and the polls that wait.

use crate::support;

use aio::{Context, Errno, Op, PollFlags};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{
    build_or_enosys, each_backend, in_child, lower_open_file_limit, on_kernel, temp_file,
    variant_path,
};

each_backend!(
    polls_that_could_never_complete_are_einval,
    a_procfs_poll_method_that_queues_no_wait_leaves_the_emulated_poll_pending,
    a_poll_ready_at_submit_reports_what_it_asked_for,
    a_woken_poll_reports_the_events_of_the_wake_up,
    polls_beyond_the_open_file_limit_all_complete
);

fn context(test: &str, depth: u32) -> Option<Context> {
    build_or_enosys(test, Context::builder().depth(depth))
}

/// A file without a poll method (a regular file, a directory, `/dev/null`) is always ready
/// for reading and writing and never anything else (`DEFAULT_POLLMASK`), and the kernel
/// queues no wait on it: `aio_poll` refuses a poll of it for none of `POLLIN`, `POLLOUT`,
/// `POLLRDNORM`, `POLLWRNORM` with `EINVAL` (it could never complete), and completes one that
/// asks for one of them at once. A file with a poll method keeps such a poll pending.
fn polls_that_could_never_complete_are_einval() {
    let Some(mut ctx) = context("never_ready", 16) else {
        return;
    };
    let file = Arc::new(temp_file("never-ready"));
    let dir = Arc::new(std::fs::File::open(env!("CARGO_TARGET_TMPDIR")).unwrap());
    let null = Arc::new(std::fs::File::open("/dev/null").unwrap());
    let (reader, _writer) = rustix::pipe::pipe().unwrap();
    let mounts = std::fs::File::open("/proc/self/mounts").unwrap();
    let refused = [
        Op::poll(file.clone(), PollFlags::empty()),
        Op::poll(file.clone(), PollFlags::PRI),
        Op::poll(file.clone(), PollFlags::RDHUP | PollFlags::RDBAND),
        Op::poll(dir.clone(), PollFlags::empty()),
        Op::poll(null.clone(), PollFlags::PRI),
    ];
    let n = refused.len() as u64;
    for (i, op) in refused.into_iter().enumerate() {
        ctx.push(op.user_data(i as u64)).unwrap();
    }
    ctx.push(Op::poll(file.clone(), PollFlags::IN | PollFlags::PRI).user_data(n))
        .unwrap();
    ctx.push(Op::poll(dir.clone(), PollFlags::OUT).user_data(n + 1))
        .unwrap();
    let pending = [
        ctx.push(Op::poll(reader, PollFlags::PRI)).unwrap(),
        ctx.push(Op::poll(mounts, PollFlags::empty())).unwrap(),
    ];
    ctx.submit().unwrap();
    assert_eq!(
        ctx.wait(n as usize + 2, Some(Duration::from_secs(5)))
            .unwrap(),
        n as usize + 2
    );
    let mut results: Vec<_> = ctx
        .completions()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    results.sort_by_key(|r| r.0);
    let mut expected: Vec<_> = (0..n).map(|i| (i, Err(Errno::INVAL))).collect();
    expected.push((n, Ok(PollFlags::IN.bits() as usize)));
    expected.push((n + 1, Ok(PollFlags::OUT.bits() as usize)));
    assert_eq!(results, expected);
    assert_eq!(
        ctx.in_flight(),
        2,
        "a pipe and /proc/self/mounts have a poll method"
    );
    for id in pending {
        ctx.cancel(id).unwrap();
    }
    assert_eq!(ctx.drain().unwrap().filter(|c| c.is_cancelled()).count(), 2);
}

/// A known difference, pinned: `/proc/meminfo` has a poll method (procfs's), which queues no
/// wait for want of a `proc_poll`, so the kernel refuses a poll of it for `POLLPRI` with
/// `EINVAL`, as for a file without one; `epoll_ctl` accepts it, so the emulation cannot tell,
/// and its poll stays pending (until cancelled).
fn a_procfs_poll_method_that_queues_no_wait_leaves_the_emulated_poll_pending() {
    let Some(mut ctx) = context("procfs_poll", 2) else {
        return;
    };
    let meminfo = std::fs::File::open("/proc/meminfo").unwrap();
    let id = ctx.push(Op::poll(meminfo, PollFlags::PRI)).unwrap();
    ctx.submit().unwrap();
    if on_kernel() {
        assert_eq!(ctx.wait(1, Some(Duration::from_secs(5))).unwrap(), 1);
        let done = ctx.completions().next().unwrap();
        assert_eq!(done.result(), Err(Errno::INVAL));
    } else {
        assert_eq!(ctx.wait(1, Some(Duration::from_millis(50))).unwrap(), 0);
        ctx.cancel(id).unwrap();
        let done = ctx.completions().next().unwrap();
        assert!(done.is_cancelled());
    }
}

/// Submits a poll of `fd` for `events`, then `wake` (nothing ready before it), and returns
/// the completion's result.
fn woken(
    ctx: &mut Context,
    fd: impl Into<aio::Fd>,
    events: PollFlags,
    wake: impl FnOnce(),
) -> Result<usize, Errno> {
    ctx.push(Op::poll(fd, events)).unwrap();
    ctx.submit().unwrap();
    assert_eq!(ctx.reap().unwrap(), 0, "not ready before the wake-up");
    wake();
    assert_eq!(ctx.wait(1, Some(Duration::from_secs(5))).unwrap(), 1);
    ctx.completions().next().unwrap().result()
}

fn mask(flags: PollFlags) -> Result<usize, Errno> {
    // `bits()` is u16 on some ABIs and i16 on others (s390x, powerpc64).
    Ok(usize::from(u16::from_ne_bytes(flags.bits().to_ne_bytes())))
}

/// A poll ready when `io_submit` looks completes with the events ready among those asked
/// for (`vfs_poll(...) & events`): `POLLIN` alone, though a pipe also says `POLLRDNORM`.
fn a_poll_ready_at_submit_reports_what_it_asked_for() {
    let Some(mut ctx) = context("ready_at_submit", 4) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    rustix::io::write(&writer, b"x").unwrap();
    ctx.push(Op::poll(reader, PollFlags::IN).user_data(1))
        .unwrap();
    ctx.push(Op::poll(writer, PollFlags::OUT).user_data(2))
        .unwrap();
    ctx.submit().unwrap();
    assert_eq!(ctx.wait(2, Some(Duration::from_secs(5))).unwrap(), 2);
    let mut results: Vec<_> = ctx
        .completions()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    results.sort_by_key(|r| r.0);
    assert_eq!(
        results,
        [(1, mask(PollFlags::IN)), (2, mask(PollFlags::OUT))]
    );
}

/// A poll the kernel completes later, from the wake-up, completes with the wake-up's events
/// (`aio_poll_wake`: the key, not masked by what was asked for): a pipe that data reaches says
/// `POLLIN | POLLRDNORM` (65), one that gets room `POLLOUT | POLLWRNORM` (260), an eventfd
/// `POLLIN` alone; a pipe whose writer goes says `POLLHUP`. The emulation reports the same
/// (it asks `ppoll` for `POLLRDNORM` with `POLLIN`, `POLLWRNORM` with `POLLOUT`). Known
/// difference: a socket's wake-up says `POLLPRI | POLLRDBAND` too (195 on Linux 6.18), which
/// the emulation cannot know.
fn a_woken_poll_reports_the_events_of_the_wake_up() {
    let Some(mut ctx) = context("woken", 4) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let result = woken(&mut ctx, reader, PollFlags::IN, || {
        rustix::io::write(&writer, b"x").unwrap();
    });
    assert_eq!(
        result,
        mask(PollFlags::IN | PollFlags::RDNORM),
        "pipe, data"
    );

    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let writer = Arc::new(writer);
    let full = vec![0; 1 << 20];
    rustix::fs::fcntl_setfl(&*writer, rustix::fs::OFlags::NONBLOCK).unwrap();
    while rustix::io::write(&*writer, &full).is_ok() {}
    let result = woken(&mut ctx, writer.clone(), PollFlags::OUT, || {
        let mut drained = vec![0; 1 << 20];
        rustix::io::read(&reader, &mut drained).unwrap();
    });
    assert_eq!(
        result,
        mask(PollFlags::OUT | PollFlags::WRNORM),
        "pipe, room"
    );

    let counter =
        Arc::new(rustix::event::eventfd(0, rustix::event::EventfdFlags::NONBLOCK).unwrap());
    let result = woken(&mut ctx, counter.clone(), PollFlags::IN, || {
        rustix::io::write(&*counter, &1u64.to_ne_bytes()).unwrap();
    });
    assert_eq!(result, mask(PollFlags::IN), "eventfd");

    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let result = woken(&mut ctx, reader, PollFlags::IN, || drop(writer));
    assert_eq!(result, mask(PollFlags::HUP), "pipe, writer gone");

    let (one, other) = std::os::unix::net::UnixStream::pair().unwrap();
    let result = woken(&mut ctx, one, PollFlags::IN, || {
        use std::io::Write;
        (&other).write_all(b"x").unwrap();
    });
    let data = PollFlags::IN | PollFlags::RDNORM;
    if on_kernel() {
        let flags = PollFlags::from_bits_retain(result.unwrap() as _);
        assert!(flags.contains(data), "socket: {flags:?}");
    } else {
        assert_eq!(result, mask(data), "socket");
    }
}

/// `ppoll(2)` refuses more entries than the soft `RLIMIT_NOFILE` (`EINVAL`); the kernel's
/// polls know no such limit. With the limit at 64 (in a child process): 1500 polls of one pipe
/// all complete when it is written, and so do polls of 100 different pipes, one written while
/// the context waits, then the others.
fn polls_beyond_the_open_file_limit_all_complete() {
    if support::expect_enosys() {
        println!(
            "SKIPPED: polls_beyond_the_open_file_limit_all_complete: under qemu-user (qemu-user's own descriptors do not fit under a lowered RLIMIT_NOFILE); checked in the booted kernels"
        );
        return;
    }
    const LIMIT: u64 = 64;
    if !in_child(&variant_path(
        module_path!(),
        "polls_beyond_the_open_file_limit_all_complete",
    )) {
        return;
    }
    let Some(mut ctx) = context("beyond_nofile", 1600) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let reader = Arc::new(reader);
    // Opened before the limit is lowered (it binds new descriptors, not those open).
    let pipes: Vec<_> = (0..100)
        .map(|_| {
            let (reader, writer) = rustix::pipe::pipe().unwrap();
            (Arc::new(reader), writer)
        })
        .collect();
    lower_open_file_limit(LIMIT);

    for i in 0..1500 {
        ctx.push(Op::poll(reader.clone(), PollFlags::IN).user_data(i))
            .unwrap();
    }
    ctx.submit().unwrap();
    assert_eq!(ctx.wait(1, Some(Duration::from_millis(20))).unwrap(), 0);
    rustix::io::write(&writer, b"x").unwrap();
    assert_eq!(ctx.wait(1500, Some(Duration::from_secs(10))).unwrap(), 1500);
    let done: Vec<_> = ctx.completions().collect();
    assert_eq!(done.len(), 1500);
    assert!(done.iter().all(|c| c.poll_flags().contains(PollFlags::IN)));
    drop(done);

    for (i, (reader, _)) in pipes.iter().enumerate() {
        ctx.push(Op::poll(reader.clone(), PollFlags::IN).user_data(i as u64))
            .unwrap();
    }
    ctx.submit().unwrap();
    assert_eq!(ctx.wait(1, Some(Duration::from_millis(20))).unwrap(), 0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            rustix::io::write(&pipes[99].1, b"x").unwrap();
        });
        assert_eq!(ctx.wait(1, Some(Duration::from_secs(10))).unwrap(), 1);
    });
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(ctx.completions().next().unwrap().user_data(), 99);
    for (_, writer) in &pipes[..99] {
        rustix::io::write(writer, b"x").unwrap();
    }
    assert_eq!(ctx.wait(99, Some(Duration::from_secs(10))).unwrap(), 99);
    assert_eq!(ctx.completions().count(), 99);
}
