//! The raw calls against the running kernel: every documented error path, with exact errno
//! values, and round trips that prove each `iocb` field reaches the kernel in the right slot.
//!
//! Every test first asks [`kernel_has_aio`]; under qemu-user (and other places where every AIO
//! call answers `ENOSYS`) set `AIO_TEST_EXPECT_ENOSYS=1` and each test verifies that `ENOSYS`
//! and returns. On a real kernel `ENOSYS` is a failure.

use aio_sys::abi::{
    __aio_sigset, __kernel_size_t, __kernel_timespec, AIO_RING_COMPAT_FEATURES,
    AIO_RING_HEADER_LENGTH, AIO_RING_INCOMPAT_FEATURES, AIO_RING_MAGIC, IOCB_CMD_NOOP,
    IOCB_CMD_POLL, IOCB_CMD_PREAD, IOCB_CMD_PREADV, IOCB_CMD_PREADX, IOCB_CMD_PWRITE,
    IOCB_CMD_PWRITEV, IOCB_FLAG_RESFD, KERNEL_SIGSET_SIZE, RwFlags, aio_context_t, aio_ring,
    io_event, iocb, kernel_sigset_t,
};
use aio_sys::{Errno, io_cancel, io_destroy, io_getevents, io_pgetevents, io_setup, io_submit};
use linux_raw_sys::general::{POLLIN, iovec};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::ptr::{addr_of, addr_of_mut, null};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Whether the kernel has native AIO: `io_setup(1)` succeeds (the context is destroyed again).
///
/// `ENOSYS` is accepted only when `AIO_TEST_EXPECT_ENOSYS=1` (qemu-user and similar): it prints
/// the verified path and returns `false`, and the test returns. Without that variable `ENOSYS`
/// panics: a real kernel must have AIO. Any other error panics.
fn kernel_has_aio() -> bool {
    let mut ctx: aio_context_t = 0;
    // SAFETY: `ctx` is a valid, zeroed context variable.
    match unsafe { io_setup(1, &mut ctx) } {
        Ok(()) => {
            // SAFETY: `ctx` was just created and nothing uses its ring.
            let destroyed = unsafe { io_destroy(ctx) };
            assert_eq!(destroyed, Ok(()), "io_destroy of the probe context");
            true
        }
        Err(Errno::NOSYS) => {
            let name = std::thread::current()
                .name()
                .unwrap_or("<unnamed test>")
                .to_owned();
            if std::env::var_os("AIO_TEST_EXPECT_ENOSYS").is_some_and(|v| v == "1") {
                assert_eq!(ctx, 0, "a failed io_setup leaves the context alone");
                println!("ENOSYS path: {name} verified io_setup -> ENOSYS");
                false
            } else {
                panic!(
                    "{name}: io_setup returned ENOSYS: this kernel has no native AIO \
                     (CONFIG_AIO=n) or a sandbox (qemu-user, seccomp, rr) blocks it. A real \
                     kernel must support AIO; set AIO_TEST_EXPECT_ENOSYS=1 only where ENOSYS \
                     is the expected answer."
                )
            }
        }
        Err(e) => panic!("io_setup(1) failed: {e:?}"),
    }
}

/// A context that is destroyed when dropped.
struct Ctx(aio_context_t);

impl Ctx {
    fn new(nr_events: u32) -> Self {
        let mut ctx: aio_context_t = 0;
        // SAFETY: `ctx` is a valid, zeroed context variable.
        let created = unsafe { io_setup(nr_events, &mut ctx) };
        assert_eq!(created, Ok(()), "io_setup({nr_events})");
        assert_ne!(ctx, 0, "io_setup writes the context");
        Self(ctx)
    }

    /// Waits for between `min` and `max` events, at most `timeout` (`None`: forever).
    fn wait(&self, min: usize, max: usize, timeout: Option<Duration>) -> Vec<io_event> {
        wait(self.0, min as isize, max as isize, timeout).expect("io_getevents")
    }

    /// Takes whatever has completed, without waiting.
    fn poll_events(&self, max: usize) -> Vec<io_event> {
        self.wait(0, max, Some(Duration::ZERO))
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: the context is live. Each test declares its buffers before this guard, so they
        // are dropped after it, and io_destroy waits until every in-flight request is done.
        let destroyed = unsafe { io_destroy(self.0) };
        if !std::thread::panicking() {
            assert_eq!(destroyed, Ok(()), "io_destroy");
        }
    }
}

/// The id of a context that existed and was destroyed, whose address stays reserved (by a
/// `PROT_NONE` page) while this lives.
///
/// Tests run in parallel threads of one process: without the reservation another test's
/// `io_setup` could map its ring at the same address, making the stale id valid again (and a
/// second `io_destroy` would destroy that test's context).
struct StaleCtx {
    id: aio_context_t,
}

impl StaleCtx {
    fn new() -> Self {
        for _ in 0..100 {
            let id = Ctx::new(1).0; // destroyed again at the end of the statement
            // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; the new page is
            // private to this guard and never dereferenced.
            let placed = unsafe {
                rustix::mm::mmap_anonymous(
                    id as *mut _,
                    1,
                    rustix::mm::ProtFlags::empty(),
                    rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::FIXED_NOREPLACE,
                )
            };
            match placed {
                Ok(page) if page as usize as aio_context_t == id => return Self { id },
                Ok(page) => {
                    // SAFETY: the page just mapped elsewhere, unused.
                    unsafe { rustix::mm::munmap(page, 1) }.unwrap();
                }
                // Another test's ring took the address in between: try again.
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => panic!("reserving {id:#x}: {e:?}"),
            }
        }
        panic!("could not reserve the address of a destroyed context");
    }
}

impl Drop for StaleCtx {
    fn drop(&mut self) {
        // SAFETY: the page `new` mapped at the id, unused.
        let unmapped = unsafe { rustix::mm::munmap(self.id as *mut _, 1) };
        if !std::thread::panicking() {
            assert_eq!(unmapped, Ok(()));
        }
    }
}

/// `io_getevents` into a fresh vector.
fn wait(
    ctx: aio_context_t,
    min_nr: isize,
    nr: isize,
    timeout: Option<Duration>,
) -> Result<Vec<io_event>, Errno> {
    let mut events = vec![io_event::default(); nr.max(0) as usize];
    let ts = timeout.map(timespec);
    let ts_ptr = ts
        .as_ref()
        .map_or(null(), |ts| ts as *const __kernel_timespec);
    // SAFETY: `events` has room for `nr` events (or the kernel rejects `nr < 0` first); the
    // timeout is null or points to `ts`.
    let n = unsafe { io_getevents(ctx, min_nr, nr, events.as_mut_ptr(), ts_ptr) }?;
    assert!(n <= events.len(), "io_getevents returned {n} > nr");
    events.truncate(n);
    Ok(events)
}

fn timespec(d: Duration) -> __kernel_timespec {
    __kernel_timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: d.subsec_nanos().into(),
    }
}

/// Long enough for anything that should complete; a test that would otherwise hang fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// Submits `cbs`.
///
/// # Safety
/// Every iocb and every buffer it names must stay valid until its event has been reaped or the
/// context destroyed.
unsafe fn submit(ctx: aio_context_t, cbs: &[*mut iocb]) -> Result<usize, Errno> {
    // SAFETY: forwarded from the caller; the pointer array is `cbs`.
    unsafe { io_submit(ctx, cbs.len() as isize, cbs.as_ptr()) }
}

/// A read or write iocb (`IOCB_CMD_PREAD`/`PWRITE`, or the vectored forms with `buf` an iovec
/// array and `len` its length).
fn rw(cmd: u16, fd: BorrowedFd<'_>, buf: *const u8, len: usize, offset: i64, data: u64) -> iocb {
    iocb {
        aio_data: data,
        aio_lio_opcode: cmd,
        aio_fildes: fd.as_raw_fd() as u32,
        aio_buf: buf as u64,
        aio_nbytes: len as u64,
        aio_offset: offset,
        ..iocb::default()
    }
}

/// A one-shot poll iocb for `events`.
fn poll(fd: BorrowedFd<'_>, events: u32, data: u64) -> iocb {
    iocb {
        aio_data: data,
        aio_lio_opcode: IOCB_CMD_POLL,
        aio_fildes: fd.as_raw_fd() as u32,
        aio_buf: events.into(),
        ..iocb::default()
    }
}

/// The `obj` value the kernel reports for a request submitted from `cb`.
fn obj(cb: *const iocb) -> u64 {
    cb as usize as u64
}

/// The errno of a negative `io_event::res`.
fn res_errno(res: i64) -> Errno {
    assert!(res < 0, "res {res} is not an error");
    Errno::from_raw_os_error((-res) as i32).unwrap_or_else(|| panic!("res {res} is no errno"))
}

/// A file under the test target's scratch directory, removed on drop.
struct TempFile {
    path: PathBuf,
    file: std::fs::File,
}

impl TempFile {
    fn new(tag: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("aio-sys-kernel-{}-{tag}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self { path, file }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe().expect("pipe")
}

fn read_proc_u64(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// io_setup
// ---------------------------------------------------------------------------------------------

#[test]
fn io_setup_zero_events_is_einval() {
    if !kernel_has_aio() {
        return;
    }
    let mut ctx: aio_context_t = 0;
    // SAFETY: `ctx` is a valid context variable.
    assert_eq!(unsafe { io_setup(0, &mut ctx) }, Err(Errno::INVAL));
    assert_eq!(ctx, 0);
}

#[test]
fn io_setup_nonzero_ctx_is_einval() {
    if !kernel_has_aio() {
        return;
    }
    let mut ctx: aio_context_t = 1;
    // SAFETY: `ctx` is a valid context variable.
    assert_eq!(unsafe { io_setup(1, &mut ctx) }, Err(Errno::INVAL));
    assert_eq!(ctx, 1, "left untouched");

    // Reusing the variable of a live context is the same mistake.
    let live = Ctx::new(1);
    let mut again = live.0;
    // SAFETY: as above.
    assert_eq!(unsafe { io_setup(1, &mut again) }, Err(Errno::INVAL));
    assert_eq!(again, live.0);
}

/// `fs/aio.c` doubles `nr_events` and rejects more than `0x10000000 / sizeof(io_event)` ring
/// slots with `EINVAL`: any `nr_events` above this is "too large".
const RING_LIMIT: u32 = 0x1000_0000 / 32 / 2;

#[test]
fn io_setup_too_many_events_is_einval() {
    if !kernel_has_aio() {
        return;
    }
    for nr in [RING_LIMIT + 1, u32::MAX] {
        let mut ctx: aio_context_t = 0;
        // SAFETY: `ctx` is a valid, zeroed context variable.
        assert_eq!(unsafe { io_setup(nr, &mut ctx) }, Err(Errno::INVAL), "{nr}");
        assert_eq!(ctx, 0);
    }
}

#[test]
fn io_setup_over_aio_max_nr_is_eagain() {
    if !kernel_has_aio() {
        return;
    }
    let max_nr = read_proc_u64("/proc/sys/fs/aio-max-nr");
    if max_nr < u64::from(RING_LIMIT) {
        // The kernel's first check: a single request above aio-max-nr. Independent of what
        // other processes hold, so no race.
        let nr = max_nr as u32 + 1;
        let mut ctx: aio_context_t = 0;
        // SAFETY: `ctx` is a valid, zeroed context variable.
        let r = unsafe { io_setup(nr, &mut ctx) };
        assert_eq!(r, Err(Errno::AGAIN), "nr {nr} > aio-max-nr {max_nr}");
        assert_eq!(ctx, 0);
        return;
    }
    // aio-max-nr is huge: ask for one more than what remains (aio-nr moves with other
    // processes, so retry if someone released events in between).
    for _ in 0..10 {
        let aio_nr = read_proc_u64("/proc/sys/fs/aio-nr");
        let remaining = max_nr.saturating_sub(aio_nr);
        if remaining >= u64::from(RING_LIMIT) {
            panic!(
                "cannot provoke EAGAIN: aio-max-nr {max_nr} - aio-nr {aio_nr} = {remaining} \
                 leaves room for any nr_events io_setup accepts (at most {RING_LIMIT}); lower \
                 /proc/sys/fs/aio-max-nr to run this test"
            );
        }
        let nr = remaining as u32 + 1;
        let mut ctx: aio_context_t = 0;
        // SAFETY: `ctx` is a valid, zeroed context variable.
        match unsafe { io_setup(nr, &mut ctx) } {
            Err(Errno::AGAIN) => return,
            Ok(()) => {
                // SAFETY: just created, unused.
                assert_eq!(unsafe { io_destroy(ctx) }, Ok(()));
            }
            Err(e) => panic!("io_setup({nr}) with {remaining} remaining: {e:?}"),
        }
    }
    panic!("io_setup above the remaining aio-nr never answered EAGAIN");
}

#[test]
fn io_setup_charges_aio_nr_and_maps_a_larger_ring() {
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(5);
    let ring = ctx.0 as *const aio_ring;
    // SAFETY: the context value is the address of its mapped ring, valid until io_destroy.
    let nr = unsafe { addr_of!((*ring).nr).read_volatile() };
    assert!(
        nr > 5,
        "ring has {nr} slots for 5 requested (the kernel over-allocates)"
    );
    // aio-nr counts the requested number, not the ring size; other processes may hold some too.
    assert!(read_proc_u64("/proc/sys/fs/aio-nr") >= 5);
}

// ---------------------------------------------------------------------------------------------
// io_submit
// ---------------------------------------------------------------------------------------------

#[test]
fn io_submit_zero_requests_returns_zero() {
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(4);
    // SAFETY: no requests; a null array is never read for nr == 0.
    assert_eq!(unsafe { io_submit(ctx.0, 0, null()) }, Ok(0));
    // SAFETY: an empty array.
    assert_eq!(unsafe { submit(ctx.0, &[]) }, Ok(0));
}

#[test]
fn io_submit_negative_nr_is_einval() {
    if !kernel_has_aio() {
        return;
    }
    let (_r, w) = pipe();
    let data = *b"x";
    let ctx = Ctx::new(4);
    let mut cb = rw(IOCB_CMD_PWRITE, w.as_fd(), data.as_ptr(), 1, 0, 0);
    let cbs = [&raw mut cb];
    for nr in [-1, isize::MIN] {
        // SAFETY: the array and its iocb are valid; the kernel rejects nr < 0 before reading.
        assert_eq!(
            unsafe { io_submit(ctx.0, nr, cbs.as_ptr()) },
            Err(Errno::INVAL),
            "{nr}"
        );
    }
    assert!(ctx.poll_events(1).is_empty());
}

#[test]
fn io_submit_bad_context_is_einval() {
    if !kernel_has_aio() {
        return;
    }
    let (_r, w) = pipe();
    let data = *b"x";
    let mut cb = rw(IOCB_CMD_PWRITE, w.as_fd(), data.as_ptr(), 1, 0, 0);
    // A valid request, so that the context is the only thing wrong: 0, a random address, and a
    // destroyed context.
    let destroyed = StaleCtx::new();
    for bad in [0, 0x1234_5000, destroyed.id] {
        // SAFETY: the iocb and buffer are valid (and nothing is queued: the call fails).
        assert_eq!(
            unsafe { submit(bad, &[&raw mut cb]) },
            Err(Errno::INVAL),
            "{bad:#x}"
        );
    }
}

#[test]
fn io_submit_bad_fd_is_ebadf() {
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(4);
    let mut buf = [0u8; 8];
    for fd in [u32::MAX, i32::MAX as u32] {
        let mut cb = iocb {
            aio_lio_opcode: IOCB_CMD_PREAD,
            aio_fildes: fd,
            aio_buf: buf.as_mut_ptr() as u64,
            aio_nbytes: buf.len() as u64,
            ..iocb::default()
        };
        // SAFETY: the iocb and buffer are valid; the call fails.
        assert_eq!(
            unsafe { submit(ctx.0, &[&raw mut cb]) },
            Err(Errno::BADF),
            "fd {fd}"
        );
    }
}

#[test]
fn io_submit_reserved2_nonzero_is_einval() {
    if !kernel_has_aio() {
        return;
    }
    let (_r, w) = pipe();
    let data = *b"x";
    let ctx = Ctx::new(4);
    let mut cb = rw(IOCB_CMD_PWRITE, w.as_fd(), data.as_ptr(), 1, 0, 0);
    cb.aio_reserved2 = 1;
    // SAFETY: the iocb and buffer are valid; the call fails.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut cb]) }, Err(Errno::INVAL));
    cb.aio_reserved2 = 0;
    // SAFETY: as above; this one is queued and completes (a pipe write) before `data` goes.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut cb]) }, Ok(1));
    let events = ctx.wait(1, 1, Some(PATIENCE));
    assert_eq!(events[0].res, 1);
}

#[test]
fn io_submit_noop_and_unknown_opcodes_are_einval() {
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(4);
    let (_r, w) = pipe();
    let data = *b"x";
    // A valid descriptor, so that the opcode is the only thing wrong (EBADF comes first).
    for opcode in [IOCB_CMD_NOOP, IOCB_CMD_PREADX, 9, u16::MAX] {
        let mut cb = rw(opcode, w.as_fd(), data.as_ptr(), 1, 0, 0);
        // SAFETY: the iocb and buffer are valid; the call fails.
        let r = unsafe { submit(ctx.0, &[&raw mut cb]) };
        assert_eq!(r, Err(Errno::INVAL), "opcode {opcode}");
    }
    assert!(ctx.poll_events(4).is_empty());
}

#[test]
fn io_submit_unknown_rwf_bit_is_eopnotsupp() {
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(4);
    let file = TempFile::new("rwf-unknown");
    let mut buf = *b"abcd";
    for cmd in [IOCB_CMD_PWRITE, IOCB_CMD_PREAD] {
        let mut cb = rw(cmd, file.fd(), buf.as_mut_ptr(), buf.len(), 0, 0);
        cb.aio_rw_flags = 1 << 30;
        assert_eq!(RwFlags::from_bits(cb.aio_rw_flags), None);
        // SAFETY: the iocb and buffer are valid; the call fails.
        let r = unsafe { submit(ctx.0, &[&raw mut cb]) };
        assert_eq!(r, Err(Errno::OPNOTSUPP), "opcode {cmd}");
    }
    assert!(file.contents().is_empty(), "nothing was written");
}

#[test]
fn io_submit_resfd_must_be_an_eventfd() {
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(4);
    let (r, w) = pipe();
    let data = *b"x";
    let mut cb = rw(IOCB_CMD_PWRITE, w.as_fd(), data.as_ptr(), 1, 0, 0);
    cb.aio_flags = IOCB_FLAG_RESFD;
    cb.aio_resfd = r.as_raw_fd() as u32;
    // SAFETY: the iocb and buffer are valid; the call fails.
    assert_eq!(
        unsafe { submit(ctx.0, &[&raw mut cb]) },
        Err(Errno::INVAL),
        "a pipe"
    );
    cb.aio_resfd = u32::MAX;
    // SAFETY: as above.
    assert_eq!(
        unsafe { submit(ctx.0, &[&raw mut cb]) },
        Err(Errno::BADF),
        "no such fd"
    );
}

#[test]
fn io_submit_stops_at_the_first_bad_request() {
    if !kernel_has_aio() {
        return;
    }
    let file = TempFile::new("partial");
    let first = *b"one";
    let third = *b"three";
    let ctx = Ctx::new(8);
    let mut cb1 = rw(
        IOCB_CMD_PWRITE,
        file.fd(),
        first.as_ptr(),
        first.len(),
        0,
        1,
    );
    let mut cb2 = rw(
        IOCB_CMD_PWRITE,
        file.fd(),
        first.as_ptr(),
        first.len(),
        0,
        2,
    );
    cb2.aio_fildes = u32::MAX;
    let mut cb3 = rw(
        IOCB_CMD_PWRITE,
        file.fd(),
        third.as_ptr(),
        third.len(),
        100,
        3,
    );
    // SAFETY: the iocbs and buffers are valid; the one request queued is reaped below.
    let n = unsafe { submit(ctx.0, &[&raw mut cb1, &raw mut cb2, &raw mut cb3]) };
    assert_eq!(
        n,
        Ok(1),
        "the first was queued, the second's EBADF is not reported"
    );

    let events = ctx.wait(1, 3, Some(PATIENCE));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, 1);
    assert_eq!(events[0].obj, obj(&raw const cb1));
    assert_eq!(events[0].res, first.len() as i64);
    assert!(
        ctx.poll_events(3).is_empty(),
        "the third was never submitted"
    );
    assert_eq!(
        file.contents(),
        b"one",
        "the third write (at offset 100) never ran"
    );
}

#[test]
fn io_submit_writes_zero_into_aio_key() {
    if !kernel_has_aio() {
        return;
    }
    let (_r, w) = pipe();
    let data = *b"x";
    let ctx = Ctx::new(4);
    let mut cb = rw(IOCB_CMD_PWRITE, w.as_fd(), data.as_ptr(), 1, 0, 0);
    cb.aio_key = 0xdead_beef;
    // SAFETY: the iocb and buffer are valid until the event is reaped below.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut cb]) }, Ok(1));
    assert_eq!(cb.aio_key, 0, "KIOCB_KEY");
    assert_eq!(ctx.wait(1, 1, Some(PATIENCE)).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// io_getevents / io_pgetevents
// ---------------------------------------------------------------------------------------------

#[test]
fn io_getevents_bad_counts_are_einval() {
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(4);
    let zero = Some(Duration::ZERO);
    assert_eq!(wait(ctx.0, 2, 1, zero), Err(Errno::INVAL), "min_nr > nr");
    assert_eq!(wait(ctx.0, -1, 1, zero), Err(Errno::INVAL), "min_nr < 0");
    assert_eq!(wait(ctx.0, 0, -1, zero), Err(Errno::INVAL), "nr < 0");
    assert_eq!(wait(ctx.0, 1, 1, zero), Ok(vec![]), "min_nr == nr is fine");
}

#[test]
fn io_getevents_bad_context_is_einval() {
    if !kernel_has_aio() {
        return;
    }
    let destroyed = StaleCtx::new();
    for bad in [0, 0x1234_5000, destroyed.id] {
        let r = wait(bad, 0, 1, Some(Duration::ZERO));
        assert_eq!(r, Err(Errno::INVAL), "{bad:#x}");
    }
}

#[test]
fn io_getevents_zero_timeout_does_not_wait() {
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(4);
    let start = Instant::now();
    // min_nr 1 with nothing pending: {0, 0} returns at once with nothing.
    assert_eq!(wait(ctx.0, 1, 4, Some(Duration::ZERO)), Ok(vec![]));
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
}

#[test]
fn io_getevents_timeout_expires_with_zero_events() {
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(4);
    let timeout = Duration::from_millis(50);
    let start = Instant::now();
    assert_eq!(wait(ctx.0, 1, 4, Some(timeout)), Ok(vec![]));
    let elapsed = start.elapsed();
    assert!(
        elapsed >= timeout,
        "returned after {elapsed:?}, before the timeout"
    );
    assert!(elapsed < PATIENCE, "took {elapsed:?}");
}

/// The kernel does not range-check `tv_nsec` (no `EINVAL`): the wait is
/// `tv_sec * 10^9 + tv_nsec` nanoseconds. Only totals that end are tried: a negative one would
/// wait without limit.
#[test]
fn io_getevents_does_not_range_check_tv_nsec() {
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(4);
    let mut events = [io_event::default(); 4];
    let ev = events.as_mut_ptr();
    // (timeout, at least, at most on a native 64-bit ABI)
    let cases = [
        // One second, written as nanoseconds only.
        ((0, 1_000_000_000), Duration::from_secs(1), PATIENCE),
        // 1 s - 999 999 ms = 1 ms. Compat tasks (x32, i386 on a 64-bit kernel) read the low 32
        // bits of tv_nsec as unsigned: about 4.3 s there, still bounded.
        (
            (1, -999_000_000),
            Duration::from_millis(1),
            Duration::from_secs(1),
        ),
        // A zero total does not wait, like {0, 0} (compat tasks: about 4.3 s, as above).
        ((1, -1_000_000_000), Duration::ZERO, Duration::from_secs(1)),
    ];
    for ((tv_sec, tv_nsec), at_least, native_at_most) in cases {
        let ts = __kernel_timespec { tv_sec, tv_nsec };
        let at_most = if cfg!(target_pointer_width = "64") {
            native_at_most
        } else {
            PATIENCE
        };
        for call in ["io_getevents", "io_pgetevents"] {
            let start = Instant::now();
            // SAFETY: room for 4 events; the timeout lives across the call; no sigset.
            let r = unsafe {
                if call == "io_getevents" {
                    io_getevents(ctx.0, 1, 4, ev, &ts)
                } else {
                    io_pgetevents(ctx.0, 1, 4, ev, &ts, null())
                }
            };
            let elapsed = start.elapsed();
            assert_eq!(
                r,
                Ok(0),
                "{call} {{{tv_sec}, {tv_nsec}}}: a timeout, not EINVAL"
            );
            assert!(
                elapsed >= at_least && elapsed < at_most,
                "{call} {{{tv_sec}, {tv_nsec}}} returned after {elapsed:?}"
            );
            println!("{call} {{{tv_sec}, {tv_nsec}}}: timed out after {elapsed:?}");
        }
    }
}

/// `io_pgetevents` with `timeout {0, 0}` and signal argument `sig`.
fn pgetevents(ctx: aio_context_t, sig: *const __aio_sigset) -> Result<Vec<io_event>, Errno> {
    let mut events = [io_event::default(); 4];
    let ts = timespec(Duration::ZERO);
    // SAFETY: room for 4 events; the timeout is `ts`; the caller passes a valid `sig`.
    let n = unsafe { io_pgetevents(ctx, 0, 4, events.as_mut_ptr(), &ts, sig) }?;
    Ok(events[..n].to_vec())
}

#[test]
fn io_pgetevents_sigset_size_must_be_the_kernels() {
    if !kernel_has_aio() {
        return;
    }
    let file = TempFile::new("pgetevents");
    let data = *b"pgetevents";
    let ctx = Ctx::new(4);
    let mask = kernel_sigset_t::full();

    for size in [0, 4, KERNEL_SIGSET_SIZE - 1, KERNEL_SIGSET_SIZE + 1, 128] {
        let sig = __aio_sigset::with_size(&mask, size);
        assert_eq!(
            pgetevents(ctx.0, &sig),
            Err(Errno::INVAL),
            "sigsetsize {size}"
        );
    }
    // The size is only checked when there is a mask to install (set_user_sigmask returns
    // early for a null mask): any size goes with a null one.
    for size in [0, 4, 128, usize::MAX] {
        let no_mask = __aio_sigset::with_size(null(), size);
        assert_eq!(
            pgetevents(ctx.0, &no_mask),
            Ok(vec![]),
            "null mask, sigsetsize {size}"
        );
    }
    assert_eq!(pgetevents(ctx.0, null()), Ok(vec![]));

    let sig = __aio_sigset::new(&mask);
    assert_eq!(sig.sigsetsize, KERNEL_SIGSET_SIZE as __kernel_size_t);
    assert_eq!(pgetevents(ctx.0, &sig), Ok(vec![]));

    // And it delivers events.
    let mut cb = rw(IOCB_CMD_PWRITE, file.fd(), data.as_ptr(), data.len(), 0, 77);
    // SAFETY: the iocb and buffer are valid until the event is reaped below.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut cb]) }, Ok(1));
    let events = pgetevents(ctx.0, &sig).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, 77);
    assert_eq!(events[0].res, data.len() as i64);
}

// ---------------------------------------------------------------------------------------------
// io_cancel
// ---------------------------------------------------------------------------------------------

#[test]
fn io_cancel_of_a_pending_poll_is_einprogress_and_completes_with_zero() {
    if !kernel_has_aio() {
        return;
    }
    let (r, _w) = pipe();
    let ctx = Ctx::new(4);
    let mut cb = poll(r.as_fd(), POLLIN, 0xcafe);
    let cb_ptr = &raw mut cb;
    // SAFETY: `cb` stays at this address (and alive) until its event is reaped below.
    assert_eq!(unsafe { submit(ctx.0, &[cb_ptr]) }, Ok(1));
    assert!(
        ctx.poll_events(4).is_empty(),
        "the pipe is empty: the poll is pending"
    );

    // A key other than the 0 io_submit wrote: not this request.
    // SAFETY: `cb_ptr` points to the live `cb`; nothing else references it now.
    unsafe { (*cb_ptr).aio_key = 1 };
    let mut result = io_event::default();
    // SAFETY: `cb` and `result` are valid.
    assert_eq!(
        unsafe { io_cancel(ctx.0, cb_ptr, &mut result) },
        Err(Errno::INVAL)
    );
    // SAFETY: as above.
    unsafe { (*cb_ptr).aio_key = 0 };

    // Since 3.12 a successful cancel answers EINPROGRESS; the event comes through the ring.
    // SAFETY: as above.
    assert_eq!(
        unsafe { io_cancel(ctx.0, cb_ptr, &mut result) },
        Err(Errno::INPROGRESS)
    );
    assert_eq!(result, io_event::default(), "`result` is never written");

    let events = ctx.wait(1, 4, Some(PATIENCE));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, 0xcafe);
    assert_eq!(events[0].obj, obj(cb_ptr));
    assert_eq!(events[0].res, 0, "a cancelled poll completes with 0");
    assert_eq!(events[0].res2, 0);

    // SAFETY: as above.
    let again = unsafe { io_cancel(ctx.0, cb_ptr, &mut result) };
    assert_eq!(again, Err(Errno::INVAL), "no longer queued");
}

#[test]
fn io_cancel_of_an_unknown_or_completed_request_is_einval() {
    if !kernel_has_aio() {
        return;
    }
    let (_r, w) = pipe();
    let data = *b"done";
    let ctx = Ctx::new(4);
    let mut result = io_event::default();

    let mut never = iocb::default();
    // SAFETY: `never` and `result` are valid.
    let r = unsafe { io_cancel(ctx.0, &raw mut never, &mut result) };
    assert_eq!(r, Err(Errno::INVAL), "never submitted");

    // A write completes inside io_submit and cannot be cancelled afterwards.
    let mut cb = rw(IOCB_CMD_PWRITE, w.as_fd(), data.as_ptr(), data.len(), 0, 5);
    // SAFETY: the iocb and buffer are valid until the event is reaped below.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut cb]) }, Ok(1));
    // SAFETY: `cb` and `result` are valid.
    let r = unsafe { io_cancel(ctx.0, &raw mut cb, &mut result) };
    assert_eq!(r, Err(Errno::INVAL), "already completed");
    let events = ctx.wait(1, 1, Some(PATIENCE));
    assert_eq!(events[0].res, data.len() as i64);

    // A bad context, with an otherwise acceptable iocb.
    // SAFETY: `never` and `result` are valid.
    let r = unsafe { io_cancel(0, &raw mut never, &mut result) };
    assert_eq!(r, Err(Errno::INVAL), "context 0");
}

// ---------------------------------------------------------------------------------------------
// io_destroy
// ---------------------------------------------------------------------------------------------

#[test]
fn io_destroy_twice_is_einval() {
    if !kernel_has_aio() {
        return;
    }
    // StaleCtx: io_setup, a successful io_destroy, and the address kept from reuse.
    let stale = StaleCtx::new();
    // SAFETY: the ring is gone; the kernel only looks the id up (and finds nothing).
    assert_eq!(unsafe { io_destroy(stale.id) }, Err(Errno::INVAL));
    // SAFETY: as above.
    assert_eq!(unsafe { io_destroy(0) }, Err(Errno::INVAL));
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

#[test]
fn pwrite_then_pread_a_file() {
    if !kernel_has_aio() {
        return;
    }
    let file = TempFile::new("pwrite-pread");
    let data = *b"hello, kernel aio";
    let mut back = [0u8; 32];
    let ctx = Ctx::new(4);

    let mut wcb = rw(IOCB_CMD_PWRITE, file.fd(), data.as_ptr(), data.len(), 3, 11);
    // SAFETY: the iocb and buffer are valid until the event is reaped below.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut wcb]) }, Ok(1));
    let events = ctx.wait(1, 1, Some(PATIENCE));
    assert_eq!(
        events,
        [io_event {
            data: 11,
            obj: obj(&raw const wcb),
            res: data.len() as i64,
            res2: 0,
        }]
    );
    let mut expected = vec![0u8; 3];
    expected.extend_from_slice(&data);
    assert_eq!(file.contents(), expected, "written at offset 3");

    let mut rcb = rw(
        IOCB_CMD_PREAD,
        file.fd(),
        back.as_mut_ptr(),
        back.len(),
        3,
        12,
    );
    // SAFETY: as above; `back` is not touched until the event is reaped.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut rcb]) }, Ok(1));
    let events = ctx.wait(1, 1, Some(PATIENCE));
    assert_eq!(events[0].data, 12);
    assert_eq!(events[0].obj, obj(&raw const rcb));
    assert_eq!(
        events[0].res,
        data.len() as i64,
        "a short read at end of file"
    );
    assert_eq!(&back[..data.len()], &data);
}

#[test]
fn pwritev_then_preadv_a_file() {
    if !kernel_has_aio() {
        return;
    }
    let file = TempFile::new("pwritev-preadv");
    let (a, b, c) = (*b"vectored ", *b"i/o ", *b"works");
    let out = [
        iovec {
            iov_base: a.as_ptr() as *mut _,
            iov_len: a.len() as _,
        },
        iovec {
            iov_base: b.as_ptr() as *mut _,
            iov_len: b.len() as _,
        },
        iovec {
            iov_base: c.as_ptr() as *mut _,
            iov_len: c.len() as _,
        },
    ];
    let total = a.len() + b.len() + c.len();
    let mut x = [0u8; 4];
    let mut y = [0u8; 32];
    let mut inv = [
        iovec {
            iov_base: x.as_mut_ptr().cast(),
            iov_len: x.len() as _,
        },
        iovec {
            iov_base: y.as_mut_ptr().cast(),
            iov_len: y.len() as _,
        },
    ];
    let ctx = Ctx::new(4);

    let mut wcb = rw(
        IOCB_CMD_PWRITEV,
        file.fd(),
        out.as_ptr().cast(),
        out.len(),
        0,
        21,
    );
    // SAFETY: the iovec array and its buffers are valid until the event is reaped below.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut wcb]) }, Ok(1));
    let events = ctx.wait(1, 1, Some(PATIENCE));
    assert_eq!((events[0].data, events[0].res), (21, total as i64));
    assert_eq!(file.contents(), b"vectored i/o works");

    let mut rcb = rw(
        IOCB_CMD_PREADV,
        file.fd(),
        inv.as_mut_ptr().cast(),
        inv.len(),
        0,
        22,
    );
    // SAFETY: as above; `x` and `y` are not touched until the event is reaped.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut rcb]) }, Ok(1));
    let events = ctx.wait(1, 1, Some(PATIENCE));
    assert_eq!((events[0].data, events[0].res), (22, total as i64));
    assert_eq!(&x, b"vect");
    assert_eq!(&y[..total - 4], b"ored i/o works");
}

#[test]
fn rwf_append_appends_despite_offset_zero() {
    if !kernel_has_aio() {
        return;
    }
    let file = TempFile::new("rwf-append");
    let (first, second) = (*b"hello", *b" world");
    let ctx = Ctx::new(4);

    let mut cb1 = rw(
        IOCB_CMD_PWRITE,
        file.fd(),
        first.as_ptr(),
        first.len(),
        0,
        1,
    );
    // SAFETY: the iocb and buffer are valid until the event is reaped below.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut cb1]) }, Ok(1));
    assert_eq!(ctx.wait(1, 1, Some(PATIENCE))[0].res, first.len() as i64);

    // Offset 0 again, but RWF_APPEND in aio_rw_flags: if the flag reached the kernel in the
    // right slot the write lands at the end; in the wrong slot (aio_key) it would be silently
    // ignored and overwrite "hello".
    let mut cb2 = rw(
        IOCB_CMD_PWRITE,
        file.fd(),
        second.as_ptr(),
        second.len(),
        0,
        2,
    );
    cb2.aio_rw_flags = RwFlags::APPEND.bits();
    // SAFETY: as above.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut cb2]) }, Ok(1));
    assert_eq!(ctx.wait(1, 1, Some(PATIENCE))[0].res, second.len() as i64);

    assert_eq!(file.contents(), b"hello world");
}

/// Whether the running kernel's release is below `major.minor` (uname).
fn kernel_before(major: u32, minor: u32) -> bool {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found < (major, minor)
}

#[test]
fn rwf_nowait_read_of_an_empty_pipe_completes_with_eagain() {
    if !kernel_has_aio() {
        return;
    }
    let (r, w) = pipe();
    // Without RWF_NOWAIT this io_submit would block until data arrives. If the flag were lost
    // the test must fail, not hang: a watchdog writes into the pipe after PATIENCE.
    let (done, watchdog_rx) = std::sync::mpsc::channel::<()>();
    let watchdog_fd = w.try_clone().unwrap();
    let watchdog = std::thread::spawn(move || {
        if watchdog_rx.recv_timeout(PATIENCE).is_err() {
            let _ = rustix::io::write(&watchdog_fd, b"watchdog");
        }
    });

    let mut buf = [0u8; 16];
    let ctx = Ctx::new(4);
    let mut cb = rw(
        IOCB_CMD_PREAD,
        r.as_fd(),
        buf.as_mut_ptr(),
        buf.len(),
        0,
        31,
    );
    cb.aio_rw_flags = RwFlags::NOWAIT.bits();
    // SAFETY: the iocb and buffer are valid until the event is reaped below.
    let submitted = unsafe { submit(ctx.0, &[&raw mut cb]) };
    let _ = done.send(());
    watchdog.join().unwrap();
    if kernel_before(6, 4) {
        // Pipes accept RWF_NOWAIT only since 6.4 (FMODE_NOWAIT on pipes); before, io_submit
        // refuses the flag. That still proves the slot: a flag in the wrong slot would be ignored
        // and the read would have blocked until the watchdog wrote.
        assert_eq!(
            submitted,
            Err(Errno::OPNOTSUPP),
            "pipes before Linux 6.4 refuse RWF_NOWAIT"
        );
        println!(
            "kernel before 6.4: io_submit refused RWF_NOWAIT on a pipe (EOPNOTSUPP), as expected"
        );
        return;
    }
    assert_eq!(submitted, Ok(1));

    let events = ctx.wait(1, 1, Some(PATIENCE));
    assert_eq!(events[0].data, 31);
    assert_eq!(events[0].obj, obj(&raw const cb));
    assert_eq!(
        res_errno(events[0].res),
        Errno::AGAIN,
        "res {} (a positive res means the read blocked until the watchdog wrote)",
        events[0].res
    );
    drop(w);
}

#[test]
fn resfd_eventfd_counts_completions() {
    if !kernel_has_aio() {
        return;
    }
    let file = TempFile::new("resfd");
    let efd = rustix::event::eventfd(0, rustix::event::EventfdFlags::NONBLOCK).unwrap();
    let chunks = [*b"aa", *b"bb", *b"cc"];
    let ctx = Ctx::new(8);
    let mut cbs: Vec<iocb> = chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut cb = rw(
                IOCB_CMD_PWRITE,
                file.fd(),
                chunk.as_ptr(),
                chunk.len(),
                2 * i as i64,
                i as u64,
            );
            cb.aio_flags = IOCB_FLAG_RESFD;
            cb.aio_resfd = efd.as_raw_fd() as u32;
            cb
        })
        .collect();
    let ptrs: Vec<*mut iocb> = cbs.iter_mut().map(|cb| cb as *mut iocb).collect();
    // SAFETY: the iocbs and buffers are valid until the events are reaped below.
    assert_eq!(unsafe { submit(ctx.0, &ptrs) }, Ok(3));

    let mut events = ctx.wait(3, 3, Some(PATIENCE));
    events.sort_by_key(|e| e.data);
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.data, i as u64);
        assert_eq!(event.obj, obj(ptrs[i]));
        assert_eq!(event.res, 2);
    }
    let mut counter = [0u8; 8];
    assert_eq!(rustix::io::read(&efd, &mut counter), Ok(8));
    assert_eq!(
        u64::from_ne_bytes(counter),
        3,
        "one eventfd signal per completion"
    );
    assert_eq!(
        rustix::io::read(&efd, &mut counter),
        Err(rustix::io::Errno::AGAIN),
        "and no more"
    );
    assert_eq!(file.contents(), b"aabbcc");
}

/// The ring's `head` and `tail` as atomics.
///
/// # Safety
/// `ring` must be a live ring mapping (the context not destroyed) for `'a`.
unsafe fn ring_indices<'a>(ring: *mut aio_ring) -> (&'a AtomicU32, &'a AtomicU32) {
    // SAFETY: both fields are aligned u32s in the shared mapping, which the kernel and this
    // thread only access atomically (the kernel with barriers); the caller keeps it mapped.
    unsafe {
        (
            &*addr_of_mut!((*ring).head).cast::<AtomicU32>(),
            &*addr_of_mut!((*ring).tail).cast::<AtomicU32>(),
        )
    }
}

#[test]
fn completions_can_be_read_from_the_mapped_ring() {
    if !kernel_has_aio() {
        return;
    }
    let file = TempFile::new("ring");
    let data = *b"straight from the ring";
    let requested = 8;
    let ctx = Ctx::new(requested);
    let ring = ctx.0 as *mut aio_ring;

    // SAFETY: the context value is the address of its ring, mapped until io_destroy (the guard
    // outlives every use below); the header fields other than head/tail are written only by
    // io_setup.
    let (magic, compat, incompat, header_length, nr) = unsafe {
        (
            addr_of!((*ring).magic).read_volatile(),
            addr_of!((*ring).compat_features).read_volatile(),
            addr_of!((*ring).incompat_features).read_volatile(),
            addr_of!((*ring).header_length).read_volatile(),
            addr_of!((*ring).nr).read_volatile(),
        )
    };
    assert_eq!(magic, AIO_RING_MAGIC);
    assert_eq!(compat, AIO_RING_COMPAT_FEATURES);
    assert_eq!(incompat, AIO_RING_INCOMPAT_FEATURES);
    assert_eq!(header_length, AIO_RING_HEADER_LENGTH);
    assert_eq!(header_length as usize, std::mem::size_of::<aio_ring>());
    assert!(nr >= requested, "{nr} slots for {requested} requested");

    // SAFETY: the ring stays mapped while `ctx` lives.
    let (head, tail) = unsafe { ring_indices(ring) };
    // SAFETY: the events array follows the header; `nr` slots.
    let events = unsafe { addr_of!((*ring).io_events).cast::<io_event>() };

    let start = head.load(Ordering::Acquire);
    assert_eq!(tail.load(Ordering::Acquire), start, "empty ring");

    let mut cb = rw(
        IOCB_CMD_PWRITE,
        file.fd(),
        data.as_ptr(),
        data.len(),
        0,
        0x5157,
    );
    // SAFETY: the iocb and buffer are valid until the event is consumed below; a buffered file
    // write completes inside io_submit.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut cb]) }, Ok(1));

    let produced = tail.load(Ordering::Acquire);
    assert_eq!(
        produced,
        (start + 1) % nr,
        "the kernel advanced tail by one"
    );
    // SAFETY: `start < nr` is inside the array; the acquire load of `tail` orders this read after
    // the kernel's store of the event.
    let event = unsafe { events.add(start as usize).read_volatile() };
    assert_eq!(
        event,
        io_event {
            data: 0x5157,
            obj: obj(&raw const cb),
            res: data.len() as i64,
            res2: 0,
        }
    );
    head.store(produced, Ordering::Release);

    // The kernel sees it consumed...
    assert!(ctx.poll_events(4).is_empty());
    assert_eq!(file.contents(), data);

    // ...and when it reaps itself, it moves head the same way.
    let mut cb2 = rw(IOCB_CMD_PWRITE, file.fd(), data.as_ptr(), 4, 0, 0x5158);
    // SAFETY: as above.
    assert_eq!(unsafe { submit(ctx.0, &[&raw mut cb2]) }, Ok(1));
    assert_eq!(tail.load(Ordering::Acquire), (start + 2) % nr);
    let reaped = ctx.wait(1, 4, Some(PATIENCE));
    assert_eq!(reaped.len(), 1);
    assert_eq!(reaped[0].data, 0x5158);
    assert_eq!(head.load(Ordering::Acquire), (start + 2) % nr);
}

/// Each wait call of this ABI, called directly, with a 50 ms timeout that expires: on 32-bit
/// ABIs `io_pgetevents_time64` and both time32 calls; on 64-bit ABIs the time64/time32 entry
/// points must be `ENOSYS` (they do not exist there) and the portable calls take 64-bit time.
#[test]
fn every_wait_call_of_this_abi_honours_an_expiring_timeout() {
    use aio_sys::abi::old_timespec32;
    use aio_sys::{
        NR, WaitPath, io_getevents_time32, io_pgetevents_time32, io_pgetevents_time64, wait_path,
    };
    if !kernel_has_aio() {
        return;
    }
    let ctx = Ctx::new(4);
    let timeout = Duration::from_millis(50);
    let ts64 = timespec(timeout);
    let ts32 = old_timespec32::from_timespec64(&ts64).unwrap();
    let mask = kernel_sigset_t::empty();
    let sig = __aio_sigset::new(&mask);
    let mut events = [io_event::default(); 4];
    let ev = events.as_mut_ptr();
    let expect_timeout = |name: &str, call: &dyn Fn() -> Result<usize, Errno>| {
        let start = Instant::now();
        assert_eq!(call(), Ok(0), "{name}");
        let elapsed = start.elapsed();
        assert!(
            elapsed >= timeout && elapsed < PATIENCE,
            "{name} returned after {elapsed:?}"
        );
        println!("{name}: timed out after {elapsed:?}");
    };
    // SAFETY (all calls below): `ev` has room for 4 events; the timeouts and the sigset live
    // until the end of the test.
    if NR.io_pgetevents_time64.is_some() {
        expect_timeout("io_pgetevents_time64", &|| unsafe {
            io_pgetevents_time64(ctx.0, 1, 4, ev, &ts64, &sig)
        });
        expect_timeout("io_pgetevents_time64 (no sigset)", &|| unsafe {
            io_pgetevents_time64(ctx.0, 1, 4, ev, &ts64, null())
        });
        if NR.io_getevents.is_some() {
            expect_timeout("io_getevents (time32)", &|| unsafe {
                io_getevents_time32(ctx.0, 1, 4, ev, &ts32)
            });
            expect_timeout("io_pgetevents (time32)", &|| unsafe {
                io_pgetevents_time32(ctx.0, 1, 4, ev, &ts32, &sig)
            });
        }
        // The portable calls took the time64 path, and remember that it works.
        expect_timeout("io_getevents (portable)", &|| unsafe {
            io_getevents(ctx.0, 1, 4, ev, &ts64)
        });
        assert_eq!(wait_path(), WaitPath::Time64);
    } else {
        for (name, result) in [
            ("io_pgetevents_time64", unsafe {
                io_pgetevents_time64(ctx.0, 1, 4, ev, &ts64, &sig)
            }),
            ("io_getevents_time32", unsafe {
                io_getevents_time32(ctx.0, 1, 4, ev, &ts32)
            }),
            ("io_pgetevents_time32", unsafe {
                io_pgetevents_time32(ctx.0, 1, 4, ev, &ts32, &sig)
            }),
        ] {
            assert_eq!(
                result,
                Err(Errno::NOSYS),
                "{name} does not exist on a 64-bit ABI"
            );
        }
        expect_timeout("io_getevents", &|| unsafe {
            io_getevents(ctx.0, 1, 4, ev, &ts64)
        });
        expect_timeout("io_pgetevents", &|| unsafe {
            io_pgetevents(ctx.0, 1, 4, ev, &ts64, &sig)
        });
        assert_eq!(wait_path(), WaitPath::Native64);
    }
}
