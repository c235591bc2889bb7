//! Safe Linux native asynchronous I/O (`io_submit` and friends), without libc.
//!
//! A [`Context`] owns every operation from [`push`](Context::push) to its [`Completion`]: the
//! buffers move into the context and come back with the result, so the kernel can never write
//! into memory Rust has freed or lent out, whatever the caller does (`mem::forget` included);
//! and the operation holds its descriptor open just as long, so it can never act on a file the
//! caller has closed (see [below](#descriptors-operations-hold-what-they-act-on)).
//! Operations are batched into one `io_submit`; completions are copied straight from the
//! kernel's mmap'd ring when possible, so a completion already there costs no system call.
//!
//! Native AIO is truly asynchronous for `O_DIRECT` files on block-based file systems and for
//! poll; buffered file I/O completes inside `io_submit`. See [`dio_alignment`] and
//! [`AlignedBuf`] for `O_DIRECT`.
//!
//! # Example: `O_DIRECT` reads at queue depth 32
//!
//! ```
//! use aio::{AlignedBuf, Context, Op};
//! use std::os::unix::fs::OpenOptionsExt;
//!
//! const BLOCK: usize = 4096;
//! let path = std::env::temp_dir().join(format!("aio-doc-{}", std::process::id()));
//! std::fs::write(&path, vec![7u8; 64 * BLOCK])?;
//! // O_DIRECT where the file system allows it (tmpfs before 6.12 does not).
//! let file = std::fs::OpenOptions::new()
//!     .read(true)
//!     .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
//!     .open(&path)
//!     .or_else(|_| std::fs::File::open(&path))?;
//!
//! let mut ctx = Context::builder().buffers::<AlignedBuf>().depth(32).build()?;
//! let file = ctx.register(file)?; // the context owns the file now; `file` is its name
//! let mut next_block = 0u64;
//! let mut done = 0;
//! while done < 64 {
//!     // Keep the queue full, then submit everything in one io_submit.
//!     while next_block < 64 && ctx.queued() + ctx.in_flight() + ctx.ready() < 32 {
//!         let buf = AlignedBuf::new(BLOCK, BLOCK)?;
//!         let op = Op::read(file, buf, next_block * BLOCK as u64).user_data(next_block);
//!         ctx.push(op)?;
//!         next_block += 1;
//!     }
//!     ctx.submit()?;
//!     ctx.wait(1, None)?;
//!     for completion in ctx.completions() {
//!         assert_eq!(completion.result(), Ok(BLOCK));
//!         assert!(completion.into_buf().unwrap().iter().all(|&b| b == 7));
//!         done += 1;
//!     }
//! }
//! # drop(ctx);
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Descriptors: operations hold what they act on
//!
//! The kernel reads an operation's descriptor number at `io_submit`, after
//! [`push`](Context::push); had the caller closed it in between, the number could name another
//! file by then (RFC 3128, I/O safety). So an [`Op`] never borrows a descriptor: it takes an
//! [`Fd`] and holds it until its completion is handed back.
//!
//! - **Registered** ([`Context::register`] → [`Fixed`]): the context owns the file; operations
//!   name it by index at no per-operation cost (like io_uring's registered files). Unregistering
//!   while operations still name it defers the close until they complete.
//! - **Shared** (`Arc<File>`, any `Arc<T: StableFd>`): one reference count per operation.
//! - **Owned** (`File`, `OwnedFd`, sockets by value): kept open by the operation, given back by
//!   [`Completion::take_fd`].
//!
//! `Op::read(&file, ..)` does not compile. A `Fixed` of another context, or one unregistered,
//! is refused at push ([`Error::NotRegistered`]).
//!
//! ```
//! use aio::{Context, Op};
//! use std::sync::Arc;
//! let mut ctx: Context = Context::new(8)?;
//! let zero = ctx.register(std::fs::File::open("/dev/zero")?)?; // owned by the context
//! let null = Arc::new(std::fs::File::options().write(true).open("/dev/null")?); // shared
//! ctx.push(Op::read(zero, vec![1; 64], 0).user_data(1))?;
//! ctx.push(Op::write(null.clone(), vec![2; 64], 0).user_data(2))?;
//! ctx.submit()?;
//! ctx.wait(2, None)?;
//! for done in ctx.completions() {
//!     assert_eq!(done.result(), Ok(64));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Without kernel AIO: the emulated backend
//!
//! Kernels built without `CONFIG_AIO`, qemu-user, rr and some sandboxes answer `ENOSYS`;
//! seccomp profiles answer `EPERM`. With
//! [`Builder::backend(Backend::KernelOrEmulated)`](Builder::backend) a program keeps working
//! there: the context runs each read, write and sync itself inside [`submit`](Context::submit)
//! (`pread`, `preadv2`, `fsync`, … through rustix) and checks polls with `ppoll(2)` when it reaps
//! or waits. Everything else is the same API with the same `res` values; only the asynchrony is
//! gone. [`Context::backend`] says which one runs; the default, [`Backend::Kernel`], reports
//! [`Error::Unsupported`] or [`Error::NotPermitted`] instead.
//!
//! ```
//! use aio::{Backend, Context, Op};
//! let mut ctx: Context = Context::builder()
//!     .depth(8)
//!     .backend(Backend::KernelOrEmulated)
//!     .build()?;
//! let zero = ctx.register(std::fs::File::open("/dev/zero")?)?;
//! ctx.push(Op::read(zero, vec![1; 64], 0))?;
//! ctx.submit()?;
//! ctx.wait(1, None)?;
//! assert_eq!(ctx.completions().next().unwrap().result(), Ok(64));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Many threads, or async tasks: [`rt`]
//!
//! A [`Context`] takes `&mut self`: one owner, no lock. To share one context (with the default
//! `std` feature), [`rt::SharedContext`] (threads: start from any thread,
//! [`Ticket::wait`][ticket-wait] blocks, one waiter collects for everyone) and, with the `tokio` feature,
//! `rt::tokio::Handle` (`read_at(..).await` from any task, batched into one `io_submit` per
//! scheduler tick, driven by the context's eventfd) put it behind a runtime-agnostic driver.
//! Dropping a future or ticket early never frees a buffer the kernel may still use, and the
//! async handle never blocks a worker thread in `io_submit`: what would block (buffered I/O
//! that misses the page cache, pipes, sockets) answers `RWF_NOWAIT`'s `EAGAIN` and runs on a
//! blocking thread instead.
//!
#![cfg_attr(all(feature = "bytes", feature = "std"), doc = include_str!("bytes.md"))]
//!
//! # Without `std`: `#![no_std]` + `alloc`
//!
//! With `default-features = false` the crate is `#![no_std]` and needs only `alloc` (a global
//! allocator): every type above but [`rt`] is there, with the same behaviour: contexts of both
//! backends, operations, [`AlignedBuf`], ring reaping, cancellation and [`Drain`], the eventfd,
//! fork detection, [`dio_alignment`], and [`Error`] implementing `core::error::Error`. Only what
//! is made of `std` needs the `std` feature: [`rt`] (threads and locks), `From<Error> for
//! std::io::Error`, and [`Fd`] from std's descriptor types (`File`, sockets, child pipes; a
//! no-std program passes rustix's [`OwnedFd`](rustix::fd::OwnedFd)). Features are additive.
//!
//! ```toml
//! [dependencies]
//! aio = { version = "0.1", default-features = false }
//! ```
//!
//! ```
//! extern crate alloc;
//! use aio::rustix::fd::OwnedFd;
//! use aio::{Context, Errno, Error, Op};
//! use alloc::{vec, vec::Vec};
//!
//! /// Writes one block through AIO: nothing here needs std.
//! fn write_block(fd: OwnedFd) -> Result<Result<usize, Errno>, Error> {
//!     let mut ctx: Context<Vec<u8>> = Context::new(8)?;
//!     let file = ctx.register(fd)?;
//!     ctx.push(Op::write(file, vec![7; 4096], 0))?;
//!     ctx.submit()?;
//!     ctx.wait(1, None)?;
//!     Ok(ctx.completions().next().map_or(Err(Errno::IO), |done| done.result()))
//! }
//! let fd = aio::rustix::fs::memfd_create("doc", aio::rustix::fs::MemfdFlags::CLOEXEC)?;
//! assert_eq!(write_block(fd)?, Ok(4096));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The system calls are rustix's (without its `std`) and [`aio_sys`]'s own inline assembly.
//! rustix issues them by inline assembly too (its `linux_raw` backend) on x86, x86_64, arm,
//! aarch64 and riscv64 little-endian, and on powerpc64le, s390x and mips with
//! `--cfg rustix_use_experimental_asm`; elsewhere it calls the C library, so that a program
//! without libc can use this crate only on those. [`aio_sys`] alone is libc-free on every ABI.
//! `tests/nolibc-safe` in the repository is such a program: static, no libc, its own `_start`
//! and allocator.
//!
//! # Layers
//!
//! This crate sits on [`aio_sys`] (the raw system calls, by inline assembly) and [`aio_abi`]
//! (the kernel's types), both re-exported, and re-exports [`rustix`], whose descriptor and
//! flag types its API takes.
//!
#![cfg_attr(
    feature = "std",
    doc = "[`rt`]: crate::rt\n[`rt::SharedContext`]: crate::rt::SharedContext\n[ticket-wait]: crate::rt::Ticket::wait"
)]
#![cfg_attr(
    not(feature = "std"),
    doc = "[`rt`]: #many-threads-or-async-tasks-rt\n[`rt::SharedContext`]: #many-threads-or-async-tasks-rt\n[ticket-wait]: #many-threads-or-async-tasks-rt"
)]
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

extern crate alloc;

mod buf;
#[cfg(feature = "bytes")]
mod buf_bytes;
mod completion;
mod context;
mod direct;
mod error;
mod fd;
#[cfg(feature = "std")]
mod file;
mod fork;
mod op;
#[cfg(feature = "std")]
mod pool;
#[cfg(feature = "std")]
pub mod rt;

/// The workspace README's Rust examples, compiled and run as doctests. They use the `tokio`
/// feature, which `cargo test --workspace` (the README's test command) enables through
/// aio-bench.
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

pub use aio_abi;
pub use aio_abi::{IoprioClass, RwFlags, kernel_sigset_t as SignalSet};
pub use aio_sys;
pub use buf::{AlignedBuf, IoBuf, IoBufMut};
pub use completion::{CancelOutcome, Completion};
pub use context::{
    Backend, Builder, Completions, Context, Drain, MAX_EVENTS, OpId, PushError, Reap, Stats,
};
pub use direct::{DEFAULT_DIO_ALIGN, DioAlignment, DioSource, dio_alignment};
pub use error::Error;
pub use fd::{Fd, Fixed, StableFd};
#[cfg(feature = "std")]
pub use file::{File, FileOptions};
pub use op::{Bufs, Op, OpKind};
#[cfg(feature = "std")]
pub use pool::{AnyBuf, BufPool, PooledBuf};
pub use rustix;
pub use rustix::event::PollFlags;
pub use rustix::io::Errno;
