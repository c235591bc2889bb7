//! The Linux native asynchronous I/O ABI, as plain `#[repr(C)]` data.
//!
//! This crate mirrors `include/uapi/linux/aio_abi.h` plus the two kernel structures user space
//! relies on that the header does not export: the completion ring header (`struct aio_ring`,
//! private to `fs/aio.c` but mapped into every process that calls `io_setup`) and the signal-mask
//! argument of `io_pgetevents` (`struct __aio_sigset`).
//!
//! It holds no logic and makes no system calls; `aio-sys` issues the calls and `aio` wraps them
//! safely. Names follow the kernel so that the header and this crate read side by side.
//!
//! # Layout checks
//!
//! Every type's size, alignment and field offsets are asserted at compile time for each
//! architecture and byte order this crate supports, one file per architecture in the source
//! folder `src/arch/` (`<target_arch>.rs`). A mismatch fails the build
//! on that target rather than corrupting memory at run time. On an architecture without such a
//! file the types still compile, derived from the same C rules, but unchecked.
//!
//! # Byte order
//!
//! [`iocb`] is the one structure whose field order depends on the byte order: the kernel's
//! `PADDED` macro swaps `aio_key` and `aio_rw_flags` on big-endian machines, so that the pair
//! overlays a 64-bit field the same way on both. The kernel does **not** reject a wrong slot: it
//! overwrites `aio_key` with zero and silently ignores flags written into it.
//!
//! ```
//! use aio_abi::{iocb, IocbCmd, RwFlags};
//!
//! let mut cb = iocb::default();
//! cb.aio_lio_opcode = IocbCmd::Pwrite as u16;
//! cb.aio_rw_flags = RwFlags::APPEND.bits();
//! assert_eq!(core::mem::size_of::<iocb>(), 64);
//! ```
#![no_std]
#![allow(non_camel_case_types)]
#![warn(missing_docs)]

mod arch;
mod event;
mod flags;
mod ioprio;
mod layout;
mod poll;
mod request;
mod ring;
mod signal;
mod time;

pub use event::io_event;
pub use flags::{__kernel_rwf_t, IOCB_FLAG_IOPRIO, IOCB_FLAG_RESFD, IocbFlags, RwFlags};
pub use ioprio::{
    IOPRIO_BE_NR, IOPRIO_CLASS_SHIFT, IOPRIO_PRIO_MASK, IoprioClass, ioprio_class, ioprio_level,
    ioprio_value,
};
pub use poll::pollfd;
pub use request::{
    IOCB_CMD_FDSYNC, IOCB_CMD_FSYNC, IOCB_CMD_NOOP, IOCB_CMD_POLL, IOCB_CMD_PREAD, IOCB_CMD_PREADV,
    IOCB_CMD_PREADX, IOCB_CMD_PWRITE, IOCB_CMD_PWRITEV, IocbCmd, iocb,
};
pub use ring::{
    AIO_RING_COMPAT_FEATURES, AIO_RING_HEADER_LENGTH, AIO_RING_INCOMPAT_FEATURES, AIO_RING_MAGIC,
    aio_ring,
};
pub use signal::{__aio_sigset, _NSIG, KERNEL_SIGSET_SIZE, kernel_sigset_t};
pub use time::{__kernel_timespec, old_timespec32};

/// The kernel's `unsigned long` as seen by user space (`__kernel_ulong_t`).
///
/// Pointer-sized everywhere except x32, where the kernel is 64-bit and user pointers are 32-bit:
/// there it is 64 bits wide.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
pub type __kernel_ulong_t = u64;
/// The kernel's `unsigned long` as seen by user space (`__kernel_ulong_t`).
///
/// Pointer-sized everywhere except x32, where the kernel is 64-bit and user pointers are 32-bit:
/// there it is 64 bits wide.
#[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
pub type __kernel_ulong_t = usize;

/// The kernel's `size_t` as seen by user space (`__kernel_size_t`): 64-bit on x32.
pub type __kernel_size_t = __kernel_ulong_t;

/// An AIO context handle, as returned by `io_setup(2)` (`aio_context_t`).
///
/// Its value is the user-space address of the context's mmap'd completion ring ([`aio_ring`]).
/// It is `__kernel_ulong_t`: 8 bytes on 64-bit architectures **and on x32**, 4 bytes on 32-bit
/// ones. `io_setup` requires it to be zero on entry.
pub type aio_context_t = __kernel_ulong_t;
