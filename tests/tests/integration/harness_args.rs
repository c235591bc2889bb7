//! Bad arguments, after libaio's harness cases 2.t (`io_setup`) and 3.t (`io_submit` and
//! `io_getevents`), for the raw calls and for what the safe `Context` makes of them.
//!
//! The safe `Context` cases run on both backends; the raw-call cases (`setup_raw_bad_arguments`,
//! `submit_and_getevents_raw_bad_arguments`) are about the kernel's own checks, so kernel only.

use crate::common;

use aio::aio_abi::{__kernel_timespec, aio_context_t, io_event, iocb};
use aio::{CancelOutcome, Context, Errno, Error, Op, OpKind, RwFlags, SignalSet};
use aio_sys::Errno as RawErrno;
use common::{TempFile, backend, context_or_skip, each_backend, on_kernel};
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::collections::HashMap;
use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::time::Duration;

each_backend!(
    setup_depth_zero_is_invalid_input,
    setup_depth_too_large,
    rejected_ops_complete_with_their_errno,
    wait_for_more_than_in_flight_is_invalid_input,
    cancel_with_stale_id_is_not_found,
    push_beyond_depth_is_queue_full,
);

const FIVE_SECONDS: Option<Duration> = Some(Duration::from_secs(5));

/// A descriptor number that was open when an operation was built and is closed by the time it
/// is submitted: a high number (just under the descriptor limit), so that no test running in
/// a parallel thread is handed the same number meanwhile.
///
/// An operation holds its descriptor open until its completion, so this takes stepping around
/// that on purpose: a `BorrowedFd<'static>` that outlives its descriptor.
fn closed_fd_op(file: &std::fs::File, buf: Vec<u8>) -> Op<Vec<u8>> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(1024)
        .min(4096);
    let high: OwnedFd = rustix::io::fcntl_dupfd_cloexec(file, (limit - 8) as i32)
        .expect("F_DUPFD_CLOEXEC to a high descriptor");
    // SAFETY: breaks `borrow_raw`'s contract (the descriptor stays open while borrowed) on
    // purpose, to hand the kernel a closed number. The context only copies a borrowed
    // descriptor's number into the iocb (it never reads, duplicates or closes it), and the
    // number is high enough that nothing else is handed it meanwhile (see above).
    let dangling: BorrowedFd<'static> = unsafe { BorrowedFd::borrow_raw(high.as_raw_fd()) };
    let op = Op::read(dangling, buf, 0);
    drop(high);
    op
}

fn setup_depth_zero_is_invalid_input() {
    let ctx = context_or_skip::<Vec<u8>>("setup_depth_zero_is_invalid_input", Context::builder());
    // Refused before the kernel is asked: the same with or without kernel AIO, on both backends.
    match Context::builder().depth(0).backend(backend()).build() {
        Err(Error::InvalidInput(what)) => assert!(what.contains("depth"), "{what}"),
        Err(e) => panic!("depth 0: expected InvalidInput, got {e:?}"),
        Ok(_) => panic!("depth 0: a context was created"),
    }
    assert!(matches!(
        Context::<Vec<u8>>::new(0),
        Err(Error::InvalidInput(_))
    ));
    // Checked even though the emulation has no kernel ring to size with it.
    assert!(matches!(
        Context::builder()
            .depth(4)
            .kernel_events(0)
            .backend(backend())
            .build(),
        Err(Error::InvalidInput(_))
    ));
    drop(ctx);
}

fn setup_depth_too_large() {
    let Some(_ctx) = context_or_skip::<Vec<u8>>("setup_depth_too_large", Context::builder()) else {
        return;
    };
    if on_kernel() {
        // The kernel doubles the count and refuses a ring that large with EINVAL.
        let mut raw: aio_context_t = 0;
        // SAFETY: `raw` is a valid, zeroed context variable.
        assert_eq!(
            unsafe { aio_sys::io_setup(u32::MAX, &mut raw) },
            Err(RawErrno::INVAL)
        );
        assert_eq!(raw, 0, "a failed io_setup wrote the context variable");
    }
    // The safe context refuses it before asking: more than one kernel context can take. The
    // emulation keeps the same limit on its depth.
    match Context::builder()
        .depth(u32::MAX)
        .backend(backend())
        .build()
    {
        Err(ref e @ Error::DepthLimit { requested, limit }) => {
            assert_eq!(requested, u32::MAX);
            assert_eq!(limit, aio::MAX_EVENTS);
            assert_eq!(e.errno(), Some(Errno::INVAL));
        }
        Err(e) => panic!("depth u32::MAX: expected DepthLimit, got {e:?}"),
        Ok(_) => panic!("depth u32::MAX: a context was created"),
    }
    if !on_kernel() {
        // The emulation asks the kernel for no ring: nothing is charged against aio-max-nr, so
        // the most events one kernel context could take (more than the default aio-max-nr,
        // 65536) are no error; kernel_events does not apply.
        let ctx = Context::builder()
            .depth(1)
            .kernel_events(aio::MAX_EVENTS)
            .backend(backend())
            .build()
            .unwrap_or_else(|e| panic!("emulated, kernel_events MAX_EVENTS: {e}"));
        assert_eq!(ctx.depth(), 1);
        assert_eq!(ctx.ring_slots(), None, "no kernel ring");
        return;
    }
    // More than aio-max-nr is refused up front with EAGAIN, whatever else is in use.
    let max = common::proc_fs_number("aio-max-nr");
    if let Some(requested) = u32::try_from(max + 1).ok().filter(|&r| r <= 1 << 22) {
        match Context::builder().depth(requested).build() {
            Err(
                ref e @ Error::ContextLimit {
                    requested: r,
                    aio_max_nr,
                    ..
                },
            ) => {
                assert_eq!(r, requested);
                assert_eq!(aio_max_nr, Some(max));
                assert_eq!(e.errno(), Some(Errno::AGAIN));
                assert!(e.to_string().contains("/proc/sys/fs/aio-max-nr"), "{e}");
            }
            Err(e) => panic!("depth aio-max-nr + 1: expected ContextLimit, got {e:?}"),
            Ok(_) => panic!("depth aio-max-nr + 1 = {requested}: a context was created"),
        }
    } else {
        println!("aio-max-nr = {max}: too large to exceed with one context here");
    }
}

/// 2.t on the raw call: a zero count, an already initialised context variable, an unwritable
/// pointer; and destroying twice.
#[test]
fn setup_raw_bad_arguments() {
    let _shared = common::shared();
    if !common::aio_or_skip("setup_raw_bad_arguments") {
        return;
    }
    let mut zero: aio_context_t = 0;
    // SAFETY: `zero` is a valid context variable.
    assert_eq!(
        unsafe { aio_sys::io_setup(0, &mut zero) },
        Err(RawErrno::INVAL)
    );
    assert_eq!(zero, 0, "a failed io_setup wrote the context variable");

    // SAFETY: a null pointer is never dereferenced by Rust; the kernel's copy to user memory
    // fails with EFAULT.
    assert_eq!(
        unsafe { aio_sys::io_setup(1, null_mut()) },
        Err(RawErrno::FAULT)
    );

    let mut ctx: aio_context_t = 0;
    // SAFETY: `ctx` is a valid, zeroed context variable.
    assert_eq!(unsafe { aio_sys::io_setup(1, &mut ctx) }, Ok(()));
    assert_ne!(ctx, 0);
    let first = ctx;
    // SAFETY: as above; the kernel refuses a non-zero *ctxp without touching it.
    assert_eq!(
        unsafe { aio_sys::io_setup(1, &mut ctx) },
        Err(RawErrno::INVAL)
    );
    assert_eq!(ctx, first);
    // SAFETY: `ctx` is a live context of this process with nothing in flight, and nothing
    // reads its ring.
    assert_eq!(unsafe { aio_sys::io_destroy(ctx) }, Ok(()));
    // SAFETY: the context no longer exists; the kernel looks the id up and fails.
    assert_eq!(unsafe { aio_sys::io_destroy(ctx) }, Err(RawErrno::INVAL));
}

/// 3.t on the raw calls: a bad context, a zero count, unreadable arrays and entries, a negative
/// count; and io_getevents with min > nr or a bad context.
#[test]
fn submit_and_getevents_raw_bad_arguments() {
    let _shared = common::shared();
    let Some(ctx) = context_or_skip::<Vec<u8>>(
        "submit_and_getevents_raw_bad_arguments",
        Context::builder().depth(4),
    ) else {
        return;
    };
    let raw = ctx.as_raw().expect("a kernel context");
    // Never submitted: every call below fails (or takes zero requests) before reading them.
    let mut a = iocb::default();
    let mut b = iocb::default();
    let good: [*mut iocb; 2] = [&mut a, &mut b];
    let bad_first: [*mut iocb; 2] = [null_mut(), &mut b];

    // SAFETY (all io_submit calls below): the arrays are live; the kernel reads no iocb it does
    // not submit, the pointers it cannot read give EFAULT, and no request is queued, so no
    // buffer is ever used.
    unsafe {
        assert_eq!(
            aio_sys::io_submit(0, 1, good.as_ptr()),
            Err(RawErrno::INVAL)
        );
        assert_eq!(aio_sys::io_submit(raw, 0, good.as_ptr()), Ok(0));
        assert_eq!(aio_sys::io_submit(raw, 1, null()), Err(RawErrno::FAULT));
        assert_eq!(
            aio_sys::io_submit(raw, 2, bad_first.as_ptr()),
            Err(RawErrno::FAULT)
        );
        assert_eq!(
            aio_sys::io_submit(raw, -1, good.as_ptr()),
            Err(RawErrno::INVAL)
        );
    }

    let mut events = [io_event::default(); 2];
    let zero = __kernel_timespec::default();
    // SAFETY (both calls): `events` has room for 2 events, `zero` is a live timespec.
    unsafe {
        assert_eq!(
            aio_sys::io_getevents(raw, 2, 1, events.as_mut_ptr(), &zero),
            Err(RawErrno::INVAL)
        );
        assert_eq!(
            aio_sys::io_getevents(0, 0, 2, events.as_mut_ptr(), &zero),
            Err(RawErrno::INVAL)
        );
    }
    // The context is untouched by all this.
    drop(ctx);
}

/// An operation the kernel rejects at io_submit (EBADF for a closed descriptor, EOPNOTSUPP for
/// an unknown RWF flag) becomes that operation's completion; the others still go.
fn rejected_ops_complete_with_their_errno() {
    let Some(mut ctx) = context_or_skip::<Vec<u8>>(
        "rejected_ops_complete_with_their_errno",
        Context::builder().depth(8),
    ) else {
        return;
    };
    let temp = TempFile::new("rejected");
    let file = Arc::new(temp.create_rw());
    std::fs::write(temp.path(), b"0123456789").unwrap();

    let ops = [
        Op::read(file.clone(), vec![0; 4], 0).user_data(1),
        closed_fd_op(&file, vec![7; 16]).user_data(2),
        Op::read(file.clone(), vec![0; 4], 4).user_data(3),
        Op::write(file.clone(), b"x".to_vec(), 0)
            .flags(RwFlags::from_bits_retain(1 << 30))
            .user_data(4),
        Op::read(file.clone(), vec![0; 2], 8).user_data(5),
    ];
    for op in ops {
        ctx.push(op).unwrap();
    }
    let before = ctx.stats();
    if on_kernel() {
        // io_submit stops at each bad iocb; the context completes it with the errno.
        assert_eq!(ctx.submit(), Ok(3), "three good operations accepted");
        let stats = ctx.stats();
        assert_eq!(stats.submitted - before.submitted, 3);
        assert_eq!(stats.local_completions - before.local_completions, 2);
    } else {
        // The emulation accepts all five and runs them: pread answers EBADF and pwritev2
        // EOPNOTSUPP, the errors io_submit gives, in the completions.
        assert_eq!(ctx.submit(), Ok(5), "every operation accepted and run");
        let stats = ctx.stats();
        assert_eq!(stats.submitted - before.submitted, 5);
        assert_eq!(stats.emulated - before.emulated, 5);
        assert_eq!(stats.local_completions - before.local_completions, 0);
    }
    assert_eq!(ctx.queued(), 0, "nothing left behind");

    assert_eq!(ctx.wait(5, FIVE_SECONDS), Ok(5));
    let mut seen: HashMap<u64, _> = HashMap::new();
    for completion in ctx.completions() {
        let tag = completion.user_data();
        assert!(seen.insert(tag, completion).is_none(), "{tag} twice");
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[&1].result(), Ok(4));
    assert_eq!(seen[&3].result(), Ok(4));
    assert_eq!(seen[&5].result(), Ok(2));

    let bad_fd = seen.remove(&2).unwrap();
    assert_eq!(bad_fd.kind(), OpKind::Read);
    assert_eq!(bad_fd.result(), Err(Errno::BADF));
    assert_eq!(
        bad_fd.raw_result(),
        -i64::from(Errno::BADF.raw_os_error()),
        "raw result is the negative errno"
    );
    assert!(!bad_fd.is_cancelled());
    assert_eq!(
        bad_fd.into_buf(),
        Some(vec![7; 16]),
        "buffer handed back intact"
    );

    let bad_flag = &seen[&4];
    assert_eq!(bad_flag.result(), Err(Errno::OPNOTSUPP));
    assert_eq!(std::fs::read(temp.path()).unwrap(), b"0123456789");
}

/// Waiting for more completions than could ever come is refused, not a hang.
fn wait_for_more_than_in_flight_is_invalid_input() {
    let Some(mut ctx) = context_or_skip::<Vec<u8>>(
        "wait_for_more_than_in_flight_is_invalid_input",
        Context::builder().depth(4),
    ) else {
        return;
    };
    assert!(matches!(ctx.wait(1, None), Err(Error::InvalidInput(_))));
    let mask = SignalSet::empty();
    assert!(matches!(
        ctx.wait_with_sigmask(1, None, &mask),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(ctx.wait(0, None), Ok(0));

    let temp = TempFile::new("wait-min");
    let file = temp.create_rw();
    ctx.push(Op::write(file, b"abc".to_vec(), 0)).unwrap();
    // Queued but not submitted: it cannot complete.
    assert!(matches!(ctx.wait(1, None), Err(Error::InvalidInput(_))));
    assert_eq!(ctx.submit(), Ok(1));
    assert!(matches!(ctx.wait(2, None), Err(Error::InvalidInput(_))));
    assert_eq!(ctx.wait(1, FIVE_SECONDS), Ok(1));
    // Ready but not collected counts.
    assert_eq!(ctx.wait(1, None), Ok(1));
    assert!(matches!(ctx.wait(2, None), Err(Error::InvalidInput(_))));
    let done: Vec<_> = ctx.completions().collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].result(), Ok(3));
    assert!(matches!(ctx.wait(1, None), Err(Error::InvalidInput(_))));
}

/// An `OpId` whose completion was handed back is stale, also once its slot is reused.
fn cancel_with_stale_id_is_not_found() {
    let Some(mut ctx) = context_or_skip::<Vec<u8>>(
        "cancel_with_stale_id_is_not_found",
        Context::builder().depth(1),
    ) else {
        return;
    };
    let temp = TempFile::new("stale");
    let file = ctx.register(temp.create_rw()).unwrap();

    let first = ctx.push(Op::write(file, b"one".to_vec(), 0)).unwrap();
    assert_eq!(ctx.submit(), Ok(1));
    assert_eq!(ctx.wait(1, FIVE_SECONDS), Ok(1));
    // Completed but not handed back: too late to cancel.
    assert_eq!(ctx.cancel(first), Ok(CancelOutcome::NotCancellable));
    let done: Vec<_> = ctx.completions().collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].result(), Ok(3));
    assert_eq!(ctx.cancel(first), Ok(CancelOutcome::NotFound));

    // Depth 1: the same slot again, a new generation.
    let second = ctx
        .push(Op::write(file, b"two".to_vec(), 3).user_data(2))
        .unwrap();
    assert_ne!(first, second);
    assert_eq!(ctx.cancel(first), Ok(CancelOutcome::NotFound));
    assert_eq!(ctx.cancel(second), Ok(CancelOutcome::Unsubmitted));
    assert_eq!(ctx.queued(), 0);
    let done: Vec<_> = ctx.completions().collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].user_data(), 2);
    assert_eq!(done[0].result(), Err(Errno::CANCELED));
    assert!(done[0].is_cancelled());
    assert_eq!(ctx.cancel(second), Ok(CancelOutcome::NotFound));
    assert_eq!(ctx.submit(), Ok(0));
    assert_eq!(std::fs::read(temp.path()).unwrap(), b"one");
}

/// A full context hands the operation back, buffers and all.
fn push_beyond_depth_is_queue_full() {
    let Some(mut ctx) = context_or_skip::<Vec<u8>>(
        "push_beyond_depth_is_queue_full",
        Context::builder().depth(2),
    ) else {
        return;
    };
    let temp = TempFile::new("full");
    let file = ctx.register(temp.create_rw()).unwrap();
    ctx.push(Op::write(file, vec![1; 8], 0)).unwrap();
    ctx.push(Op::write(file, vec![2; 8], 8)).unwrap();
    let rejected = ctx
        .push(Op::write(file, vec![3; 8], 16).user_data(3))
        .unwrap_err();
    assert_eq!(rejected.error, Error::QueueFull { depth: 2 });
    assert_eq!(rejected.op.kind(), OpKind::Write);
    assert_eq!(ctx.submit(), Ok(2));
    // In flight or ready, still owned: still full.
    let again = ctx.push(rejected.op).unwrap_err();
    assert_eq!(ctx.wait(2, FIVE_SECONDS), Ok(2));
    let again = ctx.push(again.op).unwrap_err();
    assert_eq!(ctx.completions().count(), 2);
    ctx.push(again.op).unwrap();
    assert_eq!(ctx.submit(), Ok(1));
    assert_eq!(ctx.wait(1, FIVE_SECONDS), Ok(1));
    let last: Vec<_> = ctx.completions().collect();
    assert_eq!(last[0].user_data(), 3);
    assert_eq!(last[0].result(), Ok(8));
    let mut expected = vec![1; 8];
    expected.extend([2; 8]);
    expected.extend([3; 8]);
    assert_eq!(std::fs::read(temp.path()).unwrap(), expected);
}
