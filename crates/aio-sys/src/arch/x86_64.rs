//! x86_64 and x32: the `syscall` instruction.
//!
//! Number in `rax`, arguments in `rdi, rsi, rdx, r10, r8, r9`, result in `rax`; the instruction
//! clobbers `rcx` and `r11` and restores `rflags`. x32 uses the same instruction with 64-bit
//! registers and numbers tagged with `__X32_SYSCALL_BIT` (`0x4000_0000`); its `io_setup` and
//! `io_submit` are compat entry points with x32-only numbers.

use super::Numbers;
use core::arch::asm;

/// A full register: 64 bits on x32 too, where `aio_context_t` is 64 bits wide.
pub type Word = u64;

/// x86_64 (`arch/x86/entry/syscalls/syscall_64.tbl`).
#[cfg(target_pointer_width = "64")]
pub const NR: Numbers = Numbers {
    io_setup: Some(206),
    io_destroy: Some(207),
    io_submit: Some(209),
    io_cancel: Some(210),
    io_getevents: Some(208),
    io_pgetevents: Some(333),
    io_pgetevents_time64: None,
    ppoll: Some(271),
    ppoll_time64: None,
};

/// x32: the common 64-bit calls plus the x32 compat `io_setup` (543) and `io_submit` (544).
#[cfg(target_pointer_width = "32")]
pub const NR: Numbers = Numbers {
    io_setup: Some(X32 | 543),
    io_destroy: Some(X32 | 207),
    io_submit: Some(X32 | 544),
    io_cancel: Some(X32 | 210),
    io_getevents: Some(X32 | 208),
    io_pgetevents: Some(X32 | 333),
    io_pgetevents_time64: None,
    ppoll: Some(X32 | 271),
    ppoll_time64: None,
};

/// `__X32_SYSCALL_BIT`.
#[cfg(target_pointer_width = "32")]
const X32: usize = 0x4000_0000;

/// Issues system call `nr` with three arguments.
///
/// # Safety
/// `nr` and the arguments must satisfy that system call's contract (valid pointers, sizes).
#[inline]
pub(crate) unsafe fn syscall3(nr: Word, a0: Word, a1: Word, a2: Word) -> Word {
    let ret;
    // SAFETY: the caller upholds the call's contract; the operands name every register the
    // `syscall` instruction reads or clobbers, it does not touch the stack, and sysret restores
    // rflags.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a0,
            in("rsi") a1,
            in("rdx") a2,
            lateout("rcx") _,
            lateout("r11") _,
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
    // SAFETY: as in `syscall3`; the fourth argument goes in r10 because `syscall` uses rcx.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a0,
            in("rsi") a1,
            in("rdx") a2,
            in("r10") a3,
            in("r8") a4,
            in("r9") a5,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags),
        );
    }
    ret
}
