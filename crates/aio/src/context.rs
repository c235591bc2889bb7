//! [`Context`]: one kernel AIO context, the operations it owns, and how they are submitted and
//! reaped.

use crate::buf::IoBuf;
use crate::completion::{CancelOutcome, Completion};
use crate::error::{Error, read_proc_number};
use crate::fork::ForkGuard;
use crate::op::{IoVec, Op, OpKind, Payload};
use crate::ring::Ring;
use aio_abi::kernel_sigset_t;
use aio_abi::{__aio_sigset, __kernel_timespec, IOCB_FLAG_RESFD, aio_context_t, io_event, iocb};
use rustix::event::{EventfdFlags, eventfd};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use std::collections::VecDeque;
use std::time::Duration;

/// How completions are collected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reap {
    /// Copy completions straight out of the mmap'd ring (no system call), and call
    /// `io_getevents` only to wait. Falls back to [`Reap::Syscall`] when the kernel's ring is not
    /// readable (bad magic or unknown incompatible features, as under gVisor). The default.
    #[default]
    Ring,
    /// Always call `io_getevents`/`io_pgetevents`.
    Syscall,
}

/// Options for a [`Context`]: `Context::builder().depth(64).eventfd(true).build()`.
#[derive(Clone, Debug)]
pub struct Builder {
    depth: u32,
    kernel_events: Option<u32>,
    eventfd: bool,
    reap: Reap,
}

impl Builder {
    /// How many operations the context can own at once (pushed, in flight or completed but not
    /// yet handed back); also the `nr_events` passed to `io_setup` and charged against
    /// `/proc/sys/fs/aio-max-nr`. Default 128.
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = depth;
        self
    }

    /// The `nr_events` asked of `io_setup`, when it should differ from [`depth`](Self::depth)
    /// (the default). The kernel rounds it up to fill its ring's pages, and refuses new requests
    /// with `EAGAIN` once that many are in flight; a depth above the kernel's capacity therefore
    /// exercises [`Context::submit`]'s backpressure. Charged against `aio-max-nr`.
    pub fn kernel_events(mut self, nr_events: u32) -> Self {
        self.kernel_events = Some(nr_events);
        self
    }

    /// Signal an eventfd on every completion (`IOCB_FLAG_RESFD`; the context signals it itself
    /// for the completions it makes, of rejected or cancelled-before-submission operations),
    /// exposed by [`Context::eventfd`] for epoll or an async runtime. Default off.
    pub fn eventfd(mut self, on: bool) -> Self {
        self.eventfd = on;
        self
    }

    /// How completions are reaped. Default [`Reap::Ring`].
    pub fn reap(mut self, reap: Reap) -> Self {
        self.reap = reap;
        self
    }

    /// Creates the context (`io_setup`), its eventfd if asked, and every slot, so that no
    /// operation allocates afterwards.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for depth 0; [`Error::Unsupported`] without kernel AIO;
    /// [`Error::ContextLimit`] when `aio-max-nr` would be exceeded; [`Error::Os`] otherwise.
    pub fn build<B: IoBuf>(self) -> Result<Context<B>, Error> {
        let nr_events = self.kernel_events.unwrap_or(self.depth);
        if self.depth == 0 || nr_events == 0 {
            return Err(Error::InvalidInput(
                "Context depth and kernel events must be at least 1",
            ));
        }
        let fork_guard = ForkGuard::new();
        let mut ctx: aio_context_t = 0;
        // SAFETY: `ctx` is a valid, zeroed context variable.
        if let Err(errno) = unsafe { aio_sys::io_setup(nr_events, &mut ctx) } {
            return Err(match errno {
                Errno::AGAIN => Error::ContextLimit {
                    requested: nr_events,
                    aio_nr: read_proc_number("/proc/sys/fs/aio-nr"),
                    aio_max_nr: read_proc_number("/proc/sys/fs/aio-max-nr"),
                },
                errno => Error::from_call("io_setup", errno),
            });
        }
        let eventfd = if self.eventfd {
            match eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK) {
                Ok(fd) => Some(fd),
                Err(errno) => {
                    // SAFETY: nothing was submitted on the context created above.
                    let _ = unsafe { aio_sys::io_destroy(ctx) };
                    return Err(Error::from_call("eventfd", errno));
                }
            }
        } else {
            None
        };
        let ring = match self.reap {
            // SAFETY: `ctx` is the live context just created by this process.
            Reap::Ring => unsafe { Ring::new(ctx) },
            Reap::Syscall => None,
        };
        let depth = self.depth as usize;
        Ok(Context {
            ctx,
            slots: (0..depth).map(|_| Slot::new()).collect(),
            free: (0..self.depth).rev().collect(),
            pending: Vec::with_capacity(depth),
            ready: VecDeque::with_capacity(depth),
            events: vec![io_event::default(); depth].into_boxed_slice(),
            iocb_ptrs: Vec::with_capacity(depth),
            ring,
            eventfd,
            fork_guard,
            in_flight: 0,
            stats: Stats::default(),
        })
    }
}

/// Counters of what a context did, for benchmarks and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// `io_submit` calls made.
    pub submit_calls: u64,
    /// Operations the kernel accepted.
    pub submitted: u64,
    /// `io_getevents`/`io_pgetevents` calls made.
    pub getevents_calls: u64,
    /// Completions copied from the ring in user space.
    pub ring_reaped: u64,
    /// Completions returned by `io_getevents`/`io_pgetevents`.
    pub syscall_reaped: u64,
    /// Completions made by the context itself: rejected at submit, or cancelled before it.
    pub local_completions: u64,
}

/// Identifies an operation while the context owns it, for [`Context::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpId {
    index: u32,
    generation: u32,
}

/// An operation [`Context::push`] could not take, handed back with the reason.
pub struct PushError<B> {
    /// Why: [`Error::QueueFull`].
    pub error: Error,
    /// The operation, with its buffers.
    pub op: Op<B>,
}

impl<B> std::fmt::Debug for PushError<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<B> std::fmt::Display for PushError<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<B> std::error::Error for PushError<B> {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    /// Pushed, waiting for `submit`.
    Queued,
    /// Accepted by `io_submit`; the kernel may use the buffers.
    InFlight,
    /// Completed, in `ready`, not yet handed back.
    Ready,
}

/// One operation's home: the `iocb` at a stable address and everything it owns.
struct Slot<B> {
    iocb: iocb,
    state: State,
    generation: u32,
    kind: OpKind,
    user_data: u64,
    /// `io_cancel` answered `EINPROGRESS`.
    cancel_requested: bool,
    /// Cancelled by the context or with the event handed back by `io_cancel`.
    cancelled: bool,
    payload: Payload<B>,
    /// The iovec array of a readv/writev, kept between operations to avoid allocating.
    iovecs: Vec<IoVec>,
}

impl<B> Slot<B> {
    fn new() -> Self {
        Self {
            iocb: iocb::default(),
            state: State::Free,
            generation: 0,
            kind: OpKind::Read,
            user_data: 0,
            cancel_requested: false,
            cancelled: false,
            payload: Payload::None,
            iovecs: Vec::new(),
        }
    }
}

/// A kernel AIO context that owns its operations' buffers from push to completion.
///
/// - [`push`](Self::push) queues an operation (no system call); [`submit`](Self::submit)
///   hands every queued operation to the kernel in one `io_submit` (more only after a short
///   count).
/// - [`wait`](Self::wait) blocks until completions are available; [`completions`](Self::completions)
///   drains them, each with its buffers. With [`Reap::Ring`] completions already in the ring are
///   collected without a system call.
/// - [`cancel`](Self::cancel) attempts to cancel one operation.
///
/// Every pushed operation produces exactly one [`Completion`]. Dropping the context calls
/// `io_destroy`, which waits for in-flight operations, **before** any buffer is freed; leaking it
/// with `mem::forget` leaks the buffers too, so the kernel can never write into freed memory.
/// Reaping takes `&mut self`, so there is never more than one consumer of the ring.
///
/// `B` is the buffer type of every operation on this context (`Vec<u8>` by default); use an enum
/// or a box to mix kinds.
pub struct Context<B = Vec<u8>> {
    ctx: aio_context_t,
    slots: Box<[Slot<B>]>,
    free: Vec<u32>,
    pending: Vec<u32>,
    /// Completed operations not yet handed back: slot and `io_event.res`.
    ready: VecDeque<(u32, i64)>,
    events: Box<[io_event]>,
    iocb_ptrs: Vec<*mut iocb>,
    ring: Option<Ring>,
    eventfd: Option<OwnedFd>,
    fork_guard: ForkGuard,
    in_flight: usize,
    stats: Stats,
}

// SAFETY: the raw pointers point into memory the context owns (its slots, its scratch vectors)
// or into its kernel ring mapping, all usable from any thread; buffers move with `B: Send`.
unsafe impl<B: Send> Send for Context<B> {}

impl Context {
    /// A builder with the defaults: depth 128, no eventfd, [`Reap::Ring`].
    pub fn builder() -> Builder {
        Builder {
            depth: 128,
            kernel_events: None,
            eventfd: false,
            reap: Reap::Ring,
        }
    }
}

impl<B: IoBuf> Context<B> {
    /// A context for `depth` operations with the default options.
    pub fn new(depth: u32) -> Result<Self, Error> {
        Context::builder().depth(depth).build()
    }

    /// Queues `op` for the next [`submit`](Self::submit). No system call, no allocation (except
    /// the first time a readv/writev slot needs room for its iovecs).
    ///
    /// # Errors
    /// [`Error::QueueFull`] when all `depth` slots hold operations: collect completions first.
    /// The operation comes back in the error.
    // The error hands the operation back by value: no allocation on the full-queue path.
    #[allow(clippy::result_large_err)]
    #[inline]
    pub fn push(&mut self, op: Op<B>) -> Result<OpId, PushError<B>> {
        let Some(index) = self.free.pop() else {
            return Err(PushError {
                error: Error::QueueFull {
                    depth: self.depth(),
                },
                op,
            });
        };
        let Op {
            kind,
            iocb,
            mut payload,
            user_data,
            fill_iovecs,
        } = op;
        let eventfd = self.eventfd.as_ref().map(|fd| fd.as_raw_fd() as u32);
        let slot = &mut self.slots[index as usize];
        slot.iocb = iocb;
        slot.iocb.aio_data = (u64::from(slot.generation) << 32) | u64::from(index);
        if let (Some(fill), Payload::Many(bufs)) = (fill_iovecs, &mut payload) {
            fill(bufs, &mut slot.iovecs);
            slot.iocb.aio_buf = slot.iovecs.as_ptr() as u64;
            slot.iocb.aio_nbytes = slot.iovecs.len() as u64;
        }
        if let Some(fd) = eventfd {
            slot.iocb.aio_flags |= IOCB_FLAG_RESFD;
            slot.iocb.aio_resfd = fd;
        }
        slot.kind = kind;
        slot.user_data = user_data;
        slot.payload = payload;
        slot.cancel_requested = false;
        slot.cancelled = false;
        slot.state = State::Queued;
        self.pending.push(index);
        Ok(OpId {
            index,
            generation: slot.generation,
        })
    }

    /// Submits every queued operation; returns how many the kernel accepted.
    ///
    /// One `io_submit` normally takes the whole queue. After a short count the rest is submitted
    /// again: an operation the kernel rejects (`EBADF`, `EINVAL`, `EOPNOTSUPP`, …) becomes that
    /// operation's completion with that error and the rest still go; `EAGAIN` (no room in the
    /// kernel's ring) stops here and **keeps** the rest queued for the next call: collect
    /// completions, then submit again. Buffered file I/O runs to completion inside this call.
    ///
    /// # Errors
    /// [`Error::Forked`] in a child process; [`Error::Unsupported`] without kernel AIO (the
    /// operations stay queued).
    #[inline]
    pub fn submit(&mut self) -> Result<usize, Error> {
        self.check_fork()?;
        let mut submitted = 0;
        while !self.pending.is_empty() {
            let base = self.slots.as_mut_ptr();
            self.iocb_ptrs.clear();
            // SAFETY: every pending index is below slots.len(); the pointers are only read by
            // the kernel during io_submit, and no reference to these iocbs exists meanwhile.
            self.iocb_ptrs.extend(
                self.pending
                    .iter()
                    .map(|&i| unsafe { &raw mut (*base.add(i as usize)).iocb }),
            );
            let count = self.iocb_ptrs.len() as isize;
            // SAFETY: `iocb_ptrs` holds `count` pointers to initialised iocbs owned by this
            // context; their buffers (payloads, iovec arrays) stay owned by the slots until the
            // completions are reaped or the context is destroyed.
            let result = unsafe { aio_sys::io_submit(self.ctx, count, self.iocb_ptrs.as_ptr()) };
            self.stats.submit_calls += 1;
            match result {
                Ok(0) => break,
                Ok(accepted) => {
                    for &index in &self.pending[..accepted] {
                        self.slots[index as usize].state = State::InFlight;
                    }
                    if accepted == self.pending.len() {
                        self.pending.clear();
                    } else {
                        self.pending.drain(..accepted);
                    }
                    self.in_flight += accepted;
                    submitted += accepted;
                    self.stats.submitted += accepted as u64;
                }
                Err(Errno::AGAIN) => break,
                Err(Errno::NOSYS) => return Err(Error::Unsupported { call: "io_submit" }),
                Err(errno) => {
                    let index = self.pending.remove(0);
                    self.complete_locally(index, errno);
                }
            }
        }
        Ok(submitted)
    }

    /// Collects completions that are already available, without waiting: from the ring with
    /// [`Reap::Ring`] (no system call), else with a zero-timeout `io_getevents`. Returns how many
    /// completions are ready to be handed back.
    pub fn reap(&mut self) -> Result<usize, Error> {
        self.check_fork()?;
        if self.in_flight > 0 {
            if self.ring.is_some() {
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
    /// call is only made when there is something to wait for.
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
    /// the wait, atomically (`io_pgetevents`, Linux 4.18): a signal `mask` leaves unblocked
    /// interrupts the wait with `EINTR`.
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
        let timeout = timeout.map(|t| __kernel_timespec {
            tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(t.subsec_nanos()),
        });
        let timeout = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
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

    /// Attempts to cancel the operation `id`; see [`CancelOutcome`] for what each answer means.
    /// A cancelled operation's completion says so ([`Completion::is_cancelled`]).
    ///
    /// # Errors
    /// [`Error::Forked`]; [`Error::Os`] for an `io_cancel` error other than `EINPROGRESS`,
    /// `EINVAL` or `EAGAIN` (which map to outcomes).
    pub fn cancel(&mut self, id: OpId) -> Result<CancelOutcome, Error> {
        let index = id.index as usize;
        let state = match self.slots.get(index) {
            Some(slot) if slot.generation == id.generation => slot.state,
            _ => return Ok(CancelOutcome::NotFound),
        };
        match state {
            State::Free => Ok(CancelOutcome::NotFound),
            State::Ready => Ok(CancelOutcome::NotCancellable),
            State::Queued => {
                self.pending.retain(|&i| i != id.index);
                self.slots[index].cancelled = true;
                self.complete_locally(id.index, Errno::CANCELED);
                Ok(CancelOutcome::Unsubmitted)
            }
            State::InFlight => {
                self.check_fork()?;
                let mut result = io_event::default();
                // SAFETY: index < slots.len(); the pointer names the iocb the operation was
                // submitted from, which the kernel only reads; `result` is writable.
                let iocb = unsafe { &raw mut (*self.slots.as_mut_ptr().add(index)).iocb };
                // SAFETY: as above.
                match unsafe { aio_sys::io_cancel(self.ctx, iocb, &mut result) } {
                    Ok(()) => {
                        let slot = &mut self.slots[index];
                        slot.cancelled = true;
                        slot.state = State::Ready;
                        self.in_flight -= 1;
                        self.ready.push_back((id.index, result.res));
                        Ok(CancelOutcome::Cancelled)
                    }
                    Err(Errno::INPROGRESS) => {
                        self.slots[index].cancel_requested = true;
                        Ok(CancelOutcome::InProgress)
                    }
                    Err(Errno::INVAL | Errno::AGAIN) => Ok(CancelOutcome::NotCancellable),
                    Err(errno) => Err(Error::from_call("io_cancel", errno)),
                }
            }
        }
    }

    /// The eventfd signalled on every completion, if the context was built with one: register
    /// it with epoll or an async runtime, then [`reap`](Self::reap). Non-blocking, close-on-exec.
    pub fn eventfd(&self) -> Option<BorrowedFd<'_>> {
        self.eventfd.as_ref().map(|fd| fd.as_fd())
    }

    /// Reads and resets the eventfd's counter: the completions signalled since the last read
    /// (0 if none, or without an eventfd).
    pub fn take_eventfd_count(&self) -> Result<u64, Error> {
        let Some(fd) = &self.eventfd else {
            return Ok(0);
        };
        let mut count = [0u8; 8];
        match rustix::io::read(fd, &mut count) {
            Ok(8) => Ok(u64::from_ne_bytes(count)),
            Ok(_) => Err(Error::Os {
                call: "read(eventfd)",
                errno: Errno::IO,
            }),
            Err(Errno::AGAIN) => Ok(0),
            Err(errno) => Err(Error::from_call("read(eventfd)", errno)),
        }
    }

    /// The operation capacity given at creation.
    pub fn depth(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Operations pushed but not yet accepted by the kernel.
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    /// Operations the kernel has accepted and not yet completed (as far as reaped).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Completions collected and not yet handed back.
    pub fn ready(&self) -> usize {
        self.ready.len()
    }

    /// Whether completions are read from the ring in user space.
    pub fn reaps_from_ring(&self) -> bool {
        self.ring.is_some()
    }

    /// The number of event slots in the kernel's ring when it is read in user space
    /// ([`Reap::Ring`]), else `None`. The kernel sizes the ring to whole pages, so it is larger
    /// than the `nr_events` asked for (127 for 1 with 4 KiB pages, 2047 with 64 KiB pages); it
    /// accepts at most about that many requests in flight before `io_submit` answers `EAGAIN`.
    pub fn ring_slots(&self) -> Option<u32> {
        self.ring.as_ref().map(Ring::slots)
    }

    /// What the context has done so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The kernel context id (the ring's address), for use with `aio-sys` directly.
    pub fn as_raw(&self) -> aio_context_t {
        self.ctx
    }

    #[inline]
    fn check_fork(&self) -> Result<(), Error> {
        if self.fork_guard.forked() {
            Err(Error::Forked)
        } else {
            Ok(())
        }
    }

    /// Completes `index` without the kernel: rejected at submit, or cancelled before it.
    fn complete_locally(&mut self, index: u32, errno: Errno) {
        self.slots[index as usize].state = State::Ready;
        self.ready
            .push_back((index, -i64::from(errno.raw_os_error())));
        self.stats.local_completions += 1;
        if let Some(fd) = &self.eventfd {
            // Signal it as the kernel does for its completions, so that a caller sleeping on the
            // eventfd wakes for this one too. The counter cannot overflow (2^64 - 2 unread).
            let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
        }
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

    fn getevents(
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
        };
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
            let generation = (event.data >> 32) as u32;
            match self.slots.get_mut(index as usize) {
                Some(slot) if slot.state == State::InFlight && slot.generation == generation => {
                    slot.state = State::Ready;
                    self.in_flight -= 1;
                    self.ready.push_back((index, event.res));
                }
                // Not an operation of ours: the kernel echoes aio_data, so this cannot happen.
                _ => debug_assert!(false, "io_event for unknown slot {index}"),
            }
        }
    }

    #[inline]
    fn pop_ready(&mut self) -> Option<Completion<B>> {
        let (index, res) = self.ready.pop_front()?;
        let slot = &mut self.slots[index as usize];
        let cancelled = slot.cancelled
            || (slot.cancel_requested
                && (res == -i64::from(Errno::CANCELED.raw_os_error())
                    || (slot.kind == OpKind::Poll && res == 0)));
        let completion = Completion {
            kind: slot.kind,
            user_data: slot.user_data,
            res,
            cancelled,
            payload: std::mem::replace(&mut slot.payload, Payload::None),
        };
        slot.state = State::Free;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        Some(completion)
    }
}

impl<B> Drop for Context<B> {
    fn drop(&mut self) {
        if self.fork_guard.forked() {
            // A child's copies of the buffers are its own; the kernel's requests belong to the
            // parent's address space, and the context is not the child's to destroy.
            return;
        }
        // SAFETY: this process created the context; `&mut self` rules out a concurrent reaper,
        // and the ring is not used after this.
        let destroyed = unsafe { aio_sys::io_destroy(self.ctx) };
        if destroyed.is_err() && self.in_flight > 0 {
            // io_destroy did not confirm that the kernel is done with the buffers: leak them
            // rather than risk the kernel writing into freed memory.
            std::mem::forget(std::mem::take(&mut self.slots));
        }
    }
}

/// The ready completions of a [`Context`], in completion order; see
/// [`Context::completions`].
pub struct Completions<'a, B: IoBuf> {
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
