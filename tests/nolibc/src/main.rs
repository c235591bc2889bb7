//! A libc-free program that exercises every AIO call through `aio-sys` (whose system calls are
//! inline assembly): its own `_start`, and the pipes, the memfd, the read-back and `exit_group`
//! are `aio_sys::raw` calls. It depends on nothing but `aio-sys` without its default features and
//! `linux-raw-sys` (numbers), so it links without libc on every ABI, where rustix would need it.
//!
//! In order, each request with its own `aio_data` tag, checked in its event with `obj` (the
//! iocb's address), `res` and `res2`:
//! 1. `io_setup`, and the completion ring's header at the context address (magic, no
//!    incompatible features);
//! 2. `io_submit` of an `IOCB_CMD_PWRITE` into a pipe, reaped by reading the ring from user
//!    space ([`aio_sys::ring`]), then the bytes read back from the pipe;
//! 3. `io_submit` of an `IOCB_CMD_POLL` (`POLLIN`) on the now empty pipe, `io_cancel` of it,
//!    which answers `EINPROGRESS` (kernels since 3.12: cancellation started, the event comes
//!    through the ring), and the cancelled poll's event, `res` 0 (no ready events: `fs/aio.c`
//!    completes a cancelled poll with the mask it did not poll), reaped by `io_getevents` with a
//!    timeout;
//! 4. `io_pgetevents` (`io_pgetevents_time64` on 32-bit ABIs, the `aio-sys` wrapper's choice)
//!    with a 10 ms timeout and a signal mask blocking `SIGUSR1`: nothing is pending, so with
//!    `min_nr` 1 it times out and returns 0;
//! 5. the `RWF_APPEND` byte-order proof on a memfd: "AAAA" written at offset 0, then "BBBB" at
//!    offset 0 with `aio_rw_flags = RWF_APPEND`, then an `IOCB_CMD_PREAD` of the file: "AAAABBBB"
//!    only if the flag reached the kernel. `aio_key` and `aio_rw_flags` trade places on
//!    big-endian ABIs; with them misplaced the kernel sees no flag (the file is "BBBB") or
//!    rejects the request;
//! 6. `io_destroy`.
//!
//! Exit status: 0 on success, else the [`Step`] that failed (`../steps.rs` has the same
//! descriptions for the tests and the xtask that run this program and include that file):
//!
//! | status | step             | what failed                                                   |
//! |-------:|------------------|---------------------------------------------------------------|
//! |      1 | `Setup`          | `io_setup` (`ENOSYS` under qemu-user)                         |
//! |      2 | `Ring`           | the ring header forbids user-space reaping                    |
//! |      3 | `Pipe`           | `pipe2`                                                       |
//! |      4 | `WriteSubmit`    | `io_submit` did not queue the pipe write                      |
//! |      5 | `RingReap`       | the write's event did not appear in the ring within 1 s       |
//! |      6 | `WriteEvent`     | its `data`/`obj`/`res`/`res2` are not the write's             |
//! |      7 | `PipeRead`       | reading the pipe failed                                       |
//! |      8 | `PipeCompare`    | the pipe does not hold the message                            |
//! |      9 | `PollSubmit`     | `io_submit` did not queue the poll                            |
//! |     10 | `Cancel`         | `io_cancel` of the poll did not answer `EINPROGRESS`          |
//! |     11 | `CancelReap`     | `io_getevents` (1 s timeout) did not return its event         |
//! |     12 | `CancelEvent`    | that event is not the poll's, or its `res`/`res2` are not 0   |
//! |     13 | `SigmaskWait`    | `io_pgetevents` with a mask did not time out with 0           |
//! |     14 | `Memfd`          | `memfd_create`                                                |
//! |     15 | `FileWrite`      | the "AAAA" write was not queued, reaped or completed whole    |
//! |     16 | `AppendSubmit`   | `io_submit` rejected the `RWF_APPEND` write                   |
//! |     17 | `AppendEvent`    | its event is not its own, or `res` is not 4                   |
//! |     18 | `FileRead`       | the read-back was not queued or reaped                        |
//! |     19 | `AppendOrder`    | the file is not "AAAABBBB": `RWF_APPEND` did not reach it     |
//! |     20 | `Destroy`        | `io_destroy`                                                  |
//! |    101 | (panic)          | a panic (none is expected)                                    |
#![no_std]
#![no_main]
// `_start` in start.rs is inline assembly, still unstable on PowerPC and MIPS (the cross builds
// set RUSTC_BOOTSTRAP=1, as for aio-sys).
#![cfg_attr(
    any(
        target_arch = "powerpc64",
        target_arch = "mips",
        target_arch = "mips64"
    ),
    feature(asm_experimental_arch)
)]
// The memory functions of `mem` must not be compiled into calls to themselves.
#![no_builtins]

use aio_sys::abi::{
    __aio_sigset, __kernel_timespec, IOCB_CMD_POLL, IOCB_CMD_PREAD, IOCB_CMD_PWRITE, RwFlags,
    aio_context_t, io_event, iocb, kernel_sigset_t,
};
use aio_sys::raw::{Word, syscall3};
use aio_sys::ring::Ring;
use aio_sys::{Errno, io_cancel, io_destroy, io_getevents, io_pgetevents, io_setup, io_submit};
use core::ptr::{null, null_mut};
use linux_raw_sys::general::{
    __NR_close, __NR_memfd_create, __NR_pipe2, __NR_read, MFD_CLOEXEC, O_CLOEXEC, POLLIN, SIGUSR1,
};

mod mem;
mod start;

/// What a failing run reports as its exit status (the table in the module docs).
#[repr(i32)]
#[derive(Clone, Copy)]
enum Step {
    Setup = 1,
    Ring = 2,
    Pipe = 3,
    WriteSubmit = 4,
    RingReap = 5,
    WriteEvent = 6,
    PipeRead = 7,
    PipeCompare = 8,
    PollSubmit = 9,
    Cancel = 10,
    CancelReap = 11,
    CancelEvent = 12,
    SigmaskWait = 13,
    Memfd = 14,
    FileWrite = 15,
    AppendSubmit = 16,
    AppendEvent = 17,
    FileRead = 18,
    AppendOrder = 19,
    Destroy = 20,
}

/// The text written through AIO into the pipe and read back.
const MESSAGE: &[u8] = b"written by io_submit without libc\n";

/// The `aio_data` tag of each request, all distinct.
const WRITE_TAG: u64 = 0x6e6f_6c69_6201;
const POLL_TAG: u64 = 0x6e6f_6c69_6202;
const FILE_TAG: u64 = 0x6e6f_6c69_6203;
const APPEND_TAG: u64 = 0x6e6f_6c69_6204;
const READ_TAG: u64 = 0x6e6f_6c69_6205;

/// The memfd's first write, at offset 0, and the `RWF_APPEND` one, also at offset 0.
const FIRST: &[u8; 4] = b"AAAA";
const APPENDED: &[u8; 4] = b"BBBB";
/// What the memfd holds when `RWF_APPEND` reached the kernel.
const APPENDED_FILE: &[u8; 8] = b"AAAABBBB";

/// The exit status: 0, or the step that failed.
fn program() -> i32 {
    match run() {
        Ok(()) => 0,
        Err(step) => step as i32,
    }
}

/// Creates a context, runs the steps, destroys the context.
fn run() -> Result<(), Step> {
    // The AIO read-back's buffer outlives the context: should a step fail with the read still
    // queued, io_destroy waits for it before this returns.
    let mut file_back = [0u8; 16];
    let mut ctx: aio_context_t = 0;
    // SAFETY: `ctx` is a valid, zeroed context variable.
    unsafe { io_setup(8, &mut ctx) }.map_err(|_| Step::Setup)?;
    let outcome = exercise(ctx, &mut file_back);
    // SAFETY: `ctx` is live, and nothing uses it or its ring after this; the buffers of any
    // request still queued (statics and `file_back`) outlive the call, which waits for them.
    let destroyed = unsafe { io_destroy(ctx) };
    outcome?;
    destroyed.map_err(|_| Step::Destroy)
}

/// Every step between `io_setup` and `io_destroy`.
fn exercise(ctx: aio_context_t, file_back: &mut [u8; 16]) -> Result<(), Step> {
    // SAFETY: `ctx` stays live until `run` destroys it, after the ring's last use here; the
    // ring is read only by `reap_from_ring`, never while an io_getevents call runs.
    let ring = unsafe { Ring::new(ctx) }.ok_or(Step::Ring)?;
    let [reader, writer] = pipe().map_err(|_| Step::Pipe)?;
    let outcome = pipe_steps(ctx, &ring, reader, writer);
    close(reader);
    close(writer);
    outcome?;
    wait_with_sigmask(ctx)?;
    let memfd = memfd_create().map_err(|_| Step::Memfd)?;
    let outcome = append_proof(ctx, memfd, file_back);
    close(memfd);
    outcome
}

/// The pipe write reaped from the ring, its read-back, and the cancelled poll.
fn pipe_steps(ctx: aio_context_t, ring: &Ring, reader: i32, writer: i32) -> Result<(), Step> {
    write_reaped_from_ring(ctx, ring, writer)?;
    let mut back = [0u8; 64];
    let n = read(reader, &mut back).map_err(|_| Step::PipeRead)?;
    if back[..n] != *MESSAGE {
        return Err(Step::PipeCompare);
    }
    cancel_poll(ctx, reader)
}

/// An `IOCB_CMD_PWRITE` of [`MESSAGE`] into the pipe, its event taken from the ring.
fn write_reaped_from_ring(ctx: aio_context_t, ring: &Ring, writer: i32) -> Result<(), Step> {
    let mut cb = rw(
        IOCB_CMD_PWRITE,
        WRITE_TAG,
        writer,
        MESSAGE.as_ptr(),
        MESSAGE.len(),
    );
    // SAFETY: the buffer is a static.
    if !unsafe { submit(ctx, &mut cb) } {
        return Err(Step::WriteSubmit);
    }
    let event = reap_from_ring(ring).ok_or(Step::RingReap)?;
    if !is_for(&event, WRITE_TAG, &cb) || event.res != MESSAGE.len() as i64 || event.res2 != 0 {
        return Err(Step::WriteEvent);
    }
    Ok(())
}

/// A `POLLIN` poll of the empty pipe, cancelled (`EINPROGRESS`), and its event (`res` 0) from
/// `io_getevents` with a timeout.
fn cancel_poll(ctx: aio_context_t, reader: i32) -> Result<(), Step> {
    let mut cb = iocb {
        aio_data: POLL_TAG,
        aio_lio_opcode: IOCB_CMD_POLL,
        aio_fildes: reader as u32,
        aio_buf: u64::from(POLLIN),
        ..iocb::default()
    };
    // SAFETY: a poll has no buffer; the kernel keeps only the iocb's address, as `obj`.
    if !unsafe { submit(ctx, &mut cb) } {
        return Err(Step::PollSubmit);
    }
    let mut unused = io_event::default();
    // SAFETY: `cb` is the submitted iocb, readable; `unused` is writable (only kernels before
    // 3.12 write it).
    match unsafe { io_cancel(ctx, &mut cb, &mut unused) } {
        Err(Errno::INPROGRESS) => {}
        _ => return Err(Step::Cancel),
    }
    let event = get_event(ctx).ok_or(Step::CancelReap)?;
    if !is_for(&event, POLL_TAG, &cb) || event.res != 0 || event.res2 != 0 {
        return Err(Step::CancelEvent);
    }
    Ok(())
}

/// `io_pgetevents` with nothing pending, `min_nr` 1, a 10 ms timeout and `SIGUSR1` blocked
/// during the wait: it must time out with 0 events.
fn wait_with_sigmask(ctx: aio_context_t) -> Result<(), Step> {
    let mut mask = kernel_sigset_t::empty();
    if !mask.insert(SIGUSR1) {
        return Err(Step::SigmaskWait);
    }
    let sig = __aio_sigset::new(&mask);
    let timeout = __kernel_timespec {
        tv_sec: 0,
        tv_nsec: 10_000_000,
    };
    let mut events = [io_event::default(); 1];
    // SAFETY: room for one event; the timeout, the __aio_sigset and the mask it points to (of
    // the kernel's sigset size) outlive the call.
    match unsafe { io_pgetevents(ctx, 1, 1, events.as_mut_ptr(), &timeout, &sig) } {
        Ok(0) => Ok(()),
        _ => Err(Step::SigmaskWait),
    }
}

/// The `RWF_APPEND` proof on the memfd `fd`: "AAAA" at 0, "BBBB" at 0 with `RWF_APPEND`, and
/// the file read back into `back` by an `IOCB_CMD_PREAD`.
fn append_proof(ctx: aio_context_t, fd: i32, back: &mut [u8; 16]) -> Result<(), Step> {
    let mut first = rw(IOCB_CMD_PWRITE, FILE_TAG, fd, FIRST.as_ptr(), FIRST.len());
    // SAFETY: the buffer is a static.
    let event = unsafe { complete(ctx, &mut first, Step::FileWrite, Step::FileWrite) }?;
    if event.res != FIRST.len() as i64 {
        return Err(Step::FileWrite);
    }

    let mut append = rw(
        IOCB_CMD_PWRITE,
        APPEND_TAG,
        fd,
        APPENDED.as_ptr(),
        APPENDED.len(),
    );
    append.aio_rw_flags = RwFlags::APPEND.bits();
    // SAFETY: the buffer is a static.
    let event = unsafe { complete(ctx, &mut append, Step::AppendSubmit, Step::AppendEvent) }?;
    if event.res != APPENDED.len() as i64 {
        return Err(Step::AppendEvent);
    }

    let mut read_back = rw(IOCB_CMD_PREAD, READ_TAG, fd, back.as_mut_ptr(), back.len());
    // SAFETY: `back` outlives the context (see `run`), so the kernel may write it until the
    // event is reaped or the context destroyed.
    let event = unsafe { complete(ctx, &mut read_back, Step::FileRead, Step::FileRead) }?;
    if event.res != APPENDED_FILE.len() as i64 || back[..APPENDED_FILE.len()] != *APPENDED_FILE {
        return Err(Step::AppendOrder);
    }
    Ok(())
}

/// A read or write iocb: `len` bytes at `buf`, at offset 0 (ignored by pipes).
fn rw(opcode: u16, tag: u64, fd: i32, buf: *const u8, len: usize) -> iocb {
    iocb {
        aio_data: tag,
        aio_lio_opcode: opcode,
        aio_fildes: fd as u32,
        aio_buf: buf as usize as u64,
        aio_nbytes: len as u64,
        ..iocb::default()
    }
}

/// `io_submit` of the one request `cb`: whether the kernel queued it.
///
/// # Safety
/// The memory `cb` names must stay valid until its event is reaped or the context destroyed.
unsafe fn submit(ctx: aio_context_t, cb: &mut iocb) -> bool {
    let list = [cb as *mut iocb];
    // SAFETY: one valid iocb; the caller vouches for its buffer.
    matches!(unsafe { io_submit(ctx, 1, list.as_ptr()) }, Ok(1))
}

/// Submits `cb` and reaps its event with `io_getevents`: `submit_step` if it is not queued,
/// `event_step` if no event comes or the event is not `cb`'s or has a `res2`.
///
/// # Safety
/// As [`submit`].
unsafe fn complete(
    ctx: aio_context_t,
    cb: &mut iocb,
    submit_step: Step,
    event_step: Step,
) -> Result<io_event, Step> {
    // SAFETY: forwarded from the caller.
    if !unsafe { submit(ctx, cb) } {
        return Err(submit_step);
    }
    let tag = cb.aio_data;
    match get_event(ctx) {
        Some(event) if is_for(&event, tag, cb) && event.res2 == 0 => Ok(event),
        _ => Err(event_step),
    }
}

/// Whether `event` is the completion of `cb`, submitted with `tag`.
fn is_for(event: &io_event, tag: u64, cb: &iocb) -> bool {
    event.data == tag && event.obj == cb as *const iocb as usize as u64
}

/// One event from `io_getevents`, waiting up to 1 s.
fn get_event(ctx: aio_context_t) -> Option<io_event> {
    let mut events = [io_event::default(); 1];
    let timeout = __kernel_timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    // SAFETY: room for one event; the timeout is a valid __kernel_timespec.
    match unsafe { io_getevents(ctx, 1, 1, events.as_mut_ptr(), &timeout) } {
        Ok(1) => Some(events[0]),
        _ => None,
    }
}

/// One event from the ring, looking every millisecond for up to 1 s (a pipe write completes
/// inside `io_submit`, so the first look finds it).
fn reap_from_ring(ring: &Ring) -> Option<io_event> {
    let millisecond = __kernel_timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000,
    };
    for _ in 0..1000 {
        let mut event = [io_event::default()];
        // SAFETY: `ring`'s context is live (see its creation in `run`) and this program reads
        // its ring only here, never while an io_getevents call runs.
        if unsafe { ring.reap(&mut event) } == 1 {
            return Some(event[0]);
        }
        // SAFETY: no descriptors; the timeout is readable; no mask. A failure only shortens
        // the wait.
        let _ = unsafe { aio_sys::ppoll(null_mut(), 0, &millisecond, null()) };
    }
    None
}

/// `pipe2(O_CLOEXEC)`: the read and the write end.
fn pipe() -> Result<[i32; 2], Errno> {
    let mut fds = [-1i32; 2];
    // SAFETY: pipe2 writes two ints into `fds`, which outlives the call.
    unsafe {
        syscall3(
            __NR_pipe2 as usize,
            [fds.as_mut_ptr() as usize as Word, O_CLOEXEC as Word, 0],
        )
    }?;
    Ok(fds)
}

/// `memfd_create("aio-nolibc", MFD_CLOEXEC)`: an anonymous regular file (shmem, Linux 3.17).
fn memfd_create() -> Result<i32, Errno> {
    let name = b"aio-nolibc\0";
    // SAFETY: `name` is NUL-terminated and outlives the call, which only reads it.
    let fd = unsafe {
        syscall3(
            __NR_memfd_create as usize,
            [name.as_ptr() as usize as Word, MFD_CLOEXEC as Word, 0],
        )
    }?;
    Ok(fd as i32)
}

/// `read(fd, buf)`: the number of bytes read.
fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is valid for writes of its length; `fd` is a descriptor this program made.
    let n = unsafe {
        syscall3(
            __NR_read as usize,
            [
                fd as Word,
                buf.as_mut_ptr() as usize as Word,
                buf.len() as Word,
            ],
        )
    }?;
    Ok(n as usize)
}

/// `close(fd)`, of a descriptor this program made and uses no more.
fn close(fd: i32) {
    // SAFETY: `fd` is this program's own and nothing uses it after this.
    let _ = unsafe { syscall3(__NR_close as usize, [fd as Word, 0, 0]) };
}
