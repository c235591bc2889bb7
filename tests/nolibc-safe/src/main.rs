//! A libc-free program on the **safe** `aio` API, built without `std` (`aio` with
//! `default-features = false`, so `#![no_std]` + `alloc`): its own `_start` and `exit_group`
//! (shared with `tests/nolibc`), its own global allocator ([`heap`]), and through `aio`:
//! a verified write + read round trip on a memfd with completions reaped from the ring, the
//! eventfd's count, a poll cancelled with `io_cancel`, and a drain of a pending and a queued
//! poll. It prints one line on success.
//!
//! Exit status: 0 on success, else the [`Step`] that failed (101 for a panic, an allocation
//! failure included).
#![no_std]
#![no_main]
// `_start` in start.rs is inline assembly, still unstable on PowerPC and MIPS (the cross builds
// set RUSTC_BOOTSTRAP=1, as for aio-sys).
#![cfg_attr(
    any(
        target_arch = "powerpc64",
        target_arch = "mips",
        target_arch = "mips64"
    ),
    feature(asm_experimental_arch)
)]
// The memory functions of `mem` must not be compiled into calls to themselves.
#![no_builtins]

extern crate alloc;

use aio::rustix::fs::MemfdFlags;
use aio::rustix::io::Errno;
use aio::{CancelOutcome, Context, Op, PollFlags};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

mod heap;
#[path = "../../nolibc/src/mem.rs"]
mod mem;
#[path = "../../nolibc/src/start.rs"]
mod start;

/// What a failing run reports as its exit status.
#[repr(i32)]
#[derive(Clone, Copy)]
enum Step {
    Setup = 1,
    File = 2,
    Write = 3,
    Read = 4,
    Compare = 5,
    Ring = 6,
    EventFd = 7,
    Pipe = 8,
    Cancel = 9,
    Drain = 10,
}

/// Bytes written and read back.
const LEN: usize = 8192;

/// The exit status: 0, or the step that failed.
fn program() -> i32 {
    match run() {
        Ok(()) => {
            report();
            0
        }
        Err(step) => step as i32,
    }
}

fn run() -> Result<(), Step> {
    let mut ctx: Context<Vec<u8>> = Context::builder()
        .depth(8)
        .eventfd(true)
        .build()
        .map_err(|_| Step::Setup)?;
    let file = aio::rustix::fs::memfd_create("aio-nolibc-safe", MemfdFlags::CLOEXEC)
        .map_err(|_| Step::File)?;
    let file = ctx.register(file).map_err(|_| Step::File)?;

    // Write a pattern, then read it back into a fresh buffer.
    let pattern: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let written = one(&mut ctx, Op::write(file, pattern.clone(), 0)).ok_or(Step::Write)?;
    if written.0 != Ok(LEN) || written.1 != pattern {
        return Err(Step::Write);
    }
    let read = one(&mut ctx, Op::read(file, vec![0; LEN], 0)).ok_or(Step::Read)?;
    if read.0 != Ok(LEN) {
        return Err(Step::Read);
    }
    if read.1 != pattern {
        return Err(Step::Compare);
    }
    // Both completions came from the mmap'd ring, without io_getevents.
    let stats = ctx.stats();
    if !ctx.reaps_from_ring() || stats.ring_reaped != 2 || stats.getevents_calls != 0 {
        return Err(Step::Ring);
    }
    // One eventfd signal per completion.
    if ctx.take_eventfd_count() != Ok(2) {
        return Err(Step::EventFd);
    }

    // A poll on an empty pipe pends in the kernel until io_cancel ends it.
    let (reader, _writer) = aio::rustix::pipe::pipe().map_err(|_| Step::Pipe)?;
    let reader = Arc::new(reader);
    let poll = ctx
        .push(Op::poll(reader.clone(), PollFlags::IN).user_data(7))
        .map_err(|_| Step::Cancel)?;
    if ctx.submit() != Ok(1) {
        return Err(Step::Cancel);
    }
    match ctx.cancel(poll) {
        Ok(CancelOutcome::InProgress | CancelOutcome::Cancelled) => {}
        _ => return Err(Step::Cancel),
    }
    ctx.wait(1, None).map_err(|_| Step::Cancel)?;
    let cancelled = ctx.completions().next().ok_or(Step::Cancel)?;
    // The kernel completes a cancelled poll with res 0 and no events (aio_poll_cancel).
    if cancelled.user_data() != 7 || !cancelled.is_cancelled() || cancelled.result() != Ok(0) {
        return Err(Step::Cancel);
    }
    drop(cancelled);

    // Drain: one poll in the kernel, one still queued; both come back cancelled, none lost.
    ctx.push(Op::poll(reader.clone(), PollFlags::IN).user_data(8))
        .map_err(|_| Step::Drain)?;
    if ctx.submit() != Ok(1) {
        return Err(Step::Drain);
    }
    ctx.push(Op::poll(reader.clone(), PollFlags::IN).user_data(9))
        .map_err(|_| Step::Drain)?;
    let mut tags: Vec<u64> = Vec::new();
    for completion in ctx.drain().map_err(|_| Step::Drain)? {
        if !completion.is_cancelled() {
            return Err(Step::Drain);
        }
        tags.push(completion.user_data());
    }
    tags.sort_unstable();
    if tags != [8, 9] || ctx.owned() != 0 || Arc::strong_count(&reader) != 1 {
        return Err(Step::Drain);
    }
    Ok(())
}

/// Pushes `op`, submits it, waits for its completion: its result and buffer.
fn one(ctx: &mut Context<Vec<u8>>, op: Op<Vec<u8>>) -> Option<(Result<usize, Errno>, Vec<u8>)> {
    ctx.push(op).ok()?;
    if ctx.submit() != Ok(1) {
        return None;
    }
    ctx.wait(1, None).ok()?;
    let completion = ctx.completions().next()?;
    let result = completion.result();
    Some((result, completion.into_buf()?))
}

/// One line on standard output: what ran and the most heap it took.
fn report() {
    let mut line = [0u8; 96];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        let n = bytes.len().min(line.len() - at);
        line[at..at + n].copy_from_slice(&bytes[..n]);
        at += n;
    };
    put(b"aio-nolibc-safe: round trip, ring, eventfd, cancel, drain ok; heap peak ");
    let mut digits = [0u8; 20];
    let mut n = heap::HEAP.peak();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(&digits[i..]);
    put(b" bytes\n");
    // SAFETY: descriptor 1 is the process's standard output for as long as it runs.
    let stdout = unsafe { aio::rustix::fd::BorrowedFd::borrow_raw(1) };
    let _ = aio::rustix::io::write(stdout, &line[..at]);
}
