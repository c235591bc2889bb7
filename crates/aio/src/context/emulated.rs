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
//! - Before the call, the checks `io_submit` makes that the system calls would answer
//!   differently: an offset above `i64::MAX` (negative as a `loff_t`) is `EINVAL`, pipes
//!   included, where `preadv2`/`pwritev2` would take -1 for "at the file position"; more than
//!   `UIO_MAXIOV` (1024) buffers is `EINVAL`, where rustix would pass on the first 1024 (both
//!   `EBADF` first for a descriptor not open in that direction). A read of a directory is
//!   `EINVAL` (no `read_iter`), where `read(2)` says `EISDIR`.
//! - A stream (`ESPIPE` to `pread`: a pipe, a socket, an eventfd, an inotify descriptor) is
//!   asked first whether its file has `read_iter` (`write_iter` for a write), which `io_submit`
//!   requires: `EINVAL` without (a read of an inotify descriptor, a write to an eventfd), where
//!   `read(2)`/`write(2)` would take the driver's plain `read`/`write`. One more system call
//!   per operation on a stream, answered without any I/O (see `run::has_iter`); on kernels
//!   before 6.9, which cannot be asked this way, the operation runs as `read(2)` would.
//! - Known difference: a file with positions whose driver has only a plain `read`/`write`
//!   (procfs files such as `/proc/<pid>/status`, `stat`, `cmdline`, `environ`, `maps`,
//!   measured on Linux 6.18; `/proc/meminfo` has `read_iter`) is read or written here where
//!   `io_submit` answers `EINVAL`: telling would cost that system call for every operation on
//!   every file.
//! - Polls stay in flight. Each [`reap`](Context::reap) checks them with one zero-timeout
//!   `ppoll(2)`; a [`wait`](Context::wait) that must block sleeps in one `ppoll(2)` on all of
//!   them with the remaining timeout ([`wait_with_sigmask`](Context::wait_with_sigmask) with its
//!   signal mask, set atomically as `io_pgetevents` does). A poll completes, as the kernel's
//!   does, with the events that are ready among those asked for plus `POLLERR`/`POLLHUP` when
//!   submit finds it ready, and later as from the kernel's wake-up, which reports its own
//!   events: `POLLRDNORM` with `POLLIN`, `POLLWRNORM` with `POLLOUT` (a pipe's 65 and 260).
//!   Known difference: a socket's wake-up says `POLLPRI | POLLRDBAND` too, which `ppoll`
//!   cannot tell.
//!   Submit checks the new polls once, as `io_submit` does, so a poll of a ready descriptor
//!   completes at once. A poll of a file without a poll method (a regular file, a directory,
//!   `/dev/null`: `epoll_ctl` says `EPERM`) for none of `POLLIN`, `POLLOUT`, `POLLRDNORM`,
//!   `POLLWRNORM` could never complete: `EINVAL`, as `aio_poll` answers. Known difference: a
//!   procfs file whose poll method queues no wait (`/proc/meminfo`) is refused that way by
//!   the kernel but not told apart here, and such a poll stays pending.
//! - [`cancel`](Context::cancel) of a pending poll answers `InProgress`, as `io_cancel` does,
//!   and the next reap or wait hands it back with `res` 0, marked cancelled.
//! - The eventfd is written for every completion the emulation makes.

mod run;

pub(super) use run::run;

use super::reap::kernel_timespec;
use super::slots::State;
use super::{Context, negative};
use crate::error::Error;
use crate::op::OpKind;
use aio_abi::{iocb, kernel_sigset_t, pollfd};
use alloc::vec::Vec;
use core::time::Duration;
use rustix::event::PollFlags;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;

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
                // SAFETY: the slot holds the descriptor the iocb names until the completion is
                // handed back, which cannot happen during this call.
                let res = unsafe { poll_arguments(&slot.iocb) };
                if res == 0 {
                    slot.poll_checked = false;
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
            let asked = slot.iocb.aio_buf as u16;
            emulation.fds.push(pollfd {
                fd: slot.iocb.aio_fildes as i32,
                events: (asked | companions(asked)) as i16,
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
                        let slot = &mut self.slots[index as usize];
                        let ready = entry.revents as u16 & reported(slot);
                        slot.poll_checked = true;
                        if ready == 0 {
                            continue;
                        }
                        slot.state = State::Ready;
                        self.ready.push_back((index, i64::from(ready)));
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

/// The checks `io_submit` makes of a poll (`aio_poll_prep`, `aio_poll`): 0 if it may start,
/// else the negative errno it answers.
///
/// # Safety
/// `iocb.aio_fildes` must be an open descriptor for the call.
unsafe fn poll_arguments(iocb: &iocb) -> i64 {
    if u64::from(iocb.aio_buf as u16) != iocb.aio_buf
        || iocb.aio_offset != 0
        || iocb.aio_nbytes != 0
        || iocb.aio_rw_flags != 0
    {
        return negative(Errno::INVAL);
    }
    // SAFETY: the caller guarantees the descriptor open for the call.
    let fd = unsafe { BorrowedFd::borrow_raw(iocb.aio_fildes as i32) };
    if iocb.aio_buf as u16 & DEFAULT_POLLMASK == 0 && !has_poll_method(fd) {
        // Its mask is always DEFAULT_POLLMASK and `aio_poll` queues no wait on it: the poll
        // could never complete, and `aio_poll` says so (`EINVAL`, "no support for
        // IOCB_CMD_POLL").
        return negative(Errno::INVAL);
    }
    0
}

/// `DEFAULT_POLLMASK` (`POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM`): what `vfs_poll` answers,
/// always, for a file without a poll method.
const DEFAULT_POLLMASK: u16 = u16::from_ne_bytes(
    PollFlags::IN
        .union(PollFlags::OUT)
        .union(PollFlags::RDNORM)
        .union(PollFlags::WRNORM)
        .bits()
        .to_ne_bytes(),
);

/// Whether `fd`'s file has a poll method (`f_op->poll`), which `epoll_ctl` requires (`EPERM`
/// without: regular files, directories, `/dev/null`, some procfs files). A file whose poll
/// method queues no wait either (procfs files that have no `proc_poll`, `/proc/meminfo`) is not
/// told apart. If no epoll instance can be made, `true`: the poll is left to wait.
fn has_poll_method(fd: BorrowedFd<'_>) -> bool {
    use rustix::event::epoll;
    let Ok(epoll) = epoll::create(epoll::CreateFlags::CLOEXEC) else {
        return true;
    };
    let added = epoll::add(
        &epoll,
        fd,
        epoll::EventData::new_u64(0),
        epoll::EventFlags::empty(),
    );
    added != Err(Errno::PERM)
}

/// The events a poll of `slot` completes with, among those `ppoll` reports, as the kernel's:
/// when `io_submit` finds it ready, those asked for plus `POLLERR`/`POLLHUP`
/// (`vfs_poll(...) & events`); later (`aio_poll_wake`), the wake-up's, which are not masked by
/// what was asked for: `POLLIN | POLLRDNORM` for a pipe that data reaches, `POLLOUT |
/// POLLWRNORM` for one that gets room. The emulation reports [`companions`] with what was
/// asked for then, as far as `ppoll` says them.
fn reported<B>(slot: &super::slots::Slot<B>) -> u16 {
    let asked = slot.iocb.aio_buf as u16 | ALWAYS_REPORTED;
    if slot.poll_checked {
        asked | companions(asked)
    } else {
        asked
    }
}

/// The events a wake-up for `asked` says along with them: `POLLRDNORM` with `POLLIN` (and the
/// other way round), `POLLWRNORM` with `POLLOUT`. Asked of `ppoll` too: a file says them when
/// it says the others, so they never make it return sooner.
fn companions(asked: u16) -> u16 {
    let mut more = 0;
    if asked & READABLE != 0 {
        more |= READABLE;
    }
    if asked & WRITABLE != 0 {
        more |= WRITABLE;
    }
    more
}

/// `POLLIN | POLLRDNORM`.
const READABLE: u16 =
    u16::from_ne_bytes(PollFlags::IN.union(PollFlags::RDNORM).bits().to_ne_bytes());

/// `POLLOUT | POLLWRNORM`.
const WRITABLE: u16 =
    u16::from_ne_bytes(PollFlags::OUT.union(PollFlags::WRNORM).bits().to_ne_bytes());

/// `POLLERR | POLLHUP`, which a poll reports whether asked for or not. (rustix's `PollFlags`
/// bits are `u16` or `i16` depending on its backend: read them as bytes.)
const ALWAYS_REPORTED: u16 =
    u16::from_ne_bytes(PollFlags::ERR.union(PollFlags::HUP).bits().to_ne_bytes());

/// `CLOCK_MONOTONIC` (through the vDSO where there is one), as `std::time::Instant` reads it;
/// here because `Instant` needs `std`.
fn monotonic_now() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    // The monotonic clock is never negative and its nanoseconds are below 10^9.
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
