//! Waiting without a runtime, and the driver's sleeps: a waiting thread parks on the eventfd
//! (or the condition variable) and drives for everyone; the orphan thread and the emulated
//! poll watcher of the runtime layer.

use super::state::State;
use super::{AfterUnlock, Driver, Token};
use crate::buf::IoBuf;
use crate::completion::Completion;
use crate::context::{POLL_ROTATION, open_file_limit, ppoll_fds};
use crate::error::Error;
use aio_abi::pollfd;
use rustix::event::PollFlags;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd};
use rustix::io::Errno;
use std::panic::resume_unwind;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

impl<B: IoBuf + Send + 'static> Driver<B> {
    /// Sleeps until the context's eventfd (if `eventfd`), the unpark eventfd or one of the
    /// emulated backend's pending polls is ready, or `timeout` passes; then clears the
    /// eventfds it woke for. Without the lock, so others can start operations meanwhile.
    pub(super) fn park(&self, eventfd: bool, timeout: Option<Duration>) -> Result<(), Error> {
        let mut fds = vec![pollfd {
            fd: self.unpark.as_raw_fd(),
            events: PollFlags::IN.bits() as i16,
            revents: 0,
        }];
        if eventfd {
            fds.push(pollfd {
                fd: self.eventfd,
                events: PollFlags::IN.bits() as i16,
                revents: 0,
            });
        }
        // The descriptors stay open while their polls are owned by the context; one handed
        // back meanwhile (and its number reused) can at worst wake this sleep early.
        self.lock().ctx.emulated_poll_fds(&mut fds);
        let mut result = ppoll(&mut fds, timeout);
        if result == Err(Errno::INVAL) && fds.len() > 2 {
            // More descriptors than RLIMIT_NOFILE lets one ppoll take: sleep on as many as fit
            // (this driver's own eventfds first), for a bounded time; the next collection looks
            // at all of them (in parts, `context::emulated`).
            let fit = open_file_limit().clamp(2, fds.len());
            let bounded = timeout.map_or(POLL_ROTATION, |t| t.min(POLL_ROTATION));
            result = ppoll(&mut fds[..fit], Some(bounded));
        }
        match result {
            Ok(()) | Err(Errno::INTR) => {}
            Err(errno) => return Err(Error::from_call("ppoll", errno)),
        }
        drain_eventfd(self.unpark.as_fd());
        if eventfd {
            drain_eventfd(self.eventfd());
        }
        Ok(())
    }

    /// Blocks until `token` completes (or `timeout` passes: `None` then), submitting and
    /// collecting on everyone's behalf: one waiting thread sleeps on the eventfd outside the
    /// lock, the others on a condition variable. Without a runtime only.
    pub(crate) fn wait_for(
        self: &Arc<Self>,
        token: Token,
        timeout: Option<Duration>,
    ) -> Result<Option<Completion<B>>, Error> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut state = self.lock();
        if state.ctx.forked() {
            // Sleeping on the parent's eventfd would drain its wake-ups.
            return Err(Error::Forked);
        }
        state.waiting_threads += 1;
        let result = loop {
            let mut after = AfterUnlock::default();
            let pumped;
            (state, pumped) = self.pump(state, &mut after);
            let offloads = !state.local_offloads.is_empty();
            if offloads {
                // This thread is about to run reads and writes that may block (a pipe): the
                // sleep on the eventfd must not wait for it.
                self.hand_off_parking(&state);
            }
            drop(state);
            self.finish(after);
            if offloads {
                // The emulated backend's reads, writes and syncs (without a runtime) are run by
                // the thread whose round took them, as io_submit runs them on its caller's:
                // none is left for a thread that may never come.
                while self.run_local_offload() {}
            }
            state = self.lock();
            if let Err(error) = pumped {
                break Err(error);
            }
            let Some(entry) = state.entry_mut(token) else {
                break Err(Error::InvalidInput("ticket: no such operation"));
            };
            match entry.take_done() {
                Some(Ok(completion)) => {
                    state.free.push(token.index() as u32);
                    break Ok(Some(completion));
                }
                Some(Err(payload)) => {
                    state.free.push(token.index() as u32);
                    state.waiting_threads -= 1;
                    self.hand_off_parking(&state);
                    drop(state);
                    resume_unwind(payload);
                }
                None => {}
            }
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                break Ok(None);
            }
            if !state.local_offloads.is_empty() {
                // Another round took reads or writes meanwhile: run them rather than sleep.
                continue;
            }
            if !state.parked {
                state.parked = true;
                drop(state);
                let parked = self.park(true, remaining);
                state = self.lock();
                state.parked = false;
                // Another thread may sleep on the condition variable: one of them parks next.
                self.turn.notify_one();
                if let Err(error) = parked {
                    break Err(error);
                }
            } else {
                state = match remaining {
                    None => self
                        .turn
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner),
                    Some(remaining) => {
                        self.turn
                            .wait_timeout(state, remaining)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                };
            }
        };
        state.waiting_threads -= 1;
        self.hand_off_parking(&state);
        result
    }

    /// When this thread will not sleep on the eventfd for a while (it returns, or runs a
    /// read that may block), and nobody does: one of the threads on the condition variable
    /// must, or a completion nobody else watches would wake nobody.
    fn hand_off_parking(&self, state: &State<B>) {
        if !state.parked && state.waiting_threads > 0 {
            self.turn.notify_one();
        }
    }

    /// The runtime layer's task is gone (its runtime shut down) while operations are still
    /// owned: drives them to their end on the calling thread, so that every future still held
    /// somewhere resolves (an offload then completes with `ECANCELED`: no blocking thread
    /// runs it). Returns once nothing is owned, or the driver is gone.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn drive_orphaned(driver: std::sync::Weak<Self>) {
        loop {
            let Some(driver) = driver.upgrade() else {
                return;
            };
            let _ = driver.turn();
            if driver.outstanding() == 0 {
                return;
            }
            // Bounded, so that the last handle's drop is noticed.
            if driver.park(true, Some(Duration::from_millis(50))).is_err() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// With the emulated backend and a runtime: sleeps on the pending polls' descriptors on a
    /// blocking thread, collecting as they become ready, until none is pending.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn watch_emulated_polls(self: &Arc<Self>) {
        loop {
            {
                let mut state = self.lock();
                // Once the runtime is gone (its drop waits for this blocking thread) the
                // orphan thread watches the polls (`drive_orphaned`).
                let alive = self.runtime.as_ref().is_none_or(|runtime| runtime.alive());
                if !alive || !state.ctx.emulated_polls_pending() {
                    state.parked = false;
                    return;
                }
            }
            if self.park(false, None).is_err() {
                // A failing ppoll (ENOMEM): try again after a breath rather than spin.
                std::thread::sleep(Duration::from_millis(10));
            }
            let mut after = AfterUnlock::default();
            self.lock().collect_and_kick(&mut after);
            self.finish(after);
        }
    }

    /// Whether an emulated poll watcher must be started (and marks it started).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn needs_poll_watcher(&self) -> bool {
        if !self.emulated {
            return false;
        }
        let mut state = self.lock();
        if state.parked {
            return false;
        }
        state.parked = state.ctx.emulated_polls_pending();
        state.parked
    }
}

/// One `ppoll(2)` of `fds`, without a signal mask.
#[cfg(not(aio_shuttle))]
fn ppoll(fds: &mut [pollfd], timeout: Option<Duration>) -> Result<(), Errno> {
    ppoll_once(fds, timeout)
}

/// The model check's `ppoll`: a sleep shuttle's scheduler sees. It looks without waiting
/// and, while nothing is ready, lets the other model threads run and looks again: it returns
/// no earlier than a real `ppoll` without a timeout would, so a wake-up nobody sends is a
/// thread that never returns, which the checker reports. (With a timeout it returns after one
/// look: the callers look again.)
#[cfg(aio_shuttle)]
fn ppoll(fds: &mut [pollfd], timeout: Option<Duration>) -> Result<(), Errno> {
    loop {
        ppoll_once(fds, Some(Duration::ZERO))?;
        if timeout.is_some() || fds.iter().any(|fd| fd.revents != 0) {
            return Ok(());
        }
        shuttle::thread::yield_now();
    }
}

fn ppoll_once(fds: &mut [pollfd], timeout: Option<Duration>) -> Result<(), Errno> {
    ppoll_fds(fds, timeout, None).map(drop)
}

/// Reads and resets an eventfd's counter, if set.
pub(crate) fn drain_eventfd(fd: BorrowedFd<'_>) {
    let mut count = [0u8; 8];
    let _ = rustix::io::read(fd, &mut count);
}
