//! Reaping completions straight from the mmap'd ring, without a system call.
//!
//! `io_setup` maps the completion ring into the process and returns its address as the context
//! id. The kernel appends events at `tail` (event stores, `smp_wmb`, then `tail`); one consumer
//! may copy `[head, tail)` modulo `nr` after an **acquire** load of `tail`, and return the slots
//! with a **release** store of `head`. This is only allowed when the header carries
//! `AIO_RING_MAGIC` and no incompatible feature bits; the caller guarantees there is one consumer
//! at a time (the context reaps through `&mut self`, and never while inside `io_getevents`).

use aio_abi::{AIO_RING_INCOMPAT_FEATURES, AIO_RING_MAGIC, aio_context_t, aio_ring, io_event};
use core::sync::atomic::{AtomicU32, Ordering};

pub(crate) struct Ring {
    header: *mut aio_ring,
    nr: u32,
}

impl Ring {
    /// The ring of `ctx`, if user space may read it.
    ///
    /// # Safety
    /// `ctx` must be a live context of this process (its ring mapped).
    pub(crate) unsafe fn new(ctx: aio_context_t) -> Option<Self> {
        // `aio_context_t` is u64 on x32, where this cast is not a no-op.
        #[allow(clippy::unnecessary_cast)]
        let header = ctx as usize as *mut aio_ring;
        if header.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees the header is mapped; these fields are written once by
        // io_setup before it returned.
        let (magic, incompat, nr) = unsafe {
            (
                (&raw const (*header).magic).read_volatile(),
                (&raw const (*header).incompat_features).read_volatile(),
                (&raw const (*header).nr).read_volatile(),
            )
        };
        (magic == AIO_RING_MAGIC && incompat == AIO_RING_INCOMPAT_FEATURES && nr > 0)
            .then_some(Self { header, nr })
    }

    /// The number of event slots in the ring (more than asked of `io_setup`).
    pub(crate) fn slots(&self) -> u32 {
        self.nr
    }

    #[inline]
    fn index(&self, field: *mut u32) -> &AtomicU32 {
        // SAFETY: `field` points into the mapped header (aligned u32); the kernel and this
        // process access it concurrently, hence atomics.
        unsafe { AtomicU32::from_ptr(field) }
    }

    /// Moves up to `out.len()` events into `out`; returns how many.
    ///
    /// # Safety
    /// The ring must still be mapped, and no one else may consume from it during the call.
    #[inline]
    pub(crate) unsafe fn reap(&self, out: &mut [io_event]) -> usize {
        // SAFETY: projections of the mapped header, never dereferenced as Rust references.
        let (head_ptr, tail_ptr) =
            unsafe { (&raw mut (*self.header).head, &raw mut (*self.header).tail) };
        let tail = self.index(tail_ptr).load(Ordering::Acquire);
        let mut head = self.index(head_ptr).load(Ordering::Relaxed);
        if head >= self.nr || tail >= self.nr {
            return 0; // not a state the kernel produces: leave the ring to io_getevents
        }
        let mut copied = 0;
        // SAFETY: the events array follows the header inside the mapping (`nr` slots).
        let events = unsafe { (&raw mut (*self.header).io_events).cast::<io_event>() };
        while head != tail && copied < out.len() {
            // SAFETY: head < nr; the acquire load of `tail` ordered the kernel's event stores
            // before this read.
            out[copied] = unsafe { events.add(head as usize).read_volatile() };
            copied += 1;
            head = if head + 1 == self.nr { 0 } else { head + 1 };
        }
        if copied > 0 {
            self.index(head_ptr).store(head, Ordering::Release);
        }
        copied
    }
}
