//! A libc-free program: its own `_start`, and one AIO round trip through `aio-sys` (whose system
//! calls are inline assembly) into a pipe; the pipe, the read-back and `exit_group` are
//! `aio_sys::raw` calls. It depends on nothing but `aio-sys` without its default features and
//! `linux-raw-sys` (numbers), so it links without libc on every ABI, where rustix would need it.
//!
//! Exit status: 0 on success, else the [`Step`] that failed (101 for a panic).
#![no_std]
#![no_main]
// `_start` in start.rs is inline assembly, still unstable on PowerPC and MIPS (the cross builds
// set RUSTC_BOOTSTRAP=1, as for aio-sys).
#![cfg_attr(
    any(target_arch = "powerpc64", target_arch = "mips64"),
    feature(asm_experimental_arch)
)]
// The memory functions below must not be compiled into calls to themselves.
#![no_builtins]

use aio_sys::abi::{__kernel_timespec, IOCB_CMD_PWRITE, aio_context_t, io_event, iocb};
use aio_sys::raw::{Word, syscall3};
use aio_sys::{Errno, io_destroy, io_getevents, io_setup, io_submit};
use linux_raw_sys::general::{__NR_close, __NR_pipe2, __NR_read, O_CLOEXEC};

mod mem;
mod start;

/// What a failing run reports as its exit status.
#[repr(i32)]
#[derive(Clone, Copy)]
enum Step {
    Setup = 1,
    Pipe = 2,
    Submit = 3,
    GetEvents = 4,
    EventIdentity = 5,
    EventResult = 6,
    Read = 7,
    Compare = 8,
    Destroy = 9,
}

/// The text written through AIO and read back from the pipe.
const MESSAGE: &[u8] = b"written by io_submit without libc\n";

/// The tag the request carries through `aio_data`.
const TAG: u64 = 0x6e6f_6c69_6263;

/// The exit status: 0, or the step that failed.
fn program() -> i32 {
    match run() {
        Ok(()) => 0,
        Err(step) => step as i32,
    }
}

/// Creates a context, does the round trip, destroys the context.
fn run() -> Result<(), Step> {
    let mut ctx: aio_context_t = 0;
    // SAFETY: `ctx` is a valid, zeroed context variable.
    unsafe { io_setup(1, &mut ctx) }.map_err(|_| Step::Setup)?;
    let outcome = round_trip(ctx);
    // SAFETY: `ctx` is live; `round_trip` reaped its only request (or io_destroy waits for it),
    // and nothing else uses the ring.
    let destroyed = unsafe { io_destroy(ctx) };
    outcome?;
    destroyed.map_err(|_| Step::Destroy)
}

/// One `IOCB_CMD_PWRITE` into a pipe, reaped with `io_getevents`, then read back.
fn round_trip(ctx: aio_context_t) -> Result<(), Step> {
    let [reader, writer] = pipe().map_err(|_| Step::Pipe)?;
    let outcome = write_and_read_back(ctx, reader, writer);
    close(reader);
    close(writer);
    outcome
}

/// The write through AIO into the pipe's write end, and the read-back from its read end.
fn write_and_read_back(ctx: aio_context_t, reader: i32, writer: i32) -> Result<(), Step> {
    let mut cb = iocb {
        aio_data: TAG,
        aio_lio_opcode: IOCB_CMD_PWRITE,
        aio_fildes: writer as u32,
        aio_buf: MESSAGE.as_ptr() as u64,
        aio_nbytes: MESSAGE.len() as u64,
        ..iocb::default()
    };
    let cb_ptr = &raw mut cb;
    let list = [cb_ptr];
    // SAFETY: one valid iocb whose buffer is a static; the event is reaped below (or the context
    // destroyed) before `cb` goes out of scope.
    match unsafe { io_submit(ctx, 1, list.as_ptr()) } {
        Ok(1) => {}
        _ => return Err(Step::Submit),
    }

    let mut events = [io_event::default(); 1];
    let timeout = __kernel_timespec {
        tv_sec: 10,
        tv_nsec: 0,
    };
    // SAFETY: room for one event; the timeout is a valid __kernel_timespec.
    match unsafe { io_getevents(ctx, 1, 1, events.as_mut_ptr(), &timeout) } {
        Ok(1) => {}
        _ => return Err(Step::GetEvents),
    }
    let event = events[0];
    if event.data != TAG || event.obj != cb_ptr as usize as u64 {
        return Err(Step::EventIdentity);
    }
    if event.res != MESSAGE.len() as i64 || event.res2 != 0 {
        return Err(Step::EventResult);
    }

    let mut back = [0u8; 64];
    let n = read(reader, &mut back).map_err(|_| Step::Read)?;
    if back[..n] != *MESSAGE {
        return Err(Step::Compare);
    }
    Ok(())
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
