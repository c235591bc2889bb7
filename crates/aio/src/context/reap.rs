//! Collecting completions: from the mmap'd ring without a system call, or with
//! `io_getevents`/`io_pgetevents`; and handing them back one by one.

use super::slots::State;
use super::{Context, negative};
use crate::buf::IoBuf;
use crate::completion::Completion;
use crate::error::Error;
use crate::fd::{Fd, Hold};
use crate::op::{Bufs, OpKind};
use aio_abi::{__aio_sigset, __kernel_timespec, kernel_sigset_t};
use core::fmt;
use core::time::Duration;
use rustix::io::Errno;

impl<B: IoBuf> Context<B> {
    /// Collects completions that are already available, without waiting: from the ring with
    /// [`Reap::Ring`](crate::Reap::Ring) (no system call), else with a zero-timeout
    /// `io_getevents`; with [`Backend::Emulated`](crate::Backend::Emulated), by checking the
    /// pending polls with one zero-timeout `ppoll`. Returns how many completions are ready to
    /// be handed back.
    ///
    /// # Errors
    /// [`Error::Forked`] in a child process; [`Error::Os`] if `io_getevents` (or the
    /// emulation's `ppoll`) fails.
    pub fn reap(&mut self) -> Result<usize, Error> {
        self.check_fork()?;
        if self.in_flight > 0 {
            if self.emulated.is_some() {
                self.check_polls(Some(Duration::ZERO), None)?;
            } else if self.ring.is_some() {
                self.reap_ring();
            } else {
                let zero = __kernel_timespec::default();
                self.getevents(0, &zero, None)?;
            }
        }
        Ok(self.ready.len())
    }

    /// Waits until at least `min` completions are ready (or `timeout` passes; `None` waits
    /// without limit); returns how many are ready, which may be fewer after a timeout. Already
    /// available completions are collected first, from the ring when possible, so the system
    /// call is only made when there is something to wait for (`wait(0, _)` therefore collects
    /// nothing new: use [`reap`](Self::reap) for that). With
    /// [`Backend::Emulated`](crate::Backend::Emulated) only polls can be pending: the wait
    /// sleeps in one `ppoll` on all of them with the remaining timeout, never in a sleep loop.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if `min` exceeds the operations in flight plus those ready (the
    /// wait could never end); `EINTR` ([`Error::Os`]) if a signal handler ran before any
    /// completion; [`Error::Forked`].
    #[inline]
    pub fn wait(&mut self, min: usize, timeout: Option<Duration>) -> Result<usize, Error> {
        self.wait_inner(min, timeout, None)
    }

    /// As [`wait`](Self::wait), but with `mask` as the thread's signal mask for the duration of
    /// the wait, atomically (`io_pgetevents`, Linux 4.18; `ppoll` with the emulated backend): a
    /// signal `mask` leaves unblocked interrupts the wait with `EINTR`.
    pub fn wait_with_sigmask(
        &mut self,
        min: usize,
        timeout: Option<Duration>,
        mask: &kernel_sigset_t,
    ) -> Result<usize, Error> {
        self.wait_inner(min, timeout, Some(mask))
    }

    #[inline]
    fn wait_inner(
        &mut self,
        min: usize,
        timeout: Option<Duration>,
        mask: Option<&kernel_sigset_t>,
    ) -> Result<usize, Error> {
        self.check_fork()?;
        if min > self.ready.len() + self.in_flight {
            return Err(Error::InvalidInput(
                "wait: more completions asked for than operations in flight",
            ));
        }
        if self.ready.len() < min && self.ring.is_some() {
            self.reap_ring();
        }
        if self.ready.len() >= min {
            return Ok(self.ready.len());
        }
        if self.emulated.is_some() {
            return self.wait_emulated(min, timeout, mask);
        }
        let timeout = timeout.map(kernel_timespec);
        let timeout = timeout
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const _);
        self.getevents(min - self.ready.len(), timeout, mask)?;
        Ok(self.ready.len())
    }

    /// Drains the ready completions, collecting what is already available first (see
    /// [`reap`](Self::reap)) when none is ready. The iterator itself makes no system call.
    #[inline]
    pub fn completions(&mut self) -> Completions<'_, B> {
        if self.ready.is_empty() {
            // An error here (forked, say) surfaces again from submit/wait; the iterator then
            // simply has nothing to give.
            let _ = self.reap();
        }
        Completions { ctx: self }
    }

    #[inline]
    fn reap_ring(&mut self) {
        if let Some(ring) = &self.ring {
            let room = self.in_flight.min(self.events.len());
            // SAFETY: the ring belongs to this live context of this process (fork checked by
            // the callers), and `&mut self` makes this the only consumer.
            let n = unsafe { ring.reap(&mut self.events[..room]) };
            self.stats.ring_reaped += n as u64;
            self.absorb(n);
        }
    }

    #[inline]
    pub(super) fn pop_ready(&mut self) -> Option<Completion<B>> {
        let (index, res) = self.ready.pop_front()?;
        let slot = &mut self.slots[index as usize];
        let cancelled = slot.cancelled
            || (slot.cancel_requested
                && (res == negative(Errno::CANCELED) || (slot.kind == OpKind::Poll && res == 0)));
        let held = slot.fd.take();
        let bufs = core::mem::replace(&mut slot.bufs, Bufs::None);
        let (kind, user_data) = (slot.kind, slot.user_data);
        // The slot is free before any user code (a descriptor's `Drop`) runs: a panic there
        // cannot lose it. The free list has room for every slot: no allocation.
        slot.state = State::Free;
        self.free.push(index);
        // The descriptor: an owned one goes back with the completion, a registered one is
        // released, a shared one dropped.
        let fd = match held {
            Some(Fd(Hold::Owned(fd))) => Some(fd),
            Some(Fd(Hold::Fixed(fixed))) => {
                self.files.release(fixed.index);
                None
            }
            _ => None,
        };
        Some(Completion {
            kind,
            user_data,
            res,
            cancelled,
            bufs,
            fd,
        })
    }
}

impl<B> Context<B> {
    /// Waits for at least `min` completions (`io_getevents`, or `io_pgetevents` with `mask`)
    /// and moves what arrives into `ready`.
    pub(super) fn getevents(
        &mut self,
        min: usize,
        timeout: *const __kernel_timespec,
        mask: Option<&kernel_sigset_t>,
    ) -> Result<(), Error> {
        let nr = self.in_flight.min(self.events.len()).max(min);
        let events = self.events.as_mut_ptr();
        // SAFETY: `events` has room for nr (≤ events.len()) events; `timeout` is null or points
        // to a live timespec; the sigset outlives the call.
        let result = unsafe {
            match mask {
                None => aio_sys::io_getevents(self.ctx, min as isize, nr as isize, events, timeout),
                Some(mask) => {
                    let sig = __aio_sigset::new(mask);
                    aio_sys::io_pgetevents(
                        self.ctx,
                        min as isize,
                        nr as isize,
                        events,
                        timeout,
                        &sig,
                    )
                }
            }
        }
        .map_err(Errno::from);
        self.stats.getevents_calls += 1;
        let call = if mask.is_some() {
            "io_pgetevents"
        } else {
            "io_getevents"
        };
        let n = result.map_err(|errno| Error::from_call(call, errno))?;
        self.stats.syscall_reaped += n as u64;
        self.absorb(n);
        Ok(())
    }

    /// Moves the first `n` entries of `events` into `ready`.
    #[inline]
    fn absorb(&mut self, n: usize) {
        for i in 0..n {
            let event = self.events[i];
            let index = event.data as u32;
            match self.slots.get_mut(index as usize) {
                // A completion may overtake the settling of its batch (`handoff`).
                Some(slot) if matches!(slot.state, State::InFlight | State::Submitting) => {
                    slot.state = State::Ready;
                    self.landed(index);
                    self.ready.push_back((index, event.res));
                }
                // Not an operation of ours: the kernel echoes aio_data, and each accepted iocb
                // completes exactly once, so this cannot happen.
                _ => debug_assert!(false, "io_event for unknown slot {index}"),
            }
        }
    }
}

/// A relative timeout as the kernel takes it (seconds beyond `i64` saturate).
pub(crate) fn kernel_timespec(t: Duration) -> __kernel_timespec {
    __kernel_timespec {
        tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(t.subsec_nanos()),
    }
}

/// The ready completions of a [`Context`], in completion order; see
/// [`Context::completions`].
#[must_use = "iterators are lazy: the completions stay in the context until taken"]
pub struct Completions<'a, B> {
    ctx: &'a mut Context<B>,
}

impl<B: IoBuf> Iterator for Completions<'_, B> {
    type Item = Completion<B>;

    #[inline]
    fn next(&mut self) -> Option<Completion<B>> {
        self.ctx.pop_ready()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.ctx.ready.len(), Some(self.ctx.ready.len()))
    }
}

impl<B: IoBuf> ExactSizeIterator for Completions<'_, B> {}

impl<B: IoBuf> fmt::Debug for Completions<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completions")
            .field("remaining", &self.ctx.ready.len())
            .finish()
    }
}
