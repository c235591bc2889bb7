//! After libaio's harness case 16.t: a context built with an eventfd signals it once per
//! completion, so the eventfd's count equals the completions and it polls readable exactly
//! when completions are waiting.
//!
//! On both backends. The emulation writes the eventfd for each completion it makes: at submit
//! for reads, writes and refused operations, and for a poll when a reap or wait finds it
//! ready (it has no thread of its own to notice the descriptor meanwhile).

use crate::common;

use aio::{Context, Errno, Op, PollFlags};
use common::{TempFile, context_or_skip, each_backend, on_kernel};
use rustix::event::{PollFd, Timespec, poll};
use rustix::fd::BorrowedFd;
use std::time::Duration;

each_backend!(
    eventfd_count_equals_completions,
    eventfd_signals_asynchronous_completion,
    eventfd_signals_local_completions,
    no_eventfd_unless_asked,
);

const FIVE_SECONDS: Option<Duration> = Some(Duration::from_secs(5));

/// Whether `fd` polls readable within `timeout_ms`.
fn readable(fd: BorrowedFd<'_>, timeout_ms: i64) -> bool {
    let timeout = Timespec {
        tv_sec: timeout_ms / 1000,
        tv_nsec: (timeout_ms % 1000) * 1_000_000,
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let n = poll(&mut fds, Some(&timeout)).expect("poll(eventfd)");
    n == 1 && fds[0].revents().contains(PollFlags::IN)
}

fn eventfd_count_equals_completions() {
    let Some(mut ctx) = context_or_skip::<Vec<u8>>(
        "eventfd_count_equals_completions",
        Context::builder().depth(16).eventfd(true),
    ) else {
        return;
    };
    const N: usize = 8;
    const SIZE: usize = 64 * 1024;
    let temp = TempFile::new("eventfd");
    let file = ctx.register(temp.create_rw()).unwrap();
    let efd = ctx
        .eventfd()
        .expect("an eventfd")
        .try_clone_to_owned()
        .unwrap();
    assert!(!readable(efd.as_fd_ref(), 0), "nothing signalled yet");
    assert_eq!(ctx.take_eventfd_count(), Ok(0));

    // Writes.
    for i in 0..N {
        ctx.push(Op::write(file, vec![i as u8; SIZE], (i * SIZE) as u64).user_data(i as u64))
            .unwrap();
    }
    assert_eq!(ctx.submit(), Ok(N));
    assert!(
        readable(efd.as_fd_ref(), 5000),
        "eventfd readable after the writes"
    );
    assert_eq!(ctx.take_eventfd_count(), Ok(N as u64));
    assert!(!readable(efd.as_fd_ref(), 0), "count reset by the read");
    assert_eq!(ctx.take_eventfd_count(), Ok(0));
    // The completions are there without waiting.
    assert_eq!(ctx.reap(), Ok(N));
    for c in ctx.completions() {
        assert_eq!(c.result(), Ok(SIZE), "write {}", c.user_data());
    }

    // Reads.
    for i in 0..N {
        ctx.push(Op::read(file, vec![0xff; SIZE], (i * SIZE) as u64).user_data(i as u64))
            .unwrap();
    }
    assert_eq!(ctx.submit(), Ok(N));
    assert!(
        readable(efd.as_fd_ref(), 5000),
        "eventfd readable after the reads"
    );
    assert_eq!(ctx.take_eventfd_count(), Ok(N as u64));
    assert_eq!(ctx.wait(N, FIVE_SECONDS), Ok(N));
    let mut seen = 0;
    for c in ctx.completions() {
        let i = c.user_data() as usize;
        assert_eq!(c.result(), Ok(SIZE), "read {i}");
        assert!(
            c.into_buf().unwrap().iter().all(|&b| b == i as u8),
            "data {i}"
        );
        seen += 1;
    }
    assert_eq!(seen, N);
    assert_eq!(ctx.take_eventfd_count(), Ok(0));
}

/// A poll completes asynchronously: the eventfd stays quiet until the pipe has data.
fn eventfd_signals_asynchronous_completion() {
    let Some(mut ctx) = context_or_skip::<Vec<u8>>(
        "eventfd_signals_asynchronous_completion",
        Context::builder().depth(4).eventfd(true),
    ) else {
        return;
    };
    let (rx, tx) = rustix::pipe::pipe().unwrap();
    let efd = ctx.eventfd().unwrap().try_clone_to_owned().unwrap();
    ctx.push(Op::poll(rx, PollFlags::IN).user_data(9)).unwrap();
    assert_eq!(ctx.submit(), Ok(1));
    assert!(
        !readable(efd.as_fd_ref(), 50),
        "no completion while the pipe is empty"
    );
    assert_eq!(ctx.take_eventfd_count(), Ok(0));
    assert_eq!(ctx.reap(), Ok(0));

    rustix::io::write(&tx, b"x").unwrap();
    if on_kernel() {
        assert!(
            readable(efd.as_fd_ref(), 5000),
            "eventfd readable once the pipe is"
        );
        assert_eq!(ctx.take_eventfd_count(), Ok(1));
    } else {
        // The emulation completes the poll (and signals the eventfd) only when a reap or wait
        // checks it: nothing runs between the context's calls, so unlike the kernel's, a
        // pending poll does not wake a caller sleeping on the eventfd alone.
        assert_eq!(ctx.reap(), Ok(1), "the reap finds the pipe readable");
        assert!(
            readable(efd.as_fd_ref(), 0),
            "eventfd readable once the poll completed"
        );
        assert_eq!(ctx.take_eventfd_count(), Ok(1));
    }
    assert_eq!(ctx.wait(1, FIVE_SECONDS), Ok(1));
    let c = ctx.completions().next().unwrap();
    assert_eq!(c.user_data(), 9);
    assert!(c.poll_flags().contains(PollFlags::IN));
}

/// Completions the context makes itself (an operation io_submit rejected, one cancelled before
/// submission) signal the eventfd too: a caller that sleeps on the eventfd must wake for them.
fn eventfd_signals_local_completions() {
    let Some(mut ctx) = context_or_skip::<Vec<u8>>(
        "eventfd_signals_local_completions",
        Context::builder().depth(4).eventfd(true),
    ) else {
        return;
    };
    let temp = TempFile::new("eventfd-local");
    std::fs::write(temp.path(), b"data").unwrap();
    let read_only = ctx
        .register(std::fs::File::open(temp.path()).unwrap())
        .unwrap();
    let efd = ctx.eventfd().unwrap().try_clone_to_owned().unwrap();

    ctx.push(Op::write(read_only, b"no".to_vec(), 0)).unwrap();
    if on_kernel() {
        assert_eq!(
            ctx.submit(),
            Ok(0),
            "io_submit refuses it: a local completion"
        );
    } else {
        // The emulation accepts it and its pwrite answers EBADF: its own completion.
        assert_eq!(ctx.submit(), Ok(1));
    }
    assert!(
        readable(efd.as_fd_ref(), 0),
        "a rejected operation is a completion"
    );
    assert_eq!(ctx.take_eventfd_count(), Ok(1));
    let c = ctx.completions().next().unwrap();
    assert_eq!(c.result(), Err(Errno::BADF));

    let id = ctx.push(Op::read(read_only, vec![0; 4], 0)).unwrap();
    assert_eq!(ctx.cancel(id), Ok(aio::CancelOutcome::Unsubmitted));
    assert_eq!(
        ctx.take_eventfd_count(),
        Ok(1),
        "a cancelled operation is a completion"
    );
    let c = ctx.completions().next().unwrap();
    assert_eq!(c.result(), Err(Errno::CANCELED));
}

fn no_eventfd_unless_asked() {
    let Some(ctx) = context_or_skip::<Vec<u8>>("no_eventfd_unless_asked", Context::builder())
    else {
        return;
    };
    assert!(ctx.eventfd().is_none());
    assert_eq!(ctx.take_eventfd_count(), Ok(0));
}

/// `BorrowedFd` of an `OwnedFd`, for the `readable` helper.
trait AsFdRef {
    fn as_fd_ref(&self) -> BorrowedFd<'_>;
}

impl AsFdRef for rustix::fd::OwnedFd {
    fn as_fd_ref(&self) -> BorrowedFd<'_> {
        rustix::fd::AsFd::as_fd(self)
    }
}
