//! After libaio's harness case 12.t: a context used across `fork`. In the child every call on
//! the parent's context fails in the kernel (`EINVAL`); the crate notices the fork first and
//! answers [`Error::Forked`] without touching the shared ring (which would steal the parent's
//! completions), and dropping the context in the child neither crashes nor destroys the
//! parent's context. The child can create a context of its own.
//!
//! `fork` needs a process with as few threads as possible and no one else's tests: the scenario
//! runs in a re-executed copy of this test binary, with one test thread.

mod common;

use aio::{CancelOutcome, Context, Error, Op, OpKind, PollFlags, SignalSet};
use common::TempFile;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::null;
use std::time::Duration;

const TEST: &str = "fork_child_gets_forked_error";
const SCENARIO: &str = "fork";
const FIVE_SECONDS: Option<Duration> = Some(Duration::from_secs(5));

#[test]
fn fork_child_gets_forked_error() {
    common::scenario_test(TEST, SCENARIO, fork_scenario);
}

/// What the child checks; any panic makes it exit non-zero.
fn in_child(mut ctx: Context, poll: aio::OpId, temp: &TempFile) {
    assert_eq!(ctx.submit(), Err(Error::Forked), "submit");
    assert_eq!(
        ctx.wait(1, Some(Duration::ZERO)),
        Err(Error::Forked),
        "wait"
    );
    assert_eq!(
        ctx.wait_with_sigmask(1, Some(Duration::ZERO), &SignalSet::empty()),
        Err(Error::Forked),
        "wait_with_sigmask"
    );
    assert_eq!(ctx.reap(), Err(Error::Forked), "reap");
    assert_eq!(ctx.cancel(poll), Err(Error::Forked), "cancel");
    assert_eq!(
        ctx.completions().count(),
        0,
        "the parent's completions stay in the ring"
    );
    assert_eq!(Error::Forked.errno(), Some(aio::Errno::INVAL));
    // The kernel's view: the parent's context does not exist in the child.
    // SAFETY: zero requests; the kernel looks the context up and fails before reading anything.
    let raw = unsafe { aio_sys::io_submit(ctx.as_raw(), 0, null()) };
    assert_eq!(raw, Err(aio::Errno::INVAL), "raw io_submit in the child");
    drop(ctx);

    // A context of the child's own works.
    let mut own: Context = Context::new(2).expect("a new context in the child");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(temp.path())
        .expect("open in the child");
    own.push(Op::write(file, b"child".to_vec(), 100)).unwrap();
    assert_eq!(own.submit(), Ok(1));
    assert_eq!(own.wait(1, FIVE_SECONDS), Ok(1));
    let c = own.completions().next().unwrap();
    assert_eq!(c.result(), Ok(5));
}

fn fork_scenario() {
    let mut ctx: Context = Context::builder().depth(8).build().expect("context");
    let temp = TempFile::new("fork");
    let file = ctx.register(temp.create_rw()).expect("register");
    let (rx, tx) = rustix::pipe::pipe().expect("pipe");

    // SAFETY: zero requests on a live context of this process.
    let raw = unsafe { aio_sys::io_submit(ctx.as_raw(), 0, null()) };
    assert_eq!(raw, Ok(0), "raw io_submit in the parent");

    ctx.push(Op::write(file, b"parent".to_vec(), 0).user_data(1))
        .unwrap();
    let poll = ctx.push(Op::poll(rx, PollFlags::IN).user_data(2)).unwrap();
    assert_eq!(ctx.submit(), Ok(2));
    ctx.push(Op::write(file, b"later".to_vec(), 6).user_data(3))
        .unwrap();

    // SAFETY: fork in a process whose other thread (the test harness's main thread) only waits
    // for this one; the child runs the checks, which touch no lock another thread could hold
    // (the allocator's are reset across fork by the C library), and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let outcome = catch_unwind(AssertUnwindSafe(|| in_child(ctx, poll, &temp)));
        // SAFETY: ends the child at once, without running the parent's exit handlers or the
        // test harness.
        unsafe { libc::_exit(if outcome.is_ok() { 0 } else { 1 }) };
    }

    let mut status = 0;
    loop {
        // SAFETY: waits for the child just forked; `status` is writable.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        assert_eq!(
            std::io::Error::last_os_error().kind(),
            std::io::ErrorKind::Interrupted,
            "waitpid"
        );
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child failed (wait status {status:#x})"
    );

    // The parent's context is intact: nothing was stolen, the poll is still in flight.
    assert_eq!(ctx.in_flight(), 2);
    assert_eq!(ctx.wait(1, FIVE_SECONDS), Ok(1));
    let first: Vec<_> = ctx.completions().collect();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].user_data(), 1);
    assert_eq!(first[0].result(), Ok(6));

    rustix::io::write(&tx, b"!").unwrap();
    assert_eq!(ctx.submit(), Ok(1), "the write queued before the fork");
    assert_eq!(ctx.wait(2, FIVE_SECONDS), Ok(2));
    for c in ctx.completions() {
        match c.user_data() {
            2 => {
                assert_eq!(c.kind(), OpKind::Poll);
                assert!(c.poll_flags().contains(PollFlags::IN), "{c:?}");
            }
            3 => assert_eq!(c.result(), Ok(5)),
            other => panic!("unexpected completion {other}"),
        }
    }
    assert_eq!(ctx.cancel(poll), Ok(CancelOutcome::NotFound));
    let data = std::fs::read(temp.path()).unwrap();
    assert_eq!(&data[..11], b"parentlater");
    assert_eq!(&data[100..], b"child");
}
