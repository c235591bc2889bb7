//! The runtime-agnostic driver: one [`Context`] behind a lock, shared by every handle, with a
//! record per operation of who waits for it.
//!
//! - **Start**: an operation gets an entry (its token, echoed by the kernel in `aio_data`,
//!   names the entry) and is pushed onto the context, or onto the backlog when every slot is
//!   taken. Nothing is submitted yet: whoever drives (the runtime layer's task, or a thread
//!   waiting on a [`Ticket`](super::Ticket)) submits the whole batch in one `io_submit`.
//! - **Collect**: completions are copied from the ring (no system call), matched to their
//!   entries and their wakers woken after the lock is released; the slots they free take the
//!   backlog. `EAGAIN` from a full kernel ring leaves the operations queued (backpressure).
//! - **Abandon**: a future or ticket dropped early marks its entry; the operation still runs
//!   to its end (the kernel cannot cancel a read or write, and one still in the backlog runs
//!   all the same, in order), the context keeps the buffers and descriptor until its
//!   completion arrives, which is then dropped. A dropped poll is cancelled in the kernel
//!   (`io_cancel`), or forgotten if it never left the backlog.
//! - **Offload**: with a runtime layer, reads and writes on files not opened with `O_DIRECT`
//!   go with `RWF_NOWAIT`; those that would block run on the runtime's blocking threads
//!   instead (`preadv2`/`pwritev2`), and so do all reads, writes and syncs of the emulated
//!   backend, so that no worker thread ever blocks in `io_submit`. Without a runtime, the
//!   emulated backend's reads, writes and syncs run on the waiting thread whose round took
//!   them, outside the lock, as `io_submit` would run them on its caller's.
//! - **Quiet** (only with a runtime): where the kernel completes reads and writes inside
//!   `io_submit`, they are submitted without asking it to signal the eventfd (`super::quiet`).

mod offload;
mod state;
mod wait;

use super::Heuristics;
use super::batching::ChunkPolicy;
use super::quiet::QuietPolicy;
use super::sync::{AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard, mutants};
use crate::buf::IoBuf;
use crate::completion::{CancelOutcome, Completion};
use crate::context::{Context, Offload, PushError};
use crate::error::Error;
use crate::op::{Op, OpKind};
use rustix::event::{EventfdFlags, eventfd};
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use state::{Entry, PanicPayload, Stage, State};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::task::Waker;
use std::time::Duration;

/// How many tasks of a runtime layer may be in an `io_submit` of the driver's at once. Where
/// the kernel does the copy inside `io_submit` (tmpfs, the page cache), a second submitter on
/// another core submits what was started meanwhile instead of waiting for the first. Without
/// a runtime every waiting thread may submit: one blocked inside `io_submit` (a read of an
/// empty pipe) must not keep another thread's operations, perhaps the write that would end
/// that read, from the kernel.
const MAX_SUBMITTERS: u32 = 2;

/// What a runtime layer gives the driver.
pub(crate) trait Runtime: Send + Sync + 'static {
    /// Runs `job` on a thread that may block (tokio's `spawn_blocking`).
    fn spawn_blocking(&self, job: Box<dyn FnOnce() + Send>);
    /// Operations were started: the layer's task should [`Driver::turn`] soon (once per
    /// scheduler tick, which batches them into one `io_submit`). `inline`: the kernel has
    /// been completing reads and writes inside `io_submit` (quiet submissions are on), so a
    /// second submitter would copy in parallel.
    fn kick(&self, inline: bool);
    /// Whether the layer's task still exists (its runtime has not shut down).
    fn alive(&self) -> bool;
}

/// The shared state of a handle and its clones; see the module docs.
pub(crate) struct Driver<B> {
    state: Mutex<State<B>>,
    /// Threads in a blocking wait that are not the one parked outside the lock.
    turn: Condvar,
    /// Wakes whoever sleeps in [`park`](Self::park): written when new polls start or are
    /// cancelled on the emulated backend, and at shutdown.
    unpark: OwnedFd,
    /// The context's eventfd, signalled for every completion except quiet ones.
    eventfd: RawFd,
    /// Quiet operations in flight after the last round: their completions will not signal
    /// the eventfd (`super::quiet`).
    unsignalled: AtomicUsize,
    /// Operations the kernel accepted so far (wrapping), after the last round.
    submitted: AtomicUsize,
    /// Quiet submissions are on: the kernel completes reads and writes inside `io_submit`.
    inline: AtomicBool,
    runtime: Option<Box<dyn Runtime>>,
    /// The context runs on the emulated backend.
    emulated: bool,
    heuristics: Heuristics,
}

/// Names an entry: index in the low half, generation in the high half (so a stale token never
/// matches a reused entry). Also the operation's `aio_data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token(u64);

impl Token {
    fn new(index: u32, generation: u32) -> Self {
        Self(u64::from(index) | (u64::from(generation) << 32))
    }
    fn index(self) -> usize {
        self.0 as u32 as usize
    }
    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// What [`Driver::poll_op`] found.
pub(crate) enum Poll<B> {
    Ready(Completion<B>),
    /// The operation's buffers panicked in the driver's hands: resume the panic
    /// (`std::panic::resume_unwind`) in the task or thread that waits for it.
    Panicked(PanicPayload),
    Pending,
}

/// What must happen after the lock is released: wakers to wake, jobs for blocking threads,
/// completions and operations nobody wants any more (their `Drop` may run user code).
pub(crate) struct AfterUnlock<B> {
    wakers: Vec<Waker>,
    offloads: Vec<Offload>,
    garbage: Vec<Completion<B>>,
    dropped_ops: Vec<Op<B>>,
    notify_threads: bool,
    unpark: bool,
    /// Operations are queued that nobody is about to submit: wake the driver.
    kick: bool,
    /// Collections that freed slots.
    freed: u32,
}

impl<B> AfterUnlock<B> {
    /// A completion nobody waits for: dropped after the unlock, counted in `releasing`
    /// (the state's) until then.
    pub(super) fn discard(&mut self, releasing: &mut usize, completion: Completion<B>) {
        *releasing += 1;
        self.garbage.push(completion);
    }

    /// An operation nobody waits for that never reached the kernel: as [`Self::discard`].
    fn discard_op(&mut self, releasing: &mut usize, op: Op<B>) {
        *releasing += 1;
        self.dropped_ops.push(op);
    }
}

impl<B> Default for AfterUnlock<B> {
    fn default() -> Self {
        Self {
            wakers: Vec::new(),
            offloads: Vec::new(),
            garbage: Vec::new(),
            dropped_ops: Vec::new(),
            notify_threads: false,
            unpark: false,
            kick: false,
            freed: 0,
        }
    }
}

impl<B: IoBuf + Send> Driver<B> {
    /// A driver for a context built from `builder` (with its eventfd forced on).
    pub(crate) fn new(
        builder: crate::Builder<B>,
        runtime: Option<Box<dyn Runtime>>,
        heuristics: Heuristics,
    ) -> Result<Arc<Self>, Error> {
        let ctx: Context<B> = builder.eventfd(true).build()?;
        let emulated = ctx.backend() == crate::Backend::Emulated;
        let eventfd_raw = match ctx.eventfd() {
            Some(fd) => fd.as_raw_fd(),
            None => return Err(Error::Forked),
        };
        let unpark = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
            .map_err(|errno| Error::from_call("eventfd", errno))?;
        Ok(Arc::new(Self {
            state: Mutex::new(State {
                ctx,
                entries: Vec::new(),
                free: Vec::new(),
                backlog: VecDeque::new(),
                parked: false,
                waiting_threads: 0,
                direct: Vec::new(),
                offloads: Vec::new(),
                offload: runtime.is_some(),
                local_offloads: VecDeque::new(),
                batches: Vec::new(),
                submitters: 0,
                cancel_after_submit: Vec::new(),
                releasing: 0,
                quiet: QuietPolicy::new(),
                chunks: ChunkPolicy::new(),
            }),
            turn: Condvar::new(),
            unpark,
            eventfd: eventfd_raw,
            unsignalled: AtomicUsize::new(0),
            submitted: AtomicUsize::new(0),
            inline: AtomicBool::new(false),
            runtime,
            emulated,
            heuristics,
        }))
    }
}

impl<B> Driver<B> {
    fn lock(&self) -> MutexGuard<'_, State<B>> {
        // A panic while the lock was held (in a buffer's or descriptor's own code) leaves the
        // bookkeeping consistent: every step commits before running user code.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The context's eventfd (valid while the driver lives).
    pub(crate) fn eventfd(&self) -> BorrowedFd<'_> {
        // SAFETY: the context owns the eventfd and lives as long as `self`.
        unsafe { BorrowedFd::borrow_raw(self.eventfd) }
    }

    /// Runs `f` on the context, under the lock.
    pub(crate) fn with_context<R>(&self, f: impl FnOnce(&mut Context<B>) -> R) -> R {
        f(&mut self.lock().ctx)
    }

    /// Wakes whoever sleeps in [`park`](Self::park).
    pub(crate) fn unpark(&self) {
        let _ = rustix::io::write(&self.unpark, &1u64.to_ne_bytes());
    }

    /// Operations the kernel accepted so far, wrapping (by every submitter).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn submitted(&self) -> usize {
        self.submitted.load(Ordering::Acquire)
    }

    /// Quiet operations in flight after the last round (`super::quiet`): nothing signals the
    /// eventfd when they complete.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn unsignalled(&self) -> usize {
        self.unsignalled.load(Ordering::Acquire)
    }
}

impl<B: IoBuf + Send + 'static> Driver<B> {
    /// Starts `op`: pushes it onto the context (or the backlog); submitted by the next
    /// [`turn`](Self::turn). With a runtime, a read or write that could block `io_submit` is
    /// marked for `RWF_NOWAIT` and, if it would block, a blocking thread.
    // The error hands the operation back by value, as `Context::push` does.
    #[allow(clippy::result_large_err)]
    pub(crate) fn start(
        &self,
        mut op: Op<B>,
        waker: Option<&Waker>,
    ) -> Result<Token, PushError<B>> {
        let mut state = self.lock();
        // Under the lock: the layer's task, as it ends, clears `alive` and then counts what is
        // owned under the lock, for a thread to finish; an operation pushed here is counted.
        if self
            .runtime
            .as_ref()
            .is_some_and(|runtime| !runtime.alive())
        {
            return Err(PushError {
                error: Error::InvalidInput(
                    "aio::rt::tokio::Handle: the tokio runtime it was made in has shut down; \
                     make a new Handle inside a running runtime",
                ),
                op,
            });
        }
        if state.ctx.forked() {
            // The driver (its task, its eventfd, the kernel context) is the parent's.
            return Err(PushError {
                error: Error::Forked,
                op,
            });
        }
        if self.runtime.is_some() && !self.emulated {
            state.nowait_policy(&mut op);
        }
        let user_data = op.get_user_data();
        let kind = op.kind();
        let index = match state.free.pop() {
            Some(index) => index,
            None => {
                let index = state.entries.len() as u32;
                state.entries.push(Entry {
                    generation: 0,
                    user_data: 0,
                    stage: Stage::Free,
                    kind,
                    waker: None,
                    abandoned: false,
                });
                index
            }
        };
        let entry = &mut state.entries[index as usize];
        entry.generation = entry.generation.wrapping_add(1);
        entry.user_data = user_data;
        entry.kind = kind;
        entry.abandoned = false;
        entry.waker = waker.cloned();
        let token = Token::new(index, entry.generation);
        op.set_user_data(token.0);
        if !state.backlog.is_empty() {
            state.entries[index as usize].stage = Stage::Backlog(op);
            state.backlog.push_back(index);
        } else {
            // A readv/writev's buffers run their own code in push (their addresses and
            // lengths), which may panic: the entry goes back, and the panic to the caller.
            let pushed = catch_unwind(AssertUnwindSafe(|| state.ctx.push(op)));
            let pushed = match pushed {
                Ok(pushed) => pushed,
                Err(payload) => {
                    state.entries[index as usize].waker = None;
                    state.free.push(index);
                    drop(state);
                    resume_unwind(payload);
                }
            };
            match pushed {
                Ok(id) => state.entries[index as usize].stage = Stage::Owned(id),
                Err(PushError {
                    error: Error::QueueFull { .. },
                    op,
                }) => {
                    state.entries[index as usize].stage = Stage::Backlog(op);
                    state.backlog.push_back(index);
                }
                Err(PushError { error, mut op }) => {
                    state.entries[index as usize].waker = None;
                    state.free.push(index);
                    op.undo_nowait_or_offload();
                    return Err(PushError {
                        error,
                        op: op.user_data(user_data),
                    });
                }
            }
        }
        drop(state);
        if let Some(runtime) = &self.runtime {
            runtime.kick(self.inline.load(Ordering::Relaxed));
        }
        Ok(token)
    }

    /// Submits what was started, collects what completed and dispatches it. What the runtime
    /// layer's task runs on every kick and eventfd wake-up.
    pub(crate) fn turn(self: &Arc<Self>) -> Result<(), Error> {
        let mut after = AfterUnlock::default();
        let (state, result) = self.pump(self.lock(), &mut after);
        drop(state);
        self.finish(after);
        while self.run_local_offload() {}
        result
    }

    /// Submits what is queued, collects what completed and hands it to its entries; returns
    /// the lock again. With the kernel backend `io_submit` runs with the lock released
    /// (`context::handoff`), so that others start and collect operations meanwhile; what they
    /// start then goes in the next round, up to a few rounds before the driver is kicked
    /// again, or in a batch of a second submitter's (up to [`MAX_SUBMITTERS`] at once: the
    /// batches then reach the kernel in either order, as operations in flight together
    /// complete in any order). The emulated backend submits under the lock, where it only
    /// starts polls: its reads, writes and syncs run outside it, on the runtime's blocking
    /// threads or, without a runtime, on the waiting threads.
    fn pump<'a>(
        self: &'a Arc<Self>,
        mut state: MutexGuard<'a, State<B>>,
        after: &mut AfterUnlock<B>,
    ) -> (MutexGuard<'a, State<B>>, Result<(), Error>) {
        let mut result = Ok(());
        let mut rounds_left = 8;
        loop {
            state.fill_from_backlog(after);
            if self.emulated {
                result = state.submit_locked(after);
                break;
            }
            if self.runtime.is_some() && state.submitters >= MAX_SUBMITTERS {
                // The threads submitting now go again when they are done.
                break;
            }
            if rounds_left == 0 {
                // Work is left: come back soon rather than hold this thread.
                after.kick = state.ctx.queued() > 0;
                break;
            }
            rounds_left -= 1;
            let mut batch = state.batches.pop().unwrap_or_default();
            match state.ctx.begin_submit(&mut batch) {
                Ok(true) => {}
                Ok(false) => {
                    state.batches.push(batch);
                    break;
                }
                Err(error) => {
                    state.batches.push(batch);
                    state.fail_queued(&error);
                    result = Err(error);
                    break;
                }
            }
            if self.heuristics.chunks {
                batch.set_chunk(state.chunks.chunk());
            }
            state.submitters += 1;
            drop(state);
            // SAFETY: `self` keeps the context alive, and the batch is settled just below.
            unsafe { batch.run() };
            let ring_full = batch.deferred() > 0;
            state = self.lock();
            let settled = state.ctx.finish_submit(&mut batch);
            state.submitters -= 1;
            state.cancel_settled();
            let freed_before = after.freed;
            state.collect(after);
            let (accepted, unfinished) = state.ctx.batch_unfinished(&batch);
            state.chunks.observe(accepted, unfinished);
            if state.offload && self.heuristics.quiet {
                let State { ctx, quiet, .. } = &mut *state;
                if let Some(on) = quiet.observe(accepted, unfinished) {
                    ctx.set_quiet_io(on);
                    self.inline.store(on, Ordering::Relaxed);
                }
            }
            state.batches.push(batch);
            if let Err(error) = settled {
                state.fail_queued(&error);
                result = Err(error);
                break;
            }
            if ring_full && after.freed == freed_before {
                // EAGAIN and nothing collected: completions will free the ring, and their
                // collection submits again.
                break;
            }
        }
        // A collection that frees slots moves the backlog into them, queued: unless a
        // submitter is at work (it goes round again), the driver must come back for them, or a
        // caller about to sleep would leave them unsubmitted for good.
        let freed_before = after.freed;
        state.collect(after);
        // Without a runtime the submitter at work may be blocked for good (in a read of an
        // empty pipe, perhaps waiting for this very operation): kick all the same.
        if after.freed != freed_before
            && state.ctx.queued() > 0
            && (state.submitters == 0 || self.runtime.is_none())
        {
            after.kick = !mutants::lost_kick();
        }
        self.unsignalled
            .store(state.ctx.quiet_in_flight(), Ordering::Release);
        self.submitted
            .store(state.ctx.stats().submitted as usize, Ordering::Release);
        (state, result)
    }

    /// Takes the completion of `token` if it is done; else records `waker` to be woken.
    pub(crate) fn poll_op(&self, token: Token, waker: Option<&Waker>) -> Poll<B> {
        let mut state = self.lock();
        let Some(entry) = state.entry_mut(token) else {
            return Poll::Pending;
        };
        if let Some(done) = entry.take_done() {
            state.free.push(token.index() as u32);
            return match done {
                Ok(completion) => Poll::Ready(completion),
                Err(payload) => Poll::Panicked(payload),
            };
        }
        if let Some(waker) = waker {
            match &mut entry.waker {
                Some(old) if old.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
        Poll::Pending
    }

    /// The future or ticket of `token` is gone before its completion: see the module docs.
    pub(crate) fn abandon(self: &Arc<Self>, token: Token) {
        let mut after = AfterUnlock::default();
        {
            let mut state = self.lock();
            let State {
                ctx,
                entries,
                free,
                backlog,
                cancel_after_submit,
                releasing,
                ..
            } = &mut *state;
            let Some(entry) = entries
                .get_mut(token.index())
                .filter(|e| e.generation == token.generation())
            else {
                return;
            };
            entry.waker = None;
            match std::mem::replace(&mut entry.stage, Stage::Free) {
                Stage::Free => return,
                // A poll nobody waits for need never start; a read or write runs, as it
                // would had it reached the kernel already.
                Stage::Backlog(op) if op.kind() == OpKind::Poll => {
                    backlog.retain(|&i| i as usize != token.index());
                    free.push(token.index() as u32);
                    after.discard_op(releasing, op);
                }
                Stage::Backlog(op) => {
                    entry.stage = Stage::Backlog(op);
                    entry.abandoned = true;
                }
                Stage::Done(completion) => {
                    free.push(token.index() as u32);
                    after.discard(releasing, completion);
                }
                // Nobody is left to take the panic (the hook has reported it).
                Stage::Panicked(_) => free.push(token.index() as u32),
                Stage::Owned(id) => {
                    entry.stage = Stage::Owned(id);
                    entry.abandoned = true;
                    if entry.kind == OpKind::Poll {
                        // Nobody waits for it, and it may never complete by itself. A read or
                        // write runs to its end; the kernel cannot cancel those.
                        if ctx.is_submitting(id) {
                            // In a batch being submitted: cancelled once that is settled.
                            cancel_after_submit.push(id);
                        } else if let Ok(CancelOutcome::InProgress) = ctx.cancel(id) {
                            after.unpark = ctx.backend() == crate::Backend::Emulated;
                        }
                    }
                }
            }
            // Cancelling may complete it at once (before Linux 3.12): dispatch it.
            state.collect_and_kick(&mut after);
        }
        self.finish(after);
    }

    /// Wakes, spawns and drops what a locked step left for after the unlock.
    fn finish(self: &Arc<Self>, after: AfterUnlock<B>) {
        let AfterUnlock {
            wakers,
            offloads,
            garbage,
            dropped_ops,
            notify_threads,
            unpark,
            kick,
            freed: _,
        } = after;
        match (&self.runtime, kick) {
            (Some(runtime), true) => runtime.kick(self.inline.load(Ordering::Relaxed)),
            // Without a runtime, the waiting thread that sleeps on the eventfd submits.
            (None, true) => self.unpark(),
            _ => {}
        }
        if unpark {
            self.unpark();
        }
        for offload in offloads {
            self.spawn_offload(offload);
        }
        if notify_threads {
            self.turn.notify_all();
        }
        for waker in wakers {
            waker.wake();
        }
        // Completions and operations nobody waits for any more: a panic in their buffers'
        // or descriptors' `Drop` has no one to go to (the panic hook has reported it), and
        // must not end the driver's task or a thread that waits for its own operation.
        let released = garbage.len() + dropped_ops.len();
        let _ = catch_unwind(AssertUnwindSafe(move || drop(garbage)));
        let _ = catch_unwind(AssertUnwindSafe(move || drop(dropped_ops)));
        if released > 0 {
            // Only now are their buffers back: `outstanding()` stops counting them.
            self.lock().releasing -= released;
        }
    }

    /// Signals the context's eventfd after `period`, from a blocking thread, and then clears
    /// `armed`: the timer of `super::quiet::SilentWatch`. Without a runtime, nothing.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn signal_after(self: &Arc<Self>, period: Duration, armed: Arc<AtomicBool>) {
        let Some(runtime) = &self.runtime else {
            armed.store(false, Ordering::Release);
            return;
        };
        let driver = Arc::downgrade(self);
        runtime.spawn_blocking(Box::new(move || {
            std::thread::sleep(period);
            armed.store(false, Ordering::Release);
            if let Some(driver) = driver.upgrade() {
                let _ = rustix::io::write(driver.eventfd(), &1u64.to_ne_bytes());
            }
        }));
    }

    /// Operations started and not yet handed back (including abandoned ones still owned by
    /// the context, and the backlog).
    pub(crate) fn outstanding(&self) -> usize {
        let state = self.lock();
        let releasing = if mutants::early_release() {
            0
        } else {
            state.releasing
        };
        state.ctx.owned() + state.backlog.len() + releasing
    }
}

impl<B> Drop for Driver<B> {
    fn drop(&mut self) {
        // Whoever sleeps on the emulated polls, and the runtime layer's task, must notice the
        // end (the task then finds its weak reference dead and returns).
        self.unpark();
        if let Some(runtime) = &self.runtime {
            runtime.kick(false);
        }
    }
}
