// Kernel only: about io_destroy waiting for in-flight O_DIRECT reads and aio-nr accounting.
//! After libaio's harness case 18.t: dropping a context while `O_DIRECT` reads are in flight.
//! The drop calls `io_destroy`, which returns only once every request has completed, so the
//! buffers hold the file's data afterwards and nothing writes into them later; and every context
//! gives its events back to `/proc/sys/fs/aio-nr`.
//!
//! The buffers are leaked `AlignedBuf`s lent to the context as `&'static mut [u8]`, so the test
//! can look at them after the context is gone. This binary holds this one test, so that no other
//! test of the process creates contexts while `aio-nr` is compared.

use crate::common;

use aio::{AlignedBuf, Context, Op};
use common::Direct;
use std::sync::Arc;
use std::time::Duration;

const TEST: &str = "drop_waits_for_in_flight_direct_reads";
const THREADS: usize = 4;
const ITERATIONS: usize = 25;
const READS: usize = 8;

fn block_pattern(i: usize) -> u8 {
    b'1' + i as u8
}

fn worker(direct: &Direct, block: usize, thread: usize) {
    // The reads hold their descriptor: this thread's contexts share one duplicate of it.
    let file = Arc::new(direct.file.try_clone().unwrap());
    let bufs: Vec<*mut AlignedBuf> = (0..READS)
        .map(|_| Box::into_raw(Box::new(AlignedBuf::new(block, direct.align).unwrap())))
        .collect();
    for iteration in 0..ITERATIONS {
        let mut ctx: Context<&'static mut [u8]> = Context::builder()
            .buffers()
            .depth(READS as u32)
            .build()
            .expect("context");
        for (i, &buf) in bufs.iter().enumerate() {
            // SAFETY: `buf` is a live, leaked AlignedBuf of this thread; this exclusive borrow is
            // the only access to it until the context holding it has been dropped below.
            let slice: &'static mut [u8] = unsafe { &mut *buf };
            slice.fill(b'0');
            let offset = direct.base + (i * block) as u64;
            ctx.push(Op::read(file.clone(), slice, offset).user_data(i as u64))
                .unwrap();
        }
        assert_eq!(
            ctx.submit(),
            Ok(READS),
            "thread {thread} iteration {iteration}"
        );
        // No reaping: io_destroy must wait for the reads.
        drop(ctx);
        for (i, &buf) in bufs.iter().enumerate() {
            // SAFETY: the context and the borrow it held are gone; nothing else uses `buf`.
            let slice: &mut [u8] = unsafe { &mut *buf };
            assert!(
                slice.iter().all(|&b| b == block_pattern(i)),
                "thread {thread} iteration {iteration}: buffer {i} not filled when the drop \
                 returned"
            );
            slice.fill(b'2');
        }
        if iteration % 5 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        for &buf in &bufs {
            // SAFETY: as above.
            let slice: &[u8] = unsafe { &*buf };
            assert!(
                slice.iter().all(|&b| b == b'2'),
                "thread {thread} iteration {iteration}: written after the drop"
            );
        }
    }
    for buf in bufs {
        // SAFETY: allocated by Box::into_raw above and no longer lent to anything.
        drop(unsafe { Box::from_raw(buf) });
    }
}

#[test]
fn drop_waits_for_in_flight_direct_reads() {
    // Alone: aio-nr must come back, with no other context of this process.
    let _alone = common::exclusive();
    if !common::aio_or_skip(TEST) {
        return;
    }
    let block = 4096;
    let Some(direct) = common::direct_or_skip(TEST, (READS * block) as u64, true) else {
        return;
    };
    let block = block.max(direct.align);
    println!(
        "O_DIRECT target: {} (alignment {})",
        direct.what, direct.align
    );
    direct.fill(block, READS, block_pattern);

    let aio_nr_before = common::proc_fs_number("aio-nr");
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let direct = &direct;
            s.spawn(move || worker(direct, block, thread));
        }
    });
    // Every context gave its events back to /proc/sys/fs/aio-nr.
    common::assert_aio_nr_restored(aio_nr_before, TEST);
}
