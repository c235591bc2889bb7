//! Unit tests that construct a context's internal state directly.

use super::{Context, OpId};
use crate::{CancelOutcome, Error, Op, PollFlags};
use std::sync::Arc;

fn context(test: &str) -> Option<Context> {
    context_from(test, Context::builder().depth(1))
}

/// A context from `builder`, or `None` where the ENOSYS path is expected (qemu-user).
fn context_from(test: &str, builder: crate::Builder) -> Option<Context> {
    match builder.build() {
        Ok(ctx) => Some(ctx),
        Err(Error::Unsupported { .. })
            if std::env::var_os("AIO_TEST_EXPECT_ENOSYS").is_some_and(|v| v == "1") =>
        {
            println!("ENOSYS path: {test}: no kernel AIO here, as expected");
            None
        }
        Err(e) => panic!("{test}: io_setup failed on a kernel that should have AIO: {e}"),
    }
}

/// After 2^32 operations through one slot, a 32-bit generation would make a stale id equal to
/// the live one. Sequence numbers are 64-bit: jump the counter past 2^32 instead of running
/// 2^32 operations, and check the id that a 32-bit counter would have confused.
#[test]
fn ids_do_not_collide_after_2_pow_32_reuses_of_a_slot() {
    let Some(mut ctx) = context("ids_2_pow_32") else {
        return;
    };
    let (reader, _writer) = rustix::pipe::pipe().unwrap();
    let reader = Arc::new(reader);
    let stale = ctx
        .push(Op::poll(reader.clone(), PollFlags::IN).user_data(1))
        .unwrap();
    assert_eq!(ctx.cancel(stale).unwrap(), CancelOutcome::Unsubmitted);
    drop(ctx.completions().next().unwrap());

    ctx.next_seq = stale.seq + (1 << 32);
    let live = ctx
        .push(Op::poll(reader.clone(), PollFlags::IN).user_data(2))
        .unwrap();
    assert_eq!(live.index, stale.index, "depth 1: the same slot");
    assert_eq!(
        live.seq as u32, stale.seq as u32,
        "equal in the low 32 bits"
    );
    ctx.submit().unwrap();
    assert_eq!(ctx.cancel(stale).unwrap(), CancelOutcome::NotFound);
    assert_eq!(ctx.in_flight(), 1, "the live poll was not cancelled");

    // The id a 32-bit generation would have produced is just as stale.
    let truncated = OpId {
        seq: u64::from(live.seq as u32),
        ..live
    };
    assert_eq!(ctx.cancel(truncated).unwrap(), CancelOutcome::NotFound);
    assert_eq!(ctx.cancel(live).unwrap(), CancelOutcome::InProgress);
    assert_eq!(ctx.drain().unwrap().count(), 1);
}

/// Context serials differ, so an id or a `Fixed` names exactly one context.
#[test]
fn serials_are_unique_per_context() {
    let (Some(a), Some(b)) = (context("serial_a"), context("serial_b")) else {
        return;
    };
    assert_ne!(a.serial, b.serial);
}

/// Quiet operations (`super::quiet`): no `IOCB_FLAG_RESFD`, so their completions leave the
/// eventfd alone, and the context counts those in flight; the others still signal.
#[test]
fn quiet_operations_do_not_signal_the_eventfd() {
    let Some(mut ctx) = context_from(
        "quiet_operations",
        Context::builder().depth(4).eventfd(true),
    ) else {
        return;
    };
    let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let reader = Arc::new(reader);

    // A quiet read of /dev/zero completes inside io_submit, unsignalled.
    ctx.set_quiet_io(true);
    ctx.push(Op::read(zero.clone(), vec![1; 64], 0)).unwrap();
    assert_eq!(ctx.submit().unwrap(), 1);
    assert_eq!(ctx.quiet_in_flight(), 1, "counted until collected");
    let done = ctx
        .completions()
        .next()
        .expect("completed inside io_submit");
    assert_eq!(ctx.quiet_in_flight(), 0);
    assert_eq!(done.result(), Ok(64));
    assert_eq!(
        ctx.take_eventfd_count().unwrap(),
        0,
        "a quiet read signals nothing"
    );
    assert_eq!(ctx.stats().unsignalled, 1);

    // A poll is never quiet (the kernel completes it later by design): it signals.
    ctx.push(Op::poll(reader.clone(), PollFlags::IN)).unwrap();
    ctx.submit().unwrap();
    assert_eq!(ctx.quiet_in_flight(), 0);
    rustix::io::write(&writer, b"x").unwrap();
    ctx.wait(1, None).unwrap();
    drop(ctx.completions().next().unwrap());
    assert_eq!(ctx.take_eventfd_count().unwrap(), 1);

    // Forced quiet, a poll stays in flight unsignalled and is counted until reaped.
    let mut byte = [0u8];
    rustix::io::read(&*reader, &mut byte).unwrap();
    ctx.set_quiet_all();
    ctx.push(Op::poll(reader.clone(), PollFlags::IN)).unwrap();
    ctx.submit().unwrap();
    assert_eq!(ctx.quiet_in_flight(), 1);
    rustix::io::write(&writer, b"y").unwrap();
    ctx.wait(1, None).unwrap();
    assert_eq!(ctx.quiet_in_flight(), 0);
    drop(ctx.completions().next().unwrap());
    assert_eq!(ctx.take_eventfd_count().unwrap(), 0);
    assert_eq!(ctx.stats().unsignalled, 2);

    // Back to signalled submissions.
    ctx.set_quiet_io(false);
    ctx.quiet_all = false;
    ctx.push(Op::read(zero, vec![1; 64], 0)).unwrap();
    ctx.submit().unwrap();
    drop(ctx.completions().next().unwrap());
    assert_eq!(ctx.take_eventfd_count().unwrap(), 1);
}

/// A batch cut into calls of at most `chunk` iocbs (`rt::batching::ChunkPolicy`): every
/// operation reaches the kernel once, in order, and one the kernel rejects in the middle
/// of a call completes with its errno while the rest of the batch goes on.
#[test]
fn a_batch_in_chunks_submits_each_operation_once() {
    let Some(mut ctx) = context_from("batch_in_chunks", Context::builder().depth(8)) else {
        return;
    };
    let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
    let write_only = Arc::new(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap(),
    );
    for i in 0..7u64 {
        let file = if i == 4 {
            write_only.clone()
        } else {
            zero.clone()
        };
        ctx.push(Op::read(file, vec![1; 64], 0).user_data(i))
            .unwrap();
    }
    let mut batch = super::Batch::default();
    assert!(ctx.begin_submit(&mut batch).unwrap());
    batch.set_chunk(core::num::NonZeroUsize::new(3));
    // SAFETY: the context is alive, and the batch is settled right after.
    unsafe { batch.run() };
    ctx.finish_submit(&mut batch).unwrap();
    // [0 1 2] → 3; [3 4 5] → 1 (stops at the read of a write-only file); [4 5 6] → EBADF
    // for 4 alone; [5 6] → 2.
    assert_eq!(ctx.stats().submit_calls, 4);
    assert_eq!(ctx.stats().submitted, 6);
    ctx.wait(7, None).unwrap();
    let mut seen: Vec<(u64, Result<usize, rustix::io::Errno>)> = ctx
        .completions()
        .map(|done| (done.user_data(), done.result()))
        .collect();
    seen.sort_by_key(|&(i, _)| i);
    let expected: Vec<_> = (0..7u64)
        .map(|i| {
            (
                i,
                if i == 4 {
                    Err(rustix::io::Errno::BADF)
                } else {
                    Ok(64)
                },
            )
        })
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(ctx.in_flight(), 0);
}

/// Two batches in flight at once (`rt`'s two submitters): an operation of the first completes
/// and is collected before its batch is settled, and its slot takes a poll that is in the
/// second batch. Settling the first batch must leave the poll as it is (submitting), or an
/// abandoned poll would be cancelled before the kernel has it and never again.
#[test]
fn settling_a_batch_leaves_a_reused_slot_alone() {
    let Some(mut ctx) = context("reused_slot") else {
        return;
    };
    let zero = Arc::new(std::fs::File::open("/dev/zero").unwrap());
    ctx.push(Op::read(zero, vec![1; 64], 0)).unwrap();
    let mut first = super::Batch::default();
    assert!(ctx.begin_submit(&mut first).unwrap());
    // SAFETY: the context is alive, and the batch is settled below.
    unsafe { first.run() };
    ctx.wait(1, None).unwrap();
    let done: Vec<_> = ctx.completions().collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].result(), Ok(64));
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let poll = ctx.push(Op::poll(reader, PollFlags::IN)).unwrap();
    let mut second = super::Batch::default();
    assert!(ctx.begin_submit(&mut second).unwrap());
    assert!(ctx.is_submitting(poll));
    ctx.finish_submit(&mut first).unwrap();
    // Asserted at the end, once the poll is done (a context dropped with a poll the kernel
    // never had, yet marked in flight, would wait for it for good).
    let kept = ctx.is_submitting(poll);
    // SAFETY: as above.
    unsafe { second.run() };
    ctx.finish_submit(&mut second).unwrap();
    assert!(!ctx.is_submitting(poll));
    assert_eq!(ctx.stats().submitted, 2);
    rustix::io::write(&writer, b"x").unwrap();
    ctx.wait(1, None).unwrap();
    let done: Vec<_> = ctx.completions().collect();
    assert!(done[0].poll_flags().contains(PollFlags::IN));
    assert!(kept, "the first batch's settlement took the poll");
}

mod offload;
