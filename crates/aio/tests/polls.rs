//! `Op::poll` on both backends, the emulation's `ppoll(2)` against the kernel's
//! `IOCB_CMD_POLL`: the polls `io_submit` refuses, and the polls that wait.

mod support;

use aio::{Context, Errno, Op, PollFlags};
use std::sync::Arc;
use std::time::Duration;
use support::{build_or_enosys, each_backend, on_kernel, temp_file};

each_backend!(
    polls_that_could_never_complete_are_einval,
    a_procfs_poll_method_that_queues_no_wait_leaves_the_emulated_poll_pending
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
