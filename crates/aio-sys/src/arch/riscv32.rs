//! riscv32: the `ecall` instruction.
//!
//! Number in `a7`, arguments in `a0`–`a5`, result in `a0`. riscv32 was born with 64-bit time:
//! it has no `io_getevents` and no `io_pgetevents`, only `io_pgetevents_time64` (416).

use super::Numbers;
use core::arch::asm;

/// A register: 32 bits.
pub type Word = usize;

/// riscv32 (`include/uapi/asm-generic/unistd.h` without `__ARCH_WANT_TIME32_SYSCALLS`).
pub const NR: Numbers = Numbers {
    io_setup: Some(0),
    io_destroy: Some(1),
    io_submit: Some(2),
    io_cancel: Some(3),
    io_getevents: None,
    io_pgetevents: None,
    io_pgetevents_time64: Some(416),
    ppoll: None,
    ppoll_time64: Some(414),
};

/// Issues system call `nr` with three arguments.
///
/// # Safety
/// `nr` and the arguments must satisfy that system call's contract (valid pointers, sizes).
#[inline]
pub(crate) unsafe fn syscall3(nr: Word, a0: Word, a1: Word, a2: Word) -> Word {
    let ret;
    // SAFETY: the caller upholds the call's contract; `ecall` reads a7 and a0–a5 and writes only a0, without touching the stack.
    unsafe {
        asm!(
            "ecall",
            in("a7") nr,
            inlateout("a0") a0 => ret,
            in("a1") a1,
            in("a2") a2,
            options(nostack, preserves_flags),
        );
    }
    ret
}

/// Issues system call `nr` with six arguments.
///
/// # Safety
/// As for [`syscall3`].
#[inline]
pub(crate) unsafe fn syscall6(
    nr: Word,
    a0: Word,
    a1: Word,
    a2: Word,
    a3: Word,
    a4: Word,
    a5: Word,
) -> Word {
    let ret;
    // SAFETY: as in `syscall3`.
    unsafe {
        asm!(
            "ecall",
            in("a7") nr,
            inlateout("a0") a0 => ret,
            in("a1") a1,
            in("a2") a2,
            in("a3") a3,
            in("a4") a4,
            in("a5") a5,
            options(nostack, preserves_flags),
        );
    }
    ret
}
