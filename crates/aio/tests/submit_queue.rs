//! `Context::submit` as a queue: short counts, rejected operations and `EAGAIN` backpressure,
//! with every pushed operation completing exactly once.

mod support;

use aio::{Context, Errno, Op, PollFlags, Reap};
use std::collections::BTreeSet;
use std::time::Duration;
use support::{build_or_enosys, each_backend, on_kernel};

each_backend!(
    a_rejected_op_becomes_its_completion_and_the_rest_still_go,
    eagain_keeps_the_rest_queued_and_nothing_is_lost
);

fn a_rejected_op_becomes_its_completion_and_the_rest_still_go() {
    for reap in [Reap::Ring, Reap::Syscall] {
        let Some(mut ctx) =
            build_or_enosys::<Vec<u8>>("rejected_op", Context::builder().depth(8).reap(reap))
        else {
            return;
        };
        let file = ctx
            .register(std::fs::File::open("/proc/self/exe").unwrap())
            .unwrap();
        // Reading a descriptor not open for reading is refused by io_submit itself (EBADF).
        let write_only = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        let bad = Op::read(write_only, vec![0; 16], 0).user_data(2);
        ctx.push(Op::read(file, vec![0; 16], 0).user_data(1))
            .unwrap();
        ctx.push(bad).unwrap();
        ctx.push(Op::read(file, vec![0; 16], 0).user_data(3))
            .unwrap();
        ctx.push(
            Op::read(file, vec![0; 16], 0)
                .flags(aio::RwFlags::from_bits_retain(1 << 30))
                .user_data(4),
        )
        .unwrap();
        ctx.push(Op::read(file, vec![0; 16], 0).user_data(5))
            .unwrap();

        if on_kernel() {
            // io_submit stops at each bad iocb (count 1, EBADF, 1, EOPNOTSUPP, then 1).
            assert_eq!(
                ctx.submit().unwrap(),
                3,
                "{reap:?}: the three good reads were accepted"
            );
            assert_eq!(ctx.stats().submit_calls, 5);
        } else {
            // The emulation accepts all five and runs them: pread answers EBADF and preadv2
            // EOPNOTSUPP, the same errors, in the completions.
            assert_eq!(ctx.submit().unwrap(), 5);
            assert_eq!(ctx.stats().submit_calls, 1);
            assert_eq!(ctx.stats().emulated, 5);
        }
        assert_eq!(ctx.queued(), 0);
        ctx.wait(5, Some(Duration::from_secs(5))).unwrap();
        let mut results: Vec<_> = ctx
            .completions()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        results.sort_by_key(|r| r.0);
        assert_eq!(
            results,
            [
                (1, Ok(16)),
                (2, Err(Errno::BADF)),
                (3, Ok(16)),
                (4, Err(Errno::OPNOTSUPP)),
                (5, Ok(16))
            ],
            "{reap:?}"
        );
    }
}

fn eagain_keeps_the_rest_queued_and_nothing_is_lost() {
    if !on_kernel() {
        // Kernel-only: EAGAIN comes from the kernel's ring, which the emulation does not have.
        return the_emulation_has_no_ring_to_fill();
    }
    // The kernel sizes even io_setup(1)'s ring to whole pages: 127 slots with 4 KiB pages, 2047
    // with 64 KiB (ppc64le). More polls than that, which cannot complete, must overflow it.
    let probe = Context::builder()
        .depth(1)
        .kernel_events(1)
        .reap(Reap::Ring);
    let Some(probe) = build_or_enosys::<Vec<u8>>("eagain_backpressure", probe) else {
        return;
    };
    let ring_slots = probe
        .ring_slots()
        .expect("a kernel ring readable in user space");
    drop(probe);
    let ops = ring_slots + 64;
    for reap in [Reap::Ring, Reap::Syscall] {
        let builder = Context::builder().depth(ops).kernel_events(1).reap(reap);
        let Some(mut ctx) = build_or_enosys::<Vec<u8>>("eagain_backpressure", builder) else {
            return;
        };
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        let reader = ctx.register(reader).unwrap();
        for i in 0..ops {
            ctx.push(Op::poll(reader, PollFlags::IN).user_data(u64::from(i)))
                .unwrap();
        }
        let accepted = ctx.submit().unwrap();
        assert!(
            accepted > 0 && accepted < ops as usize,
            "{reap:?}: accepted {accepted} of {ops}"
        );
        assert_eq!(
            ctx.queued(),
            ops as usize - accepted,
            "the rest stays queued"
        );
        assert_eq!(
            ctx.stats().local_completions,
            0,
            "EAGAIN is not an operation error"
        );

        // Make the pipe readable: every poll completes, and the queue drains as room appears.
        rustix::io::write(&writer, b"x").unwrap();
        let mut seen = BTreeSet::new();
        while seen.len() < ops as usize {
            ctx.submit().unwrap();
            ctx.wait(1, Some(Duration::from_secs(10))).unwrap();
            for c in ctx.completions() {
                assert!(c.poll_flags().contains(PollFlags::IN), "{c:?}");
                assert!(
                    seen.insert(c.user_data()),
                    "op {} completed twice",
                    c.user_data()
                );
            }
        }
        assert_eq!(ctx.queued() + ctx.in_flight() + ctx.ready(), 0);
    }
}

/// The emulated side of the EAGAIN test: no ring, so `kernel_events` does not bind and every
/// operation is accepted at once.
fn the_emulation_has_no_ring_to_fill() {
    let ops = 300;
    let builder = Context::builder().depth(ops).kernel_events(1);
    let mut ctx = build_or_enosys::<Vec<u8>>("eagain_backpressure", builder).unwrap();
    assert_eq!(ctx.ring_slots(), None);
    assert!(!ctx.reaps_from_ring());
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let reader = ctx.register(reader).unwrap();
    for i in 0..ops {
        ctx.push(Op::poll(reader, PollFlags::IN).user_data(u64::from(i)))
            .unwrap();
    }
    assert_eq!(ctx.submit().unwrap(), ops as usize);
    assert_eq!((ctx.queued(), ctx.in_flight()), (0, ops as usize));
    rustix::io::write(&writer, b"x").unwrap();
    assert_eq!(
        ctx.wait(ops as usize, Some(Duration::from_secs(10)))
            .unwrap(),
        ops as usize
    );
    let seen: BTreeSet<u64> = ctx.completions().map(|c| c.user_data()).collect();
    assert_eq!(seen.len(), ops as usize);
}
