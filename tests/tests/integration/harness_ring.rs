//! After libaio's harness case 17.t: submitting more operations than the kernel's completion
//! ring holds. `io_submit` then accepts only part of a batch (and answers `EAGAIN` once the ring
//! is full of unreaped events); the rest must stay queued, be resubmitted after reaping, and
//! nothing may be lost or hang, whether completions are reaped from the ring in user space
//! (which the kernel only notices when it runs out of room) or by `io_getevents`.
//!
//! On both backends: the emulation has no kernel ring (nothing to read in user space, no
//! `EAGAIN` backpressure, `kernel_events` and `reap` do not apply), and the test asserts that
//! instead, with the same batches, so that nothing is lost there either.

use crate::common;

use aio::{Context, Op, Reap};
use common::{TempFile, backend, context_or_skip, each_backend, on_kernel};
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

each_backend!(ring_overflow_loses_nothing_in_both_reaping_modes);

/// Small, so that 4 × the ring (2047 events with 64 KiB pages) stays a few MiB.
const BLOCK: usize = 512;
/// Asked of io_setup, as in 17.t; the kernel's ring is larger (see `kernel_ring_size`).
const KERNEL_EVENTS: u32 = 32;

/// The number of event slots in the kernel's ring for `KERNEL_EVENTS`, read from the ring
/// header (the `get_ring_size` of 17.t); `None` where the ring is not readable, or with the
/// emulated backend, which has none.
fn kernel_ring_size(test: &str) -> Option<Option<u32>> {
    let ctx = context_or_skip::<Vec<u8>>(
        test,
        Context::builder()
            .depth(1)
            .kernel_events(KERNEL_EVENTS)
            .reap(Reap::Ring),
    )?;
    if !on_kernel() {
        // No kernel context: no ring to read, whatever `reap` asked for.
        assert!(!ctx.reaps_from_ring(), "the emulation has no ring");
        assert_eq!(ctx.ring_slots(), None);
        assert_eq!(ctx.as_raw(), None, "no kernel context id");
        return Some(None);
    }
    if !ctx.reaps_from_ring() {
        return Some(None);
    }
    // `reaps_from_ring` means the header at the context id carries the ring magic: it is the
    // kernel's mapped `struct aio_ring`, live until `ctx` is dropped.
    // `aio_context_t` is u64 on x32, where the first cast is not a no-op.
    #[allow(clippy::unnecessary_cast)]
    let header = ctx.as_raw().expect("a kernel context") as usize as *const aio::aio_abi::aio_ring;
    // SAFETY: as above; `nr` is written once by io_setup and only read here.
    let nr = unsafe { (&raw const (*header).nr).read_volatile() };
    assert_eq!(ctx.ring_slots(), Some(nr), "ring_slots is the header's nr");
    Some(Some(nr))
}

fn pattern(block: usize) -> u8 {
    (block % 251) as u8
}

/// Runs `total` reads of one block each through a context that can hold all of them, on a
/// kernel ring that cannot; returns the number of io_submit calls that left operations queued.
fn run(file: &Arc<File>, total: usize, reap: Reap) -> usize {
    let mut ctx: Context = Context::builder()
        .depth(total as u32)
        .kernel_events(KERNEL_EVENTS)
        .reap(reap)
        .backend(backend())
        .build()
        .expect("context");
    let mut seen = vec![false; total];
    let mut pushed = 0;
    let mut completed = 0;
    let mut short_submits = 0;
    let mut round = 0;
    while completed < total {
        round += 1;
        assert!(round < 100 * total, "{reap:?} {total}: no progress");
        // Push everything there is room for; alternate read and a one-buffer readv as 17.t.
        while pushed < total {
            let offset = (pushed * BLOCK) as u64;
            let op = if pushed % 2 == 0 {
                Op::read(file.clone(), vec![0; BLOCK], offset)
            } else {
                Op::readv(file.clone(), vec![vec![0; BLOCK]], offset)
            };
            match ctx.push(op.user_data(pushed as u64)) {
                Ok(_) => pushed += 1,
                Err(e) => panic!("{reap:?} {total}: push: {e}"),
            }
        }
        if ctx.queued() > 0 {
            ctx.submit().expect("submit");
            if ctx.queued() > 0 {
                short_submits += 1;
            }
        }
        // Reap: half the time only what is already there, else wait for at least one.
        let ready = if round % 2 == 0 || ctx.in_flight() == 0 {
            ctx.reap().expect("reap")
        } else {
            ctx.wait(1, Some(Duration::from_secs(10))).expect("wait")
        };
        assert!(
            ready > 0 || ctx.in_flight() > 0,
            "{reap:?} {total}: nothing ready and nothing in flight"
        );
        for c in ctx.completions() {
            let i = c.user_data() as usize;
            assert!(!seen[i], "{reap:?} {total}: op {i} completed twice");
            seen[i] = true;
            completed += 1;
            assert_eq!(c.result(), Ok(BLOCK), "{reap:?} {total}: op {i}");
            let mut c = c;
            let data = match c.take_buf() {
                Some(buf) => buf,
                None => c.take_bufs().expect("readv buffers").concat(),
            };
            assert!(
                data.iter().all(|&b| b == pattern(i)),
                "{reap:?} {total}: data of op {i}"
            );
        }
    }
    assert!(seen.iter().all(|&s| s));
    let stats = ctx.stats();
    println!("{reap:?} total {total}: {short_submits} short submits, {stats:?}");
    assert_eq!(stats.submitted, total as u64);
    assert_eq!(stats.local_completions, 0);
    if !on_kernel() {
        // Every operation ran inside submit: nothing came from a ring or io_getevents.
        assert_eq!(stats.emulated, total as u64, "{reap:?} {total}: {stats:?}");
        assert_eq!(stats.ring_reaped + stats.syscall_reaped, 0, "{stats:?}");
        assert_eq!(stats.getevents_calls, 0, "{stats:?}");
        return short_submits;
    }
    assert_eq!(stats.ring_reaped + stats.syscall_reaped, total as u64);
    match reap {
        Reap::Ring if ctx.reaps_from_ring() => {
            assert!(
                stats.ring_reaped >= stats.syscall_reaped,
                "{reap:?} {total}: most completions from the ring: {stats:?}"
            );
            assert!(stats.ring_reaped > 0);
        }
        Reap::Ring => println!("the ring is not readable here: everything by io_getevents"),
        Reap::Syscall => {
            assert_eq!(stats.ring_reaped, 0, "{stats:?}");
            assert_eq!(stats.syscall_reaped, total as u64);
        }
    }
    short_submits
}

fn ring_overflow_loses_nothing_in_both_reaping_modes() {
    let test = "ring_overflow_loses_nothing_in_both_reaping_modes";
    let Some(ring) = kernel_ring_size(test) else {
        return;
    };
    let nr = ring.unwrap_or(2 * KERNEL_EVENTS) as usize;
    println!("io_setup({KERNEL_EVENTS}): kernel ring of {ring:?} events");
    if let Some(nr) = ring {
        assert!(
            nr >= KERNEL_EVENTS,
            "the ring holds at least what was asked"
        );
    }
    let max_total = 4 * nr;
    let temp = TempFile::new("ring");
    let data: Vec<u8> = (0..max_total)
        .flat_map(|i| std::iter::repeat_n(pattern(i), BLOCK))
        .collect();
    std::fs::write(temp.path(), &data).unwrap();
    // Shared by the contexts of every run.
    let file = Arc::new(File::open(temp.path()).unwrap());

    for reap in [Reap::Syscall, Reap::Ring] {
        for total in [nr - 1, nr, nr + 1, 2 * nr, 4 * nr] {
            let short = run(&file, total, reap);
            if !on_kernel() {
                // No kernel ring to fill: submit always takes the whole queue.
                assert_eq!(
                    short, 0,
                    "{reap:?} {total}: the emulation never says EAGAIN"
                );
            } else if total > nr {
                // More than the ring holds: the first io_submit cannot take everything.
                assert!(short > 0, "{reap:?} {total}: expected EAGAIN backpressure");
            }
        }
    }
}
