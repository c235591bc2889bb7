//! The contexts made through this library, and who reads each one's ring.
//!
//! Reaping from the ring in user space is only correct with one consumer: the kernel's
//! `io_getevents` reads `head` under its own lock and stores it back plainly, so a user-space
//! reader running beside it would hand the same events out twice. A C program may well call
//! `io_getevents` on one context from several threads. So each context made by `io_setup`
//! here gets an entry whose state word counts the threads inside the kernel's wait on it and
//! holds a reader bit:
//! - the ring is read in user space only by a thread that sets the reader bit while no other
//!   thread is in the kernel's wait (one compare-and-swap from 0), and
//! - a thread enters the kernel's wait only once the reader bit is clear (it spins meanwhile:
//!   a reader copies at most `nr` events and never blocks);
//! - `io_destroy` marks the entry dying once no reader is active, so that nothing reads a ring
//!   being unmapped.
//!
//! Contexts this library did not make (a raw `io_setup` system call), contexts beyond
//! [`SLOTS`], and those of a parent after `fork` are not in the table: their `io_getevents`
//! always calls the kernel, as libaio does.

use crate::fork;
use aio_sys::abi::aio_context_t;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Contexts with the fast path at once; more work without it.
pub(crate) const SLOTS: usize = 256;
/// A slot never used: a lookup stops here.
const EMPTY: usize = 0;
/// A slot whose context was destroyed: a lookup goes on past it, a registration reuses it.
const TOMBSTONE: usize = 1;

/// The state word: the reader bit, the dying bit, and the threads in the kernel's wait.
const READER: u32 = 1 << 31;
const DYING: u32 = 1 << 30;
const WAITERS: u32 = DYING - 1;

struct Slot {
    /// The context's id (its ring's address, so pointer-sized even where `aio_context_t` is
    /// wider), or [`EMPTY`] / [`TOMBSTONE`].
    ctx: AtomicUsize,
    state: AtomicU32,
    /// The process that registered it ([`fork::owner`]).
    owner: AtomicU32,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        ctx: AtomicUsize::new(EMPTY),
        state: AtomicU32::new(0),
        owner: AtomicU32::new(0),
    }
}; SLOTS];

/// The first slot to probe for `ctx` (ring addresses are page-aligned: their page number).
fn start(ctx: aio_context_t) -> usize {
    let page = (ctx as u64) >> 12;
    (page.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % SLOTS
}

fn probe(ctx: aio_context_t) -> impl Iterator<Item = &'static Slot> {
    let first = start(ctx);
    (0..SLOTS).map(move |i| &TABLE[(first + i) % SLOTS])
}

/// The table's form of a context id: `None` for ids that are no ring (0, 1, or wider than
/// a pointer).
fn id_of(ctx: aio_context_t) -> Option<usize> {
    // Not a no-op on x32, whose aio_context_t is 64-bit.
    #[allow(clippy::unnecessary_cast)]
    let (id, fits) = (ctx as usize, ctx as usize as aio_context_t == ctx);
    (fits && id > TOMBSTONE).then_some(id)
}

/// Waits a moment for another thread: spins, and after a while yields the CPU (the reader may
/// have been preempted, and a spinner of higher priority must not keep it from running).
fn relax(spins: &mut u32) {
    *spins += 1;
    if *spins % 64 == 0 {
        // SAFETY: sched_yield takes no arguments and touches no memory.
        let _ = unsafe {
            aio_sys::raw::syscall3(linux_raw_sys::general::__NR_sched_yield as usize, [0; 3])
        };
    } else {
        core::hint::spin_loop();
    }
}

/// Records a context just made by `io_setup` (ids 0 and 1 are never rings).
pub(crate) fn register(ctx: aio_context_t) {
    let Some(id) = id_of(ctx) else {
        return;
    };
    fork::arm();
    for slot in probe(ctx) {
        let seen = slot.ctx.load(Ordering::Acquire);
        if (seen == EMPTY || seen == TOMBSTONE)
            && slot.state.load(Ordering::Acquire) == 0
            && slot
                .ctx
                .compare_exchange(seen, id, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            slot.owner.store(fork::owner(), Ordering::Release);
            return;
        }
    }
    // Full: this context goes without the fast path.
}

/// This process's live entry for `ctx`, if any.
fn find(ctx: aio_context_t) -> Option<&'static Slot> {
    let id = id_of(ctx)?;
    for slot in probe(ctx) {
        match slot.ctx.load(Ordering::Acquire) {
            EMPTY => return None,
            seen if seen == id => {
                let mine = slot.owner.load(Ordering::Acquire) == fork::owner() && !fork::forked();
                return mine.then_some(slot);
            }
            _ => {}
        }
    }
    None
}

/// The right to read `ctx`'s ring in user space; released on drop.
pub(crate) struct Reader {
    slot: &'static Slot,
}

impl Reader {
    /// Taken only for a registered context with nobody in the kernel's wait on it and no
    /// other reader; `None` means: call the kernel.
    pub(crate) fn try_take(ctx: aio_context_t) -> Option<Self> {
        let slot = find(ctx)?;
        slot.state
            .compare_exchange(0, READER, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        // Taken: check that the slot still names this context (it may have been destroyed
        // and reused between the lookup and the swap).
        if Some(slot.ctx.load(Ordering::Acquire)) != id_of(ctx) {
            slot.state.fetch_and(!READER, Ordering::Release);
            return None;
        }
        Some(Self { slot })
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.slot.state.fetch_and(!READER, Ordering::Release);
    }
}

/// Changes `slot`'s state to `change(state)` once no reader is at work (spinning meanwhile: a
/// reader copies at most a ring's events and never blocks); `false` if `change` declines.
fn update_without_reader(slot: &Slot, change: impl Fn(u32) -> Option<u32>) -> bool {
    let mut state = slot.state.load(Ordering::Acquire);
    let mut spins = 0;
    loop {
        if state & READER != 0 {
            relax(&mut spins);
            state = slot.state.load(Ordering::Acquire);
            continue;
        }
        let Some(next) = change(state) else {
            return false;
        };
        match slot
            .state
            .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return true,
            Err(now) => state = now,
        }
    }
}

/// A thread inside the kernel's wait on a registered context; leaves on drop.
pub(crate) struct Waiter {
    slot: Option<&'static Slot>,
}

impl Waiter {
    /// Enters (after any reader is done). For a context not in the table, a dying one, or one
    /// with too many waiters to count, nothing is counted: the kernel's wait is all there is.
    pub(crate) fn enter(ctx: aio_context_t) -> Self {
        let slot = find(ctx).filter(|slot| {
            update_without_reader(slot, |state| {
                (state & DYING == 0 && state & WAITERS != WAITERS).then_some(state + 1)
            })
        });
        Self { slot }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            slot.state.fetch_sub(1, Ordering::Release);
        }
    }
}

/// An `io_destroy` under way: readers of the context's ring are done and kept away.
pub(crate) struct Retirement {
    slot: Option<&'static Slot>,
}

impl Retirement {
    /// `io_destroy` of `ctx` is about to run: waits for a reader to finish and keeps new ones
    /// away (a context not in the table needs nothing).
    pub(crate) fn begin(ctx: aio_context_t) -> Self {
        let slot =
            find(ctx).filter(|slot| update_without_reader(slot, |state| Some(state | DYING)));
        Self { slot }
    }

    /// After `io_destroy`: frees the slot if the context is gone, or lets readers back if the
    /// kernel refused (the context lives on).
    pub(crate) fn end(self, destroyed: bool) {
        if let Some(slot) = self.slot {
            if destroyed {
                slot.ctx.store(TOMBSTONE, Ordering::Release);
            }
            slot.state.fetch_and(!DYING, Ordering::Release);
        }
    }
}
