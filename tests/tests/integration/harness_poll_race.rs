//! After libaio's harness case 23.t: an `IOCB_CMD_POLL` must not miss a wakeup that races with
//! its completion (the regression test for kernel commit 363bee27e258, "aio: keep poll requests
//! on waitqueue until completed", Linux 5.16, backported to the stable kernels).
//!
//! Each iteration, in parallel:
//! - thread 1 submits a poll for `POLLIN` on the read end of an empty pipe, then waits for it;
//! - thread 2 splices one byte into the pipe;
//! - thread 3 reads one byte from the pipe, then splices another one in.
//!
//! The pipe is never empty at the end, so the poll must complete, with `POLLIN`. With the bug,
//! the first splice's wakeup took the poll off the pipe's wait queue while its completion work
//! found the pipe empty again (thread 3 had read it), and thread 3's splice then woke no one.
//! `splice` rather than `write`: a splice wakes without an event mask, so the poll is not
//! completed inline by the wakeup itself.
//!
//! Bounded: 23.t's 5000 iterations in each of as many groups of three threads as there are
//! CPUs (23.t uses processes; here each group has its own context, half of them reaping from the
//! ring and half with the system call), every wait limited to 5 s (a timeout is the missed
//! wakeup, and fails the test), and at most [`TIME_BUDGET`] in all (the iterations done by then
//! are reported).
//!
//! On both backends: the emulation's poll (checked with `poll(2)` when waiting) must not miss the
//! byte either. It has no ring, so the groups' reaping modes are the same there.

use crate::common;

use aio::{Backend, Context, Op, PollFlags, Reap};
use common::{TempFile, backend, context_or_skip, each_backend, on_kernel};
use rustix::fd::{AsFd, OwnedFd};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const TEST: &str = "poll_does_not_miss_a_racing_wakeup";
/// 23.t's iterations per process.
const ITERATIONS: usize = 5000;
/// 23.t's wait for each poll.
const POLL_WAIT: Duration = Duration::from_secs(5);
/// Beyond this, no new iteration starts (a busy 2-CPU machine must not take minutes).
const TIME_BUDGET: Duration = Duration::from_secs(60);

/// The first failure of a group, as text: helper threads never panic (a panic would leave the
/// others waiting at the barrier forever); thread 1 checks this after every iteration.
type Failure = Mutex<Option<String>>;

fn fail(failure: &Failure, what: String) {
    failure.lock().unwrap().get_or_insert(what);
}

/// Moves one byte from offset 0 of `src` (a one-byte file) into the pipe. If `splice` fails, the
/// failure is recorded and the byte is written instead, so that the pipe protocol (and thread
/// 3's blocking read) goes on.
fn splice_byte(src: &File, tx: &OwnedFd, failure: &Failure, who: &str) {
    let mut offset: libc::loff_t = 0;
    // SAFETY: both descriptors are open; `offset` is a valid loff_t for the input file; no
    // output offset (a pipe).
    let n = unsafe {
        libc::splice(
            src.as_raw_fd(),
            &mut offset,
            tx.as_raw_fd(),
            std::ptr::null_mut(),
            1,
            0,
        )
    };
    if n != 1 {
        fail(
            failure,
            format!(
                "{who}: splice returned {n}: {}",
                std::io::Error::last_os_error()
            ),
        );
        let _ = rustix::io::write(tx, b"X");
    }
}

/// What one group of three threads did: iterations completed. `backend` is the test's (this
/// runs in a thread of its own).
fn group(
    index: usize,
    backend: Backend,
    src: Arc<File>,
    deadline: Instant,
) -> Result<usize, String> {
    let reap = if index % 2 == 0 {
        Reap::Ring
    } else {
        Reap::Syscall
    };
    let mut ctx: Context = Context::builder()
        .depth(1)
        .reap(reap)
        .backend(backend)
        .build()
        .map_err(|e| format!("group {index}: context: {e}"))?;
    if ctx.backend() != backend {
        return Err(format!(
            "group {index}: {:?}, not {backend:?}",
            ctx.backend()
        ));
    }
    let (rx, tx) = rustix::pipe::pipe().map_err(|e| format!("pipe: {e}"))?;
    let rx = Arc::new(rx);
    let tx = Arc::new(tx);
    let barrier = Barrier::new(3);
    let exiting = AtomicBool::new(false);
    let failure: Failure = Mutex::new(None);
    let mut done = 0;

    std::thread::scope(|s| {
        // Thread 2.
        s.spawn(|| {
            loop {
                barrier.wait();
                if exiting.load(Ordering::SeqCst) {
                    break;
                }
                splice_byte(&src, &tx, &failure, "thread 2");
                barrier.wait();
            }
        });
        // Thread 3.
        s.spawn(|| {
            loop {
                barrier.wait();
                if exiting.load(Ordering::SeqCst) {
                    break;
                }
                let mut c = [0u8; 1];
                // Blocks until thread 2's byte arrives (thread 2 always puts one in).
                match rustix::io::read(rx.as_fd(), &mut c) {
                    Ok(1) => {}
                    other => fail(&failure, format!("thread 3: read: {other:?}")),
                }
                splice_byte(&src, &tx, &failure, "thread 3");
                barrier.wait();
            }
        });

        // Thread 1 (this one). It must reach the final barrier whatever happens, so it records
        // failures instead of panicking inside the scope.
        for i in 0..ITERATIONS {
            if Instant::now() >= deadline {
                break;
            }
            let op = Op::poll(rx.clone(), PollFlags::IN).user_data(i as u64);
            if let Err(e) = ctx.push(op).map_err(|e| e.error) {
                fail(&failure, format!("iteration {i}: push: {e}"));
                break;
            }
            match ctx.submit() {
                Ok(1) => {}
                other => {
                    fail(&failure, format!("iteration {i}: submit: {other:?}"));
                    break;
                }
            }
            // Let the other threads go.
            barrier.wait();
            let waited = ctx.wait(1, Some(POLL_WAIT));
            // Let them finish their iteration (the pipe then holds exactly one byte).
            barrier.wait();
            match waited {
                Ok(1) => {}
                Ok(0) => {
                    fail(
                        &failure,
                        format!(
                            "iteration {i} ({reap:?}): the poll missed an event: no completion \
                             within {POLL_WAIT:?} although the pipe holds data"
                        ),
                    );
                    break;
                }
                other => {
                    fail(&failure, format!("iteration {i}: wait: {other:?}"));
                    break;
                }
            }
            let Some(c) = ctx.completions().next() else {
                fail(&failure, format!("iteration {i}: no completion after wait"));
                break;
            };
            let pollin = usize::from(u16::from_ne_bytes(PollFlags::IN.bits().to_ne_bytes()));
            match c.result() {
                Ok(mask) if mask & pollin != 0 && c.user_data() == i as u64 => {}
                other => {
                    fail(
                        &failure,
                        format!(
                            "iteration {i}: poll completion {other:?} (user data {}), expected \
                             POLLIN",
                            c.user_data()
                        ),
                    );
                    break;
                }
            }
            // Back to an empty pipe.
            let mut c = [0u8; 1];
            match rustix::io::read(rx.as_fd(), &mut c) {
                Ok(1) => {}
                other => {
                    fail(&failure, format!("thread 1: read: {other:?}"));
                    break;
                }
            }
            done += 1;
            if failure.lock().unwrap().is_some() {
                break;
            }
        }
        exiting.store(true, Ordering::SeqCst);
        barrier.wait();
    });
    // A poll still in flight after a failure is cancelled by io_destroy when `ctx` drops.
    drop(ctx);
    match failure.into_inner().unwrap() {
        Some(why) => Err(format!("group {index}: {why}")),
        None => Ok(done),
    }
}

each_backend!(poll_does_not_miss_a_racing_wakeup);

fn poll_does_not_miss_a_racing_wakeup() {
    if context_or_skip::<Vec<u8>>(TEST, Context::builder().depth(1)).is_none() {
        return;
    }
    // The emulation's poll is poll(2), there on every kernel.
    if on_kernel() && common::kernel_version().is_some_and(|v| v < (4, 19)) {
        println!("SKIPPED: {TEST}: IOCB_CMD_POLL needs Linux 4.19");
        return;
    }
    // 23.t's one-byte file, the source of every splice.
    let temp = TempFile::new("poll-race");
    let src = temp.create_rw();
    rustix::io::pwrite(&src, b"X", 0).unwrap();
    let src = Arc::new(src);
    let groups = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let deadline = start + TIME_BUDGET;
    let backend = backend();
    let handles: Vec<_> = (0..groups)
        .map(|g| {
            let src = src.clone();
            std::thread::spawn(move || group(g, backend, src, deadline))
        })
        .collect();
    let results: Vec<Result<usize, String>> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = start.elapsed();
    let mut total = 0;
    for (g, r) in results.iter().enumerate() {
        match r {
            Ok(n) => {
                println!("group {g}: {n} iterations, no missed wakeup");
                total += n;
            }
            Err(why) => panic!("{why}"),
        }
    }
    println!("{total} polls raced with splices in {elapsed:?} ({groups} groups)");
    assert!(total > 0, "no iteration ran");
    if total < groups * ITERATIONS {
        println!(
            "{TEST}: the {TIME_BUDGET:?} budget ended the run after {total} of {} iterations",
            groups * ITERATIONS
        );
    }
}
