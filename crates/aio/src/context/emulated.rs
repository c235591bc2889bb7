//! [`Backend::Emulated`](super::Backend::Emulated): the context runs the operations itself
//! where the kernel has no AIO (`ENOSYS`: no `CONFIG_AIO`, qemu-user, rr) or forbids it
//! (`EPERM`: seccomp, sandboxes).
//!
//! - Reads, writes and syncs run at [`submit`](Context::submit), in submission order, with the
//!   system call the kernel's AIO path would have made in its place: `pread`/`pwrite` (plain
//!   `read`/`write` on pipes and sockets, where the kernel's AIO ignores the offset),
//!   `preadv`/`pwritev`, `preadv2`/`pwritev2` when the operation carries
//!   [`RwFlags`](crate::RwFlags), `fsync`, `fdatasync`. The kernel checks the flags the same way
//!   for both paths (`kiocb_set_rw_flags`), so a flag it cannot honour answers `EOPNOTSUPP`
//!   here as it would from `io_submit`; a kernel without `preadv2` (before 4.6) cannot honour
//!   any flag, and answers `EOPNOTSUPP` too. `res` is the byte count or the negative errno, as
//!   in an `io_event`. The I/O priority ([`Op::priority`](crate::Op::priority)) is not applied.
//! - Polls stay in flight. Each [`reap`](Context::reap) checks them with one zero-timeout
//!   `ppoll(2)`; a [`wait`](Context::wait) that must block sleeps in one `ppoll(2)` on all of
//!   them with the remaining timeout ([`wait_with_sigmask`](Context::wait_with_sigmask) with its
//!   signal mask, set atomically as `io_pgetevents` does). A poll completes, as the kernel's
//!   does, with the events that are ready among those asked for plus `POLLERR`/`POLLHUP`.
//!   Submit checks the new polls once, as `io_submit` does, so a poll of a ready descriptor
//!   completes at once.
//! - [`cancel`](Context::cancel) of a pending poll answers `InProgress`, as `io_cancel` does,
//!   and the next reap or wait hands it back with `res` 0, marked cancelled.
//! - The eventfd is written for every completion the emulation makes.

use super::reap::kernel_timespec;
use super::slots::State;
use super::{Context, negative};
use crate::error::Error;
use crate::op::{IoVec, OpKind};
use aio_abi::{iocb, kernel_sigset_t, pollfd};
use alloc::vec::Vec;
use core::time::Duration;
use rustix::event::PollFlags;
use rustix::fd::BorrowedFd;
use rustix::io::{Errno, ReadWriteFlags};
use rustix::io::{IoSlice, IoSliceMut};

/// What the emulated backend keeps besides the slots: scratch lists for `ppoll(2)`, allocated
/// by [`build`](super::Builder::build) with room for every slot.
pub(super) struct Emulation {
    /// The slots of the polls in `fds`, in the same order.
    polled: Vec<u32>,
    /// The `pollfd` array; empty between calls.
    fds: Vec<pollfd>,
}

impl Emulation {
    /// Scratch room for `depth` polls, reserved fallibly.
    pub(super) fn new(depth: usize) -> Result<Self, Error> {
        let mut emulation = Self {
            polled: Vec::new(),
            fds: Vec::new(),
        };
        let out_of_memory = |_| Error::OutOfMemory {
            what: "emulated poll list",
            bytes: depth
                .saturating_mul(core::mem::size_of::<u32>() + core::mem::size_of::<pollfd>()),
        };
        emulation
            .polled
            .try_reserve_exact(depth)
            .map_err(out_of_memory)?;
        emulation
            .fds
            .try_reserve_exact(depth)
            .map_err(out_of_memory)?;
        Ok(emulation)
    }
}

impl<B> Context<B> {
    /// [`submit`](Context::submit) for the emulated backend: runs every queued read, write and
    /// sync in push order, and starts the polls.
    pub(super) fn submit_emulated(&mut self) -> Result<usize, Error> {
        let submitted = self.pending.len();
        if submitted == 0 {
            return Ok(0);
        }
        let mut completed = 0;
        let mut polls = false;
        // The queue keeps its capacity: nothing allocates.
        let mut pending = core::mem::take(&mut self.pending);
        for &index in &pending {
            let slot = &mut self.slots[index as usize];
            if slot.kind == OpKind::Poll {
                let res = poll_arguments(&slot.iocb);
                if res == 0 {
                    slot.state = State::InFlight;
                    self.in_flight += 1;
                    polls = true;
                    continue;
                }
                slot.state = State::Ready;
                self.ready.push_back((index, res));
            } else {
                // SAFETY: the slot owns the buffers the iocb points to (and its iovec array),
                // and holds the descriptor it names, until the completion is handed back, which
                // cannot happen during this call.
                let res = unsafe { run(slot.kind, &slot.iocb, &mut slot.iovecs) };
                slot.state = State::Ready;
                self.ready.push_back((index, res));
            }
            completed += 1;
        }
        pending.clear();
        self.pending = pending;
        self.stats.submit_calls += 1;
        self.stats.submitted += submitted as u64;
        self.stats.emulated += completed;
        self.signal_eventfd(completed);
        if polls {
            // io_submit completes a poll whose descriptor is already ready.
            // An error (EINTR, ENOMEM) surfaces again from the next reap or wait.
            let _ = self.check_polls(Some(Duration::ZERO), None);
        }
        Ok(submitted)
    }

    /// [`wait`](Context::wait) for the emulated backend: the caller has checked that `min`
    /// completions can come (only polls are ever in flight here).
    pub(super) fn wait_emulated(
        &mut self,
        min: usize,
        timeout: Option<Duration>,
        mask: Option<&kernel_sigset_t>,
    ) -> Result<usize, Error> {
        // No deadline: no timeout, or one too far away to represent (waits without one).
        let deadline = timeout.and_then(|t| monotonic_now().checked_add(t));
        loop {
            let remaining = deadline.map(|d| d.saturating_sub(monotonic_now()));
            self.check_polls(remaining, mask)?;
            if self.ready.len() >= min || remaining == Some(Duration::ZERO) {
                return Ok(self.ready.len());
            }
        }
    }

    /// Completes the in-flight polls that are ready (or cancelled), waiting up to `timeout`
    /// (`None`: without limit) in one `ppoll(2)` (with `mask`, if given) if none is. With
    /// nothing in flight, returns at once.
    pub(super) fn check_polls(
        &mut self,
        timeout: Option<Duration>,
        mask: Option<&kernel_sigset_t>,
    ) -> Result<(), Error> {
        let Some(emulation) = self.emulated.as_mut() else {
            return Ok(());
        };
        let mut completed = 0;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if slot.state != State::InFlight {
                continue;
            }
            if slot.cancel_requested {
                // The kernel's cancelled poll completes with no events.
                slot.state = State::Ready;
                self.ready.push_back((index as u32, 0));
                completed += 1;
                continue;
            }
            // The slot holds the descriptor open until its completion is handed back, which
            // cannot happen during this call.
            emulation.polled.push(index as u32);
            emulation.fds.push(pollfd {
                fd: slot.iocb.aio_fildes as i32,
                events: slot.iocb.aio_buf as u16 as i16,
                revents: 0,
            });
        }
        let timeout = if completed > 0 {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        let mut result = Ok(());
        if !emulation.fds.is_empty() {
            let timespec = timeout.map(kernel_timespec);
            self.stats.poll_calls += 1;
            // SAFETY: `fds` holds `len` initialised entries (at most the depth, a u32); the
            // timeout and the mask are null or live for the call.
            let polled = unsafe {
                aio_sys::ppoll(
                    emulation.fds.as_mut_ptr(),
                    emulation.fds.len() as u32,
                    timespec
                        .as_ref()
                        .map_or(core::ptr::null(), |t| t as *const _),
                    mask.map_or(core::ptr::null(), |m| m as *const _),
                )
            }
            .map_err(Errno::from);
            match polled {
                Ok(_) => {
                    for (entry, &index) in emulation.fds.iter().zip(&emulation.polled) {
                        if entry.revents == 0 {
                            continue;
                        }
                        // As the kernel's aio_poll: the events asked for, plus ERR and HUP.
                        let asked = entry.events as u16 | ALWAYS_REPORTED;
                        self.slots[index as usize].state = State::Ready;
                        self.ready
                            .push_back((index, i64::from(entry.revents as u16 & asked)));
                        completed += 1;
                    }
                }
                Err(errno) => result = Err(Error::from_call("ppoll", errno)),
            }
            emulation.fds.clear();
            emulation.polled.clear();
        }
        self.in_flight -= completed as usize;
        self.stats.emulated += completed;
        self.signal_eventfd(completed);
        result
    }
}

/// The checks `io_submit` makes of a poll (`aio_poll_prep`): 0 if it may start, else the
/// negative errno it answers.
fn poll_arguments(iocb: &iocb) -> i64 {
    if u64::from(iocb.aio_buf as u16) != iocb.aio_buf
        || iocb.aio_offset != 0
        || iocb.aio_nbytes != 0
        || iocb.aio_rw_flags != 0
    {
        return negative(Errno::INVAL);
    }
    0
}

/// `POLLERR | POLLHUP`, which a poll reports whether asked for or not. (rustix's `PollFlags`
/// bits are `u16` or `i16` depending on its backend: read them as bytes.)
const ALWAYS_REPORTED: u16 =
    u16::from_ne_bytes(PollFlags::ERR.union(PollFlags::HUP).bits().to_ne_bytes());

/// Runs one read, write or sync; returns its `res`.
///
/// # Safety
/// `iocb.aio_fildes` must be an open descriptor, and `iocb.aio_buf`/`aio_nbytes` (or the
/// `iovecs` of a readv/writev) must describe buffers valid for that direction for the call.
pub(super) unsafe fn run(kind: OpKind, iocb: &iocb, iovecs: &mut [IoVec]) -> i64 {
    // SAFETY: the caller guarantees the descriptor is open for the call.
    let fd = unsafe { BorrowedFd::borrow_raw(iocb.aio_fildes as i32) };
    let flags = ReadWriteFlags::from_bits_retain(iocb.aio_rw_flags as u32);
    let offset = iocb.aio_offset as u64;
    let result = match kind {
        OpKind::Fsync | OpKind::Fdatasync if iocb.aio_rw_flags != 0 => Err(Errno::INVAL),
        OpKind::Fsync => rustix::fs::fsync(fd).map(|()| 0),
        OpKind::Fdatasync => rustix::fs::fdatasync(fd).map(|()| 0),
        OpKind::Read => {
            // SAFETY: the caller guarantees `aio_nbytes` writable, initialised bytes.
            let buf = unsafe {
                core::slice::from_raw_parts_mut(iocb.aio_buf as *mut u8, iocb.aio_nbytes as usize)
            };
            if flags.is_empty() {
                or_stream(rustix::io::pread(fd, &mut *buf, offset), || {
                    rustix::io::read(fd, buf)
                })
            } else {
                read_with_flags(fd, &mut [IoSliceMut::new(buf)], offset, flags)
            }
        }
        OpKind::Readv => {
            // SAFETY: `IoSliceMut` is ABI-compatible with `struct iovec` on Unix, as `IoVec` is;
            // the caller guarantees each entry's bytes writable and initialised.
            let bufs = unsafe {
                core::slice::from_raw_parts_mut(
                    iovecs.as_mut_ptr().cast::<IoSliceMut<'_>>(),
                    iovecs.len(),
                )
            };
            if flags.is_empty() {
                or_stream(rustix::io::preadv(fd, bufs, offset), || {
                    rustix::io::readv(fd, bufs)
                })
            } else {
                read_with_flags(fd, bufs, offset, flags)
            }
        }
        OpKind::Write => {
            // SAFETY: the caller guarantees `aio_nbytes` readable bytes.
            let buf = unsafe {
                core::slice::from_raw_parts(iocb.aio_buf as *const u8, iocb.aio_nbytes as usize)
            };
            if flags.is_empty() {
                or_stream(rustix::io::pwrite(fd, buf, offset), || {
                    rustix::io::write(fd, buf)
                })
            } else {
                write_with_flags(fd, &[IoSlice::new(buf)], offset, flags)
            }
        }
        OpKind::Writev => {
            // SAFETY: as for Readv, for reading.
            let bufs = unsafe {
                core::slice::from_raw_parts(iovecs.as_ptr().cast::<IoSlice<'_>>(), iovecs.len())
            };
            if flags.is_empty() {
                or_stream(rustix::io::pwritev(fd, bufs, offset), || {
                    rustix::io::writev(fd, bufs)
                })
            } else {
                write_with_flags(fd, bufs, offset, flags)
            }
        }
        // Polls are started by the caller, never run here.
        OpKind::Poll => Err(Errno::INVAL),
    };
    match result {
        Ok(bytes) => bytes as i64,
        Err(errno) => negative(errno),
    }
}

/// `positioned`, or on a file without positions (`ESPIPE`: pipes, sockets) `at_position`: as
/// the kernel's AIO, which ignores the offset there.
fn or_stream(
    positioned: rustix::io::Result<usize>,
    at_position: impl FnOnce() -> rustix::io::Result<usize>,
) -> rustix::io::Result<usize> {
    match positioned {
        Err(Errno::SPIPE) => at_position(),
        other => other,
    }
}

/// A flagged call's answer: before Linux 4.6 (no `preadv2`/`pwritev2`) no flag can be
/// honoured, as an old kernel's `io_submit` says (`EOPNOTSUPP`).
fn flagged(result: rustix::io::Result<usize>) -> rustix::io::Result<usize> {
    match result {
        Err(Errno::NOSYS) => Err(Errno::OPNOTSUPP),
        other => other,
    }
}

/// `preadv2` at `offset`, or at the file position (offset -1) where the file has none.
fn read_with_flags(
    fd: BorrowedFd<'_>,
    bufs: &mut [IoSliceMut<'_>],
    offset: u64,
    flags: ReadWriteFlags,
) -> rustix::io::Result<usize> {
    flagged(or_stream(preadv2(fd, bufs, offset, flags), || {
        preadv2(fd, bufs, u64::MAX, flags)
    }))
}

/// `pwritev2`, as [`read_with_flags`].
fn write_with_flags(
    fd: BorrowedFd<'_>,
    bufs: &[IoSlice<'_>],
    offset: u64,
    flags: ReadWriteFlags,
) -> rustix::io::Result<usize> {
    flagged(or_stream(pwritev2(fd, bufs, offset, flags), || {
        pwritev2(fd, bufs, u64::MAX, flags)
    }))
}

#[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
use rustix::io::{preadv2, pwritev2};

#[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
use x32::{preadv2, pwritev2};

/// `preadv2`/`pwritev2` on x32 by the system call itself. rustix takes its libc backend there,
/// and through it the flags did not reach the kernel (measured in the static test programs on
/// Linux 6.1 with `syscall.x32=y`: `RWF_APPEND` ignored, an unknown flag accepted; the path
/// rustix takes there, glibc's `preadv64v2` or its own fallback system call, was not traced). The x32 entries (`arch/x86/entry/syscalls/syscall_64.tbl`: 546
/// `compat_sys_preadv64v2`, 547 `compat_sys_pwritev64v2`, with `__X32_SYSCALL_BIT`) take the
/// 64-bit offset in one register and an x32 `iovec`, which is `IoSlice`'s layout there.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
mod x32 {
    use aio_sys::raw::{Word, syscall6};
    use rustix::fd::{AsRawFd, BorrowedFd};
    use rustix::io::{IoSlice, IoSliceMut, ReadWriteFlags};

    const X32_SYSCALL_BIT: usize = 0x4000_0000;
    const PREADV2: usize = X32_SYSCALL_BIT | 546;
    const PWRITEV2: usize = X32_SYSCALL_BIT | 547;

    /// The call `nr` on `fd` with `count` iovecs at `iov`.
    ///
    /// # Safety
    /// `iov` must point to `count` iovecs whose buffers the kernel may read (pwritev2) or write
    /// (preadv2) for the length of the call.
    unsafe fn call(
        nr: usize,
        fd: BorrowedFd<'_>,
        iov: *const u8,
        count: usize,
        offset: u64,
        flags: ReadWriteFlags,
    ) -> rustix::io::Result<usize> {
        let args: [Word; 6] = [
            fd.as_raw_fd() as i64 as Word,
            iov as usize as Word,
            count as Word,
            offset as Word,
            Word::from(flags.bits()),
            0,
        ];
        // SAFETY: the numbers are x32's, and the caller vouches for the iovecs.
        unsafe { syscall6(nr, args) }
            .map(|n| n as usize)
            .map_err(rustix::io::Errno::from)
    }

    pub(super) fn preadv2(
        fd: BorrowedFd<'_>,
        bufs: &mut [IoSliceMut<'_>],
        offset: u64,
        flags: ReadWriteFlags,
    ) -> rustix::io::Result<usize> {
        // SAFETY: `bufs` are live, writable for their lengths, and borrowed for the call.
        unsafe {
            call(
                PREADV2,
                fd,
                bufs.as_mut_ptr().cast(),
                bufs.len(),
                offset,
                flags,
            )
        }
    }

    pub(super) fn pwritev2(
        fd: BorrowedFd<'_>,
        bufs: &[IoSlice<'_>],
        offset: u64,
        flags: ReadWriteFlags,
    ) -> rustix::io::Result<usize> {
        // SAFETY: `bufs` are live, readable for their lengths, and borrowed for the call.
        unsafe {
            call(
                PWRITEV2,
                fd,
                bufs.as_ptr().cast(),
                bufs.len(),
                offset,
                flags,
            )
        }
    }
}

/// `CLOCK_MONOTONIC` (through the vDSO where there is one), as `std::time::Instant` reads it;
/// here because `Instant` needs `std`.
fn monotonic_now() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    // The monotonic clock is never negative and its nanoseconds are below 10^9.
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
