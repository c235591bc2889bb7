//! A bounded stress test: reads, writes, polls and cancels in random batches, in both reaping
//! modes, checking that every operation completes exactly once with the right data and that the
//! process gives back every kernel resource (aio-nr, file descriptors).
//!
//! `AIO_STRESS_OPS` sets the number of operations (default 200 000; 50 000 in the cross runs
//! under qemu, which `cargo xtask cross` sets; `AIO_STRESS_OPS=10000000` for a long soak). This
//! module holds a single test, run once per backend, alone and in a child process of its own,
//! so that no other test changes aio-nr or the descriptor count meanwhile.

use crate::support;

use aio::{CancelOutcome, Context, Errno, Op, OpId, PollFlags, Reap};
use std::time::Duration;
use support::{
    Rng, aio_nr, assert_contexts_released, build_or_enosys, each_backend, on_kernel, open_fds,
    temp_file,
};

each_backend!(alone: stress_every_op_completes_once_with_the_right_data);

const BLOCK: usize = 4096;
const BLOCKS: u64 = 256;
const DEPTH: u32 = 64;

/// What an operation was, packed into its user_data with its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Read = 0,
    Write = 1,
    /// Poll on a pipe that always has data: completes with POLLIN.
    PollReady = 2,
    /// Poll on a pipe that never has data: only a cancel completes it.
    PollNever = 3,
}

fn tag(seq: u64, kind: Kind, block: u64) -> u64 {
    (seq << 16) | (block << 2) | kind as u64
}

fn untag(user_data: u64) -> (u64, Kind, u64) {
    let kind = match user_data & 3 {
        0 => Kind::Read,
        1 => Kind::Write,
        2 => Kind::PollReady,
        _ => Kind::PollNever,
    };
    (user_data >> 16, kind, (user_data >> 2) & 0x3fff)
}

fn fill(block: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (block as usize * 131 + i / 8) as u8;
    }
}

fn matches(block: u64, buf: &[u8]) -> bool {
    buf.iter()
        .enumerate()
        .all(|(i, &b)| b == (block as usize * 131 + i / 8) as u8)
}

fn stress_every_op_completes_once_with_the_right_data() {
    // Its descriptor and ring counts are the process's: the other tests' (and what they leave
    // behind, such as an orphaned driver finishing) must not be in them.
    let path = support::variant_path(
        module_path!(),
        "stress_every_op_completes_once_with_the_right_data",
    );
    if !support::in_child(&path) {
        return;
    }
    let total: u64 = std::env::var("AIO_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let fds_before = open_fds();
    let aio_before = aio_nr();
    for (phase, reap) in [Reap::Ring, Reap::Syscall].into_iter().enumerate() {
        let builder = Context::builder()
            .depth(DEPTH)
            .reap(reap)
            .eventfd(phase == 0);
        let Some(ctx) = build_or_enosys::<Vec<u8>>("stress", builder) else {
            return;
        };
        run(ctx, total / 2, 0x5eed + phase as u64, reap);
    }
    assert_contexts_released(aio_before);
    assert_eq!(open_fds(), fds_before, "no descriptor leaked");
}

fn run(mut ctx: Context<Vec<u8>>, total: u64, seed: u64, reap: Reap) {
    let mut rng = Rng::new(seed);
    let file = temp_file(&format!("stress-{seed}"));
    let mut image = vec![0u8; BLOCK * BLOCKS as usize];
    for (block, chunk) in image.chunks_mut(BLOCK).enumerate() {
        fill(block as u64, chunk);
    }
    std::io::Write::write_all(&mut &file, &image).unwrap();
    drop(image);

    let (ready_r, ready_w) = rustix::pipe::pipe().unwrap();
    rustix::io::write(&ready_w, b"!").unwrap();
    let (never_r, _never_w) = rustix::pipe::pipe().unwrap();
    // The operations name these by index; the context owns (and at its drop closes) them.
    let file = ctx.register(file).unwrap();
    let ready_r = ctx.register(ready_r).unwrap();
    let never_r = ctx.register(never_r).unwrap();

    let mut seen = vec![false; total as usize];
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut to_cancel: Vec<OpId> = Vec::new();
    let (mut issued, mut completed, mut cancels) = (0u64, 0u64, 0u64);
    let mut eventfd_total = 0u64;

    while completed < total {
        // Push a random batch, as far as the context has room.
        let batch = rng.below(DEPTH as u64) + 1;
        let mut last = None;
        for _ in 0..batch {
            if issued == total || ctx.queued() + ctx.in_flight() + ctx.ready() == DEPTH as usize {
                break;
            }
            let block = rng.below(BLOCKS);
            let kind = match rng.below(10) {
                0..=3 => Kind::Read,
                4..=7 => Kind::Write,
                8 => Kind::PollReady,
                _ => Kind::PollNever,
            };
            let mut buf = pool.pop().unwrap_or_else(|| vec![0; BLOCK]);
            let offset = block * BLOCK as u64;
            let op = match kind {
                Kind::Read => Op::read(file, buf, offset),
                Kind::Write => {
                    fill(block, &mut buf);
                    Op::write(file, buf, offset)
                }
                Kind::PollReady => Op::poll(ready_r, PollFlags::IN),
                Kind::PollNever => Op::poll(never_r, PollFlags::IN),
            };
            let id = ctx.push(op.user_data(tag(issued, kind, block))).unwrap();
            if kind == Kind::PollNever {
                to_cancel.push(id);
            }
            last = Some(id);
            issued += 1;
        }
        // Now and then cancel the newest operation before it is submitted.
        if let Some(id) = last.filter(|_| rng.below(16) == 0) {
            assert_eq!(ctx.cancel(id).unwrap(), CancelOutcome::Unsubmitted);
            to_cancel.retain(|&c| c != id);
            cancels += 1;
        }
        ctx.submit().unwrap();
        // Polls that can never fire are cancelled once submitted.
        to_cancel.retain(|&id| match ctx.cancel(id).unwrap() {
            CancelOutcome::InProgress => false,
            CancelOutcome::Unsubmitted => false, // EAGAIN backpressure kept it queued
            other => panic!("{reap:?}: cancel of a pending poll gave {other:?}"),
        });
        if ctx.ready() == 0 && ctx.in_flight() > 0 {
            ctx.wait(1, Some(Duration::from_secs(30))).unwrap();
        }
        for mut c in ctx.completions() {
            let (seq, kind, block) = untag(c.user_data());
            assert!(
                !std::mem::replace(&mut seen[seq as usize], true),
                "op {seq} completed twice"
            );
            completed += 1;
            if c.result() == Err(Errno::CANCELED) {
                assert!(c.is_cancelled());
            } else {
                match kind {
                    Kind::Read => {
                        assert_eq!(c.result(), Ok(BLOCK), "{reap:?}: read {seq}");
                        assert!(
                            matches(block, c.take_buf().as_deref().unwrap()),
                            "read {seq}: wrong data"
                        );
                    }
                    Kind::Write => assert_eq!(c.result(), Ok(BLOCK), "{reap:?}: write {seq}"),
                    Kind::PollReady => assert!(c.poll_flags().contains(PollFlags::IN), "{c:?}"),
                    Kind::PollNever => {
                        assert!(c.is_cancelled() && c.raw_result() == 0, "{reap:?}: {c:?}");
                    }
                }
            }
            if let Some(buf) = c.take_buf() {
                pool.push(buf);
            }
        }
        eventfd_total += ctx.take_eventfd_count().unwrap();
    }
    assert!(seen.iter().all(|&s| s), "every op completed");
    let stats = ctx.stats();
    println!("{reap:?}: {total} ops, {cancels} cancelled before submit, {stats:?}");
    if !on_kernel() {
        // The emulation made every completion itself: no ring, no io_getevents.
        assert_eq!(stats.emulated + stats.local_completions, total);
        assert_eq!((stats.ring_reaped, stats.syscall_reaped), (0, 0));
        assert!(!ctx.reaps_from_ring());
        if ctx.eventfd().is_some() {
            assert_eq!(eventfd_total, total, "eventfd count equals completions");
        }
        return;
    }
    assert_eq!(
        stats.ring_reaped + stats.syscall_reaped + stats.local_completions,
        total
    );
    match reap {
        Reap::Ring => {
            assert!(ctx.reaps_from_ring());
            assert!(stats.ring_reaped > 0);
            // Every completion signals the eventfd once: the kernel's and the context's own
            // (cancelled before submit).
            assert_eq!(
                eventfd_total,
                stats.submitted + stats.local_completions,
                "eventfd count equals completions"
            );
        }
        Reap::Syscall => assert_eq!(stats.ring_reaped, 0),
    }
}
