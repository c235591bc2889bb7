//! [`Builder`]: the options of a context, checked and allocated up front so that building never
//! aborts and no operation allocates afterwards.

use super::emulated::Emulation;
use super::files::Files;
use super::slots::Slot;
use super::{Backend, Context, Reap, next_serial};
use crate::buf::IoBuf;
use crate::error::{Error, read_proc_number};
use crate::fork::ForkGuard;
use aio_abi::{aio_context_t, io_event, iocb};
use aio_sys::ring::Ring;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;
use rustix::event::{EventfdFlags, eventfd};
use rustix::io::Errno;

/// The largest `nr_events` one kernel context can take: `io_setup` doubles the request and
/// refuses rings above 256 MiB of `io_event`s (`fs/aio.c`, `ioctx_alloc`) with `EINVAL`. It is
/// also this crate's largest [`depth`](Builder::depth). The system-wide `/proc/sys/fs/aio-max-nr`
/// (65536 by default) usually binds first.
pub const MAX_EVENTS: u32 = 0x1000_0000 / (core::mem::size_of::<io_event>() as u32) / 2;

/// Options for a [`Context`] of buffers `B`: `Context::builder().depth(64).eventfd(true).build()`.
///
/// [`Context::builder`] starts one for the default buffers, `Vec<u8>`, so that `build` needs
/// no type annotation; [`buffers`](Self::buffers) switches to another buffer type:
///
/// ```
/// use aio::{AlignedBuf, Context};
/// let plain = Context::builder().depth(8).build()?; // Context<Vec<u8>>
/// let direct = Context::builder().buffers::<AlignedBuf>().depth(8).build()?; // Context<AlignedBuf>
/// # let _ = (plain, direct);
/// # Ok::<(), aio::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<B = Vec<u8>> {
    pub(super) depth: u32,
    pub(super) kernel_events: Option<u32>,
    pub(super) eventfd: bool,
    pub(super) reap: Reap,
    pub(super) backend: Backend,
    buffers: PhantomData<fn() -> B>,
}

impl<B> Clone for Builder<B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B> Copy for Builder<B> {}

impl<B> fmt::Debug for Builder<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("buffers", &core::any::type_name::<B>())
            .field("depth", &self.depth)
            .field("kernel_events", &self.kernel_events)
            .field("eventfd", &self.eventfd)
            .field("reap", &self.reap)
            .field("backend", &self.backend)
            .finish()
    }
}

impl<B> Default for Builder<B> {
    fn default() -> Self {
        Self {
            depth: 128,
            kernel_events: None,
            eventfd: false,
            reap: Reap::Ring,
            backend: Backend::Kernel,
            buffers: PhantomData,
        }
    }
}

impl<B> Builder<B> {
    /// The same options for a context of buffers `C` (an [`AlignedBuf`](crate::AlignedBuf)
    /// for `O_DIRECT`, say, or a type of your own that implements [`IoBuf`]).
    pub fn buffers<C>(self) -> Builder<C> {
        Builder {
            depth: self.depth,
            kernel_events: self.kernel_events,
            eventfd: self.eventfd,
            reap: self.reap,
            backend: self.backend,
            buffers: PhantomData,
        }
    }

    /// How many operations the context can own at once (pushed, in flight or completed but not
    /// yet handed back), 1 to [`MAX_EVENTS`]; also the `nr_events` passed to `io_setup` and
    /// charged against `/proc/sys/fs/aio-max-nr`. Default 128.
    ///
    /// Every slot is allocated by [`build`](Self::build):
    /// [`Context::<B>::BYTES_PER_SLOT`](Context::BYTES_PER_SLOT) bytes each (about 250 for
    /// `Vec<u8>` buffers on 64-bit targets), plus the kernel's ring (32 bytes per event, in
    /// pinned pages).
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
    ///
    /// With [`Backend::Emulated`] the context writes it for every completion it makes. Reads
    /// and writes complete inside [`submit`](Context::submit), so their signal comes at once;
    /// but a pending poll is only checked when the context reaps or waits (nothing runs in the
    /// background), so a loop that sleeps on the eventfd alone would not wake for it: sleep on
    /// the polled descriptors too, or use [`Context::wait`].
    pub fn eventfd(mut self, on: bool) -> Self {
        self.eventfd = on;
        self
    }

    /// How completions are reaped. Default [`Reap::Ring`]. The emulated backend has no ring and
    /// ignores this.
    pub fn reap(mut self, reap: Reap) -> Self {
        self.reap = reap;
        self
    }

    /// Which implementation runs the operations. Default [`Backend::Kernel`]: native AIO or a
    /// typed error. [`Backend::KernelOrEmulated`] keeps a program working where the kernel has
    /// no AIO or forbids it, at the cost of running each read and write synchronously inside
    /// [`submit`](Context::submit); [`Context::backend`] reports the choice.
    ///
    /// The emulated backend has no kernel ring: [`kernel_events`](Self::kernel_events) and
    /// [`reap`](Self::reap) do not apply, `io_submit` never answers `EAGAIN`, and nothing is
    /// charged against `aio-max-nr`. Everything else (depth, [`Error::QueueFull`], ids, cancel,
    /// drain, fork detection, the eventfd, [`Stats`](super::Stats)) behaves as with the kernel.
    ///
    /// ```
    /// use aio::{Backend, Context, Op};
    /// let mut ctx: Context = Context::builder().backend(Backend::KernelOrEmulated).build()?;
    /// // Kernel AIO on a kernel that has it; the emulation under qemu-user or seccomp.
    /// println!("running on {:?}", ctx.backend());
    /// let zero = ctx.register(std::fs::File::open("/dev/zero")?)?;
    /// ctx.push(Op::read(zero, vec![1; 512], 0))?;
    /// ctx.submit()?;
    /// ctx.wait(1, None)?;
    /// let done = ctx.completions().next().unwrap();
    /// assert_eq!(done.result(), Ok(512));
    /// assert!(done.into_buf().unwrap().iter().all(|&b| b == 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Creates the context (`io_setup`), its eventfd if asked, and every slot, so that no
    /// operation allocates afterwards. Never aborts: sizes are checked and memory is reserved
    /// fallibly before the kernel is asked.
    ///
    /// # Errors
    /// - [`Error::InvalidInput`] for depth 0;
    /// - [`Error::DepthLimit`] above [`MAX_EVENTS`];
    /// - [`Error::OutOfMemory`] when the slots cannot be allocated;
    /// - [`Error::ContextLimit`] when `aio-max-nr` would be exceeded (`EAGAIN`);
    /// - [`Error::Unsupported`] without kernel AIO (`ENOSYS`), with [`Backend::Kernel`];
    /// - [`Error::NotPermitted`] when a sandbox or seccomp policy forbids it (`EPERM`), with
    ///   [`Backend::Kernel`];
    /// - [`Error::Os`] otherwise (`eventfd` failing, say).
    ///
    /// ```
    /// use aio::{Context, Error};
    /// let err = Context::builder().depth(u32::MAX).build().unwrap_err();
    /// assert!(matches!(err, Error::DepthLimit { requested: u32::MAX, .. }));
    /// ```
    pub fn build(self) -> Result<Context<B>, Error>
    where
        B: IoBuf,
    {
        let nr_events = self.kernel_events.unwrap_or(self.depth);
        if self.depth == 0 || nr_events == 0 {
            return Err(Error::InvalidInput(
                "Context depth and kernel events must be at least 1",
            ));
        }
        for requested in [self.depth, nr_events] {
            if requested > MAX_EVENTS {
                return Err(Error::DepthLimit {
                    requested,
                    limit: MAX_EVENTS,
                });
            }
        }
        let depth = self.depth as usize;
        let memory = Memory::<B>::reserve(depth)?;

        let fork_guard = ForkGuard::new();
        let (ctx, emulated) = match self.backend {
            Backend::Kernel => (setup(nr_events)?, None),
            Backend::Emulated => (0, Some(Emulation::new(depth)?)),
            Backend::KernelOrEmulated => match setup(nr_events) {
                Ok(ctx) => (ctx, None),
                Err(Error::Unsupported { .. } | Error::NotPermitted { .. }) => {
                    (0, Some(Emulation::new(depth)?))
                }
                Err(error) => return Err(error),
            },
        };
        let eventfd = if self.eventfd {
            match eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK) {
                Ok(fd) => Some(fd),
                Err(errno) => {
                    if emulated.is_none() {
                        // SAFETY: nothing was submitted on the context created above.
                        let _ = unsafe { aio_sys::io_destroy(ctx) };
                    }
                    return Err(Error::from_call("eventfd", errno));
                }
            }
        } else {
            None
        };
        let ring = match (self.reap, &emulated) {
            // SAFETY: `ctx` is the live context just created by this process.
            (Reap::Ring, None) => unsafe { Ring::new(ctx) },
            _ => None,
        };
        let Memory {
            mut slots,
            mut free,
            pending,
            ready,
            mut events,
            iocb_ptrs,
        } = memory;
        slots.extend((0..depth).map(|_| Slot::new()));
        free.extend((0..self.depth).rev());
        events.resize(depth, io_event::default());
        Ok(Context {
            ctx,
            emulated,
            serial: next_serial(),
            next_seq: 0,
            slots: slots.into_boxed_slice(),
            free,
            pending,
            ready,
            events: events.into_boxed_slice(),
            iocb_ptrs,
            files: Files::default(),
            ring,
            eventfd,
            fork_guard,
            in_flight: 0,
            quiet_io: false,
            quiet_in_flight: 0,
            #[cfg(test)]
            quiet_all: false,
            offloaded: 0,
            stats: Default::default(),
        })
    }
}

/// `io_setup`, with its errors mapped to what they mean.
fn setup(nr_events: u32) -> Result<aio_context_t, Error> {
    let mut ctx: aio_context_t = 0;
    // SAFETY: `ctx` is a valid, zeroed context variable.
    match unsafe { aio_sys::io_setup(nr_events, &mut ctx) }.map_err(Errno::from) {
        Ok(()) => Ok(ctx),
        Err(Errno::AGAIN) => Err(Error::ContextLimit {
            requested: nr_events,
            aio_nr: read_proc_number("/proc/sys/fs/aio-nr"),
            aio_max_nr: read_proc_number("/proc/sys/fs/aio-max-nr"),
        }),
        // The kernel's ring: 32 bytes an event, doubled, in whole pages.
        Err(Errno::NOMEM) => Err(Error::OutOfMemory {
            what: "kernel AIO ring (io_setup)",
            bytes: (nr_events as usize).saturating_mul(2 * core::mem::size_of::<io_event>()),
        }),
        Err(errno) => Err(Error::from_call("io_setup", errno)),
    }
}

/// Every allocation of a context, reserved fallibly before anything is created.
struct Memory<B> {
    slots: Vec<Slot<B>>,
    free: Vec<u32>,
    pending: Vec<u32>,
    ready: VecDeque<(u32, i64)>,
    events: Vec<io_event>,
    iocb_ptrs: Vec<*mut iocb>,
}

impl<B: IoBuf> Memory<B> {
    fn reserve(depth: usize) -> Result<Self, Error> {
        let out_of_memory = |_| Error::OutOfMemory {
            what: "context slots",
            bytes: depth.saturating_mul(Context::<B>::BYTES_PER_SLOT),
        };
        let mut memory = Self {
            slots: Vec::new(),
            free: Vec::new(),
            pending: Vec::new(),
            ready: VecDeque::new(),
            events: Vec::new(),
            iocb_ptrs: Vec::new(),
        };
        memory
            .slots
            .try_reserve_exact(depth)
            .map_err(out_of_memory)?;
        memory
            .free
            .try_reserve_exact(depth)
            .map_err(out_of_memory)?;
        memory
            .pending
            .try_reserve_exact(depth)
            .map_err(out_of_memory)?;
        memory
            .ready
            .try_reserve_exact(depth)
            .map_err(out_of_memory)?;
        memory
            .events
            .try_reserve_exact(depth)
            .map_err(out_of_memory)?;
        memory
            .iocb_ptrs
            .try_reserve_exact(depth)
            .map_err(out_of_memory)?;
        Ok(memory)
    }
}

impl<B: IoBuf> Context<B> {
    /// The bytes [`build`](Builder::build) allocates per unit of [`depth`](Builder::depth): the
    /// slot (its `iocb`, buffers `B`, descriptor and bookkeeping), its `io_event`, and its
    /// entries in the free, queued, ready and submission lists. A readv/writev slot later adds
    /// its iovec array. The kernel's ring is separate (32 bytes per event).
    pub const BYTES_PER_SLOT: usize = core::mem::size_of::<Slot<B>>()
        + core::mem::size_of::<io_event>()
        + 2 * core::mem::size_of::<u32>()
        + core::mem::size_of::<(u32, i64)>()
        + core::mem::size_of::<*mut iocb>();
}
