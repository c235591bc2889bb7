//! Raw Linux native AIO system calls, issued by inline assembly: no libc.
//!
//! Six calls and their variants, as thin `unsafe fn`s over the kernel's entry points:
//! [`io_setup`], [`io_destroy`], [`io_submit`], [`io_cancel`], [`io_getevents`] and
//! [`io_pgetevents`] (with [`io_pgetevents_time64`] and the time32 forms of 32-bit ABIs); and
//! [`ppoll`], the wait of the `aio` crate's emulation where the kernel has no AIO; and, in
//! [`raw`], the instruction itself for the other calls a program without libc needs; and, in
//! [`ring`], reaping completions from the mapped ring without a system call. Each
//! documents the kernel behaviour it maps to, including where today's kernel differs from the
//! man pages. Errors are [`Errno`] values; compare them by name, never by number (MIPS numbers
//! differ).
//!
//! The types come from [`aio_abi`], re-exported as [`abi`]. For a safe interface use the `aio`
//! crate.
//!
//! # Architectures
//!
//! One file per architecture in `src/arch/` holds its syscall instruction and its number table
//! ([`NR`]): x86_64 and x32, i386, aarch64, arm (EABI, ARM and Thumb mode), riscv64, riscv32,
//! loongarch64, powerpc64 (both byte orders), s390x, mips (o32) and mips64 (n64). PowerPC and MIPS
//! inline assembly needs `asm_experimental_arch` (a nightly compiler or `RUSTC_BOOTSTRAP=1`);
//! without it, and on every other architecture, the crate still compiles and every call returns
//! `ENOSYS`, as does a call an ABI lacks (riscv32 has no `io_getevents`).
//!
//! # Example
//!
//! ```
//! use aio_sys::{abi::aio_context_t, io_destroy, io_setup, Errno};
//!
//! let mut ctx: aio_context_t = 0;
//! // SAFETY: `ctx` is a valid, zeroed context variable.
//! match unsafe { io_setup(8, &mut ctx) } {
//!     Ok(()) => {
//!         assert_ne!(ctx, 0);
//!         // SAFETY: `ctx` is live and nothing else uses its ring.
//!         unsafe { io_destroy(ctx) }.unwrap();
//!     }
//!     Err(e) if e == Errno::NOSYS => eprintln!("no AIO in this kernel or sandbox"),
//!     Err(e) => panic!("io_setup: {e}"),
//! }
//! ```
#![no_std]
#![cfg_attr(aio_sys_asm_experimental, feature(asm_experimental_arch))]
#![warn(missing_docs)]

mod arch;
mod context;
mod errno;
mod poll;
pub mod raw;
pub mod ring;
mod submit;
mod wait;

pub use aio_abi as abi;
pub use arch::{NR, Numbers};
pub use context::{io_destroy, io_setup};
pub use errno::Errno;
pub use poll::ppoll;
pub use submit::{io_cancel, io_submit};
pub use wait::{
    WaitPath, io_getevents, io_getevents_time32, io_pgetevents, io_pgetevents_time32,
    io_pgetevents_time64, wait_path,
};
