//! powerpc64 (both byte orders): the `sc` instruction.
//!
//! Number in `r0`, arguments in `r3`–`r8`, result in `r3`. The kernel reports failure by setting
//! the summary-overflow bit of `cr0` with a positive errno in `r3`; the shapes below negate it so
//! that the result reads like every other architecture's. The kernel may clobber `r0`, `r4`–`r12`
//! and `cr0`, and `ctr` and `xer` too: the system call ABI
//! (`Documentation/arch/powerpc/syscall64-abi.rst`) keeps the ELF ABI's volatile registers, and
//! current kernels zero both on the way out. rustc 1.85 cannot name `ctr` or `xer` as asm
//! operands, so the shapes save both in the non-volatile `r14`/`r15` (which the kernel preserves)
//! and restore them after `sc`: the compiler may keep a loop count in `ctr` or a carry in `xer`
//! across the call. Needs `asm_experimental_arch` (see `build.rs`).

use super::Numbers;
use core::arch::asm;

/// A register: 64 bits.
pub type Word = usize;

/// powerpc64 (`arch/powerpc/kernel/syscalls/syscall.tbl`).
pub const NR: Numbers = Numbers {
    io_setup: Some(227),
    io_destroy: Some(228),
    io_submit: Some(230),
    io_cancel: Some(231),
    io_getevents: Some(229),
    io_pgetevents: Some(388),
    io_pgetevents_time64: None,
    ppoll: Some(281),
    ppoll_time64: None,
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
    // SAFETY: the caller upholds the call's contract; every register `sc` may change (r0,
    // r3–r12, cr0) is an output, ctr and xer are restored from r14/r15 (outputs too, so the
    // compiler saves them as its ABI requires), and the stack is not touched.
    unsafe {
        asm!(
            "mfctr 14",
            "mfxer 15",
            "sc",
            "mtctr 14",
            "mtxer 15",
            "bns 0f",
            "neg 3, 3",
            "0:",
            inlateout("r0") nr => _,
            inlateout("r3") a0 => ret,
            inlateout("r4") a1 => _,
            inlateout("r5") a2 => _,
            inlateout("r6") a3 => _,
            inlateout("r7") a4 => _,
            inlateout("r8") a5 => _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r11") _,
            lateout("r12") _,
            out("r14") _,
            out("r15") _,
            lateout("cr0") _,
            options(nostack, preserves_flags),
        );
    }
    ret
}
