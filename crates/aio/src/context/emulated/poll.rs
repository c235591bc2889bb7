//! The emulated backend's polls: which are ready, by `ppoll(2)`.
//!
//! All the polls of one descriptor share one `pollfd`, with their events together: a thousand
//! polls of one pipe cost one entry. `ppoll` refuses more entries than the soft
//! `RLIMIT_NOFILE` (`EINVAL`), where the kernel's polls know no such limit; beyond it the
//! descriptors are polled in parts that fit, each without waiting, then, if none is ready, a
//! sleep on one part (another each time) of at most [`ROTATION`]: every poll still completes,
//! a descriptor outside the part slept on is seen within that time, and the wait never spins.

use super::super::reap::kernel_timespec;
use super::super::slots::{Slot, State};
use super::super::{Context, negative};
use crate::error::Error;
use aio_abi::{iocb, kernel_sigset_t, pollfd};
use alloc::vec::Vec;
use core::time::Duration;
use rustix::event::PollFlags;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;

/// The longest sleep on one part of the descriptors when they are more than one `ppoll` may
/// take: how late, at worst, a descriptor of another part is seen ready.
pub(crate) const ROTATION: Duration = Duration::from_millis(10);

/// What the emulated backend keeps besides the slots: scratch lists for `ppoll(2)`, allocated
/// by [`build`](super::super::Builder::build) with room for every slot.
pub(in crate::context) struct Emulation {
    /// The slots of the polls being checked, by descriptor.
    polled: Vec<u32>,
    /// The `pollfd` array, one entry per descriptor in `polled`, in the same order; empty
    /// between calls.
    fds: Vec<pollfd>,
    /// The soft `RLIMIT_NOFILE` as last read: the most entries one `ppoll` takes. Read again
    /// whenever `fds` exceeds it (or `ppoll` refuses them): it may have changed either way.
    open_files: usize,
    /// The part of `fds` to sleep on next, when they must be polled in parts.
    next_part: usize,
}

impl Emulation {
    /// Scratch room for `depth` polls, reserved fallibly.
    pub(in crate::context) fn new(depth: usize) -> Result<Self, Error> {
        let mut emulation = Self {
            polled: Vec::new(),
            fds: Vec::new(),
            open_files: usize::MAX,
            next_part: 0,
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

    /// Fills in the `revents` of `fds`, waiting up to `timeout` (`None`: without limit) if none
    /// is ready: in one `ppoll` (with `mask`, if given), or in parts where `fds` has more
    /// entries than `RLIMIT_NOFILE` allows (see the module docs). Counts the calls in `calls`.
    fn poll(
        &mut self,
        timeout: Option<Duration>,
        mask: Option<&kernel_sigset_t>,
        calls: &mut u64,
    ) -> Result<(), Errno> {
        let count = self.fds.len();
        if count <= self.open_files {
            match ppoll(&mut self.fds, timeout, mask, calls) {
                // The one EINVAL a call with a valid timeout and mask gets: more entries than
                // RLIMIT_NOFILE.
                Err(Errno::INVAL) => {}
                other => return other.map(drop),
            }
        }
        self.open_files = open_file_limit();
        if count <= self.open_files {
            return ppoll(&mut self.fds, timeout, mask, calls).map(drop);
        }
        let part = self.open_files.max(1);
        let mut ready = 0;
        for fds in self.fds.chunks_mut(part) {
            ready += ppoll(fds, Some(Duration::ZERO), mask, calls)?;
        }
        if ready > 0 || timeout == Some(Duration::ZERO) {
            return Ok(());
        }
        let first = self.next_part % count.div_ceil(part) * part;
        self.next_part = first / part + 1;
        let sleep = timeout.map_or(ROTATION, |t| t.min(ROTATION));
        let fds = &mut self.fds[first..count.min(first + part)];
        ppoll(fds, Some(sleep), mask, calls).map(drop)
    }
}

impl<B> Context<B> {
    /// Completes the in-flight polls that are ready (or cancelled), waiting up to `timeout`
    /// (`None`: without limit) in `ppoll(2)` (with `mask`, if given) if none is. With nothing
    /// in flight, returns at once.
    pub(in crate::context) fn check_polls(
        &mut self,
        timeout: Option<Duration>,
        mask: Option<&kernel_sigset_t>,
    ) -> Result<(), Error> {
        let Some(emulation) = self.emulated.as_mut() else {
            return Ok(());
        };
        let slots = &mut self.slots;
        let mut completed = 0;
        for (index, slot) in slots.iter_mut().enumerate() {
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
            emulation.polled.push(index as u32);
        }
        // One entry per descriptor: the polls sorted by it, their events together. Each slot
        // holds its descriptor open until its completion is handed back, which cannot happen
        // during this call.
        emulation
            .polled
            .sort_unstable_by_key(|&index| slots[index as usize].iocb.aio_fildes);
        for &index in &emulation.polled {
            let iocb = &slots[index as usize].iocb;
            let fd = iocb.aio_fildes as i32;
            let asked = iocb.aio_buf as u16;
            let events = (asked | companions(asked)) as i16;
            match emulation.fds.last_mut() {
                Some(last) if last.fd == fd => last.events |= events,
                _ => emulation.fds.push(pollfd {
                    fd,
                    events,
                    revents: 0,
                }),
            }
        }
        let timeout = if completed > 0 {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        let mut result = Ok(());
        if !emulation.fds.is_empty() {
            match emulation.poll(timeout, mask, &mut self.stats.poll_calls) {
                Ok(()) => {
                    let mut entry = 0;
                    for &index in &emulation.polled {
                        let slot = &mut slots[index as usize];
                        // Both lists are in descriptor order.
                        while emulation.fds[entry].fd != slot.iocb.aio_fildes as i32 {
                            entry += 1;
                        }
                        let ready = emulation.fds[entry].revents as u16 & reported(slot);
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

/// One `ppoll(2)` of `fds`, counted in `calls`: how many entries have events.
fn ppoll(
    fds: &mut [pollfd],
    timeout: Option<Duration>,
    mask: Option<&kernel_sigset_t>,
    calls: &mut u64,
) -> Result<usize, Errno> {
    *calls += 1;
    ppoll_fds(fds, timeout, mask)
}

/// One `ppoll(2)` of `fds` (at most `u32::MAX` entries; `RLIMIT_NOFILE` caps them anyway):
/// how many entries have events.
pub(crate) fn ppoll_fds(
    fds: &mut [pollfd],
    timeout: Option<Duration>,
    mask: Option<&kernel_sigset_t>,
) -> Result<usize, Errno> {
    let timespec = timeout.map(kernel_timespec);
    // SAFETY: `fds` holds `len` initialised entries; the timeout and the mask are null or
    // live for the call.
    unsafe {
        aio_sys::ppoll(
            fds.as_mut_ptr(),
            fds.len() as u32,
            timespec
                .as_ref()
                .map_or(core::ptr::null(), |t| t as *const _),
            mask.map_or(core::ptr::null(), |m| m as *const _),
        )
    }
    .map_err(Errno::from)
}

/// The soft `RLIMIT_NOFILE`: the most entries `ppoll` takes (`do_sys_poll`).
pub(crate) fn open_file_limit() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    limit.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// The checks `io_submit` makes of a poll (`aio_poll_prep`, `aio_poll`): 0 if it may start,
/// else the negative errno it answers.
///
/// # Safety
/// `iocb.aio_fildes` must be an open descriptor for the call.
pub(super) unsafe fn poll_arguments(iocb: &iocb) -> i64 {
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
fn reported<B>(slot: &Slot<B>) -> u16 {
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
