//! aarch64: the `svc 0` instruction.
//!
//! Number in `x8`, arguments in `x0`–`x5`, result in `x0`; nothing else is clobbered. The numbers
//! are the asm-generic table.

use super::Numbers;
use core::arch::asm;

/// A register: 64 bits.
pub type Word = usize;

/// aarch64 (`include/uapi/asm-generic/unistd.h`).
pub const NR: Numbers = Numbers {
    io_setup: Some(0),
    io_destroy: Some(1),
    io_submit: Some(2),
    io_cancel: Some(3),
    io_getevents: Some(4),
    io_pgetevents: Some(292),
    io_pgetevents_time64: None,
    ppoll: Some(73),
    ppoll_time64: None,
};

/// Issues system call `nr` with three arguments.
///
/// # Safety
/// `nr` and the arguments must satisfy that system call's contract (valid pointers, sizes).
#[inline]
pub(crate) unsafe fn syscall3(nr: Word, a0: Word, a1: Word, a2: Word) -> Word {
    let ret;
    // SAFETY: the caller upholds the call's contract; `svc 0` reads x8 and x0–x5 and writes only x0, without touching the stack or the flags.
    unsafe {
        asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a0 => ret,
            in("x1") a1,
            in("x2") a2,
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
            "svc 0",
            in("x8") nr,
            inlateout("x0") a0 => ret,
            in("x1") a1,
            in("x2") a2,
            in("x3") a3,
            in("x4") a4,
            in("x5") a5,
            options(nostack, preserves_flags),
        );
    }
    ret
}
