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

use super::Heuristics;
use super::batching::ChunkPolicy;
use super::quiet::QuietPolicy;
use super::sync::{AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard, mutants};
use crate::buf::IoBuf;
use crate::completion::{CancelOutcome, Completion};
use crate::context::{
    Batch, Context, Next, Offload, OpId, POLL_ROTATION, PushError, negative, open_file_limit,
    ppoll_fds,
};
use crate::error::Error;
use crate::op::{Op, OpKind};
use aio_abi::{RwFlags, pollfd};
use rustix::event::{EventfdFlags, PollFlags, eventfd};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use rustix::fs::OFlags;
use rustix::io::Errno;
use std::any::Any;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

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

struct State<B> {
    ctx: Context<B>,
    entries: Vec<Entry<B>>,
    free: Vec<u32>,
    /// Entries whose operation waits for a free slot, in start order.
    backlog: VecDeque<u32>,
    /// A thread sleeps in `park` on the context's behalf.
    parked: bool,
    /// Threads in a blocking wait (parked or on the condition variable).
    waiting_threads: usize,
    /// Whether a [`Fixed`](crate::Fixed) names an `O_DIRECT` file, by registration index:
    /// (generation, direct).
    direct: Vec<Option<(u64, bool)>>,
    offloads: Vec<Offload>,
    /// A runtime runs blocking work: offload what would block (see the module docs).
    offload: bool,
    /// Without a runtime, the emulated backend's reads, writes and syncs, for the waiting
    /// threads to run outside the lock ([`Driver::run_local_offload`]).
    local_offloads: VecDeque<Offload>,
    /// Batches for the `io_submit`s made outside the lock, kept for their memory.
    batches: Vec<Batch>,
    /// Threads or tasks in an `io_submit` of theirs now (at most [`MAX_SUBMITTERS`] with a
    /// runtime; without one, every waiting thread may be).
    submitters: u32,
    /// Polls abandoned while in a batch being submitted: cancelled once it is settled.
    cancel_after_submit: Vec<OpId>,
    /// Whether reads and writes go quiet (with a runtime only).
    quiet: QuietPolicy,
    /// How many operations each `io_submit` carries.
    chunks: ChunkPolicy,
}

struct Entry<B> {
    generation: u32,
    /// The caller's `user_data`, given back in the completion.
    user_data: u64,
    stage: Stage<B>,
    kind: OpKind,
    waker: Option<Waker>,
    /// The future or ticket is gone: drop the completion when it comes.
    abandoned: bool,
}

/// What a panic carried (`std::panic::catch_unwind`).
pub(crate) type PanicPayload = Box<dyn Any + Send>;

impl<B> Entry<B> {
    /// The completion, with the caller's `user_data`, if it has come, or the panic its
    /// buffers' code raised in the driver's hands; the entry is then free.
    fn take_done(&mut self) -> Option<Result<Completion<B>, PanicPayload>> {
        match std::mem::replace(&mut self.stage, Stage::Free) {
            Stage::Done(mut completion) => {
                completion.user_data = self.user_data;
                self.waker = None;
                Some(Ok(completion))
            }
            Stage::Panicked(payload) => {
                self.waker = None;
                Some(Err(payload))
            }
            other => {
                self.stage = other;
                None
            }
        }
    }
}

enum Stage<B> {
    Free,
    /// Waiting for a slot.
    Backlog(Op<B>),
    /// Owned by the context (queued, in flight, offloaded or ready).
    Owned(OpId),
    Done(Completion<B>),
    /// Its buffers' own code panicked when the driver pushed it (from the backlog): the
    /// operation is gone, and the panic goes to whoever waits for it.
    Panicked(PanicPayload),
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
        builder: crate::Builder,
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
        let user_data = op.tag();
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

    /// Without a runtime: runs the oldest of the emulated backend's reads, writes or syncs
    /// waiting for a thread, outside the lock, on this thread (in push order; several threads
    /// may run theirs at once, as two `io_submit`s would). Whether there was one. Never in a
    /// forked child: they are the parent's.
    fn run_local_offload(self: &Arc<Self>) -> bool {
        let offload = {
            let mut state = self.lock();
            if state.ctx.forked() {
                return false;
            }
            state.local_offloads.pop_front()
        };
        let Some(offload) = offload else {
            return false;
        };

        OffloadJob {
            driver: self.clone(),
            offload: Some(offload),
        }
        .run();
        true
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
                    after.dropped_ops.push(op);
                }
                Stage::Backlog(op) => {
                    entry.stage = Stage::Backlog(op);
                    entry.abandoned = true;
                }
                Stage::Done(completion) => {
                    free.push(token.index() as u32);
                    after.garbage.push(completion);
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
        let _ = catch_unwind(AssertUnwindSafe(move || drop(garbage)));
        let _ = catch_unwind(AssertUnwindSafe(move || drop(dropped_ops)));
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

    fn spawn_offload(self: &Arc<Self>, offload: Offload) {
        let Some(runtime) = &self.runtime else {
            // Without a runtime offloads go to `local_offloads` (`submit_locked`), and a
            // kernel-backend read or write is marked for offload only with one.
            debug_assert!(false, "an offload without a runtime");
            return;
        };
        let job = OffloadJob {
            driver: self.clone(),
            offload: Some(offload),
        };
        runtime.spawn_blocking(Box::new(move || job.run()));
    }

    /// Sleeps until the context's eventfd (if `eventfd`), the unpark eventfd or one of the
    /// emulated backend's pending polls is ready, or `timeout` passes; then clears the
    /// eventfds it woke for. Without the lock, so others can start operations meanwhile.
    fn park(&self, eventfd: bool, timeout: Option<Duration>) -> Result<(), Error> {
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

    /// Operations started and not yet handed back (including abandoned ones still owned by
    /// the context, and the backlog).
    pub(crate) fn outstanding(&self) -> usize {
        let state = self.lock();
        state.ctx.owned() + state.backlog.len()
    }
}

impl<B: IoBuf + Send + 'static> State<B> {
    fn entry_mut(&mut self, token: Token) -> Option<&mut Entry<B>> {
        self.entries
            .get_mut(token.index())
            .filter(|e| e.generation == token.generation())
    }

    /// Marks a read or write of a file not opened with `O_DIRECT` for `RWF_NOWAIT` and
    /// offload (see the module docs). `O_DIRECT` I/O, syncs (which the kernel runs on a
    /// workqueue) and polls go to the kernel as they are, and so does an operation that
    /// already carries `RWF_NOWAIT` (the caller wants the `EAGAIN`).
    fn nowait_policy(&mut self, op: &mut Op<B>) {
        if !matches!(
            op.kind(),
            OpKind::Read | OpKind::Write | OpKind::Readv | OpKind::Writev
        ) || op.rw_flags().contains(RwFlags::NOWAIT)
        {
            return;
        }
        let direct = match op.fd().as_fixed() {
            Some(fixed) => {
                let cached = self.direct.get(fixed.index as usize).copied().flatten();
                match cached {
                    Some((generation, direct)) if generation == fixed.generation => Some(direct),
                    _ => {
                        let direct = self.ctx.raw_fd_of(op.fd()).map(is_direct);
                        if let Some(direct) = direct {
                            let index = fixed.index as usize;
                            if self.direct.len() <= index {
                                self.direct.resize(index + 1, None);
                            }
                            self.direct[index] = Some((fixed.generation, direct));
                        }
                        direct
                    }
                }
            }
            None => self.ctx.raw_fd_of(op.fd()).map(is_direct),
        };
        if direct != Some(true) {
            // Not registered (push refuses it) or not O_DIRECT.
            op.nowait_or_offload();
        }
    }

    /// Moves the backlog into free slots, in order.
    // `push`'s error hands the operation back by value.
    #[allow(clippy::result_large_err)]
    fn fill_from_backlog(&mut self, after: &mut AfterUnlock<B>) {
        while let Some(&index) = self.backlog.front() {
            let entry = &mut self.entries[index as usize];
            let Stage::Backlog(op) = std::mem::replace(&mut entry.stage, Stage::Free) else {
                self.backlog.pop_front();
                continue;
            };
            // The buffers' own code runs in push (see `start`); here, on whichever thread or
            // task collects, so the panic is kept for the operation's waiter.
            let pushed = match catch_unwind(AssertUnwindSafe(|| self.ctx.push(op))) {
                Ok(pushed) => pushed,
                Err(payload) => {
                    self.backlog.pop_front();
                    self.panicked(index, payload, after);
                    continue;
                }
            };
            match pushed {
                Ok(id) => {
                    self.backlog.pop_front();
                    self.entries[index as usize].stage = Stage::Owned(id);
                }
                Err(PushError {
                    error: Error::QueueFull { .. },
                    op,
                }) => {
                    self.entries[index as usize].stage = Stage::Backlog(op);
                    break;
                }
                Err(PushError { error, op }) => {
                    // Unregistered while it waited: completes with the error's errno.
                    self.backlog.pop_front();
                    let errno = error.errno().unwrap_or(Errno::INVAL);
                    let completion = refused(op, errno);
                    self.deliver(index, completion, after);
                }
            }
        }
    }

    /// Submits everything queued under the lock: the emulated backend's way. Polls start;
    /// reads, writes and syncs become offloads, for the runtime's blocking threads or, without
    /// a runtime, for the waiting threads to run outside the lock (so that a read of an empty
    /// pipe blocks only the thread running it, never the lock).
    fn submit_locked(&mut self, after: &mut AfterUnlock<B>) -> Result<(), Error> {
        if self.ctx.queued() == 0 {
            return Ok(());
        }
        let polls_before = self.ctx.in_flight();
        let mut offloads = std::mem::take(&mut self.offloads);
        let submitted = self.ctx.submit_offloading(&mut offloads);
        if self.offload {
            after.offloads.append(&mut offloads);
        } else {
            self.local_offloads.extend(offloads.drain(..));
        }
        self.offloads = offloads;
        match submitted {
            Ok(_) => {
                if self.ctx.in_flight() > polls_before {
                    // New polls: whoever sleeps on the old set must look again.
                    after.unpark = true;
                }
                Ok(())
            }
            Err(error) => {
                self.fail_queued(&error);
                Err(error)
            }
        }
    }

    /// Nothing can be submitted (a child after fork, or io_submit missing): ends the queued
    /// operations with the error rather than leave them waiting.
    fn fail_queued(&mut self, error: &Error) {
        self.ctx.fail_queued(error.errno().unwrap_or(Errno::INVAL));
    }

    /// Cancels the abandoned polls whose batch is settled now (see [`Driver::abandon`]).
    fn cancel_settled(&mut self) {
        let State {
            ctx,
            cancel_after_submit,
            ..
        } = self;
        cancel_after_submit.retain(|&id| {
            if ctx.is_submitting(id) {
                return true;
            }
            // The poll may have completed meanwhile (NotCancellable, NotFound): then its
            // completion is on its way as it is.
            let _ = ctx.cancel(id);
            false
        });
    }

    /// Collects what completed and hands it to its entries; freed slots take the backlog.
    fn collect(&mut self, after: &mut AfterUnlock<B>) {
        if self.ctx.ready() == 0 {
            // An error (io_getevents failing in Reap::Syscall mode) leaves the completions in
            // the kernel for the next call.
            let _ = self.ctx.reap();
        }
        let mut freed = false;
        while let Some(next) = self.ctx.next_ready() {
            match next {
                Next::Offload(offload) => after.offloads.push(offload),
                Next::Done(completion) => {
                    freed = true;
                    let token = Token(completion.user_data);
                    self.deliver(token.index() as u32, completion, after);
                }
            }
        }
        if freed {
            after.freed += 1;
            self.fill_from_backlog(after);
        }
    }

    /// [`collect`](Self::collect) outside the driver's rounds (an offload finishing, a
    /// future dropped, a poll watcher): what it queued (the backlog, or what `EAGAIN` left)
    /// needs a round of the driver.
    fn collect_and_kick(&mut self, after: &mut AfterUnlock<B>) {
        self.collect(after);
        // A submitter at work takes what is queued in its next round (with a runtime; without
        // one it may be blocked, see `pump`).
        if self.ctx.queued() > 0 && (self.submitters == 0 || !self.offload) {
            after.kick = true;
        }
    }

    /// The operation of entry `index` is gone in a panic of its buffers' code: its waiter
    /// gets the panic (see [`Stage::Panicked`]).
    fn panicked(&mut self, index: u32, payload: PanicPayload, after: &mut AfterUnlock<B>) {
        let entry = &mut self.entries[index as usize];
        if entry.abandoned {
            entry.abandoned = false;
            self.free.push(index);
            return;
        }
        entry.stage = Stage::Panicked(payload);
        if let Some(waker) = entry.waker.take() {
            after.wakers.push(waker);
        }
        if self.waiting_threads > 0 {
            after.notify_threads = true;
        }
    }

    fn deliver(&mut self, index: u32, completion: Completion<B>, after: &mut AfterUnlock<B>) {
        let Some(entry) = self.entries.get_mut(index as usize) else {
            after.garbage.push(completion);
            return;
        };
        if entry.abandoned {
            entry.abandoned = false;
            entry.stage = Stage::Free;
            self.free.push(index);
            after.garbage.push(completion);
            return;
        }
        entry.stage = Stage::Done(completion);
        if let Some(waker) = entry.waker.take() {
            after.wakers.push(waker);
        }
        if self.waiting_threads > 0 {
            after.notify_threads = true;
        }
    }
}

/// Whether `raw` was opened with `O_DIRECT` (an `fcntl(F_GETFL)`; `false` if that fails).
fn is_direct(raw: RawFd) -> bool {
    // SAFETY: the operation holds the descriptor (or the context its registration) for the
    // call.
    let fd = unsafe { BorrowedFd::borrow_raw(raw) };
    rustix::fs::fcntl_getfl(fd).is_ok_and(|flags| flags.contains(OFlags::DIRECT))
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

/// The completion of an operation that never reached the context (its registration ended
/// while it waited in the backlog): `errno`, with its buffers and owned descriptor.
fn refused<B>(op: Op<B>, errno: Errno) -> Completion<B> {
    let kind = op.kind();
    let user_data = op.tag();
    let (fd, bufs) = op.into_parts();
    Completion {
        kind,
        user_data,
        res: negative(errno),
        cancelled: false,
        bufs,
        fd: fd.into_owned().ok(),
    }
}

/// An offloaded operation on its blocking thread. If the runtime drops the job without
/// running it (at shutdown), the operation completes with `ECANCELED` instead of never.
struct OffloadJob<B: IoBuf + Send + 'static> {
    driver: Arc<Driver<B>>,
    offload: Option<Offload>,
}

impl<B: IoBuf + Send + 'static> OffloadJob<B> {
    fn run(mut self) {
        if let Some(offload) = self.offload.take() {
            // SAFETY: `driver` keeps the context alive, and the offload is finished only
            // below.
            let res = unsafe { offload.run() };
            self.complete(offload.index, res);
        }
    }

    fn complete(&self, index: u32, res: i64) {
        let mut after = AfterUnlock::default();
        {
            let mut state = self.driver.lock();
            state.ctx.finish_offload(index, res);
            state.collect_and_kick(&mut after);
        }
        self.driver.finish(after);
    }
}

impl<B: IoBuf + Send + 'static> Drop for OffloadJob<B> {
    fn drop(&mut self) {
        if let Some(offload) = self.offload.take() {
            self.complete(offload.index, negative(Errno::CANCELED));
        }
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
