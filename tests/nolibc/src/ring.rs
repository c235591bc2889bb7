//! Reaping from the completion ring in user space, without a system call: the `aio_ring` header
//! `io_setup` maps at the context's address. The kernel stores an event, then (after a write
//! barrier) `tail`; a single consumer reads `tail` with acquire ordering, copies the events in
//! `[head, tail)` modulo `nr`, and hands the slots back with a release store of `head`. Allowed
//! only when the header has `AIO_RING_MAGIC` and no incompatible feature bits.

use aio_sys::abi::{AIO_RING_INCOMPAT_FEATURES, AIO_RING_MAGIC, aio_context_t, aio_ring, io_event};
use core::sync::atomic::{AtomicU32, Ordering};

/// The ring of a live context, checked to be readable from user space.
pub struct Ring {
    header: *mut aio_ring,
    nr: u32,
}

impl Ring {
    /// The ring of `ctx`, or `None` if its header forbids reading it from user space.
    ///
    /// # Safety
    /// `ctx` must be a live context of this process, and stay so while the `Ring` is used; the
    /// caller must be the ring's only consumer (no `io_getevents` while [`Ring::pop`] runs).
    pub unsafe fn new(ctx: aio_context_t) -> Option<Self> {
        // `aio_context_t` is u64 on x32, where the first cast is not a no-op.
        #[allow(clippy::unnecessary_cast)]
        let header = ctx as usize as *mut aio_ring;
        if header.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees the header is mapped; io_setup wrote these fields once,
        // before it returned.
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

    /// `head` or `tail` of the header, shared with the kernel, hence atomic.
    fn index(&self, field: *mut u32) -> &AtomicU32 {
        // SAFETY: `field` points into the mapped header (an aligned u32) for as long as the
        // context lives, which `new`'s caller guarantees for the life of `self`.
        unsafe { AtomicU32::from_ptr(field) }
    }

    /// Takes the oldest event from the ring, if there is one.
    pub fn pop(&self) -> Option<io_event> {
        // SAFETY: projections of the mapped header; no Rust reference to it is made.
        let (head_ptr, tail_ptr) =
            unsafe { (&raw mut (*self.header).head, &raw mut (*self.header).tail) };
        let tail = self.index(tail_ptr).load(Ordering::Acquire);
        let head = self.index(head_ptr).load(Ordering::Relaxed);
        if head == tail || head >= self.nr || tail >= self.nr {
            return None;
        }
        // SAFETY: the `nr` events follow the header inside the mapping and `head < nr`; the
        // acquire load of `tail` ordered the kernel's store of this event before this read.
        let event = unsafe {
            (&raw const (*self.header).io_events)
                .cast::<io_event>()
                .add(head as usize)
                .read_volatile()
        };
        let next = if head + 1 == self.nr { 0 } else { head + 1 };
        self.index(head_ptr).store(next, Ordering::Release);
        Some(event)
    }
}
