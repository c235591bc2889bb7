//! loongarch64: the `syscall 0` instruction.
//!
//! Number in `a7`, arguments in `a0`–`a5`, result in `a0`; the kernel may clobber the temporaries
//! `t0`–`t8`. The numbers are the asm-generic table.

use super::Numbers;
use core::arch::asm;

/// A register: 64 bits.
pub type Word = usize;

/// loongarch64 (`include/uapi/asm-generic/unistd.h`).
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
    // SAFETY: the caller upholds the call's contract; `syscall 0` reads a7 and a0–a5, writes a0 and may clobber t0–t8 (all listed), without touching the stack.
    unsafe {
        asm!(
            "syscall 0",
            in("$a7") nr,
            inlateout("$a0") a0 => ret,
            in("$a1") a1,
            in("$a2") a2,
            lateout("$t0") _,
            lateout("$t1") _,
            lateout("$t2") _,
            lateout("$t3") _,
            lateout("$t4") _,
            lateout("$t5") _,
            lateout("$t6") _,
            lateout("$t7") _,
            lateout("$t8") _,
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
            "syscall 0",
            in("$a7") nr,
            inlateout("$a0") a0 => ret,
            in("$a1") a1,
            in("$a2") a2,
            in("$a3") a3,
            in("$a4") a4,
            in("$a5") a5,
            lateout("$t0") _,
            lateout("$t1") _,
            lateout("$t2") _,
            lateout("$t3") _,
            lateout("$t4") _,
            lateout("$t5") _,
            lateout("$t6") _,
            lateout("$t7") _,
            lateout("$t8") _,
            options(nostack, preserves_flags),
        );
    }
    ret
}
