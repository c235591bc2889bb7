//! After libaio's harness case 6.t: one huge write and one huge read, each a single operation
//! (`io_event.res` must be the whole size: far below the kernel's per-call cap `MAX_RW_COUNT`,
//! 2 GiB - 1 page), and the data must round-trip. 6.t uses a buffered file and
//! min(MemTotal, 768 MiB); here the buffered case and an `O_DIRECT` case (the one where the
//! kernel really pins the buffer's pages for the device) each use
//! min(768 MiB, MemAvailable / 8) (256 MiB at most on 32-bit targets); the buffered one also
//! fills the page cache with as much again.
//!
//! On both backends (the emulation makes the same single `pwrite`/`pread`). The four tests of
//! this binary take turns ([`one_at_a_time`]), so that only one huge buffer exists at once.

use crate::common;

use aio::{AlignedBuf, Context, IoBufMut, Op};
use common::{TempFile, context_or_skip, each_backend};
use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

each_backend!(huge_buffered_write_and_read, huge_direct_write_and_read);

/// Held for the whole of each test: one huge transfer at a time (a failed test's poisoned
/// lock still serialises the others).
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The size 6.t caps its buffer at; 256 MiB on 32-bit targets, where the address space (not the
/// memory) is what runs out.
const LIBAIO_SIZE: usize = if cfg!(target_pointer_width = "64") {
    768 << 20
} else {
    256 << 20
};
/// Generous: a huge direct transfer on a slow disk, on a busy machine.
const PATIENCE: Option<Duration> = Some(Duration::from_secs(300));
/// The unit of the data pattern.
const BLOCK: usize = 4096;

/// The transfer size: min([`LIBAIO_SIZE`], MemAvailable / 8), in whole MiB (at least one), a
/// multiple of `align`.
fn transfer_size(test: &str, align: usize) -> usize {
    let available = common::mem_available();
    let cap = usize::try_from(available / 8).unwrap_or(usize::MAX);
    let size = LIBAIO_SIZE.min(cap) & !((1 << 20) - 1);
    let size = size.max(1 << 20);
    let size = size / align.max(1) * align.max(1);
    println!(
        "{test}: {} MiB (MemAvailable {} MiB)",
        size >> 20,
        available >> 20
    );
    size
}

/// The expected contents of block `index`: a fixed pattern, stamped with the block number.
fn expected_block(index: usize, out: &mut [u8; BLOCK]) {
    for (i, b) in out.iter_mut().enumerate() {
        *b = (i % 251) as u8 ^ 0x6c;
    }
    out[..8].copy_from_slice(&(index as u64).to_le_bytes());
}

/// Fills `buf` (a multiple of `BLOCK`) with the pattern.
fn fill(buf: &mut [u8]) {
    let mut block = [0u8; BLOCK];
    expected_block(0, &mut block);
    for (index, chunk) in buf.chunks_exact_mut(BLOCK).enumerate() {
        chunk.copy_from_slice(&block);
        chunk[..8].copy_from_slice(&(index as u64).to_le_bytes());
    }
}

/// Panics at the first block of `buf` that differs from the pattern.
fn verify(buf: &[u8], what: &str) {
    let mut block = [0u8; BLOCK];
    expected_block(0, &mut block);
    for (index, chunk) in buf.chunks_exact(BLOCK).enumerate() {
        block[..8].copy_from_slice(&(index as u64).to_le_bytes());
        assert!(
            chunk == block,
            "{what}: block {index} differs after the round trip"
        );
    }
}

/// One write of the whole `buf` at `offset`, then one read of the whole size back into the same
/// (scrubbed) buffer; returns the buffer.
fn round_trip<B: IoBufMut + std::ops::DerefMut<Target = [u8]>>(
    ctx: &mut Context<B>,
    file: &Arc<File>,
    mut buf: B,
    offset: u64,
    what: &str,
) -> B {
    let size = buf.len();
    fill(&mut buf);
    ctx.push(Op::write(file.clone(), buf, offset).user_data(1))
        .map_err(|e| e.error)
        .expect("push the write");
    assert_eq!(ctx.submit(), Ok(1), "{what}: submit the write");
    assert_eq!(ctx.wait(1, PATIENCE), Ok(1), "{what}: the write completes");
    let c = ctx.completions().next().expect("the write's completion");
    assert_eq!(c.user_data(), 1);
    assert_eq!(
        c.result(),
        Ok(size),
        "{what}: res of the write is the whole size"
    );
    let mut buf = c.into_buf().expect("the buffer back");

    buf.fill(0xee);
    ctx.push(Op::read(file.clone(), buf, offset).user_data(2))
        .map_err(|e| e.error)
        .expect("push the read");
    assert_eq!(ctx.submit(), Ok(1), "{what}: submit the read");
    assert_eq!(ctx.wait(1, PATIENCE), Ok(1), "{what}: the read completes");
    let c = ctx.completions().next().expect("the read's completion");
    assert_eq!(c.user_data(), 2);
    assert_eq!(
        c.result(),
        Ok(size),
        "{what}: res of the read is the whole size"
    );
    let buf = c.into_buf().expect("the buffer back");
    verify(&buf, what);
    buf
}

/// 6.t itself: a buffered file (the copy runs inside `io_submit`).
fn huge_buffered_write_and_read() {
    const TEST: &str = "huge_buffered_write_and_read";
    let _turn = one_at_a_time();
    let Some(mut ctx) = context_or_skip::<Vec<u8>>(TEST, Context::builder().depth(1)) else {
        return;
    };
    let size = transfer_size(TEST, BLOCK);
    let temp = TempFile::new("large");
    let file = Arc::new(temp.create_rw());
    let buf = round_trip(&mut ctx, &file, vec![0u8; size], 0, TEST);
    drop(buf);
    assert_eq!(file.metadata().unwrap().len(), size as u64);
    file.set_len(0).unwrap();
}

/// The pinned-pages variant: `O_DIRECT`, preferably on a disk-backed file system, where the
/// request is really asynchronous.
fn huge_direct_write_and_read() {
    const TEST: &str = "huge_direct_write_and_read";
    let _turn = one_at_a_time();
    let Some(mut ctx) = context_or_skip::<AlignedBuf>(TEST, Context::builder().depth(1)) else {
        return;
    };
    // Size the target from the memory first (and what a raw ramdisk holds); the alignment is
    // only known once it is open.
    let mut size = transfer_size(TEST, BLOCK);
    if let Some(room) = common::direct_room() {
        // Half of what is left: the other backend's variant needs a region of its own.
        let room = usize::try_from(room / 2).unwrap_or(usize::MAX) & !((1 << 20) - 1);
        if room < size {
            println!("{TEST}: {} MiB: what the block device holds", room >> 20);
            size = room;
        }
    }
    let Some(direct) = common::direct_or_skip(TEST, size as u64, true) else {
        return;
    };
    let size = size / direct.align * direct.align;
    println!("{TEST}: on {}", direct.what);
    let file = Arc::new(
        direct
            .file
            .try_clone()
            .expect("dup the O_DIRECT descriptor"),
    );
    let buf = AlignedBuf::new(size, direct.align).expect("aligned buffer");
    let buf = round_trip(&mut ctx, &file, buf, direct.base, TEST);
    drop(buf);
}
