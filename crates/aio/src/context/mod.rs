//! [`Context`]: one kernel AIO context and the operations it owns.
//!
//! By role: [`builder`] creates it, [`slots`] hold the operations, [`files`] the registered
//! descriptors, [`queue`] pushes and submits, [`reap`] collects completions, [`cancel`] cancels
//! and drains; [`emulated`] runs the operations itself where the kernel has no AIO; [`quiet`]
//! lets the async driver submit reads and writes without the eventfd.

mod builder;
mod cancel;
mod emulated;
mod files;
// The driver's side of the context: submitting without the lock, offloading to blocking
// threads. Only `aio::rt` uses them, which needs `std`.
#[cfg(feature = "std")]
mod handoff;
#[cfg(feature = "std")]
mod offload;
mod queue;
mod quiet;
mod reap;
mod slots;

pub use builder::{Builder, MAX_EVENTS};
pub use cancel::Drain;
#[cfg(feature = "std")]
pub(crate) use emulated::{ROTATION as POLL_ROTATION, open_file_limit, ppoll_fds};
#[cfg(feature = "std")]
pub(crate) use handoff::Batch;
#[cfg(feature = "std")]
pub(crate) use offload::{Next, Offload};
pub use queue::PushError;
pub use reap::Completions;
pub use slots::OpId;

use crate::error::Error;
use crate::fd::{Fd, Fixed};
use crate::fork::ForkGuard;
use aio_abi::{aio_context_t, io_event, iocb};
use aio_sys::ring::Ring;
use alloc::collections::VecDeque;
use alloc::{boxed::Box, vec::Vec};
use core::fmt;
use files::Files;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use slots::Slot;

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

/// Which implementation runs a context's operations; see [`Builder::backend`].
///
/// | | [`Kernel`](Self::Kernel) | [`Emulated`](Self::Emulated) |
/// |---|---|---|
/// | reads, writes, syncs | queued by the kernel (`O_DIRECT`) or run inside `io_submit` | run one by one inside [`submit`](Context::submit) (`pread`, `preadv2`, `fsync`, …) |
/// | polls | the kernel's `IOCB_CMD_POLL` | checked with one `ppoll(2)` when reaping or waiting |
/// | completions, `res` | from the ring or `io_getevents` | made by the context, same values |
/// | needs | `CONFIG_AIO`, `io_setup` allowed | nothing: works under qemu-user, gVisor, seccomp |
///
/// The emulation keeps every promise of the API (ownership, exactly one completion per
/// operation, depth and [`Error::QueueFull`], [`OpId`]s, cancel, drain, fork detection, the
/// eventfd), but none of it is asynchronous: each read or write takes the thread that submits
/// it for as long as the file system needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Native AIO (`io_setup`); without it, [`build`](Builder::build) fails with
    /// [`Error::Unsupported`] (`ENOSYS`) or [`Error::NotPermitted`] (`EPERM`). The default.
    #[default]
    Kernel,
    /// The context runs the operations itself with the equivalent synchronous system calls;
    /// the kernel's AIO is never used.
    ///
    /// Results are those `io_submit` and the kernel's completions give, refusals included
    /// (an offset above `i64::MAX`, more than 1024 buffers, a read of a directory, a stream
    /// without `read_iter`/`write_iter` such as an inotify descriptor, a poll that could never
    /// complete: `EINVAL`), and a poll's mask (what submit found ready, or the wake-up's
    /// events: a pipe's `POLLIN | POLLRDNORM`). Known differences (measured on Linux 6.18):
    ///
    /// - a file with positions whose driver has only a plain `read`/`write` (procfs's
    ///   `/proc/<pid>/status`, `stat`, `cmdline`, `environ`, `maps`) is read or written where
    ///   `io_submit` answers `EINVAL`;
    /// - a poll for none of `POLLIN`/`POLLOUT` of a file whose poll method queues no wait
    ///   (`/proc/meminfo`) stays pending where `io_submit` answers `EINVAL`;
    /// - a woken poll of a socket lacks the `POLLPRI | POLLRDBAND` of the kernel's wake-up.
    Emulated,
    /// Native AIO where `io_setup` works; [`Emulated`](Self::Emulated) where it answers
    /// `ENOSYS` (no `CONFIG_AIO`, qemu-user, rr) or `EPERM` (seccomp, sandboxes). Any other
    /// `io_setup` error (the system-wide limit, memory) is still reported.
    /// [`Context::backend`] says which one was chosen.
    KernelOrEmulated,
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
    /// [`Backend::Emulated`]: operations the context ran itself (counted in `submitted` too).
    pub emulated: u64,
    /// [`Backend::Emulated`]: `ppoll(2)` calls made to check pending polls.
    pub poll_calls: u64,
    /// Operations the async driver (`aio::rt`) ran on blocking threads: would-block
    /// answers to `RWF_NOWAIT`, and every read, write and sync of the emulated backend.
    pub offloaded: u64,
    /// Operations the async driver (`aio::rt`) submitted without asking the kernel to signal
    /// the eventfd (`IOCB_FLAG_RESFD`), because the kernel was completing its reads and
    /// writes inside `io_submit`; see `aio::rt::tokio::Handle`.
    pub unsignalled: u64,
}

/// A kernel AIO context that owns its operations' buffers and descriptors from push to
/// completion (or, with [`Backend::Emulated`], the same API run by the context itself where the
/// kernel has no AIO).
///
/// - [`push`](Self::push) queues an operation (no system call); [`submit`](Self::submit)
///   hands every queued operation to the kernel in one `io_submit` (more only after a short
///   count).
/// - [`wait`](Self::wait) blocks until completions are available; [`completions`](Self::completions)
///   drains them, each with its buffers and descriptor. With [`Reap::Ring`] completions already
///   in the ring are collected without a system call.
/// - [`cancel`](Self::cancel) attempts to cancel one operation; [`drain`](Self::drain) ends
///   everything the context owns and yields each remaining completion.
/// - [`register`](Self::register) gives the context a descriptor that operations then name by a
///   [`Fixed`] at no per-operation cost.
///
/// Every pushed operation produces exactly one [`Completion`](crate::Completion). Dropping the
/// context calls `io_destroy`, which waits for in-flight operations, **before** any buffer is
/// freed or descriptor closed, and discards the results not yet handed back (use
/// [`drain`](Self::drain) to have them); leaking it with `mem::forget` leaks the buffers too, so
/// the kernel can never write into freed memory. Reaping takes `&mut self`, so there is never
/// more than one consumer of the ring.
///
/// `B` is the buffer type of every operation on this context (`Vec<u8>` by default); use an enum
/// or a box to mix kinds.
///
/// Memory: [`BYTES_PER_SLOT`](Self::BYTES_PER_SLOT) per unit of depth, all allocated by
/// [`build`](Builder::build).
pub struct Context<B = Vec<u8>> {
    /// The kernel context; 0 with the emulated backend.
    ctx: aio_context_t,
    /// [`Backend::Emulated`]: the context runs the operations itself.
    emulated: Option<emulated::Emulation>,
    /// Unique per context in this process: names the context in [`OpId`] and [`Fixed`].
    serial: u64,
    /// The sequence number the next pushed operation gets.
    next_seq: u64,
    slots: Box<[Slot<B>]>,
    free: Vec<u32>,
    pending: Vec<u32>,
    /// Completed operations not yet handed back: slot and `io_event.res`.
    ready: VecDeque<(u32, i64)>,
    events: Box<[io_event]>,
    iocb_ptrs: Vec<*mut iocb>,
    files: Files,
    ring: Option<Ring>,
    eventfd: Option<OwnedFd>,
    fork_guard: ForkGuard,
    in_flight: usize,
    /// Reads and writes are pushed without `IOCB_FLAG_RESFD` ([`quiet`]).
    quiet_io: bool,
    /// Operations in flight pushed that way: their completions do not signal the eventfd.
    quiet_in_flight: usize,
    /// Tests only: every kind goes quiet, polls too (an operation that surely stays in flight).
    #[cfg(test)]
    quiet_all: bool,
    /// Operations a blocking thread runs for the async driver ([`offload`]).
    offloaded: usize,
    stats: Stats,
}

// SAFETY: the raw pointers point into memory the context owns (its slots, its scratch vectors)
// or into its kernel ring mapping, all usable from any thread; buffers move with `B: Send`, and
// held descriptors are `Send` (`OwnedFd`, `Arc<dyn AsFd + Send + Sync>`, `BorrowedFd<'static>`).
unsafe impl<B: Send> Send for Context<B> {}

/// An `io_event.res` for an error: the negative errno.
pub(crate) fn negative(errno: Errno) -> i64 {
    -i64::from(errno.raw_os_error())
}

/// A process-wide serial number for a new context.
fn next_serial() -> u64 {
    #[cfg(target_has_atomic = "64")]
    {
        use core::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
    #[cfg(not(target_has_atomic = "64"))]
    {
        // 32-bit targets without 64-bit atomics (mips o32, powerpc): a 32-bit counter, which
        // repeats only after 2^32 contexts (each an io_setup and io_destroy) in one process.
        use core::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(1);
        u64::from(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Context {
    /// A builder with the defaults: depth 128, no eventfd, [`Reap::Ring`], `Vec<u8>` buffers
    /// ([`Builder::buffers`] chooses others).
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl<B: crate::IoBuf> Context<B> {
    /// A context for `depth` operations with the default options.
    pub fn new(depth: u32) -> Result<Self, Error> {
        Builder::<B>::default().depth(depth).build()
    }
}

impl<B> Context<B> {
    /// Registers `fd` with the context: the context owns it (or its share of an `Arc`) until
    /// [`unregister`](Self::unregister) or drop, and operations name it by the returned
    /// [`Fixed`] at no per-operation cost. Makes no system call; allocates only to grow the
    /// table.
    ///
    /// ```
    /// use aio::{Context, Op};
    /// let mut ctx: Context = Context::new(4)?;
    /// let file = ctx.register(std::fs::File::open("/dev/zero")?)?;
    /// ctx.push(Op::read(file, vec![1; 512], 0))?;
    /// ctx.submit()?;
    /// ctx.wait(1, None)?;
    /// let done = ctx.completions().next().unwrap();
    /// assert_eq!(done.result(), Ok(512));
    /// // Nothing names it any more: the file comes back at once.
    /// let fd = ctx.unregister(file)?.unwrap();
    /// let _file = std::fs::File::from(fd.into_owned().unwrap());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a `Fixed` (already registered); [`Error::OutOfMemory`].
    pub fn register(&mut self, fd: impl Into<Fd>) -> Result<Fixed, Error> {
        self.files.register(self.serial, fd.into())
    }

    /// Ends the registration of `file`: new operations naming it are refused
    /// ([`Error::NotRegistered`]). Returns the descriptor when no operation names it any more;
    /// otherwise `None`, and the context closes it (drops it) when the last completion naming
    /// it is handed back, so those operations still act on the right file.
    ///
    /// # Errors
    /// [`Error::NotRegistered`] if `file` is not registered with this context.
    pub fn unregister(&mut self, file: Fixed) -> Result<Option<Fd>, Error> {
        self.files.unregister(self.serial, file)
    }

    /// The descriptors registered, including those unregistered but still named by operations.
    pub fn registered(&self) -> usize {
        self.files.len()
    }

    /// The eventfd signalled on every completion, if the context was built with one: register
    /// it with epoll or an async runtime, then [`reap`](Self::reap). Non-blocking, close-on-exec.
    /// `None` in a child process after `fork`: the counter there is the parent's.
    pub fn eventfd(&self) -> Option<BorrowedFd<'_>> {
        if self.fork_guard.forked() {
            return None;
        }
        self.eventfd.as_ref().map(|fd| fd.as_fd())
    }

    /// Reads and resets the eventfd's counter: the completions signalled since the last read
    /// (0 if none, or without an eventfd).
    ///
    /// # Errors
    /// [`Error::Forked`] in a child process (the counter is the parent's).
    pub fn take_eventfd_count(&self) -> Result<u64, Error> {
        self.check_fork()?;
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

    /// Operations the context owns: queued, in flight and ready (`depth()` minus free slots).
    pub fn owned(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The backend that runs this context's operations: [`Backend::Kernel`] or
    /// [`Backend::Emulated`] (never `KernelOrEmulated`, which chooses one of them at build).
    ///
    /// ```
    /// use aio::{Backend, Context};
    /// let ctx: Context = Context::builder().backend(Backend::Emulated).build()?;
    /// assert_eq!(ctx.backend(), Backend::Emulated);
    /// assert_eq!(ctx.as_raw(), None); // no kernel context behind it
    /// # Ok::<(), aio::Error>(())
    /// ```
    pub fn backend(&self) -> Backend {
        if self.emulated.is_some() {
            Backend::Emulated
        } else {
            Backend::Kernel
        }
    }

    /// Whether completions are read from the ring in user space. Always `false` with
    /// [`Backend::Emulated`], which has no ring.
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

    /// The kernel context id (the ring's address), for use with `aio-sys` directly; `None` with
    /// [`Backend::Emulated`], where no kernel context exists.
    pub fn as_raw(&self) -> Option<aio_context_t> {
        self.emulated.is_none().then_some(self.ctx)
    }

    #[inline]
    /// Whether this is a child process forked after the context was made.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn forked(&self) -> bool {
        self.fork_guard.forked()
    }

    fn check_fork(&self) -> Result<(), Error> {
        if self.fork_guard.forked() {
            Err(Error::Forked)
        } else {
            Ok(())
        }
    }

    /// Completes `index` without the kernel: rejected at submit, or cancelled before it. The
    /// callers have checked for fork, so the eventfd is this process's own.
    fn complete_locally(&mut self, index: u32, errno: Errno) {
        self.slots[index as usize].state = slots::State::Ready;
        self.ready.push_back((index, negative(errno)));
        self.stats.local_completions += 1;
        self.signal_eventfd(1);
    }

    /// Adds `completions` to the eventfd's counter, as the kernel does for its completions, so
    /// that a caller sleeping on the eventfd wakes for the context's own completions too. The
    /// callers have checked for fork, so the eventfd is this process's own; the counter cannot
    /// overflow (2^64 - 2 unread).
    fn signal_eventfd(&self, completions: u64) {
        if let (Some(fd), 1..) = (&self.eventfd, completions) {
            let _ = rustix::io::write(fd, &completions.to_ne_bytes());
        }
    }
}

impl<B> Drop for Context<B> {
    fn drop(&mut self) {
        if self.fork_guard.forked() {
            // A child's copies of the buffers are its own; the kernel's requests belong to the
            // parent's address space, and the context is not the child's to destroy.
            return;
        }
        if self.emulated.is_some() {
            // No kernel context: the pending polls are the context's own records, and nothing
            // outside this process uses the buffers.
            return;
        }
        if self.in_flight > 0 {
            // io_destroy waits for in-flight requests only since the 2014 fix "aio: block
            // io_destroy() until all context requests are completed" (before, it returned at
            // once): cancel the polls and collect everything first, so that no kernel still has
            // a request on these buffers when they are freed.
            self.settle();
        }
        // SAFETY: this process created the context; `&mut self` rules out a concurrent reaper,
        // and the ring is not used after this.
        let destroyed = unsafe { aio_sys::io_destroy(self.ctx) };
        if destroyed.is_err() && self.in_flight > 0 {
            // io_destroy did not confirm that the kernel is done with the buffers: leak them
            // rather than risk the kernel writing into freed memory.
            core::mem::forget(core::mem::take(&mut self.slots));
        }
    }
}

impl<B> fmt::Debug for Context<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("backend", &self.backend())
            .field("ctx", &format_args!("{:#x}", self.ctx))
            .field("depth", &self.slots.len())
            .field("queued", &self.pending.len())
            .field("in_flight", &self.in_flight)
            .field("ready", &self.ready.len())
            .field("registered", &self.files.len())
            .field("ring_slots", &self.ring.as_ref().map(Ring::slots))
            .field("eventfd", &self.eventfd)
            .field("offloaded", &self.offloaded)
            .field("stats", &self.stats)
            .finish()
    }
}

#[cfg(test)]
mod tests;
