//! After libaio's harness case 5.t: reads and writes whose buffer is a `MAP_SHARED` mapping of
//! the very file being read or written.
//!
//! - Writing from the mapping into the same place of the file (source and destination are the
//!   same page-cache page) and reading it back into the mapping both complete with the full
//!   length and leave the data in place; so do both on a fresh mapping whose pages are first
//!   touched by the kernel's copy (the page fault happens inside the I/O, on a page of the file
//!   being read or written), and so does a write from one page of the mapping to another page of
//!   the file, which the mapping then shows.
//! - A read into a `PROT_READ` mapping cannot store the data: `io_submit` accepts the request
//!   (the address range is valid) and the operation completes with `-EFAULT` in `io_event.res`,
//!   the file and mapping unchanged; a write from the same mapping (which only reads it)
//!   succeeds; a read into or a write from a `PROT_NONE` mapping completes with `-EFAULT`.
//!
//! The safe `aio` crate takes the writable mapping as a buffer (an [`IoBufMut`] over a range of
//! it); the `EFAULT` cases go through `aio-sys`, since a read-only mapping cannot honour
//! `IoBufMut`'s promise of writable memory.
//!
//! The safe-API test runs on both backends (the emulation's `pread`/`pwrite` copy through the
//! same mapping); the `EFAULT` one is kernel only, raw `io_submit` on a kernel context.

use crate::common;

use aio::{Context, IoBuf, IoBufMut, Op};
use aio_sys::Errno;
use aio_sys::abi::{__kernel_timespec, IOCB_CMD_PREAD, IOCB_CMD_PWRITE, aio_context_t, io_event};
use common::{TempFile, context_or_skip, each_backend};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::ptr::null_mut;
use std::sync::Arc;
use std::time::Duration;

/// The transfer size of 5.t.
const SIZE: usize = 512;
const FIVE_SECONDS: Option<Duration> = Some(Duration::from_secs(5));

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// A `MAP_SHARED` mapping of a file, unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: plain memory; every access in this file is either the kernel's (while an operation
// owns a range) or this thread's, never both at once.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `file`, shared, with `prot`.
    fn shared(file: &File, len: usize, prot: libc::c_int) -> Self {
        // SAFETY: a new mapping at an address the kernel chooses; no existing memory changes.
        let ptr =
            unsafe { libc::mmap(null_mut(), len, prot, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        assert_ne!(
            ptr,
            libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        Self {
            ptr: ptr.cast(),
            len,
        }
    }

    /// A copy of `[offset, offset + len)`. Only while no operation owns that range.
    fn bytes(&self, offset: usize, len: usize) -> Vec<u8> {
        assert!(offset + len <= self.len);
        // SAFETY: inside the mapping, which is readable; the kernel does not write it now.
        unsafe { std::slice::from_raw_parts(self.ptr.add(offset), len) }.to_vec()
    }

    /// Stores `data` at `offset` (through the mapping, into the file's pages).
    fn store(&self, offset: usize, data: &[u8]) {
        assert!(offset + data.len() <= self.len);
        // SAFETY: inside the writable mapping; nothing else accesses it now.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(offset), data.len()) };
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made by `shared`; every operation that borrowed it has completed
        // (the contexts holding `MapSlice`s are dropped first: they hold an `Arc` to it).
        let r = unsafe { libc::munmap(self.ptr.cast(), self.len) };
        assert_eq!(r, 0, "munmap: {}", std::io::Error::last_os_error());
    }
}

/// A range of a read-write [`Mapping`], lent to one operation.
struct MapSlice {
    map: Arc<Mapping>,
    offset: usize,
    len: usize,
}

impl MapSlice {
    fn new(map: &Arc<Mapping>, offset: usize, len: usize) -> Self {
        assert!(offset + len <= map.len);
        Self {
            map: map.clone(),
            offset,
            len,
        }
    }
}

// SAFETY: the range lies inside the mapping, which stays mapped (at the same address) while the
// `Arc` lives, however the slice is moved.
unsafe impl IoBuf for MapSlice {
    fn stable_ptr(&self) -> *const u8 {
        // SAFETY: `offset + len <= map.len` (checked in `new`).
        unsafe { self.map.ptr.add(self.offset) }
    }
    fn bytes_len(&self) -> usize {
        self.len
    }
}

// SAFETY: only slices of `PROT_READ | PROT_WRITE` mappings are made; any byte is a valid u8. The
// test never touches a range while an operation owns it.
unsafe impl IoBufMut for MapSlice {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: as in `stable_ptr`.
        unsafe { self.map.ptr.add(self.offset) }
    }
}

/// Runs `op` to its completion; returns its result.
fn run(ctx: &mut Context<MapSlice>, op: Op<MapSlice>) -> Result<usize, aio::Errno> {
    ctx.push(op).map_err(|e| e.error).expect("push");
    assert_eq!(ctx.submit().expect("submit"), 1);
    assert_eq!(
        ctx.wait(1, FIVE_SECONDS).expect("wait"),
        1,
        "one completion"
    );
    let c = ctx.completions().next().expect("one completion");
    c.result()
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed ^ (i % 251) as u8).collect()
}

fn file_bytes(file: &File, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset).expect("pread");
    buf
}

each_backend!(io_from_and_into_a_mapping_of_the_same_file);

fn io_from_and_into_a_mapping_of_the_same_file() {
    let Some(mut ctx) = context_or_skip::<MapSlice>(
        "io_from_and_into_a_mapping_of_the_same_file",
        Context::builder().depth(4),
    ) else {
        return;
    };
    let page = page_size();
    let temp = TempFile::new("mmap");
    let file = Arc::new(temp.create_rw());
    file.set_len(2 * page as u64).unwrap();
    let rw = libc::PROT_READ | libc::PROT_WRITE;

    // 5.t, first mapping: its page is faulted in by the test's own store.
    let a = pattern(0xa5, SIZE);
    let map = Arc::new(Mapping::shared(&file, 2 * page, rw));
    map.store(0, &a);
    let r = run(
        &mut ctx,
        Op::write(file.clone(), MapSlice::new(&map, 0, SIZE), 0),
    );
    assert_eq!(
        r,
        Ok(SIZE),
        "write from the mapping onto the same page of the file"
    );
    assert_eq!(file_bytes(&file, 0, SIZE), a);
    let r = run(
        &mut ctx,
        Op::read(file.clone(), MapSlice::new(&map, 0, SIZE), 0),
    );
    assert_eq!(
        r,
        Ok(SIZE),
        "read from the file into the same page of the mapping"
    );
    assert_eq!(map.bytes(0, SIZE), a);

    // A page of the mapping written to the file's next page: the shared mapping shows it.
    let r = run(
        &mut ctx,
        Op::write(file.clone(), MapSlice::new(&map, 0, page), page as u64),
    );
    assert_eq!(
        r,
        Ok(page),
        "write from page 0 of the mapping to page 1 of the file"
    );
    assert_eq!(map.bytes(page, page), map.bytes(0, page));
    assert_eq!(file_bytes(&file, page as u64, SIZE), a);
    drop(map);

    // 5.t, after munmap and a fresh mmap: the pages are not faulted in, so the kernel's copy
    // takes the page fault on a page of the file it is reading or writing.
    let b = pattern(0x3c, SIZE);
    file.write_all_at(&b, 0).unwrap();
    let fresh = Arc::new(Mapping::shared(&file, 2 * page, rw));
    let r = run(
        &mut ctx,
        Op::read(file.clone(), MapSlice::new(&fresh, 0, SIZE), 0),
    );
    assert_eq!(r, Ok(SIZE), "read into a fresh mapping of the same page");
    assert_eq!(fresh.bytes(0, SIZE), b);
    drop(fresh);
    let fresh = Arc::new(Mapping::shared(&file, 2 * page, rw));
    let r = run(
        &mut ctx,
        Op::write(file.clone(), MapSlice::new(&fresh, 0, SIZE), 0),
    );
    assert_eq!(r, Ok(SIZE), "write from a fresh mapping of the same page");
    assert_eq!(file_bytes(&file, 0, SIZE), b);
    // From a fresh mapping to beyond the end of the file: the file grows.
    let r = run(
        &mut ctx,
        Op::write(
            file.clone(),
            MapSlice::new(&fresh, 0, SIZE),
            2 * page as u64,
        ),
    );
    assert_eq!(r, Ok(SIZE));
    assert_eq!(file.metadata().unwrap().len(), (2 * page + SIZE) as u64);
    assert_eq!(file_bytes(&file, 2 * page as u64, SIZE), b);
    drop(ctx);
}

/// One raw request on `ctx`, reaped by `io_getevents`: its event.
fn raw_one(ctx: aio_context_t, cmd: u16, file: &File, buf: *mut u8, len: usize) -> io_event {
    let mut cb = common::rw_iocb(cmd, file.as_raw_fd(), buf, len, 0, 0x5);
    let list = [&raw mut cb];
    // SAFETY: `cb` lives until its event is reaped below; its buffer is a mapping the caller
    // keeps (the kernel checks its protection and fails the copy, never writing a read-only
    // page).
    let submitted = unsafe { aio_sys::io_submit(ctx, 1, list.as_ptr()) };
    assert_eq!(
        submitted,
        Ok(1),
        "io_submit accepts the request (cmd {cmd})"
    );
    let mut event = io_event::default();
    let ts = __kernel_timespec {
        tv_sec: 5,
        tv_nsec: 0,
    };
    // SAFETY: room for one event; the timeout lives across the call.
    let n = unsafe { aio_sys::io_getevents(ctx, 1, 1, &mut event, &ts) };
    assert_eq!(n, Ok(1), "the event (cmd {cmd})");
    assert_eq!(event.data, 0x5);
    assert_eq!(event.obj, &raw const cb as usize as u64);
    event
}

#[test]
fn read_into_a_read_only_mapping_completes_with_efault() {
    let _shared = common::shared();
    if !common::aio_or_skip("read_into_a_read_only_mapping_completes_with_efault") {
        return;
    }
    let page = page_size();
    let temp = TempFile::new("mmap-ro");
    let file = temp.create_rw();
    let data = pattern(0x77, SIZE);
    file.write_all_at(&data, 0).unwrap();
    let efault = -i64::from(Errno::FAULT.raw_os_error());

    let mut ctx: aio_context_t = 0;
    // SAFETY: `ctx` is a valid, zeroed context variable.
    assert_eq!(unsafe { aio_sys::io_setup(4, &mut ctx) }, Ok(()));
    let read_only = Mapping::shared(&file, page, libc::PROT_READ);
    let no_access = Mapping::shared(&file, page, libc::PROT_NONE);

    let event = raw_one(ctx, IOCB_CMD_PREAD, &file, read_only.ptr, SIZE);
    assert_eq!(event.res, efault, "read into a PROT_READ mapping");
    assert_eq!(
        read_only.bytes(0, SIZE),
        data,
        "the mapping shows the file, unchanged"
    );

    let event = raw_one(ctx, IOCB_CMD_PWRITE, &file, read_only.ptr, SIZE);
    assert_eq!(
        event.res, SIZE as i64,
        "write from a PROT_READ mapping only reads it"
    );

    let event = raw_one(ctx, IOCB_CMD_PWRITE, &file, no_access.ptr, SIZE);
    assert_eq!(event.res, efault, "write from a PROT_NONE mapping");
    let event = raw_one(ctx, IOCB_CMD_PREAD, &file, no_access.ptr, SIZE);
    assert_eq!(event.res, efault, "read into a PROT_NONE mapping");

    // SAFETY: nothing is in flight; the mappings outlive the context.
    assert_eq!(unsafe { aio_sys::io_destroy(ctx) }, Ok(()));
    assert_eq!(file_bytes(&file, 0, SIZE), data, "the file is unchanged");
}
