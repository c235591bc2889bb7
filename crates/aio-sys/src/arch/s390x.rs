//! s390x: the `svc 0` instruction.
//!
//! Number in `r1`, arguments in `r2`–`r7`, result in `r2`; nothing else is clobbered. s390x is
//! big-endian: `iocb`'s `aio_rw_flags` comes before `aio_key`.

use super::Numbers;
use core::arch::asm;

/// A register: 64 bits.
pub type Word = usize;

/// s390x (`arch/s390/kernel/syscalls/syscall.tbl`).
pub const NR: Numbers = Numbers {
    io_setup: Some(243),
    io_destroy: Some(244),
    io_submit: Some(246),
    io_cancel: Some(247),
    io_getevents: Some(245),
    io_pgetevents: Some(382),
    io_pgetevents_time64: None,
    ppoll: Some(302),
    ppoll_time64: None,
};

/// Issues system call `nr` with three arguments.
///
/// # Safety
/// `nr` and the arguments must satisfy that system call's contract (valid pointers, sizes).
#[inline]
pub(crate) unsafe fn syscall3(nr: Word, a0: Word, a1: Word, a2: Word) -> Word {
    let ret;
    // SAFETY: the caller upholds the call's contract; `svc 0` reads r1 and r2–r7 and writes only r2, without touching the stack.
    unsafe {
        asm!(
            "svc 0",
            in("r1") nr,
            inlateout("r2") a0 => ret,
            in("r3") a1,
            in("r4") a2,
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
            in("r1") nr,
            inlateout("r2") a0 => ret,
            in("r3") a1,
            in("r4") a2,
            in("r5") a3,
            in("r6") a4,
            in("r7") a5,
            options(nostack, preserves_flags),
        );
    }
    ret
}
