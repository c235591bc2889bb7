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
//!   signal mask, set atomically as `io_pgetevents` does). The polls of one descriptor share
//!   one entry; where more descriptors are polled than the soft `RLIMIT_NOFILE` (which `ppoll`
//!   refuses, `EINVAL`), they are checked in parts that fit, and a wait sleeps on one part at
//!   a time for at most 10 ms (see `poll`). A poll completes, as the kernel's
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

mod poll;
mod run;

pub(super) use poll::Emulation;
#[cfg(feature = "std")]
pub(crate) use poll::{ROTATION, open_file_limit, ppoll_fds};
#[cfg(test)]
pub(super) use run::noappend_known;
pub(super) use run::run;

use super::Context;
use super::slots::State;
use crate::error::Error;
use crate::op::OpKind;
use aio_abi::kernel_sigset_t;
use core::time::Duration;

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
                let res = unsafe { poll::poll_arguments(&slot.iocb) };
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
}

/// `CLOCK_MONOTONIC` (through the vDSO where there is one), as `std::time::Instant` reads it;
/// here because `Instant` needs `std`.
fn monotonic_now() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    // The monotonic clock is never negative and its nanoseconds are below 10^9.
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
