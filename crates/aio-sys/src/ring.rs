//! Reaping completions straight from the mmap'd completion ring, without a system call.
//!
//! `io_setup` maps the completion ring into the process and returns its address as the context
//! id (`aio_setup_ring` in `fs/aio.c`). The kernel appends events at `tail` (event stores,
//! `smp_wmb`, then `tail`); one consumer may copy `[head, tail)` modulo `nr` after an **acquire**
//! load of `tail`, and return the slots with a **release** store of `head`, which is what
//! `io_getevents` itself does in the kernel. This is only allowed when the header carries
//! `AIO_RING_MAGIC` and no incompatible feature bits ([`Ring::new`] checks both), and only with
//! one consumer at a time: never while an `io_getevents` call on the same context runs.
//!
//! ```
//! use aio_sys::{abi::{aio_context_t, io_event}, io_destroy, io_setup, ring::Ring};
//!
//! let mut ctx: aio_context_t = 0;
//! // SAFETY: `ctx` is a valid, zeroed context variable.
//! if unsafe { io_setup(4, &mut ctx) }.is_ok() {
//!     // SAFETY: `ctx` is live until the io_destroy below, and this is its only consumer.
//!     if let Some(ring) = unsafe { Ring::new(ctx) } {
//!         assert!(ring.slots() >= 4);
//!         let mut events = [io_event::default(); 4];
//!         // SAFETY: as above; nothing was submitted, so nothing is there.
//!         assert_eq!(unsafe { ring.reap(&mut events) }, 0);
//!     }
//!     // SAFETY: `ctx` is live and its ring no longer used.
//!     unsafe { io_destroy(ctx) }.unwrap();
//! }
//! ```

use crate::abi::{AIO_RING_INCOMPAT_FEATURES, AIO_RING_MAGIC, aio_context_t, aio_ring, io_event};
use core::sync::atomic::{AtomicU32, Ordering};

/// The completion ring of a live context, checked to be readable from user space.
#[derive(Debug)]
pub struct Ring {
    header: *mut aio_ring,
    nr: u32,
}

impl Ring {
    /// The ring of `ctx`, or `None` if its header forbids reading it from user space (no
    /// `AIO_RING_MAGIC`, incompatible feature bits, or no slots).
    ///
    /// # Safety
    /// `ctx` must be a live context of this process (its ring mapped), and stay so while the
    /// `Ring` is used.
    pub unsafe fn new(ctx: aio_context_t) -> Option<Self> {
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

    /// The number of event slots in the ring (more than asked of `io_setup`: the kernel rounds
    /// the mapping up to whole pages).
    pub fn slots(&self) -> u32 {
        self.nr
    }

    #[inline]
    fn index(&self, field: *mut u32) -> &AtomicU32 {
        // SAFETY: `field` points into the mapped header (aligned u32); the kernel and this
        // process access it concurrently, hence atomics.
        unsafe { AtomicU32::from_ptr(field) }
    }

    /// Moves up to `out.len()` events from the ring into `out`, oldest first; returns how many.
    /// A header whose `head` or `tail` is out of range (not a state the kernel produces) yields
    /// nothing, leaving the ring to `io_getevents`.
    ///
    /// # Safety
    /// The ring must still be mapped, and no one else may consume from it during the call (no
    /// other reaper, no `io_getevents` on the same context).
    #[inline]
    pub unsafe fn reap(&self, out: &mut [io_event]) -> usize {
        // SAFETY: projections of the mapped header, never dereferenced as Rust references.
        let (head_ptr, tail_ptr) =
            unsafe { (&raw mut (*self.header).head, &raw mut (*self.header).tail) };
        let tail = self.index(tail_ptr).load(Ordering::Acquire);
        let mut head = self.index(head_ptr).load(Ordering::Relaxed);
        if head >= self.nr || tail >= self.nr {
            return 0;
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
