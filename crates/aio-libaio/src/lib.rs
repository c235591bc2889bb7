//! A drop-in `libaio.so.1`: the C library of Linux native AIO (libaio 0.3.113, as Debian
//! bookworm ships it), built from [`aio_sys`].
//!
//! Programs linked against libaio (fio, QEMU's `aio=native`, MariaDB's InnoDB, libaio's own
//! test harness) run on it unmodified: it exports the same functions with the same symbol
//! versions (`src/symbols.rs`, `libaio.map`) and SONAME, and answers as libaio does: a negative
//! errno as the return value, `errno` untouched. They compile against the system's
//! `<libaio.h>` (its `io_prep_*` helpers are inline functions, not part of the library).
//!
//! What differs, on purpose:
//! - **`io_getevents` and `io_pgetevents` read completions from the mmap'd ring** without a
//!   system call (`aio_sys::ring`: the kernel's own acquire/release rules), and call the kernel
//!   only for what must still be waited for; libaio calls it every time unless the ring is
//!   empty and the timeout zero. Only for contexts made through this library, and never while
//!   another thread of the process is inside `io_getevents` on the same context
//!   (`src/contexts.rs`): the kernel's reader and a user-space reader must not both consume.
//! - **No libc**: the shared object needs nothing (`NEEDED` is empty), the system calls are
//!   `aio-sys`'s inline assembly. On 32-bit ABIs the timeouts are the C library's `struct
//!   timespec` with a 32-bit `time_t` (glibc's default, as Debian bookworm builds libaio),
//!   except riscv32, whose only time is 64-bit; the wait goes through `io_pgetevents_time64`
//!   where the kernel has it.
//!
//! Built with `panic = "abort"` (the workspace's release profile) the library is `#![no_std]`;
//! nothing in it panics on any input a C caller can give (no indexing, no unwrap).

#![cfg_attr(panic = "abort", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
// The functions are C's: exported through `symbols`, never called from Rust.
#![allow(clippy::missing_safety_doc)]

mod calls;
mod contexts;
mod ctypes;
mod fork;
mod symbols;

/// Without std (release builds): a panic cannot happen on any path (see the crate docs); were
/// one to, the process must not go on with the ring in an unknown state.
#[cfg(panic = "abort")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    use aio_sys::raw::{Word, syscall3};
    use linux_raw_sys::general::{__NR_exit_group, __NR_write};
    const MESSAGE: &[u8] = b"libaio.so.1 (aio-libaio): internal error, exiting\n";
    // SAFETY: write reads MESSAGE (static, its length given); exit_group takes one integer and
    // does not return.
    unsafe {
        let _ = syscall3(
            __NR_write as usize,
            [2, MESSAGE.as_ptr() as usize as Word, MESSAGE.len() as Word],
        );
        let _ = syscall3(__NR_exit_group as usize, [134, 0, 0]);
    }
    loop {}
}
