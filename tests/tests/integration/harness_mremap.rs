// Kernel only: raw aio-sys calls on the kernel's mmap'd completion ring, moved by mremap.
//! After libaio's harness case 19.t: moving the completion ring with `mremap(2)`.
//!
//! The context id is the user address of the ring, and the kernel follows a move of the ring
//! (`aio_ring_mremap` in `fs/aio.c` sets the context's id to the new address): afterwards the
//! new address is the context id and the old one answers `EINVAL` to every call. Events of
//! requests submitted before and after a move are found in the moved ring with the right
//! `data`, `obj` (iocb pointer) and `res`, whether reaped by `io_getevents` or read from the
//! ring in user space (as 19.t does). The id is nothing but the current address: moved back to
//! its first address, the ring answers to the first id again. `io_destroy` takes only the current
//! id and unmaps the ring where it then is. Two remaps are refused, and the context stays usable
//! at its address: a move that keeps the old mapping too (`MREMAP_DONTUNMAP`) with `EINVAL`, and
//! growing the ring (a `VM_DONTEXPAND` mapping) with `EFAULT`.
//!
//! Raw calls (`aio-sys`) only: the safe `aio` crate keeps the id it was created with. This binary
//! holds this one test: once the ring has moved its old address is free, and a context another
//! test happened to create there would make the old id valid again.

use crate::common;

use aio_sys::abi::{
    __kernel_timespec, AIO_RING_HEADER_LENGTH, AIO_RING_MAGIC, IOCB_CMD_PREAD, IOCB_CMD_PWRITE,
    aio_context_t, aio_ring, io_event, iocb,
};
use aio_sys::{Errno, io_destroy, io_getevents, io_setup, io_submit};
use common::TempFile;
use std::os::fd::AsRawFd;
use std::ptr::{addr_of, addr_of_mut, null, null_mut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const TEST: &str = "ring_moved_by_mremap_answers_to_its_new_address";
const FIVE_SECONDS: Duration = Duration::from_secs(5);

/// The `/proc/self/maps` line of the mapping that starts at `addr`, as (start, end, line).
fn mapping_at(addr: usize) -> Option<(usize, usize, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines().find_map(|line| {
        let range = line.split_whitespace().next()?;
        let (start, end) = range.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        (start == addr).then(|| (start, end, line.to_owned()))
    })
}

/// Whether an AIO ring (`/[aio]`) of `len` bytes is mapped at `addr`.
fn ring_mapped_at(addr: usize, len: usize) -> bool {
    mapping_at(addr).is_some_and(|(start, end, line)| end - start == len && line.contains("/[aio]"))
}

// `aio_context_t` is u64 on x32, where these casts are not no-ops.
#[allow(clippy::unnecessary_cast)]
fn addr(ctx: aio_context_t) -> usize {
    ctx as usize
}

#[allow(clippy::unnecessary_cast)]
fn ctx_at(addr: *mut libc::c_void) -> aio_context_t {
    addr as usize as aio_context_t
}

/// A fresh `PROT_NONE` region of `len` bytes, for `MREMAP_FIXED` to move the ring onto (as 19.t's
/// `find_unused_va`: the kernel picks the address; the move replaces the placeholder).
fn reserve(len: usize) -> *mut libc::c_void {
    // SAFETY: a new private anonymous mapping at an address the kernel chooses; touches nothing.
    let p = unsafe {
        libc::mmap(
            null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap placeholder: {}", errno());
    p
}

fn errno() -> Errno {
    let raw = std::io::Error::last_os_error().raw_os_error();
    raw.and_then(Errno::from_raw_os_error).expect("an OS error")
}

/// `mremap(old, old_len, new_len, flags, new_addr)`: the new address or the errno.
///
/// # Safety
/// Moving or resizing a mapping invalidates every pointer into the old range; the caller holds
/// none but the context id.
unsafe fn mremap(
    old: aio_context_t,
    old_len: usize,
    new_len: usize,
    flags: libc::c_int,
    new_addr: *mut libc::c_void,
) -> Result<aio_context_t, Errno> {
    // SAFETY: forwarded from the caller.
    let p = unsafe { libc::mremap(addr(old) as *mut _, old_len, new_len, flags, new_addr) };
    if p == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(ctx_at(p))
    }
}

/// A `PROT_NONE` placeholder of `len` bytes exactly at `at` (`MAP_FIXED_NOREPLACE`, Linux 4.17),
/// so that the kernel does not pick a range the ring left for a later move.
fn reserve_at(at: usize, len: usize) -> *mut libc::c_void {
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; the new one is private.
    let p = unsafe {
        libc::mmap(
            at as *mut _,
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "placeholder at {at:#x}: {}", errno());
    assert_eq!(p as usize, at, "placeholder at {at:#x}");
    p
}

/// Moves the ring of `ctx` (`len` bytes) onto the placeholder `dst`, as 19.t's `remap_ring`
/// (`MREMAP_FIXED` replaces the placeholder); returns the new address.
fn move_ring_to(ctx: aio_context_t, len: usize, dst: *mut libc::c_void) -> aio_context_t {
    // SAFETY: the only pointers into the ring are derived from the context id anew after this.
    let moved = unsafe {
        mremap(
            ctx,
            len,
            len,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            dst,
        )
    }
    .unwrap_or_else(|e| panic!("mremap of the ring at {ctx:#x}: {e}"));
    assert_eq!(
        addr(moved),
        dst as usize,
        "MREMAP_FIXED puts it at the placeholder"
    );
    assert_ne!(moved, ctx);
    moved
}

/// Moves the ring of `ctx` to an address the kernel picks, and keeps the range it left reserved
/// (so that no later mapping, ring or placeholder, lands there); returns the new address.
fn move_ring(ctx: aio_context_t, len: usize) -> aio_context_t {
    let moved = move_ring_to(ctx, len, reserve(len));
    reserve_at(addr(ctx), len);
    moved
}

/// `io_getevents` into a fresh vector of up to `nr` events.
fn getevents(
    ctx: aio_context_t,
    min_nr: isize,
    nr: usize,
    timeout: Duration,
) -> Result<Vec<io_event>, Errno> {
    let mut events = vec![io_event::default(); nr];
    let ts = __kernel_timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // SAFETY: room for `nr` events; the timeout lives across the call.
    let n = unsafe { io_getevents(ctx, min_nr, nr as isize, events.as_mut_ptr(), &ts) }?;
    events.truncate(n);
    Ok(events)
}

/// `io_submit` of one request.
///
/// # Safety
/// `cb` and its buffer must stay valid until its event has been reaped or the context destroyed.
unsafe fn submit_one(ctx: aio_context_t, cb: *mut iocb) -> Result<usize, Errno> {
    let list = [cb];
    // SAFETY: forwarded from the caller; the array holds one pointer.
    unsafe { io_submit(ctx, 1, list.as_ptr()) }
}

fn obj(cb: *const iocb) -> u64 {
    cb as usize as u64
}

/// What a call on a context id answers, without touching any request: `io_submit` of nothing.
fn probe(ctx: aio_context_t) -> Result<usize, Errno> {
    // SAFETY: zero requests: the kernel looks the context up and reads nothing else.
    unsafe { io_submit(ctx, 0, null()) }
}

/// The context, destroyed by its current id on drop unless the test destroyed it.
struct Live {
    id: aio_context_t,
    destroyed: bool,
}

impl Drop for Live {
    fn drop(&mut self) {
        if !self.destroyed {
            // SAFETY: every request of the test has completed (buffered file I/O completes
            // inside io_submit); the buffers outlive this guard.
            let _ = unsafe { io_destroy(self.id) };
        }
    }
}

/// The ring header at `ctx`: (`id`, `nr`, `magic`, `header_length`).
///
/// # Safety
/// `ctx` must be the address of a mapped ring.
unsafe fn header(ctx: aio_context_t) -> (u32, u32, u32, u32) {
    let ring = addr(ctx) as *const aio_ring;
    // SAFETY: the caller vouches that the header is mapped; these fields are written only by
    // io_setup.
    unsafe {
        (
            addr_of!((*ring).id).read_volatile(),
            addr_of!((*ring).nr).read_volatile(),
            addr_of!((*ring).magic).read_volatile(),
            addr_of!((*ring).header_length).read_volatile(),
        )
    }
}

/// The ring's `head` and `tail`, as atomics.
///
/// # Safety
/// `ctx` must be the address of a mapped ring for `'a`.
unsafe fn indices<'a>(ctx: aio_context_t) -> (&'a AtomicU32, &'a AtomicU32) {
    let ring = addr(ctx) as *mut aio_ring;
    // SAFETY: aligned u32s in the shared mapping, which the kernel (with barriers) and this
    // thread access only atomically; the caller keeps the mapping.
    unsafe {
        (
            &*addr_of_mut!((*ring).head).cast::<AtomicU32>(),
            &*addr_of_mut!((*ring).tail).cast::<AtomicU32>(),
        )
    }
}

/// Reads one event from the ring at `ctx` in user space, as 19.t's `user_getevents`: the event
/// at `head`, then `head` advanced. `None` if the ring is empty.
///
/// # Safety
/// `ctx` must be the address of a mapped ring with `nr` slots, and no one else may reap it.
unsafe fn user_reap_one(ctx: aio_context_t, nr: u32) -> Option<io_event> {
    // SAFETY: forwarded from the caller.
    let (head, tail) = unsafe { indices(ctx) };
    let h = head.load(Ordering::Relaxed);
    if h == tail.load(Ordering::Acquire) {
        return None;
    }
    assert!(h < nr, "head {h} outside a ring of {nr}");
    let ring = addr(ctx) as *const aio_ring;
    // SAFETY: slot `h` of the events that follow the header; the acquire load of `tail` orders
    // this read after the kernel's store of the event.
    let event = unsafe {
        addr_of!((*ring).io_events)
            .cast::<io_event>()
            .add(h as usize)
            .read_volatile()
    };
    head.store((h + 1) % nr, Ordering::Release);
    Some(event)
}

#[test]
fn ring_moved_by_mremap_answers_to_its_new_address() {
    // Alone: it checks that the process maps no ring at its end.
    let _alone = common::exclusive();
    if !common::aio_or_skip(TEST) {
        return;
    }
    let temp = TempFile::new("mremap");
    let file = temp.create_rw();
    let fd = file.as_raw_fd();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    // Buffers first: they outlive the context guard.
    let first = *b"written after the first move";
    let second = *b"submitted, then the ring moved";
    let third = *b"reaped by io_getevents later";
    let mut back = vec![0u8; first.len()];

    let mut id: aio_context_t = 0;
    // SAFETY: `id` is a valid, zeroed context variable.
    assert_eq!(unsafe { io_setup(1, &mut id) }, Ok(()));
    let mut live = Live {
        id,
        destroyed: false,
    };
    let Some((start, end, line)) = mapping_at(addr(id)) else {
        println!(
            "SKIPPED: {TEST}: the context id {id:#x} is not the address of a mapped ring \
             (no user-visible completion ring here, as under gVisor): nothing to mremap"
        );
        return;
    };
    assert!(line.contains("/[aio]"), "the ring mapping: {line}");
    let len = end - start;
    // SAFETY: the ring is mapped at `id` (checked just above).
    let (ring_id, nr, magic, header_length) = unsafe { header(id) };
    assert_eq!(magic, AIO_RING_MAGIC);
    assert_eq!(header_length, AIO_RING_HEADER_LENGTH);
    assert_eq!(len % page, 0);
    assert_eq!(
        (len - header_length as usize) / std::mem::size_of::<io_event>(),
        nr as usize,
        "the kernel sizes nr to fill the ring's pages"
    );
    println!("ring at {id:#x}: {len} bytes, nr {nr}, kernel index {ring_id}");

    // 1. Moves the kernel refuses leave the ring and the context where they are.
    let dst = reserve(len);
    // SAFETY: refused (asserted), so nothing moves.
    let dontunmap = unsafe {
        mremap(
            id,
            len,
            len,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED | libc::MREMAP_DONTUNMAP,
            dst,
        )
    };
    assert_eq!(dontunmap, Err(Errno::INVAL), "MREMAP_DONTUNMAP of the ring");
    // SAFETY: as above.
    let grown = unsafe { mremap(id, len, len + page, libc::MREMAP_MAYMOVE, null_mut()) };
    assert_eq!(grown, Err(Errno::FAULT), "growing the ring (VM_DONTEXPAND)");
    // SAFETY: the placeholder, untouched by the refused moves.
    assert_eq!(unsafe { libc::munmap(dst, len) }, 0);
    assert!(ring_mapped_at(addr(id), len), "the ring did not move");
    assert_eq!(probe(id), Ok(0), "the context still answers to its id");

    // 2. 19.t, first half: move the ring between io_setup and io_submit.
    let old = id;
    let moved = move_ring(old, len);
    live.id = moved;
    println!("moved the ring from {old:#x} to {moved:#x}");
    assert!(
        !ring_mapped_at(addr(old), len),
        "no ring is mapped at the old address"
    );
    assert!(
        ring_mapped_at(addr(moved), len),
        "the ring is at the new address"
    );
    // SAFETY: the ring is mapped at `moved` (checked above).
    assert_eq!(
        unsafe { header(moved) },
        (ring_id, nr, magic, header_length),
        "the header moved with the ring"
    );
    assert_eq!(probe(old), Err(Errno::INVAL), "io_submit with the old id");
    assert_eq!(
        getevents(old, 0, 1, Duration::ZERO),
        Err(Errno::INVAL),
        "io_getevents with the old id"
    );
    assert_eq!(probe(moved), Ok(0), "io_submit with the new id");

    let mut cb = common::rw_iocb(IOCB_CMD_PWRITE, fd, first.as_ptr(), first.len(), 0, 0x1901);
    // SAFETY: `cb` and `first` outlive the context; the write completes inside io_submit.
    assert_eq!(unsafe { submit_one(moved, &raw mut cb) }, Ok(1));
    let events = getevents(moved, 1, 1, FIVE_SECONDS).expect("io_getevents with the new id");
    assert_eq!(
        events,
        vec![io_event {
            data: 0x1901,
            obj: obj(&raw const cb),
            res: first.len() as i64,
            res2: 0,
        }]
    );
    let mut rd = common::rw_iocb(IOCB_CMD_PREAD, fd, back.as_mut_ptr(), back.len(), 0, 0x1911);
    // SAFETY: `rd` and `back` outlive the context.
    assert_eq!(unsafe { submit_one(moved, &raw mut rd) }, Ok(1));
    let events = getevents(moved, 1, 1, FIVE_SECONDS).expect("io_getevents");
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].data, events[0].res), (0x1911, back.len() as i64));
    assert_eq!(back, first, "the data read back through the moved context");

    // 3. 19.t, second half: submit, then move the ring, then reap from the moved ring.
    let mut cb2 = common::rw_iocb(
        IOCB_CMD_PWRITE,
        fd,
        second.as_ptr(),
        second.len(),
        100,
        0x1902,
    );
    let mut cb3 = common::rw_iocb(
        IOCB_CMD_PWRITE,
        fd,
        third.as_ptr(),
        third.len(),
        200,
        0x1903,
    );
    // SAFETY: the iocbs and buffers outlive the context.
    assert_eq!(unsafe { submit_one(moved, &raw mut cb2) }, Ok(1));
    // SAFETY: as above.
    assert_eq!(unsafe { submit_one(moved, &raw mut cb3) }, Ok(1));
    let moved2 = move_ring(moved, len);
    live.id = moved2;
    println!("moved the ring again, to {moved2:#x}, with 2 events unreaped");
    assert_eq!(
        getevents(moved, 0, 1, Duration::ZERO),
        Err(Errno::INVAL),
        "the previous id"
    );
    assert_eq!(probe(old), Err(Errno::INVAL), "the first id");
    assert_eq!(probe(moved2), Ok(0), "the new id");
    // User space reads the first event out of the moved ring, as 19.t's user_getevents.
    // SAFETY: the ring is mapped at `moved2` with `nr` slots; only this thread reaps it.
    let event = unsafe { user_reap_one(moved2, nr) }.expect("an event in the moved ring");
    assert_eq!(
        event,
        io_event {
            data: 0x1902,
            obj: obj(&raw const cb2),
            res: second.len() as i64,
            res2: 0,
        },
        "the event submitted before the move, read from the moved ring"
    );
    // The kernel reaps the other one through the new id, and sees the slot user space took.
    let events = getevents(moved2, 1, 4, FIVE_SECONDS).expect("io_getevents after the move");
    assert_eq!(
        events,
        vec![io_event {
            data: 0x1903,
            obj: obj(&raw const cb3),
            res: third.len() as i64,
            res2: 0,
        }]
    );
    assert_eq!(
        getevents(moved2, 0, 4, Duration::ZERO),
        Ok(vec![]),
        "none left"
    );
    // SAFETY: the ring is mapped at `moved2`.
    let (head, tail) = unsafe { indices(moved2) };
    assert_eq!(head.load(Ordering::Acquire), tail.load(Ordering::Acquire));

    // 4. The id is nothing but the ring's current address: moved back onto its first address
    // (the placeholder kept there), the ring answers to the first id again, and not to the
    // one it had just before.
    let back_home = move_ring_to(moved2, len, addr(old) as *mut _);
    live.id = back_home;
    assert_eq!(back_home, old);
    assert!(ring_mapped_at(addr(old), len));
    assert_eq!(probe(old), Ok(0), "the first id, valid again");
    assert_eq!(probe(moved2), Err(Errno::INVAL), "the id it had before");
    assert_eq!(getevents(old, 0, 4, Duration::ZERO), Ok(vec![]));

    // 5. io_destroy takes the current id only, and unmaps the ring where it now is.
    // SAFETY: stale ids: the kernel finds no context and touches nothing.
    assert_eq!(unsafe { io_destroy(moved) }, Err(Errno::INVAL));
    // SAFETY: as above.
    assert_eq!(unsafe { io_destroy(moved2) }, Err(Errno::INVAL));
    // SAFETY: nothing is in flight; the buffers outlive the context.
    assert_eq!(unsafe { io_destroy(old) }, Ok(()));
    live.destroyed = true;
    assert!(
        !ring_mapped_at(addr(old), len),
        "io_destroy unmapped the ring where it was"
    );
    assert_eq!(common::aio_rings_mapped("self"), 0);
    // SAFETY: as above.
    assert_eq!(unsafe { io_destroy(old) }, Err(Errno::INVAL));
    // SAFETY: the placeholder `move_ring` left where the ring was before its second move.
    assert_eq!(unsafe { libc::munmap(addr(moved) as *mut _, len) }, 0);

    let data = std::fs::read(temp.path()).unwrap();
    assert_eq!(&data[..first.len()], first);
    assert_eq!(&data[100..100 + second.len()], second);
    assert_eq!(&data[200..200 + third.len()], third);
}
