//! i386: the `int 0x80` instruction.
//!
//! Number in `eax`, arguments in `ebx, ecx, edx, esi, edi, ebp`, result in `eax`. `asm!` may not
//! name `esi` (LLVM's base pointer) or `ebp` (the frame pointer) as operands, so the six-argument
//! shape saves both on the stack and loads them from a small array whose address travels in
//! `eax`. `io_getevents`/`io_pgetevents` take 32-bit timespecs here; `io_pgetevents_time64` (416)
//! is the 64-bit-time call.

use super::Numbers;
use core::arch::asm;

/// A register: 32 bits.
pub type Word = usize;

/// i386 (`arch/x86/entry/syscalls/syscall_32.tbl`).
pub const NR: Numbers = Numbers {
    io_setup: Some(245),
    io_destroy: Some(246),
    io_submit: Some(248),
    io_cancel: Some(249),
    io_getevents: Some(247),
    io_pgetevents: Some(385),
    io_pgetevents_time64: Some(416),
    ppoll: Some(309),
    ppoll_time64: Some(414),
};

/// Issues system call `nr` with three arguments.
///
/// # Safety
/// `nr` and the arguments must satisfy that system call's contract (valid pointers, sizes).
#[inline]
pub(crate) unsafe fn syscall3(nr: Word, a0: Word, a1: Word, a2: Word) -> Word {
    let ret;
    // SAFETY: the caller upholds the call's contract; `int 0x80` reads eax, ebx, ecx, edx,
    // writes only eax, leaves the user stack alone and `iret` restores eflags.
    unsafe {
        asm!(
            "int 0x80",
            inlateout("eax") nr => ret,
            in("ebx") a0,
            in("ecx") a1,
            in("edx") a2,
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
    let spill: [Word; 3] = [a3, a5, nr];
    // SAFETY: as in `syscall3`. esi and ebp are pushed before and popped after the call, so they
    // hold their old values when the block ends; `spill` outlives the block and eax points at it
    // until it is overwritten with the number.
    unsafe {
        asm!(
            "push ebp",
            "push esi",
            "mov esi, [eax]",
            "mov ebp, [eax + 4]",
            "mov eax, [eax + 8]",
            "int 0x80",
            "pop esi",
            "pop ebp",
            inout("eax") spill.as_ptr() as Word => ret,
            in("ebx") a0,
            in("ecx") a1,
            in("edx") a2,
            in("edi") a4,
            options(preserves_flags),
        );
    }
    ret
}
