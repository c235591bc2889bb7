//! The program's global allocator: a bump allocator over a static arena. `dealloc` gives memory
//! back only when it is the latest block, which is enough for a program that makes one context
//! and a few buffers; running out returns null, which `alloc` reports as an allocation error
//! (a panic here, so exit status 101).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

/// 1 MiB, in `.bss`: it costs nothing in the executable.
const ARENA_BYTES: usize = 1 << 20;

/// The arena, aligned for `AlignedBuf`'s 4096-byte blocks.
#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; ARENA_BYTES]>);

// SAFETY: the bytes are only reached through `Bump`, which hands out disjoint ranges.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_BYTES]));

pub struct Bump {
    /// Bytes of the arena in use.
    used: AtomicUsize,
    /// The most ever in use.
    peak: AtomicUsize,
}

impl Bump {
    /// The most bytes ever in use, for the program's report.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

#[global_allocator]
pub static HEAP: Bump = Bump {
    used: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};

// SAFETY: every block returned lies inside the arena, is aligned as asked, and is not handed
// out again while allocated (the offset only moves back over the latest block, on its dealloc).
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = ARENA.0.get() as usize;
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let Some(start) = (base + used).checked_next_multiple_of(layout.align()) else {
                return core::ptr::null_mut();
            };
            let Some(end) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if end > base + ARENA_BYTES {
                return core::ptr::null_mut();
            }
            match self.used.compare_exchange_weak(
                used,
                end - base,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.peak.fetch_max(end - base, Ordering::Relaxed);
                    return start as *mut u8;
                }
                Err(now) => used = now,
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let end = ptr as usize + layout.size() - ARENA.0.get() as usize;
        // The latest block: take it back. Any other stays allocated until exit.
        let _ = self.used.compare_exchange(
            end,
            ptr as usize - ARENA.0.get() as usize,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}
