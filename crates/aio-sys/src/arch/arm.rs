//! 32-bit Arm (EABI): the `svc 0` instruction.
//!
//! Number in `r7`, arguments in `r0`–`r5`, result in `r0`; nothing else is clobbered. In Thumb
//! mode `r7` is the frame pointer, which `asm!` may not name, so the number is swapped into it for
//! the duration of the call. `io_getevents`/`io_pgetevents` take 32-bit timespecs here;
//! `io_pgetevents_time64` (416) is the 64-bit-time call.

use super::Numbers;
use core::arch::asm;

/// A register: 32 bits.
pub type Word = usize;

/// Arm EABI (`arch/arm/tools/syscall.tbl`).
pub const NR: Numbers = Numbers {
    io_setup: Some(243),
    io_destroy: Some(244),
    io_submit: Some(246),
    io_cancel: Some(247),
    io_getevents: Some(245),
    io_pgetevents: Some(399),
    io_pgetevents_time64: Some(416),
    ppoll: Some(336),
    ppoll_time64: Some(414),
};

/// Issues system call `nr` with three arguments.
///
/// # Safety
/// `nr` and the arguments must satisfy that system call's contract (valid pointers, sizes).
#[inline]
pub(crate) unsafe fn syscall3(nr: Word, a0: Word, a1: Word, a2: Word) -> Word {
    // SAFETY: `syscall3` and `syscall6` share one contract; unused arguments are ignored by the
    // kernel.
    unsafe { syscall6(nr, a0, a1, a2, 0, 0, 0) }
}

/// Issues system call `nr` with six arguments.
///
/// # Safety
/// As for [`syscall3`].
#[cfg(not(target_feature = "thumb-mode"))]
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
    // SAFETY: the caller upholds the call's contract; `svc 0` reads r7 and r0–r5 and writes only
    // r0, without touching the stack or the flags.
    unsafe {
        asm!(
            "svc 0",
            in("r7") nr,
            inlateout("r0") a0 => ret,
            in("r1") a1,
            in("r2") a2,
            in("r3") a3,
            in("r4") a4,
            in("r5") a5,
            options(nostack, preserves_flags),
        );
    }
    ret
}

/// Issues system call `nr` with six arguments (Thumb mode: `r7` is the frame pointer).
///
/// # Safety
/// As for [`syscall3`].
#[cfg(target_feature = "thumb-mode")]
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
    // SAFETY: as above; r7 is saved in a scratch register that is not an input (`out`, not
    // `lateout`) and restored before the block ends, so the frame pointer is intact afterwards.
    unsafe {
        asm!(
            "mov {saved}, r7",
            "mov r7, {nr}",
            "svc 0",
            "mov r7, {saved}",
            nr = in(reg) nr,
            saved = out(reg) _,
            inlateout("r0") a0 => ret,
            in("r1") a1,
            in("r2") a2,
            in("r3") a3,
            in("r4") a4,
            in("r5") a5,
            options(nostack, preserves_flags),
        );
    }
    ret
}
