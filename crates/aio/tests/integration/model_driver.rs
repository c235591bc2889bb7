//! The model check of `aio::rt`'s driver: [shuttle] explores the interleavings of model
//! threads that share one [`SharedContext`] (start, backlog, concurrent submitters,
//! collection, abandon, cancel after submit, shutdown), with the driver's locks, condition
//! variable and atomics replaced by shuttle's and its sleep on the eventfd made visible to
//! shuttle's scheduler (`rt/sync.rs`, `rt/driver.rs`). The kernel is the real one, asked only
//! for what completes at once (reads of `/dev/zero`) or when another model thread acts (a
//! poll of a pipe it writes): its completions happen inside the calls the model threads make,
//! so every interleaving of the driver's steps is one shuttle can choose.
//!
//! The properties, checked in every explored interleaving:
//! - **exactly once**: every started operation's ticket yields its own completion (its
//!   `user_data`, its buffer with the data read), once; nothing is left owned at the end;
//! - **no lost wake-up**: no thread waits for good (shuttle reports a deadlock, or a thread
//!   still looking after its step limit);
//! - **no reuse in flight**: a completion always carries the buffer and tag of the operation
//!   that owned the entry (a stale or reused entry would hand back another's);
//! - **shutdown releases everything**: once the last clone and ticket are gone, every buffer
//!   and descriptor the operations held has been dropped;
//! - **`outstanding() == 0` means every buffer is back**, also to a thread that only looks
//!   while another collects and drops them.
//!
//! `seeded_lost_kick_is_found` puts back the bug of issue 25 item 1 (the driver forgot the
//! backlog it moved into a freed slot) and requires the checker to report it;
//! `seeded_early_release_is_found` the one CI found on aarch64 (`outstanding()` answered 0
//! while an abandoned operation's buffer was still being dropped). The check found
//! one bug of its own when it was written: a waiting thread that let the lock go to run an
//! emulated read slept without looking at its own operation again, which another thread had
//! completed meanwhile (that path is gone: the thread whose round takes reads and writes runs
//! them all, then looks).
//!
//! Built and run only with the `aio_shuttle` cfg, in a target directory of its own (`.ci/run`
//! does it):
//!
//! ```sh
//! RUSTFLAGS="--cfg aio_shuttle" cargo test -p linux-aio --test integration --target-dir target/shuttle
//! ```
//!
//! Shuttle treats every atomic ordering as `SeqCst`: a bug that needs a weaker ordering's
//! reordering is out of its reach (the driver's shared state is under its lock).
//!
//! [shuttle]: https://docs.rs/shuttle
#![cfg(aio_shuttle)]

use aio::rt::{SharedContext, model_mutants};
use aio::{Backend, Context, IoBuf, IoBufMut, Op, PollFlags};
use shuttle::scheduler::PctScheduler;
use shuttle::{Config, MaxSteps, Runner, thread};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Interleavings explored per scenario and backend (PCT, depth 3).
const ITERATIONS: usize = 300;

fn check(name: &str, scenario: fn(Backend)) {
    for backend in [Backend::Kernel, Backend::Emulated] {
        let mut config = Config::new();
        config.max_steps = MaxSteps::FailAfter(100_000);
        let runner = Runner::new(PctScheduler::new(3, ITERATIONS), config);
        println!("model {name} ({backend:?}): {ITERATIONS} interleavings");
        runner.run(move || scenario(backend));
    }
}

/// A buffer that counts its drops, tagged with the operation it belongs to.
struct Counted {
    bytes: Vec<u8>,
    drops: Arc<AtomicUsize>,
}

impl Counted {
    fn new(fill: u8, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            bytes: vec![fill; 8],
            drops: drops.clone(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: the Vec's heap storage does not move with the struct.
unsafe impl IoBuf for Counted {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.bytes.len()
    }
}

// SAFETY: as above; u8 takes any byte.
unsafe impl IoBufMut for Counted {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut_ptr()
    }
}

fn shared(backend: Backend, depth: u32) -> SharedContext<Counted> {
    SharedContext::new(Context::builder().buffers().depth(depth).backend(backend))
        .expect("a context (kernel AIO is required for the model check)")
}

fn zero() -> Arc<std::fs::File> {
    Arc::new(std::fs::File::open("/dev/zero").unwrap())
}

/// Depth 1: a poll of an empty pipe holds the only slot, a read waits in the backlog. One
/// thread waits for the read, another for the poll, a third writes the pipe: whoever
/// collects the poll moves the read into the freed slot, and it must still be submitted.
fn backlog_enters_a_freed_slot(backend: Backend) {
    let drops = Arc::new(AtomicUsize::new(0));
    let ctx = shared(backend, 1);
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let reader = Arc::new(reader);
    let poll = ctx
        .start(Op::poll(reader.clone(), PollFlags::IN).user_data(1))
        .unwrap();
    let read = ctx
        .start(Op::read(zero(), Counted::new(7, &drops), 0).user_data(2))
        .unwrap();
    let waiter = thread::spawn(move || {
        let done = read.wait().unwrap();
        assert_eq!((done.user_data(), done.result()), (2, Ok(8)));
        assert_eq!(done.into_buf().unwrap().bytes, vec![0; 8]);
    });
    let poller = thread::spawn(move || {
        let done = poll.wait().unwrap();
        assert_eq!(done.user_data(), 1);
        assert!(done.poll_flags().contains(PollFlags::IN));
    });
    thread::spawn(move || {
        rustix::io::write(&writer, b"x").unwrap();
    })
    .join()
    .unwrap();
    waiter.join().unwrap();
    poller.join().unwrap();
    assert_eq!(ctx.outstanding(), 0);
    drop(ctx);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(
        Arc::strong_count(&reader),
        1,
        "the poll gave its descriptor back"
    );
}

/// Three threads on a depth-2 context, each starting two reads and waiting for both (so the
/// backlog, several submitters and collectors at once): every ticket gets its own completion,
/// with its own tag and buffer.
fn three_threads_share_two_slots(backend: Backend) {
    let drops = Arc::new(AtomicUsize::new(0));
    let ctx = shared(backend, 2);
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let (ctx, drops) = (ctx.clone(), drops.clone());
            thread::spawn(move || {
                let tickets: Vec<_> = (0..2u64)
                    .map(|i| {
                        let tag = t * 10 + i;
                        let buf = Counted::new(tag as u8 + 1, &drops);
                        ctx.start(Op::read(zero(), buf, 0).user_data(tag)).unwrap()
                    })
                    .collect();
                for (i, ticket) in tickets.into_iter().enumerate() {
                    let done = ticket.wait().unwrap();
                    assert_eq!(done.user_data(), t * 10 + i as u64);
                    assert_eq!(done.result(), Ok(8));
                    assert_eq!(done.into_buf().unwrap().bytes, vec![0; 8]);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(ctx.outstanding(), 0);
    drop(ctx);
    assert_eq!(drops.load(Ordering::SeqCst), 6);
}

/// Collects until nothing is owned. A cancelled poll's completion is posted by a kernel
/// workqueue (`aio_poll_cancel` schedules it), in real time, outside any call a model thread
/// makes: so the rounds also give the kernel real milliseconds (CI's run, on a loaded machine,
/// once needed more than 1000 rounds of yielding), up to 10 s.
fn settle(ctx: &SharedContext<Counted>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut rounds = 0u32;
    while ctx.outstanding() > 0 {
        ctx.submit().unwrap();
        rounds += 1;
        if rounds % 64 == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "{} operations never settled",
                ctx.outstanding()
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        thread::yield_now();
    }
}

/// Tickets dropped early while others wait: an abandoned read still runs to its end and its
/// buffer is dropped once; an abandoned poll is cancelled (in the kernel, or before it got
/// there); the last handle's drop releases everything.
fn abandoned_operations_are_released(backend: Backend) {
    let drops = Arc::new(AtomicUsize::new(0));
    let ctx = shared(backend, 2);
    let (reader, _writer) = rustix::pipe::pipe().unwrap();
    let reader = Arc::new(reader);
    let dropper = {
        let (ctx, drops, reader) = (ctx.clone(), drops.clone(), reader.clone());
        thread::spawn(move || {
            drop(ctx.start(Op::read(zero(), Counted::new(1, &drops), 0)));
            drop(ctx.start(Op::poll(reader, PollFlags::IN)));
        })
    };
    let waiter = {
        let (ctx, drops) = (ctx.clone(), drops.clone());
        thread::spawn(move || {
            let done = ctx
                .start(Op::read(zero(), Counted::new(2, &drops), 0).user_data(9))
                .unwrap()
                .wait()
                .unwrap();
            assert_eq!((done.user_data(), done.result()), (9, Ok(8)));
        })
    };
    dropper.join().unwrap();
    waiter.join().unwrap();
    // Whatever is left is settled by a few more rounds.
    settle(&ctx);
    drop(ctx);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_eq!(
        Arc::strong_count(&reader),
        1,
        "the poll gave its descriptor back"
    );
}

/// `outstanding() == 0` seen from a thread that does not collect means every buffer is back:
/// an abandoned read's buffer is dropped by whichever thread collects it, outside the lock,
/// and must still be counted until then.
fn outstanding_zero_means_buffers_are_back(backend: Backend) {
    let abandoned = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let ctx = shared(backend, 2);
    let collector = {
        let (ctx, abandoned, started) = (ctx.clone(), abandoned.clone(), started.clone());
        thread::spawn(move || {
            drop(ctx.start(Op::read(zero(), Counted::new(1, &abandoned), 0)));
            started.store(1, Ordering::SeqCst);
            let other = Arc::new(AtomicUsize::new(0));
            let done = ctx
                .start(Op::read(zero(), Counted::new(2, &other), 0))
                .unwrap()
                .wait()
                .unwrap();
            assert_eq!(done.result(), Ok(8));
            settle(&ctx);
        })
    };
    // The observer: never collects, only looks (once the abandoned read has started).
    while started.load(Ordering::SeqCst) == 0 {
        thread::yield_now();
    }
    let mut looks = 0;
    while abandoned.load(Ordering::SeqCst) == 0 {
        if ctx.outstanding() == 0 && abandoned.load(Ordering::SeqCst) == 0 {
            panic!("outstanding() is 0 while the abandoned read's buffer is not dropped yet");
        }
        looks += 1;
        assert!(
            looks < 10_000,
            "the abandoned read's buffer was never dropped"
        );
        thread::yield_now();
    }
    collector.join().unwrap();
}

#[test]
fn model_backlog_enters_a_freed_slot() {
    check("backlog_enters_a_freed_slot", backlog_enters_a_freed_slot);
}

#[test]
fn model_three_threads_share_two_slots() {
    check(
        "three_threads_share_two_slots",
        three_threads_share_two_slots,
    );
}

#[test]
fn model_abandoned_operations_are_released() {
    check(
        "abandoned_operations_are_released",
        abandoned_operations_are_released,
    );
}

#[test]
fn model_outstanding_zero_means_buffers_are_back() {
    check(
        "outstanding_zero_means_buffers_are_back",
        outstanding_zero_means_buffers_are_back,
    );
}

/// Interleavings a seeded check may explore before it gives up: the run stops at the first
/// one that fails, so a found bug costs only the interleavings before it. The lost kick needs
/// the pipe's write to land between two of the driver's steps: PCT (depth 3) found it after a
/// median of 130 interleavings in 10 runs (2 to 512); with 300, 2 of 10 runs missed it (CI
/// would have failed). With 5000, at that rate, a miss has a chance below 10^-12;
/// the early release is found within 10.
const SEEDED_ITERATIONS: usize = 5000;

/// Runs `scenario` on `backend` with `mutant` on; whether the checker reported a failure.
fn found(
    mutant: &'static std::thread::LocalKey<std::cell::Cell<bool>>,
    scenario: fn(Backend),
    backend: Backend,
) -> bool {
    mutant.with(|on| on.set(true));
    let failed = std::panic::catch_unwind(|| {
        let mut config = Config::new();
        config.max_steps = MaxSteps::FailAfter(100_000);
        Runner::new(PctScheduler::new(3, SEEDED_ITERATIONS), config).run(move || scenario(backend));
    })
    .is_err();
    mutant.with(|on| on.set(false));
    failed
}

/// With the fix of issue 25 item 1 taken back, the checker must find the hang.
#[test]
fn seeded_lost_kick_is_found() {
    assert!(
        found(
            &model_mutants::LOST_KICK,
            backlog_enters_a_freed_slot,
            Backend::Kernel
        ),
        "the seeded lost kick went unnoticed"
    );
}

/// With `outstanding()` blind to the buffers being dropped outside the lock, the checker must
/// see it answer 0 too early.
#[test]
fn seeded_early_release_is_found() {
    assert!(
        found(
            &model_mutants::EARLY_RELEASE,
            outstanding_zero_means_buffers_are_back,
            Backend::Kernel
        ),
        "the seeded early release went unnoticed"
    );
}
