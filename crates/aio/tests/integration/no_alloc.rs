//! Steady state allocates nothing: push, submit, wait and completions reuse the context's
//! preallocated slots, queues and event buffer. Counted with a global allocator, on the test's
//! own thread only (the test harness's main thread allocates while the test runs). The thread is
//! told by its id, not by a `thread_local!`: where the target has no native TLS (x32) a
//! thread-local allocates on first use, and the allocator would recurse into itself.

use crate::support;

use aio::{BufPool, Context, Op, PooledBuf, Reap};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;
use support::{build_or_enosys, each_backend, temp_file};

each_backend!(
    steady_state_push_submit_reap_allocates_nothing,
    pooled_blocks_allocate_nothing_in_steady_state
);

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// The id of the thread whose allocations are counted (0: none).
static COUNTED: AtomicI32 = AtomicI32::new(0);

fn this_thread() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

fn count() {
    let counted = COUNTED.load(Ordering::Relaxed);
    if counted != 0 && counted == this_thread() {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator, counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn steady_state_push_submit_reap_allocates_nothing() {
    for reap in [Reap::Ring, Reap::Syscall] {
        let Some(mut ctx) =
            build_or_enosys::<Vec<u8>>("no_alloc", Context::builder().depth(32).reap(reap))
        else {
            return;
        };
        let file = temp_file("no-alloc");
        std::io::Write::write_all(&mut &file, &[3u8; 32 * 512]).unwrap();
        // Registered: naming it costs an operation nothing (no reference count, no allocation).
        let file = ctx.register(file).unwrap();
        let mut pool: Vec<Vec<u8>> = (0..32).map(|_| vec![0; 512]).collect();
        let round = |ctx: &mut Context, pool: &mut Vec<Vec<u8>>| {
            let mut i = 0;
            while let Some(buf) = pool.pop() {
                ctx.push(Op::read(file, buf, i * 512)).unwrap();
                i += 1;
            }
            ctx.submit().unwrap();
            ctx.wait(32, Some(Duration::from_secs(10))).unwrap();
            for c in ctx.completions() {
                assert_eq!(c.result(), Ok(512));
                pool.push(c.into_buf().unwrap());
            }
        };
        round(&mut ctx, &mut pool); // warm-up
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        COUNTED.store(this_thread(), Ordering::Relaxed);
        for _ in 0..100 {
            round(&mut ctx, &mut pool);
        }
        COUNTED.store(0, Ordering::Relaxed);
        let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert_eq!(
            allocated, 0,
            "{reap:?}: 3200 operations in steady state allocated {allocated} times"
        );
    }
}

/// A pool's blocks taken, read into, handed back in completions and dropped back into the pool:
/// no allocation either (the pool's list has room for every block; a block carries the pool by
/// reference count).
fn pooled_blocks_allocate_nothing_in_steady_state() {
    let Some(mut ctx) =
        build_or_enosys::<PooledBuf>("no_alloc_pool", Context::builder().buffers().depth(32))
    else {
        return;
    };
    let file = temp_file("no-alloc-pool");
    std::io::Write::write_all(&mut &file, &[5u8; 32 * 4096]).unwrap();
    let file = ctx.register(file).unwrap();
    let pool = BufPool::new(32, 4096, 4096).unwrap();
    let round = |ctx: &mut Context<PooledBuf>| {
        let mut i = 0;
        while let Some(buf) = pool.take() {
            ctx.push(Op::read(file, buf, i * 4096)).unwrap();
            i += 1;
        }
        assert_eq!(i, 32, "every block was free");
        ctx.submit().unwrap();
        ctx.wait(32, Some(Duration::from_secs(10))).unwrap();
        for c in ctx.completions() {
            assert_eq!(c.result(), Ok(4096));
            assert!(c.into_buf().unwrap().iter().all(|&b| b == 5));
        }
        assert_eq!(pool.available(), 32, "every block came back");
    };
    round(&mut ctx); // warm-up
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTED.store(this_thread(), Ordering::Relaxed);
    for _ in 0..100 {
        round(&mut ctx);
    }
    COUNTED.store(0, Ordering::Relaxed);
    let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(
        allocated, 0,
        "3200 pooled reads allocated {allocated} times"
    );
}
