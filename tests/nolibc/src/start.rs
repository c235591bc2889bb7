//! What a program without libc needs around its `main`: the entry point `_start`, `exit_group`
//! by its own instruction, a panic handler, and the personality symbol the precompiled `core`
//! names. Shared by both no-libc programs (`tests/nolibc` and `tests/nolibc-safe`, which
//! includes this file by path); each defines `crate::program() -> i32`, its exit status.

// `_start` and `exit_group` below are x86_64's; another architecture needs its own.
#[cfg(not(all(
    target_arch = "x86_64",
    target_os = "linux",
    target_pointer_width = "64"
)))]
compile_error!("the no-libc programs are x86_64 Linux programs (see start.rs)");

use core::arch::{asm, global_asm};

/// The status of a panic.
pub const PANICKED: i32 = 101;

// The process entry point. The kernel starts it with `rsp` pointing at `argc` (16-byte aligned);
// clear the frame pointer for debuggers, pass that stack pointer on, and call Rust with the
// stack aligned as the System V ABI expects at a call.
global_asm!(
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    ".size _start, . - _start",
    entry = sym entry,
);

/// Called by `_start` with the initial stack pointer (unused: no arguments are needed).
extern "C" fn entry(_initial_stack: *const usize) -> ! {
    exit_group(crate::program())
}

/// `exit_group(status)`, by its own instruction: nothing of libc's exit path exists here.
pub fn exit_group(status: i32) -> ! {
    // SAFETY: exit_group (231 on x86_64) takes one integer and does not return; the `syscall`
    // instruction's clobbers do not matter to code that never runs again.
    unsafe {
        asm!(
            "syscall",
            in("rax") 231usize,
            in("rdi") status as isize,
            options(noreturn, nostack),
        )
    }
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    exit_group(PANICKED)
}

/// The precompiled `core` is built for unwinding and its unwind tables name this personality
/// routine. With `panic = "abort"` nothing ever unwinds (no unwinder is even linked), so it is
/// never called; it only has to exist for the link.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
