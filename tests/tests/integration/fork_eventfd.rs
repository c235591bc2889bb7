//! A context with an eventfd across `fork`: the eventfd is shared with the parent, so in the
//! child every call that would read or signal it answers [`Error::Forked`] (reading it would
//! reset the parent's counter and lose its wake-ups; a local completion would add a phantom
//! count), and the parent's counter equals exactly its own completions.
//!
//! Runs in a re-executed copy of this test binary with one test thread (see `common`), on both
//! backends: the emulation signals the same eventfd for the completions it makes.

use crate::common;

use aio::rt::SharedContext;
use aio::{CancelOutcome, Context, Error, Op, PollFlags};
use common::each_backend;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

const TEST: &str = "fork_child_cannot_touch_the_parents_eventfd";
const SCENARIO: &str = "fork-eventfd";

each_backend!(
    fork_child_cannot_touch_the_parents_eventfd,
    fork_child_cannot_use_the_parents_shared_context
);

fn fork_child_cannot_touch_the_parents_eventfd() {
    common::scenario_test(module_path!(), TEST, SCENARIO, scenario);
}

fn in_child(mut ctx: Context, queued: aio::OpId) {
    assert!(
        ctx.eventfd().is_none(),
        "no eventfd to register with epoll in the child"
    );
    assert_eq!(ctx.take_eventfd_count(), Err(Error::Forked), "eventfd read");
    assert_eq!(
        ctx.cancel(queued),
        Err(Error::Forked),
        "cancel of a queued op"
    );
    assert_eq!(ctx.drain().map(|d| d.count()), Err(Error::Forked), "drain");
    assert_eq!(ctx.submit(), Err(Error::Forked), "submit");
    assert_eq!(ctx.queued(), 1, "the queued op stays queued");
    drop(ctx);
}

fn scenario() {
    let mut ctx: Context =
        common::context_or_skip(TEST, Context::builder().depth(4).eventfd(true)).expect("context");
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    let reader = Arc::new(reader);
    // One kernel completion before the fork (the pipe has data), one poll pending, one queued.
    rustix::io::write(&writer, b"x").unwrap();
    ctx.push(Op::poll(reader.clone(), PollFlags::IN).user_data(1))
        .unwrap();
    assert_eq!(ctx.submit(), Ok(1));
    assert_eq!(ctx.wait(1, Some(Duration::from_secs(5))), Ok(1));
    let mut drained = [0u8; 1];
    rustix::io::read(&*reader, &mut drained).unwrap();
    ctx.push(Op::poll(reader.clone(), PollFlags::IN).user_data(2))
        .unwrap();
    assert_eq!(ctx.submit(), Ok(1));
    let queued = ctx
        .push(Op::poll(reader.clone(), PollFlags::IN).user_data(3))
        .unwrap();

    // SAFETY: fork in a process whose other thread (the test harness's main thread) only waits
    // for this one; the child touches no lock another thread could hold and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let outcome = catch_unwind(AssertUnwindSafe(|| in_child(ctx, queued)));
        // SAFETY: ends the child at once, without the parent's exit handlers or the harness.
        unsafe { libc::_exit(if outcome.is_ok() { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; `status` is writable.
    while unsafe { libc::waitpid(pid, &mut status, 0) } != pid {}
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child failed (wait status {status:#x})"
    );

    assert!(ctx.eventfd().is_some());
    // Exactly the parent's one completion so far: the child neither read nor added to it.
    assert_eq!(ctx.take_eventfd_count(), Ok(1), "after the child");
    assert_eq!(ctx.cancel(queued), Ok(CancelOutcome::Unsubmitted));
    rustix::io::write(&writer, b"y").unwrap();
    let done: Vec<_> = ctx.drain().unwrap().collect();
    assert_eq!(done.len(), 3);
    // The completion of poll 2 (the kernel's, or the emulation's cancelled one) plus the local
    // one of poll 3.
    let mut count = 0;
    for _ in 0..100 {
        count += ctx.take_eventfd_count().unwrap();
        if count >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(count, 2, "one count per completion of the parent's own");
}

const SHARED_TEST: &str = "fork_child_cannot_use_the_parents_shared_context";
const SHARED_SCENARIO: &str = "fork-shared";

/// A `SharedContext` across `fork`: in the child, starting an operation and waiting for one
/// started before the fork answer [`Error::Forked`] at once (the emulated backend's waiter
/// once slept on, and drained, the parent's eventfd); the parent's poll is unharmed.
fn fork_child_cannot_use_the_parents_shared_context() {
    common::scenario_test(
        module_path!(),
        SHARED_TEST,
        SHARED_SCENARIO,
        shared_scenario,
    );
}

fn shared_scenario() {
    let ctx: SharedContext =
        SharedContext::new(Context::builder().depth(4).backend(common::backend()))
            .expect("shared context");
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    let mut ticket = ctx
        .start(Op::poll(Arc::new(reader), PollFlags::IN))
        .unwrap();
    assert!(ticket.try_take().is_none(), "nothing written yet");
    // SAFETY: as in `scenario`: the other thread only waits; the child leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
            match ctx.start(Op::read(zero, vec![0; 8], 0)) {
                Err(refused) => assert_eq!(refused.error, Error::Forked, "start"),
                Ok(_) => panic!("start in the child was accepted"),
            }
            let waited = ticket.wait_timeout(Some(Duration::from_secs(5)));
            assert!(matches!(waited, Err(Error::Forked)), "wait: {waited:?}");
        }));
        // SAFETY: ends the child at once, without the parent's exit handlers or the harness.
        unsafe { libc::_exit(if outcome.is_ok() { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; `status` is writable.
    while unsafe { libc::waitpid(pid, &mut status, 0) } != pid {}
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child failed (wait status {status:#x})"
    );
    rustix::io::write(&writer, b"x").unwrap();
    let done = ticket
        .wait_timeout(Some(Duration::from_secs(5)))
        .unwrap()
        .expect("the parent's poll completed");
    assert!(done.poll_flags().contains(PollFlags::IN));
}
