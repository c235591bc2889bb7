//! After libaio's harness case 12.t: a context used across `fork`. In the child every call on
//! the parent's context fails in the kernel (`EINVAL`); the crate notices the fork first and
//! answers [`Error::Forked`] without touching the shared ring (which would steal the parent's
//! completions), and dropping the context in the child neither crashes nor destroys the
//! parent's context. The child can create a context of its own.
//!
//! `fork` needs a process with as few threads as possible and no one else's tests: the scenario
//! runs in a re-executed copy of this test binary, with one test thread.
//!
//! On both backends: the emulation detects the fork the same way. It has no kernel context (no
//! raw call to make on it), and it runs the buffered write inside `submit`, so that write's
//! completion is already in the context's memory at the fork: the child's copy may hand it back
//! (its own copy of the buffer), and the parent still gets it.

use crate::common;

use aio::{CancelOutcome, Context, Error, Op, OpKind, PollFlags, SignalSet};
use aio_sys::Errno as RawErrno;
use common::{TempFile, each_backend, on_kernel};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::null;
use std::time::Duration;

const TEST: &str = "fork_child_gets_forked_error";
const SCENARIO: &str = "fork";
const FIVE_SECONDS: Option<Duration> = Some(Duration::from_secs(5));

each_backend!(fork_child_gets_forked_error);

fn fork_child_gets_forked_error() {
    common::scenario_test(module_path!(), TEST, SCENARIO, fork_scenario);
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
    if on_kernel() {
        assert_eq!(
            ctx.completions().count(),
            0,
            "the parent's completions stay in the ring"
        );
    } else {
        // The write ran inside the parent's submit, before the fork: its completion was
        // already in the context's memory, of which the child has a copy. Handing that copy
        // back takes nothing from the parent (checked there); the poll, still pending, is not
        // checked in the child.
        let copied: Vec<_> = ctx.completions().collect();
        assert_eq!(copied.len(), 1, "the child's copy of the ready write");
        assert_eq!((copied[0].user_data(), copied[0].result()), (1, Ok(6)));
    }
    assert_eq!(Error::Forked.errno(), Some(aio::Errno::INVAL));
    match ctx.as_raw() {
        Some(raw) => {
            // The kernel's view: the parent's context does not exist in the child.
            // SAFETY: zero requests; the kernel looks the context up and fails before reading
            // anything.
            let raw = unsafe { aio_sys::io_submit(raw, 0, null()) };
            assert_eq!(raw, Err(RawErrno::INVAL), "raw io_submit in the child");
        }
        None => assert!(!on_kernel(), "only the emulation has no kernel context"),
    }
    drop(ctx);

    // A context of the child's own works.
    let mut own: Context = common::context_or_skip(TEST, Context::builder().depth(2))
        .expect("a new context in the child");
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
    let mut ctx: Context =
        common::context_or_skip(TEST, Context::builder().depth(8)).expect("context");
    let temp = TempFile::new("fork");
    let file = ctx.register(temp.create_rw()).expect("register");
    let (rx, tx) = rustix::pipe::pipe().expect("pipe");

    if on_kernel() {
        let raw = ctx.as_raw().expect("a kernel context");
        // SAFETY: zero requests on a live context of this process.
        let raw = unsafe { aio_sys::io_submit(raw, 0, null()) };
        assert_eq!(raw, Ok(0), "raw io_submit in the parent");
    } else {
        assert_eq!(ctx.as_raw(), None, "the emulation has no kernel context");
    }

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
    if on_kernel() {
        // The write's completion is in the ring, not yet reaped.
        assert_eq!((ctx.in_flight(), ctx.ready()), (2, 0));
    } else {
        // The write ran inside submit: ready since, and still here after the child.
        assert_eq!((ctx.in_flight(), ctx.ready()), (1, 1));
    }
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
