//! A context's edges, on both backends: ids that outlive their operation or come from
//! another context, a buffer that panics inside `push`, depths no kernel context can take, and
//! `drain` at shutdown.

use crate::support;

use aio::{
    CancelOutcome, Context, Errno, Error, IoBuf, IoBufMut, MAX_EVENTS, Op, OpKind, PollFlags,
    RwFlags,
};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{backend, build_or_enosys, each_backend, expect_enosys, temp_file};

each_backend!(
    a_stale_id_never_cancels_the_next_operation_in_its_slot,
    an_id_of_another_context_is_not_found,
    a_buffer_panicking_inside_push_leaves_every_slot_usable,
    depths_beyond_a_kernel_context_are_errors_not_aborts,
    drain_yields_one_completion_for_every_queued_in_flight_and_ready_operation,
    drain_waits_for_reads_the_kernel_cannot_cancel,
    public_types_have_debug,
    build_reports_memory_it_cannot_get_instead_of_aborting,
    a_descriptor_panicking_on_drop_at_hand_back_loses_no_slot,
    a_second_cancel_of_a_poll_in_progress_says_in_progress,
    aligned_buffers_report_memory_they_cannot_get,
    empty_buffers_with_a_null_pointer_read_and_write_nothing
);

fn context<B: IoBuf>(test: &str, depth: u32) -> Option<Context<B>> {
    build_or_enosys(test, Context::builder().depth(depth))
}

fn a_stale_id_never_cancels_the_next_operation_in_its_slot() {
    let Some(mut ctx) = context::<Vec<u8>>("stale_id", 1) else {
        return;
    };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let reader = Arc::new(reader);
    let first = ctx
        .push(Op::poll(reader.clone(), PollFlags::IN).user_data(1))
        .unwrap();
    ctx.submit().unwrap();
    rustix::io::write(&writer, b"x").unwrap();
    ctx.wait(1, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(ctx.completions().next().unwrap().user_data(), 1);

    // Depth 1: the next operation takes the same slot.
    let mut drained = [0u8; 1];
    rustix::io::read(&*reader, &mut drained).unwrap();
    let second = ctx
        .push(Op::poll(reader.clone(), PollFlags::IN).user_data(2))
        .unwrap();
    ctx.submit().unwrap();
    assert_ne!(first, second);
    assert_eq!(ctx.cancel(first).unwrap(), CancelOutcome::NotFound);
    assert_eq!(ctx.in_flight(), 1, "the second poll is untouched");
    assert_eq!(
        ctx.wait(1, Some(Duration::from_millis(20))).unwrap(),
        0,
        "and still pending"
    );
    assert_eq!(ctx.cancel(second).unwrap(), CancelOutcome::InProgress);
    ctx.wait(1, Some(Duration::from_secs(5))).unwrap();
    let done = ctx.completions().next().unwrap();
    assert_eq!((done.user_data(), done.is_cancelled()), (2, true));
}

fn an_id_of_another_context_is_not_found() {
    let (Some(mut a), Some(mut b)) = (
        context::<Vec<u8>>("foreign_id_a", 4),
        context::<Vec<u8>>("foreign_id_b", 4),
    ) else {
        return;
    };
    let (reader, _writer) = rustix::pipe::pipe().unwrap();
    let reader = Arc::new(reader);
    let id_a = a.push(Op::poll(reader.clone(), PollFlags::IN)).unwrap();
    let id_b = b.push(Op::poll(reader.clone(), PollFlags::IN)).unwrap();
    a.submit().unwrap();
    b.submit().unwrap();
    // Same slot, same sequence number: only the context tells them apart.
    assert_eq!(b.cancel(id_a).unwrap(), CancelOutcome::NotFound);
    assert_eq!(a.cancel(id_b).unwrap(), CancelOutcome::NotFound);
    assert_eq!((a.in_flight(), b.in_flight()), (1, 1));
    for ctx in [&mut a, &mut b] {
        assert_eq!(ctx.drain().unwrap().count(), 1);
    }
}

/// A buffer whose `IoBuf` methods panic when armed, and that counts its drops.
struct Grenade {
    bytes: Vec<u8>,
    armed: bool,
    drops: Arc<AtomicUsize>,
}

impl Drop for Grenade {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the Vec's heap storage, which does not move with the struct; the
// panicking path returns nothing.
unsafe impl IoBuf for Grenade {
    fn stable_ptr(&self) -> *const u8 {
        assert!(!self.armed, "boom (stable_ptr)");
        self.bytes.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        assert!(!self.armed, "boom (bytes_len)");
        self.bytes.len()
    }
}

// SAFETY: as above; u8 accepts any byte.
unsafe impl IoBufMut for Grenade {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        assert!(!self.armed, "boom (stable_mut_ptr)");
        self.bytes.as_mut_ptr()
    }
}

/// Whether this target can catch a panic, printing the test's skip line if it cannot.
///
/// x32: Rust's std declares `_Unwind_Exception`'s private words as pointers (4 bytes there)
/// where libgcc's unwinder writes 8-byte words; the second one lands on the panic's canary, so
/// `catch_unwind` takes every panic for a foreign exception and aborts the process.
fn can_catch_panics(test: &str) -> bool {
    if cfg!(all(target_arch = "x86_64", target_pointer_width = "32")) {
        println!(
            "SKIPPED: {test}: rustc's std lacks working panic unwinding on x32 (its \
             _Unwind_Exception has 4-byte private words, libgcc's are 8), so a caught panic \
             aborts"
        );
        return false;
    }
    true
}

fn a_buffer_panicking_inside_push_leaves_every_slot_usable() {
    if !support::panics_can_be_caught("a_buffer_panicking_inside_push_leaves_every_slot_usable") {
        return;
    }
    if !can_catch_panics("a_buffer_panicking_inside_push_leaves_every_slot_usable") {
        return;
    }
    let Some(mut ctx) = context::<Grenade>("panic_push", 2) else {
        return;
    };
    let file = Arc::new(temp_file("panic-push"));
    file.write_all_at(&[9; 8], 0).unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let grenade = |armed| Grenade {
        bytes: vec![0; 4],
        armed,
        drops: drops.clone(),
    };
    for kind in [OpKind::Readv, OpKind::Writev] {
        for _ in 0..3 {
            let bufs = vec![grenade(false), grenade(true)];
            let op = match kind {
                OpKind::Readv => Op::readv(file.clone(), bufs, 0),
                _ => Op::writev(file.clone(), bufs, 0),
            };
            let panicked = catch_unwind(AssertUnwindSafe(|| drop(ctx.push(op))));
            assert!(panicked.is_err(), "{kind:?}: the buffer's panic propagates");
            assert_eq!(ctx.owned(), 0, "{kind:?}: no slot was taken");
            assert_eq!(ctx.queued(), 0);
        }
    }
    assert_eq!(
        drops.load(Ordering::Relaxed),
        12,
        "every buffer was dropped"
    );
    assert_eq!(
        Arc::strong_count(&file),
        1,
        "every descriptor hold was dropped"
    );

    // Both slots still work.
    for tag in 0..2 {
        ctx.push(Op::readv(file.clone(), vec![grenade(false), grenade(false)], 0).user_data(tag))
            .unwrap();
    }
    assert_eq!(ctx.submit().unwrap(), 2);
    ctx.wait(2, None).unwrap();
    for mut done in ctx.completions() {
        assert_eq!(done.result(), Ok(8));
        let bufs = done.take_bufs().unwrap();
        assert!(bufs.iter().all(|b| b.bytes == [9; 4]));
    }
}

fn depths_beyond_a_kernel_context_are_errors_not_aborts() {
    for (depth, events) in [
        (u32::MAX, Some(1)),
        (u32::MAX, None),
        (1 << 28, None),
        (1 << 24, Some(1)),
        (MAX_EVENTS + 1, Some(1)),
        (1, Some(u32::MAX)),
        (1, Some(MAX_EVENTS + 1)),
    ] {
        let mut builder = Context::builder().depth(depth).backend(backend());
        if let Some(events) = events {
            builder = builder.kernel_events(events);
        }
        let err = builder.build().unwrap_err();
        let requested = events.filter(|&e| e > MAX_EVENTS).unwrap_or(depth);
        assert_eq!(
            err,
            Error::DepthLimit {
                requested,
                limit: MAX_EVENTS
            },
            "depth {depth}, kernel_events {events:?}"
        );
        assert!(err.to_string().contains(&MAX_EVENTS.to_string()), "{err}");
    }
    // MAX_EVENTS itself is the kernel's limit: io_setup takes it where aio-max-nr allows, and
    // says EAGAIN (with the limit in the error) where it does not.
    // (The emulation asks no kernel: it takes any kernel_events.)
    match Context::builder()
        .depth(1)
        .kernel_events(MAX_EVENTS)
        .backend(backend())
        .build()
    {
        Ok(ctx) => assert_eq!(ctx.depth(), 1),
        Err(Error::ContextLimit { requested, .. }) => assert_eq!(requested, MAX_EVENTS),
        Err(Error::Unsupported { .. }) if expect_enosys() => {}
        Err(e) => panic!("io_setup({MAX_EVENTS}): {e}"),
    }
}

fn drain_yields_one_completion_for_every_queued_in_flight_and_ready_operation() {
    let Some(mut ctx) = context::<Vec<u8>>("drain", 8) else {
        return;
    };
    let file = ctx.register(temp_file("drain")).unwrap();
    let (reader, _writer) = rustix::pipe::pipe().unwrap();
    let reader = ctx.register(reader).unwrap();
    // Ready: a buffered write completes inside io_submit.
    ctx.push(Op::write(file, b"data".to_vec(), 0).user_data(1))
        .unwrap();
    // In flight: two polls on an empty pipe.
    ctx.push(Op::poll(reader, PollFlags::IN).user_data(2))
        .unwrap();
    ctx.push(Op::poll(reader, PollFlags::IN).user_data(3))
        .unwrap();
    assert_eq!(ctx.submit().unwrap(), 3);
    ctx.reap().unwrap();
    // Queued: never submitted.
    ctx.push(Op::read(file, vec![0; 4], 0).user_data(4))
        .unwrap();
    ctx.push(Op::fsync(file).user_data(5)).unwrap();

    let mut done: Vec<_> = ctx.drain().unwrap().collect();
    done.sort_by_key(|c| c.user_data());
    let seen: Vec<_> = done
        .iter()
        .map(|c| (c.user_data(), c.raw_result(), c.is_cancelled()))
        .collect();
    let canceled = -i64::from(Errno::CANCELED.raw_os_error());
    assert_eq!(
        seen,
        [
            (1, 4, false),
            (2, 0, true),
            (3, 0, true),
            (4, canceled, true),
            (5, canceled, true)
        ]
    );
    assert_eq!((ctx.owned(), ctx.in_flight(), ctx.queued()), (0, 0, 0));
    drop(done);

    // The context is usable again, and the registrations survived.
    ctx.push(Op::read(file, vec![0; 4], 0).user_data(6))
        .unwrap();
    ctx.submit().unwrap();
    ctx.wait(1, None).unwrap();
    let again = ctx.completions().next().unwrap();
    assert_eq!(again.into_buf().unwrap(), b"data");
    assert_eq!(ctx.drain().unwrap().count(), 0, "nothing left");
}

fn drain_waits_for_reads_the_kernel_cannot_cancel() {
    let Some(target) = support::direct_target("drain_direct") else {
        return;
    };
    let Some(mut ctx) = context::<aio::AlignedBuf>("drain_direct", 32) else {
        return;
    };
    let (file, _) = target.open();
    if let support::DirectTarget::File(_) = target {
        // A sparse 1 MiB: every read below finds 4096 bytes (of zeros).
        rustix::fs::ftruncate(&file, 1 << 20).unwrap();
    }
    let file = ctx.register(file).unwrap();
    for i in 0..32u64 {
        let buf = aio::AlignedBuf::new(4096, 4096).unwrap();
        ctx.push(Op::read(file, buf, (i % 256) * 4096).user_data(i))
            .unwrap();
    }
    ctx.submit().unwrap();
    let done: Vec<_> = ctx.drain().unwrap().collect();
    assert_eq!(done.len(), 32);
    assert!(done.iter().all(|c| c.result() == Ok(4096)), "{done:?}");
    let mut tags: Vec<_> = done.iter().map(|c| c.user_data()).collect();
    tags.sort();
    assert_eq!(tags, (0..32).collect::<Vec<_>>());
}

fn public_types_have_debug() {
    let Some(mut ctx) = context::<Vec<u8>>("debug", 2) else {
        return;
    };
    let op = Op::read(File::open("/dev/zero").unwrap(), vec![0; 8], 0).user_data(3);
    let shown = format!("{op:?}");
    assert!(
        shown.contains("Read") && shown.contains("user_data: 3"),
        "{shown}"
    );
    ctx.push(op).unwrap();
    let shown = format!("{ctx:?}");
    assert!(
        shown.contains("depth: 2") && shown.contains("queued: 1"),
        "{shown}"
    );
    ctx.submit().unwrap();
    ctx.wait(1, None).unwrap();
    let completions = ctx.completions();
    assert!(format!("{completions:?}").contains("remaining: 1"));
    drop(completions);
    let drain = ctx.drain().unwrap();
    assert!(format!("{drain:?}").contains("Drain"));
}

/// A buffer type that is large by value (its bytes live elsewhere), so that a deep context's
/// slots need more memory than any machine here has.
struct Bulky {
    _inline: [u64; 8192],
}

// SAFETY: the pointer is to a static, valid for the 0 bytes the buffer covers, and never moves.
unsafe impl IoBuf for Bulky {
    fn stable_ptr(&self) -> *const u8 {
        static NOTHING: [u8; 0] = [];
        NOTHING.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        0
    }
}

// Documented as about 250 bytes for `Vec<u8>` buffers on 64-bit targets.
const _: () = assert!(Context::<Vec<u8>>::BYTES_PER_SLOT < 400);
const _: () = assert!(Context::<Bulky>::BYTES_PER_SLOT > 64 * 1024);

fn build_reports_memory_it_cannot_get_instead_of_aborting() {
    let per_slot = Context::<Bulky>::BYTES_PER_SLOT;
    println!(
        "bytes per slot: {} with Vec<u8> buffers, {per_slot} with Bulky",
        Context::<Vec<u8>>::BYTES_PER_SLOT
    );
    // With overcommit "always" (1) the reservation would succeed and filling it would invoke
    // the OOM killer: only the heuristic (0) and strict (2) modes refuse it up front.
    let overcommit = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").unwrap_or_default();
    if overcommit.trim() == "1" {
        println!("SKIPPED: build_reports_memory: vm.overcommit_memory = 1 grants any reservation");
        return;
    }
    let err = Context::builder()
        .depth(MAX_EVENTS)
        .kernel_events(1)
        .backend(backend())
        .buffers::<Bulky>()
        .build()
        .map(drop)
        .unwrap_err();
    assert_eq!(
        err,
        Error::OutOfMemory {
            what: "context slots",
            bytes: (MAX_EVENTS as usize).saturating_mul(per_slot)
        }
    );
    assert!(err.to_string().contains("smaller depth"), "{err}");
}

/// A descriptor whose `Drop` panics, held by an operation through the last `Arc`.
struct DropBomb(rustix::fd::OwnedFd);

impl rustix::fd::AsFd for DropBomb {
    fn as_fd(&self) -> rustix::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

// SAFETY: the descriptor is owned from creation to drop and never replaced.
unsafe impl aio::StableFd for DropBomb {}

impl Drop for DropBomb {
    fn drop(&mut self) {
        panic!("boom (descriptor drop)");
    }
}

fn a_descriptor_panicking_on_drop_at_hand_back_loses_no_slot() {
    if !support::panics_can_be_caught("a_descriptor_panicking_on_drop_at_hand_back_loses_no_slot") {
        return;
    }
    if !can_catch_panics("a_descriptor_panicking_on_drop_at_hand_back_loses_no_slot") {
        return;
    }
    let Some(mut ctx) = context::<Vec<u8>>("panic_hand_back", 1) else {
        return;
    };
    for round in 0..3u64 {
        let bomb = Arc::new(DropBomb(
            rustix::fs::open(
                "/dev/zero",
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .unwrap(),
        ));
        ctx.push(Op::read(bomb, vec![1; 8], 0).user_data(round))
            .unwrap();
        ctx.submit().unwrap();
        ctx.wait(1, None).unwrap();
        // The last Arc is dropped as the completion is handed back.
        let handed = catch_unwind(AssertUnwindSafe(|| drop(ctx.completions().next())));
        assert!(handed.is_err(), "the descriptor's panic propagates");
        assert_eq!(ctx.owned(), 0, "round {round}: the slot is free again");
    }
}

fn a_second_cancel_of_a_poll_in_progress_says_in_progress() {
    let Some(mut ctx) = context::<Vec<u8>>("cancel_twice", 2) else {
        return;
    };
    let (reader, _writer) = rustix::pipe::pipe().unwrap();
    let id = ctx.push(Op::poll(reader, PollFlags::IN)).unwrap();
    ctx.submit().unwrap();
    assert_eq!(ctx.cancel(id).unwrap(), CancelOutcome::InProgress);
    assert_eq!(ctx.cancel(id).unwrap(), CancelOutcome::InProgress);
    let done: Vec<_> = ctx.drain().unwrap().collect();
    assert_eq!(done.len(), 1);
    assert!(done[0].is_cancelled());
}

fn aligned_buffers_report_memory_they_cannot_get() {
    // The largest valid layout: more than any machine here has, on every target.
    let huge = isize::MAX as usize & !4095;
    match aio::AlignedBuf::new(huge, 4096) {
        Err(Error::OutOfMemory { what, bytes }) => {
            assert_eq!((what, bytes), ("AlignedBuf", huge));
        }
        // A 32-bit program under qemu-user on a big 64-bit host may really get 2 GiB.
        Ok(buf) => println!("AlignedBuf::new({huge}) succeeded here: {buf:?}"),
        Err(e) => panic!("AlignedBuf::new({huge}): {e}"),
    }
    // One byte more is not a layout at all: refused before the allocator is asked.
    assert!(matches!(
        aio::AlignedBuf::new(isize::MAX as usize, 4096),
        Err(Error::InvalidInput(_))
    ));
}

/// An empty buffer whose pointer is null, which the `IoBuf` contract allows: nothing is ever
/// read or written through it.
struct NullBuf;

// SAFETY: a null pointer is valid for reads of 0 bytes, and stays the same.
unsafe impl IoBuf for NullBuf {
    fn stable_ptr(&self) -> *const u8 {
        std::ptr::null()
    }
    fn bytes_len(&self) -> usize {
        0
    }
}

// SAFETY: as above, for writes of 0 bytes.
unsafe impl IoBufMut for NullBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        std::ptr::null_mut()
    }
}

/// Reads and writes of empty buffers with a null pointer complete with 0, as the kernel's do,
/// on a file and on a pipe, with and without flags (the emulation must not make a slice of a
/// null pointer: debug builds abort on it).
fn empty_buffers_with_a_null_pointer_read_and_write_nothing() {
    if support::expect_enosys() {
        println!(
            "SKIPPED: empty_buffers_with_a_null_pointer_read_and_write_nothing: under qemu-user (qemu-user's preadv2/pwritev2 refuse an iovec with a null base (EFAULT), which the kernel accepts for length 0); checked in the booted kernels"
        );
        return;
    }
    let Some(mut ctx) = context::<NullBuf>("null_buffers", 16) else {
        return;
    };
    let file = Arc::new(temp_file("null-buffers"));
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let (reader, writer) = (Arc::new(reader), Arc::new(writer));
    let ops = [
        Op::read(file.clone(), NullBuf, 0),
        Op::write(file.clone(), NullBuf, 0),
        Op::read(file.clone(), NullBuf, 0).flags(RwFlags::HIPRI),
        Op::write(file.clone(), NullBuf, 0).flags(RwFlags::DSYNC),
        Op::readv(file.clone(), vec![NullBuf, NullBuf], 0),
        Op::writev(file.clone(), vec![NullBuf], 0),
        Op::readv(file.clone(), vec![NullBuf], 0).flags(RwFlags::HIPRI),
        Op::writev(file.clone(), vec![NullBuf, NullBuf], 0).flags(RwFlags::DSYNC),
        Op::read(reader.clone(), NullBuf, 0),
        Op::write(writer.clone(), NullBuf, 0),
        Op::readv(reader.clone(), vec![NullBuf], 0).flags(RwFlags::HIPRI),
        Op::writev(writer.clone(), vec![NullBuf], 0).flags(RwFlags::HIPRI),
    ];
    let n = ops.len();
    for (i, op) in ops.into_iter().enumerate() {
        ctx.push(op.user_data(i as u64)).unwrap();
    }
    ctx.submit().unwrap();
    assert_eq!(ctx.wait(n, Some(Duration::from_secs(10))).unwrap(), n);
    let mut results: Vec<_> = ctx
        .completions()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    results.sort_by_key(|r| r.0);
    let expected: Vec<_> = (0..n as u64).map(|i| (i, Ok(0))).collect();
    assert_eq!(results, expected);
    assert_eq!(file.metadata().unwrap().len(), 0);
}
