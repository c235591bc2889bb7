//! Unit tests that construct a context's internal state directly.

use super::{Context, OpId};
use crate::{CancelOutcome, Error, Op, PollFlags};
use std::sync::Arc;

fn context(test: &str) -> Option<Context> {
    match Context::new(1) {
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
