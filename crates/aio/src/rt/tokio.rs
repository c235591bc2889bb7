//! The tokio layer: the driver's task, woken by the context's eventfd through
//! [`AsyncFd`], and [`Handle`], the async API.

use super::Heuristics;
use super::batching::YieldPolicy;
use super::driver::{Driver, Poll as OpPoll, Runtime, Token};
use super::quiet::{SilentWatch, Watch};
use crate::buf::{IoBuf, IoBufMut};
use crate::completion::Completion;
use crate::context::{Backend, Builder, PushError, Stats};
use crate::error::Error;
use crate::fd::{Fd, Fixed};
use crate::op::{Bufs, Op};
use ::tokio::io::Interest;
use ::tokio::io::unix::AsyncFd;
use ::tokio::sync::Notify;
use rustix::event::PollFlags;
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context as TaskContext, Poll};

mod file;
pub use file::File;

struct Tokio {
    runtime: ::tokio::runtime::Handle,
    /// Wakes the driver task.
    notify: Arc<Notify>,
    /// Wakes the helper task, which submits while the driver task is busy.
    helper: Arc<Notify>,
    /// The driver task is in a turn (submitting, collecting).
    busy: Arc<AtomicBool>,
    /// The driver task exists: cleared when it ends, or its runtime drops it at shutdown.
    alive: Arc<AtomicBool>,
    /// The helper task may submit ([`Heuristics::helper`]).
    helper_on: bool,
}

impl Runtime for Tokio {
    fn spawn_blocking(&self, job: Box<dyn FnOnce() + Send>) {
        // The job completes its operation itself; if the runtime shuts down before running
        // it, dropping it completes the operation with ECANCELED.
        drop(self.runtime.spawn_blocking(job));
    }

    fn alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    fn kick(&self, inline: bool) {
        // While the driver task submits where that is the copy itself (tmpfs, the page
        // cache), the helper submits what others start meanwhile, from their worker. Where
        // the device does the work, io_submit is short and a second submitter only moves
        // tasks between workers (measured: ext4 at depth 32 on 2 workers varied between 0.6
        // and 1.0 of the synchronous loop with it, 0.9 without).
        if self.helper_on && inline && self.busy.load(Ordering::Acquire) {
            self.helper.notify_one();
        } else {
            self.notify.notify_one();
        }
    }
}

impl Drop for Tokio {
    /// The driver is gone: both tasks must notice it (they find their weak reference dead).
    fn drop(&mut self) {
        self.notify.notify_one();
        self.helper.notify_one();
    }
}

/// The async handle on one kernel AIO context: cloneable, `Send + Sync`, usable from any task
/// of the tokio runtime it was made in.
///
/// - Operations started in the same scheduler tick (by any number of tasks) are submitted by
///   the handle's driver task in one `io_submit`; completions are copied from the kernel's
///   ring without a system call and wake their futures. The driver task sleeps on the
///   context's eventfd (registered with tokio's reactor through `AsyncFd`). Where the copy
///   happens inside `io_submit` (tmpfs, the page cache), operations started while it is busy
///   submitting are submitted by a helper task from the worker that started them, so that
///   two workers copy at once.
/// - Where the kernel completes reads and writes inside `io_submit` (tmpfs, the page cache),
///   the driver notices it (256 in a row found complete right after their `io_submit`) and
///   submits reads and writes without asking the kernel to signal the eventfd for each
///   completion, which costs about a tenth of such an operation
///   ([`Stats::unsignalled`](crate::Stats::unsignalled) counts them). The first one found
///   still in flight turns the signal back on; until it is collected the driver task looks at
///   the ring by itself (yielding, then on a timer of 50 µs to 5 ms).
/// - More operations than the context's depth wait in a backlog; a full kernel ring (`EAGAIN`
///   from `io_submit`) keeps them queued: backpressure, never an error.
/// - **Dropping a future** before its completion never frees or reuses its buffer while the
///   kernel may use it: the context keeps buffer and descriptor until the completion arrives,
///   then drops them. A read or write that has started (been polled once) runs to its end,
///   since the kernel cannot cancel one; a dropped [`poll_ready`](Self::poll_ready) is
///   cancelled in the kernel (`io_cancel`). [`outstanding`](Self::outstanding) counts both
///   until they are done.
/// - **No worker thread blocks in `io_submit`.** Reads and writes of files not opened with
///   `O_DIRECT` (the page cache, pipes, sockets) are submitted with `RWF_NOWAIT`; those that
///   answer `EAGAIN` (or `EOPNOTSUPP`, where the file cannot honour the flag) run on tokio's
///   blocking threads with `preadv2`/`pwritev2` instead, as Seastar does. `O_DIRECT` I/O, syncs
///   (run by the kernel on a workqueue) and polls go to the kernel directly. An operation that
///   carries `RWF_NOWAIT` itself is left alone: its caller wants the `EAGAIN`.
/// - With [`Backend::Emulated`] every read, write and sync runs on a
///   blocking thread, and pending polls are watched by one blocking thread.
/// - **The runtime.** Operations progress while the runtime the handle was made in runs its
///   tasks (a `current_thread` runtime: only inside its `block_on`). Once that runtime shuts
///   down, a thread of the handle's drives the operations already started to their end, so
///   that futures held elsewhere still resolve (offloaded ones with `ECANCELED`), and new
///   operations answer [`Error::InvalidInput`] at once.
///
/// Registered descriptors ([`register`](Self::register)) cost nothing per operation, and
/// whether one is `O_DIRECT` is looked up once; for other descriptors (an `Arc<File>`, say)
/// that costs one `fcntl(F_GETFL)` per read or write.
///
/// ```
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use aio::rt::tokio::Handle;
/// let aio: Handle = Handle::new(aio::Context::builder().depth(64))?;
/// let path = std::env::temp_dir().join(format!("aio-async-doc-{}", std::process::id()));
/// let file = aio.register(std::fs::File::create_new(&path)?)?;
/// let (written, _buf) = aio.write_at(file, b"hello, kernel".to_vec(), 0).await;
/// assert_eq!(written?, 13);
/// let (read, buf) = aio.read_at(file, vec![0; 5], 7).await;
/// assert_eq!(read?, 5);
/// assert_eq!(&buf, b"kerne");
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
pub struct Handle<B = Vec<u8>> {
    driver: Arc<Driver<B>>,
}

impl<B> Clone for Handle<B> {
    fn clone(&self) -> Self {
        Self {
            driver: self.driver.clone(),
        }
    }
}

impl<B> fmt::Debug for Handle<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl<B: IoBuf + Send + 'static> Handle<B> {
    /// Builds the context (with its eventfd) and spawns its driver task on the current tokio
    /// runtime.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] outside a tokio runtime, or in one built without its IO driver
    /// (tokio panics there; the panic is caught, though the panic hook still prints it); as
    /// [`Builder::build`]; [`Error::Os`] if the eventfd cannot be registered with tokio's
    /// reactor (`epoll_ctl`).
    pub fn new(builder: Builder<B>) -> Result<Self, Error> {
        Self::with_heuristics(builder, Heuristics::default())
    }

    /// [`new`](Self::new) with some of the driver's adaptive policies off, to measure them.
    #[doc(hidden)]
    pub fn with_heuristics(builder: Builder<B>, heuristics: Heuristics) -> Result<Self, Error> {
        let runtime = ::tokio::runtime::Handle::try_current().map_err(|_| {
            Error::InvalidInput("aio::rt::tokio::Handle::new must run inside a tokio runtime")
        })?;
        let notify = Arc::new(Notify::new());
        let helper = Arc::new(Notify::new());
        let busy = Arc::new(AtomicBool::new(false));
        let alive = Arc::new(AtomicBool::new(true));
        let driver = Driver::new(
            builder,
            Some(Box::new(Tokio {
                runtime: runtime.clone(),
                notify: notify.clone(),
                helper: helper.clone(),
                busy: busy.clone(),
                alive: alive.clone(),
                helper_on: heuristics.helper,
            })),
            heuristics,
        )?;
        let eventfd = rustix::io::fcntl_dupfd_cloexec(driver.eventfd(), 0)
            .map_err(|errno| Error::from_call("fcntl(F_DUPFD_CLOEXEC)", errno))?;
        let eventfd = {
            let _entered = runtime.enter();
            // tokio panics instead of answering when the runtime was built without its IO
            // driver: turn that into the error it is.
            let registered = std::panic::catch_unwind(|| {
                // SAFETY: the `OwnedFd` is a valid descriptor (a duplicate of the eventfd, so
                // the reactor's registration is the handle's own), and the `AsyncFd` owns it
                // until it deregisters: nothing closes or replaces it meanwhile.
                unsafe { AsyncFd::register_with_interest(eventfd, Interest::READABLE) }
            })
            .map_err(|_| {
                Error::InvalidInput(
                    "aio::rt::tokio::Handle::new needs a runtime with its IO driver \
                     (tokio::runtime::Builder::enable_io or enable_all)",
                )
            })?;
            registered.map_err(|error| Error::Os {
                call: "epoll_ctl (tokio AsyncFd)",
                errno: Errno::from_io_error(&io::Error::from(error)).unwrap_or(Errno::IO),
            })?
        };
        let orphan = Orphan {
            driver: Arc::downgrade(&driver),
            alive,
        };
        runtime.spawn(drive(
            Arc::downgrade(&driver),
            eventfd,
            notify.clone(),
            busy,
            orphan,
            heuristics.adaptive_yield,
        ));
        runtime.spawn(help(Arc::downgrade(&driver), helper, notify));
        Ok(Self { driver })
    }

    /// Runs `op` and resolves to its whole [`Completion`] (buffers, owned descriptor, the
    /// operation's own `user_data`): the general form, for any [`Op`] with its
    /// [`flags`](Op::flags) and [`priority`](Op::priority).
    ///
    /// The future is `'static` (it holds a clone of the handle): spawn it, or keep many in a
    /// `JoinSet` or `FuturesUnordered` to hold a queue depth from one task.
    ///
    /// # Errors
    /// The operation comes back with [`Error::NotRegistered`] or [`Error::OutOfMemory`].
    pub fn submit(&self, op: Op<B>) -> Submit<B> {
        Submit {
            driver: self.driver.clone(),
            stage: Stage::Unstarted(Some(op)),
        }
    }

    /// `pread`s into `buf` at `offset`; resolves to the bytes read (or the error) and `buf`.
    pub fn read_at<F: Into<Fd>>(
        &self,
        fd: F,
        buf: B,
        offset: u64,
    ) -> impl Future<Output = (io::Result<usize>, B)> + Send + 'static + use<B, F>
    where
        B: IoBufMut,
    {
        let submit = self.submit(Op::read(fd, buf, offset));
        async move { one_buf(submit.await) }
    }

    /// `pwrite`s `buf` at `offset`; resolves to the bytes written (or the error) and `buf`.
    pub fn write_at<F: Into<Fd>>(
        &self,
        fd: F,
        buf: B,
        offset: u64,
    ) -> impl Future<Output = (io::Result<usize>, B)> + Send + 'static + use<B, F> {
        let submit = self.submit(Op::write(fd, buf, offset));
        async move { one_buf(submit.await) }
    }

    /// `preadv` into `bufs`, in order, at `offset`.
    pub fn readv_at<F: Into<Fd>>(
        &self,
        fd: F,
        bufs: Vec<B>,
        offset: u64,
    ) -> impl Future<Output = (io::Result<usize>, Vec<B>)> + Send + 'static + use<B, F>
    where
        B: IoBufMut,
    {
        let submit = self.submit(Op::readv(fd, bufs, offset));
        async move { many_bufs(submit.await) }
    }

    /// `pwritev` of `bufs`, in order, at `offset`.
    pub fn writev_at<F: Into<Fd>>(
        &self,
        fd: F,
        bufs: Vec<B>,
        offset: u64,
    ) -> impl Future<Output = (io::Result<usize>, Vec<B>)> + Send + 'static + use<B, F> {
        let submit = self.submit(Op::writev(fd, bufs, offset));
        async move { many_bufs(submit.await) }
    }

    /// `fsync(2)` (`IOCB_CMD_FSYNC`).
    pub fn fsync<F: Into<Fd>>(
        &self,
        fd: F,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static + use<B, F> {
        let submit = self.submit(Op::fsync(fd));
        async move { no_buf(submit.await).map(drop) }
    }

    /// `fdatasync(2)` (`IOCB_CMD_FDSYNC`).
    pub fn fdatasync<F: Into<Fd>>(
        &self,
        fd: F,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static + use<B, F> {
        let submit = self.submit(Op::fdatasync(fd));
        async move { no_buf(submit.await).map(drop) }
    }

    /// Waits until `fd` is ready for one of `events` (`IOCB_CMD_POLL`); resolves to the ready
    /// events (plus `ERR`/`HUP`). Dropping the future cancels the poll in the kernel.
    pub fn poll_ready<F: Into<Fd>>(
        &self,
        fd: F,
        events: PollFlags,
    ) -> impl Future<Output = io::Result<PollFlags>> + Send + 'static + use<B, F> {
        let submit = self.submit(Op::poll(fd, events));
        async move {
            let (result, flags, _) = outcome(submit.await);
            result.map(|_| flags)
        }
    }

    /// Registers `fd`: the context owns it, operations name it by the returned [`Fixed`] at
    /// no per-operation cost; see [`Context::register`](crate::Context::register).
    ///
    /// # Errors
    /// As [`Context::register`](crate::Context::register).
    pub fn register(&self, fd: impl Into<Fd>) -> Result<Fixed, Error> {
        self.driver.with_context(|ctx| ctx.register(fd))
    }

    /// Ends a registration; see [`Context::unregister`](crate::Context::unregister).
    ///
    /// # Errors
    /// [`Error::NotRegistered`].
    pub fn unregister(&self, fixed: Fixed) -> Result<Option<Fd>, Error> {
        self.driver.with_context(|ctx| ctx.unregister(fixed))
    }

    /// Operations started and not yet handed back, including those whose future was dropped
    /// (kept by the context until the kernel is done with them) and those waiting for a slot.
    /// An operation nobody waits for any more counts until its buffers and descriptor are
    /// dropped: once this answers 0, every buffer given to the context is back.
    pub fn outstanding(&self) -> usize {
        self.driver.outstanding()
    }

    /// The context's counters.
    pub fn stats(&self) -> Stats {
        self.driver.with_context(|ctx| ctx.stats())
    }

    /// The backend the context runs on.
    pub fn backend(&self) -> Backend {
        self.driver.with_context(|ctx| ctx.backend())
    }

    /// The kernel ring's event slots when completions are read from it; see
    /// [`Context::ring_slots`](crate::Context::ring_slots).
    pub fn ring_slots(&self) -> Option<u32> {
        self.driver.with_context(|ctx| ctx.ring_slots())
    }
}

/// The driver task: submits on every kick, collects on every eventfd wake-up; ends when the
/// last handle and future are gone. While quiet operations are in flight, whose completions
/// do not signal the eventfd, it looks at the ring by itself (`super::quiet`).
async fn drive<B: IoBuf + Send + 'static>(
    driver: Weak<Driver<B>>,
    eventfd: AsyncFd<OwnedFd>,
    notify: Arc<Notify>,
    busy: Arc<AtomicBool>,
    // Dropped with the task, also when the runtime drops it at shutdown.
    _orphan: Orphan<B>,
    adaptive_yield: bool,
) {
    let mut silent = SilentWatch::new();
    let mut batching = YieldPolicy::new();
    let mut spin = false;
    loop {
        let kicked = if spin {
            ::tokio::task::yield_now().await;
            false
        } else {
            let mut kicked = std::pin::pin!(notify.notified());
            poll_fn(|cx| {
                if kicked.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                match eventfd.poll_read_ready(cx) {
                    Poll::Ready(Ok(mut ready)) => {
                        // Not read: tokio's epoll is edge-triggered, and the kernel's every
                        // signal is an edge, whatever the counter holds (2^64 - 2 of them
                        // fit), so a read(2) per wake-up would buy nothing.
                        ready.clear_ready();
                        Poll::Ready(false)
                    }
                    // The reactor is gone (runtime shutting down): stop on the next upgrade.
                    Poll::Ready(Err(_)) => Poll::Ready(false),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await
        };
        // Let the other tasks woken in this tick start their operations first: they all go
        // in this turn's io_submit. (A wake-up from the task that kicked would otherwise run
        // the driver at once, one operation per io_submit.) Unless that has stopped paying
        // off (`super::batching`).
        let yielded = kicked && (!adaptive_yield || batching.should_yield());
        if yielded {
            ::tokio::task::yield_now().await;
        }
        let Some(driver) = driver.upgrade() else {
            return;
        };
        // An error has already ended the operations it concerns.
        busy.store(true, Ordering::Release);
        let before = driver.submitted();
        // Buffers' panics are caught where they run (`driver`); should anything else panic,
        // the task lives on: every future depends on it.
        let _ = catch_unwind(AssertUnwindSafe(|| driver.turn()));
        busy.store(false, Ordering::Release);
        if kicked {
            batching.after_turn(yielded, driver.submitted().wrapping_sub(before));
        }
        spin = false;
        match silent.after_turn(driver.unsignalled()) {
            Watch::Wait => {}
            Watch::Spin => spin = true,
            Watch::Timer(period) => driver.signal_after(period, silent.armed()),
        }
        if driver.needs_poll_watcher() {
            let watcher = driver.clone();
            drop(::tokio::task::spawn_blocking(move || {
                watcher.watch_emulated_polls()
            }));
        }
    }
}

/// Held by the driver task: when the task ends (its runtime shuts down and drops it), the
/// handle refuses new operations, and a thread drives those still owned to their end, so that
/// a future held outside the runtime still resolves.
struct Orphan<B: IoBuf + Send + 'static> {
    driver: Weak<Driver<B>>,
    alive: Arc<AtomicBool>,
}

impl<B: IoBuf + Send + 'static> Drop for Orphan<B> {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
        let Some(driver) = self.driver.upgrade() else {
            return;
        };
        // An emulated poll watcher on a blocking thread ends when it sees the task gone.
        driver.unpark();
        if driver.outstanding() == 0 {
            return;
        }
        drop(driver);
        let weak = self.driver.clone();
        // If no thread can be made, the operations stay owned until the last handle goes.
        let _ = std::thread::Builder::new()
            .name("aio-orphan".into())
            .spawn(move || Driver::drive_orphaned(weak));
    }
}

/// The helper task: woken by operations started while the driver task is busy, it submits
/// them from the worker it runs on (most often the one that started them) instead of leaving
/// them for the driver's next round; at most two submit at once (`driver`). Ends with the
/// driver.
async fn help<B: IoBuf + Send + 'static>(
    driver: Weak<Driver<B>>,
    helper: Arc<Notify>,
    notify: Arc<Notify>,
) {
    loop {
        helper.notified().await;
        // As the driver task: the other operations of this tick first.
        ::tokio::task::yield_now().await;
        let Some(driver) = driver.upgrade() else {
            return;
        };
        let _ = catch_unwind(AssertUnwindSafe(|| driver.turn()));
        if driver.unsignalled() > 0 {
            // Quiet operations in flight signal nothing: only the driver task watches for
            // them (`super::quiet`), and it may have looked before this turn submitted them.
            notify.notify_one();
        }
    }
}

/// The future of [`Handle::submit`]: resolves to the operation's completion.
#[must_use = "futures do nothing unless polled; the operation starts at the first poll"]
pub struct Submit<B: IoBuf + Send + 'static> {
    driver: Arc<Driver<B>>,
    stage: Stage<B>,
}

enum Stage<B> {
    Unstarted(Option<Op<B>>),
    Started(Token),
    Finished,
}

// `Submit` is never pinned structurally: the operation moves into the context.
impl<B: IoBuf + Send + 'static> Unpin for Submit<B> {}

impl<B: IoBuf + Send + 'static> Future for Submit<B> {
    type Output = Result<Completion<B>, PushError<B>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let token = match &mut this.stage {
            Stage::Unstarted(op) => {
                let Some(op) = op.take() else {
                    return Poll::Pending;
                };
                // The waker is recorded at once: no second look is needed before the driver
                // task has submitted it.
                return match this.driver.start(op, Some(cx.waker())) {
                    Ok(token) => {
                        this.stage = Stage::Started(token);
                        Poll::Pending
                    }
                    Err(refused) => {
                        this.stage = Stage::Finished;
                        Poll::Ready(Err(refused))
                    }
                };
            }
            Stage::Started(token) => *token,
            // Polled after completion: nothing more will come.
            Stage::Finished => return Poll::Pending,
        };
        match this.driver.poll_op(token, Some(cx.waker())) {
            OpPoll::Ready(completion) => {
                this.stage = Stage::Finished;
                Poll::Ready(Ok(completion))
            }
            OpPoll::Panicked(payload) => {
                // The operation's buffers panicked in the driver's hands: the panic belongs
                // to the task that awaits it.
                this.stage = Stage::Finished;
                std::panic::resume_unwind(payload)
            }
            OpPoll::Pending => Poll::Pending,
        }
    }
}

impl<B: IoBuf + Send + 'static> Drop for Submit<B> {
    fn drop(&mut self) {
        if let Stage::Started(token) = self.stage {
            self.driver.abandon(token);
        }
    }
}

impl<B: IoBuf + Send + 'static> fmt::Debug for Submit<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.stage {
            Stage::Unstarted(_) => "unstarted",
            Stage::Started(_) => "started",
            Stage::Finished => "finished",
        };
        f.debug_struct("Submit").field("stage", &stage).finish()
    }
}

/// What a future of this module resolves to: the result (the push error, or the operation's
/// own), the ready events of a poll, and the buffers.
fn outcome<B>(
    result: Result<Completion<B>, PushError<B>>,
) -> (io::Result<usize>, PollFlags, Bufs<B>) {
    match result {
        Ok(done) => {
            let (result, flags) = (done.result().map_err(io::Error::from), done.poll_flags());
            (result, flags, done.into_parts().1)
        }
        Err(refused) => (
            Err(refused.error.into()),
            PollFlags::empty(),
            refused.op.into_parts().1,
        ),
    }
}

fn one_buf<B>(result: Result<Completion<B>, PushError<B>>) -> (io::Result<usize>, B) {
    match outcome(result) {
        (result, _, Bufs::One(buf)) => (result, buf),
        // A read or write made by this module always owns exactly one buffer.
        _ => unreachable!("a read or write without its buffer"),
    }
}

fn many_bufs<B>(result: Result<Completion<B>, PushError<B>>) -> (io::Result<usize>, Vec<B>) {
    match outcome(result) {
        (result, _, Bufs::Many(bufs)) => (result, bufs),
        (result, _, _) => (result, Vec::new()),
    }
}

fn no_buf<B>(result: Result<Completion<B>, PushError<B>>) -> io::Result<usize> {
    outcome(result).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A quiet operation that stays in flight signals nothing: the driver task must find its
    /// completion by itself (yielding, then on its timer), and the future still resolves.
    /// Polls never go quiet outside tests; forced here, a poll is an operation that surely
    /// stays in flight until the test writes to the pipe.
    #[test]
    fn an_unsignalled_operation_in_flight_is_found_without_the_eventfd() {
        let runtime = ::tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let handle: Handle = match Handle::new(Builder::default().depth(4)) {
                Ok(handle) => handle,
                Err(Error::Unsupported { .. })
                    if std::env::var_os("AIO_TEST_EXPECT_ENOSYS").is_some_and(|v| v == "1") =>
                {
                    println!("ENOSYS path: unsignalled_operation: no kernel AIO here, as expected");
                    return;
                }
                Err(e) => panic!("io_setup failed on a kernel that should have AIO: {e}"),
            };
            handle.driver.with_context(|ctx| ctx.set_quiet_all());
            let (reader, writer) = rustix::pipe::pipe().unwrap();
            for round in 0..3u8 {
                let poll = ::tokio::spawn(
                    handle.poll_ready(Arc::new(reader.try_clone().unwrap()), PollFlags::IN),
                );
                // Long enough for the spins to end and a few timers to fire.
                ::tokio::time::sleep(Duration::from_millis(30)).await;
                assert!(!poll.is_finished(), "nothing to read yet");
                assert_eq!(handle.outstanding(), 1);
                rustix::io::write(&writer, &[round]).unwrap();
                let ready = ::tokio::time::timeout(Duration::from_secs(10), poll)
                    .await
                    .expect("the unsignalled completion was found")
                    .unwrap()
                    .unwrap();
                assert!(ready.contains(PollFlags::IN), "{ready:?}");
                let mut byte = [0u8];
                rustix::io::read(&reader, &mut byte).unwrap();
                assert_eq!(byte[0], round);
                assert_eq!(handle.outstanding(), 0);
            }
            assert_eq!(handle.stats().unsignalled, 3);
        });
    }
}
