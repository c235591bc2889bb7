//! MIPS n64: the `syscall` instruction.
//!
//! Number in `$2` (`v0`), arguments in `$4`–`$9` (`a0`–`a5`), result in `$2`; `$7` comes back
//! non-zero on failure, with a **positive** errno in `$2` (MIPS errno numbers differ from other
//! architectures). The kernel may clobber `$10`–`$15`, `$24`, `$25`, and `$1` (`at`), which the
//! asm saves and restores itself (Rust reserves it; LLVM allocates it all the same). The kernel sigset is 16
//! bytes here. Needs `asm_experimental_arch`.

use super::Numbers;
use core::arch::asm;

/// A register: 64 bits.
pub type Word = usize;

/// MIPS n64 (`arch/mips/kernel/syscalls/syscall_n64.tbl`, base 5000).
pub const NR: Numbers = Numbers {
    io_setup: Some(5200),
    io_destroy: Some(5201),
    io_submit: Some(5203),
    io_cancel: Some(5204),
    io_getevents: Some(5202),
    io_pgetevents: Some(5328),
    io_pgetevents_time64: None,
    ppoll: Some(5261),
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
    let (v0, err): (Word, Word);
    // SAFETY: the caller upholds the call's contract; every register `syscall` may change is an
    // output, and the stack is not touched.
    unsafe {
        asm!(
            // The kernel does not preserve `$1` (`at`) across `syscall` (it saves it only for
            // interrupts and exceptions), and LLVM keeps values in it: save it in a register the
            // kernel preserves.
            ".set push",
            ".set noat",
            "move {at}, $1",
            "syscall",
            "move $1, {at}",
            ".set pop",
            at = out(reg) _,
            inlateout("$2") nr => v0,
            in("$4") a0,
            in("$5") a1,
            in("$6") a2,
            inlateout("$7") a3 => err,
            in("$8") a4,
            in("$9") a5,
            lateout("$10") _,
            lateout("$11") _,
            lateout("$12") _,
            lateout("$13") _,
            lateout("$14") _,
            lateout("$15") _,
            lateout("$24") _,
            lateout("$25") _,
            options(nostack, preserves_flags),
        );
    }
    if err != 0 { v0.wrapping_neg() } else { v0 }
}
