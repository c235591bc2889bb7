//! MIPS o32: the `syscall` instruction.
//!
//! Number in `$2` (`v0`), the first four arguments in `$4`–`$7` (`a0`–`a3`) and the fifth and
//! sixth on the stack at `16($sp)` and `20($sp)`, as the o32 calling convention lays them out.
//! The result is in `$2`; `$7` comes back non-zero on failure, with a **positive** errno in `$2`
//! (MIPS errno numbers differ from other architectures: compare `Errno` values). The kernel may
//! clobber the temporaries `$8`–`$15`, `$24`, `$25`, and `$1` (`at`), which the asm saves and
//! restores itself (Rust reserves it; LLVM allocates it all the same). Needs
//! `asm_experimental_arch`.

use super::Numbers;
use core::arch::asm;

/// A register: 32 bits.
pub type Word = usize;

/// MIPS o32 (`arch/mips/kernel/syscalls/syscall_o32.tbl`, base 4000).
pub const NR: Numbers = Numbers {
    io_setup: Some(4241),
    io_destroy: Some(4242),
    io_submit: Some(4244),
    io_cancel: Some(4245),
    io_getevents: Some(4243),
    io_pgetevents: Some(4368),
    io_pgetevents_time64: Some(4416),
    ppoll: Some(4302),
    ppoll_time64: Some(4414),
};

/// Maps the `a3` error flag onto the negative-errno convention.
#[inline]
fn normalise(v0: Word, a3: Word) -> Word {
    if a3 != 0 { v0.wrapping_neg() } else { v0 }
}

/// Issues system call `nr` with three arguments.
///
/// # Safety
/// `nr` and the arguments must satisfy that system call's contract (valid pointers, sizes).
#[inline]
pub(crate) unsafe fn syscall3(nr: Word, a0: Word, a1: Word, a2: Word) -> Word {
    let (v0, a3);
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
            lateout("$7") a3,
            lateout("$8") _,
            lateout("$9") _,
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
    normalise(v0, a3)
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
    let (v0, err);
    // SAFETY: as in `syscall3`. The block reserves 32 bytes of stack for the o32 argument area,
    // stores the fifth and sixth arguments at 16 and 20, and releases the space before it ends.
    unsafe {
        asm!(
            // `$1` (`at`) saved around `syscall`, as in `syscall3`.
            ".set push",
            ".set noat",
            "move {at}, $1",
            "addiu $sp, $sp, -32",
            "sw {a4}, 16($sp)",
            "sw {a5}, 20($sp)",
            "syscall",
            "addiu $sp, $sp, 32",
            "move $1, {at}",
            ".set pop",
            at = out(reg) _,
            a4 = in(reg) a4,
            a5 = in(reg) a5,
            inlateout("$2") nr => v0,
            in("$4") a0,
            in("$5") a1,
            in("$6") a2,
            inlateout("$7") a3 => err,
            lateout("$8") _,
            lateout("$9") _,
            lateout("$10") _,
            lateout("$11") _,
            lateout("$12") _,
            lateout("$13") _,
            lateout("$14") _,
            lateout("$15") _,
            lateout("$24") _,
            lateout("$25") _,
            options(preserves_flags),
        );
    }
    normalise(v0, err)
}
