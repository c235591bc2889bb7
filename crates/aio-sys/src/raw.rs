//! The system call instruction itself, for the few calls besides AIO that a program without libc
//! needs: a pipe or a file to do I/O on, `exit_group` at the end.
//!
//! Where rustix's `linux_raw` backend exists (x86, x86_64, and arm, aarch64 and riscv64
//! little-endian on a stable compiler) it offers those calls safely, and a program should use it.
//! Everywhere else rustix uses its libc backend (see [`Errno`] for the list), and a program with
//! no C library has nothing else: these are the two call shapes the AIO wrappers use (one file
//! per architecture in `src/arch/`), with the same error convention: the kernel's `-4095..=-1`
//! (MIPS `a3`, PowerPC `cr0.SO` normalised) becomes an [`Errno`].
//!
//! The numbers are the target's own: take them from `linux-raw-sys`'s `general` module
//! (`__NR_pipe2`, `__NR_exit_group`, …), which on x32 already carry `__X32_SYSCALL_BIT`. On an
//! architecture this crate has no instruction for, every call returns `ENOSYS` without reaching
//! the kernel.
//!
//! # Example
//!
//! ```
//! use aio_sys::raw::{syscall3, Word};
//! use linux_raw_sys::general::__NR_getpid;
//!
//! // SAFETY: getpid takes no arguments and touches no memory.
//! let pid = unsafe { syscall3(__NR_getpid as usize, [0; 3]) }.unwrap();
//! assert_eq!(pid, std::process::id() as Word);
//! ```

use crate::Errno;
use crate::arch;

/// A register as the system call instruction takes and returns it: `usize`, except on x32,
/// whose 64-bit registers are wider than its pointers (`u64`).
///
/// Pass a C `long` sign-extended (`value as i64 as Word` on x32) and a pointer zero-extended
/// (`ptr as usize as Word`).
pub use crate::arch::Word;

/// Issues system call `nr` with up to three arguments (pass zeros for the rest).
///
/// Returns the kernel's non-negative result, or its error as an [`Errno`]. A call that does not
/// return (`exit_group`) never comes back here.
///
/// # Safety
/// `nr` must be this ABI's number of the call meant, and the arguments must satisfy that call's
/// contract: pointers valid for what the kernel reads or writes through them, for as long as it
/// does; descriptors the caller owns or may act on. A call can do anything the process may do.
#[inline]
pub unsafe fn syscall3(nr: usize, args: [Word; 3]) -> Result<Word, Errno> {
    let [a0, a1, a2] = args;
    // SAFETY: the caller vouches for the number and the arguments.
    unsafe { arch::call3(Some(nr), a0, a1, a2) }
}

/// Issues system call `nr` with up to six arguments (pass zeros for the rest). On MIPS o32 the
/// fifth and sixth go on the stack, as the kernel expects.
///
/// # Safety
/// As [`syscall3`].
#[inline]
pub unsafe fn syscall6(nr: usize, args: [Word; 6]) -> Result<Word, Errno> {
    // SAFETY: the caller vouches for the number and the arguments.
    unsafe { arch::call6(Some(nr), args) }
}
