//! `Context::cancel`, every outcome, on both backends (and both reaping modes of the kernel's).

use crate::support;

use aio::{CancelOutcome, Context, Errno, Op, PollFlags, Reap};
use std::time::Duration;
use support::{build_or_enosys, each_backend, temp_file};

each_backend!(
    cancel_pending_poll_completes_through_the_ring_with_res_0,
    cancel_before_submit_hands_back_ecanceled,
    completed_but_unreaped_write_is_not_cancellable,
    poll_that_fires_is_not_cancelled
);

fn contexts(test: &str) -> Vec<(Reap, Context)> {
    [Reap::Ring, Reap::Syscall]
        .into_iter()
        .filter_map(|reap| {
            Some((
                reap,
                build_or_enosys(test, Context::builder().depth(8).reap(reap))?,
            ))
        })
        .collect()
}

fn cancel_pending_poll_completes_through_the_ring_with_res_0() {
    for (reap, mut ctx) in contexts("cancel_pending_poll") {
        let (reader, _writer) = rustix::pipe::pipe().unwrap();
        let id = ctx
            .push(Op::poll(reader, PollFlags::IN).user_data(42))
            .unwrap();
        assert_eq!(ctx.submit().unwrap(), 1);
        assert_eq!(
            ctx.wait(0, Some(Duration::ZERO)).unwrap(),
            0,
            "{reap:?}: poll on an empty pipe must pend"
        );

        // Since Linux 3.12 io_cancel answers EINPROGRESS and the event comes through the ring;
        // the emulation answers the same and completes it at the next wait.
        assert_eq!(
            ctx.cancel(id).unwrap(),
            CancelOutcome::InProgress,
            "{reap:?}"
        );
        assert_eq!(
            ctx.wait(1, Some(Duration::from_secs(5))).unwrap(),
            1,
            "{reap:?}"
        );
        let done: Vec<_> = ctx.completions().collect();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].user_data(), 42);
        assert_eq!(
            done[0].raw_result(),
            0,
            "{reap:?}: a cancelled poll completes with res 0"
        );
        assert!(done[0].is_cancelled());
        assert!(done[0].poll_flags().is_empty());

        // The operation is gone: a second cancel finds nothing.
        assert_eq!(ctx.cancel(id).unwrap(), CancelOutcome::NotFound);
        assert_eq!(ctx.in_flight(), 0);
    }
}

fn cancel_before_submit_hands_back_ecanceled() {
    for (reap, mut ctx) in contexts("cancel_before_submit") {
        let file = temp_file("cancel_before_submit");
        let id = ctx
            .push(Op::read(file, vec![0; 16], 0).user_data(7))
            .unwrap();
        assert_eq!(
            ctx.cancel(id).unwrap(),
            CancelOutcome::Unsubmitted,
            "{reap:?}"
        );
        assert_eq!(ctx.queued(), 0);
        assert_eq!(ctx.submit().unwrap(), 0, "nothing left to submit");
        let mut done: Vec<_> = ctx.completions().collect();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].result(), Err(Errno::CANCELED));
        assert!(done[0].is_cancelled());
        assert_eq!(
            done[0].take_buf().unwrap().len(),
            16,
            "the buffer comes back"
        );
        assert_eq!(
            ctx.stats().submit_calls,
            0,
            "no system call for a local cancel"
        );
    }
}

fn completed_but_unreaped_write_is_not_cancellable() {
    for (reap, mut ctx) in contexts("completed_write_not_cancellable") {
        let file = temp_file("completed_write_not_cancellable");
        // Buffered writes complete inside io_submit: the kernel no longer has anything to cancel.
        let id = ctx
            .push(Op::write(file, b"hello".to_vec(), 0).user_data(1))
            .unwrap();
        assert_eq!(ctx.submit().unwrap(), 1);
        assert_eq!(
            ctx.cancel(id).unwrap(),
            CancelOutcome::NotCancellable,
            "{reap:?}"
        );
        ctx.wait(1, Some(Duration::from_secs(5))).unwrap();
        let done: Vec<_> = ctx.completions().collect();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].result(), Ok(5));
        assert!(!done[0].is_cancelled());
        assert_eq!(ctx.cancel(id).unwrap(), CancelOutcome::NotFound);
    }
}

fn poll_that_fires_is_not_cancelled() {
    for (reap, mut ctx) in contexts("poll_that_fires") {
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        ctx.push(Op::poll(reader, PollFlags::IN).user_data(9))
            .unwrap();
        ctx.submit().unwrap();
        assert_eq!(rustix::io::write(&writer, b"x").unwrap(), 1);
        assert_eq!(
            ctx.wait(1, Some(Duration::from_secs(5))).unwrap(),
            1,
            "{reap:?}"
        );
        let done: Vec<_> = ctx.completions().collect();
        assert!(
            done[0].poll_flags().contains(PollFlags::IN),
            "{reap:?}: {:?}",
            done[0]
        );
        assert!(!done[0].is_cancelled());
    }
}
