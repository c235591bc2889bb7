//! What a program without libc needs around its `main`: the entry point `_start` (one per
//! architecture, below), `exit_group`, a panic handler, and the personality symbol the
//! precompiled `core` names. Shared by both no-libc programs (`tests/nolibc` and
//! `tests/nolibc-safe`, which includes this file by path); each defines
//! `crate::program() -> i32`, its exit status.
//!
//! Every `_start` does the same: the kernel starts the process with the stack pointer at `argc`
//! and no return address; it clears the frame pointer and link register for debuggers (where the
//! architecture has them), passes that stack pointer to [`entry`] as its first argument, sets up
//! what compiled code assumes (the stack aligned for a call; the TOC pointer on powerpc64, the
//! global pointer on RISC-V, `$t9` and o32's argument save area on MIPS, the back chain on s390x
//! and powerpc64) and calls it. `entry` never returns; a trap follows the call anyway.
//!
//! The ABIs: x86_64 (and x32, the same code with 32-bit pointers), i386, aarch64 (both byte
//! orders), arm EABI (both byte orders; big-endian is BE8), riscv32 and riscv64, loongarch64,
//! s390x, powerpc64 little-endian (ELFv2) and big-endian glibc (ELFv1: `_start` is a function
//! descriptor), mips o32 (both byte orders) and mips64 n64 (both byte orders). Byte order
//! changes no instruction here: each `_start` serves both orders of its architecture.
//!
//! PowerPC and MIPS inline assembly needs `#![feature(asm_experimental_arch)]` in the including
//! crate's root, for `target_arch = "powerpc64"`, `"mips"` and `"mips64"`.

#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        all(target_arch = "aarch64", target_pointer_width = "64"),
        target_arch = "arm",
        target_arch = "riscv32",
        target_arch = "riscv64",
        target_arch = "loongarch64",
        target_arch = "s390x",
        all(target_arch = "powerpc64", target_endian = "little"),
        all(target_arch = "powerpc64", target_endian = "big", target_env = "gnu"),
        all(target_arch = "mips", target_pointer_width = "32"),
        all(target_arch = "mips64", target_pointer_width = "64"),
    )
)))]
compile_error!(
    "the no-libc programs have a _start for x86_64 and x32, x86, aarch64, arm, riscv32, riscv64, \
     loongarch64, s390x, powerpc64 (ELFv2 little-endian, ELFv1 big-endian glibc), mips o32 and \
     mips64 n64 Linux only (see start.rs)"
);

use aio_sys::raw::{Word, syscall3};
use core::arch::global_asm;

/// The status of a panic.
pub const PANICKED: i32 = 101;

// System V x86_64: `rsp` is 16-byte aligned at `argc`; aligned again before the call, as the ABI
// expects at a call instruction. x32 runs the same code: its stack lies below 4 GiB, so `rsp`
// is also its 32-bit pointer.
#[cfg(target_arch = "x86_64")]
global_asm!(
    ".globl _start",
    ".type _start, %function",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    ".size _start, . - _start",
    entry = sym entry,
);

// i386 System V: the argument goes on the stack, which must be 16-byte aligned at the call.
#[cfg(target_arch = "x86")]
global_asm!(
    ".globl _start",
    ".type _start, %function",
    "_start:",
    "xor ebp, ebp",
    "mov eax, esp",
    "and esp, -16",
    "sub esp, 12",
    "push eax",
    "call {entry}",
    "ud2",
    ".size _start, . - _start",
    entry = sym entry,
);

// AArch64: `sp` is 16-byte aligned at `argc` (the kernel guarantees it, and `sp` itself can
// only be used aligned).
#[cfg(target_arch = "aarch64")]
global_asm!(
    ".globl _start",
    ".type _start, %function",
    "_start:",
    "mov x29, xzr",
    "mov x30, xzr",
    "mov x0, sp",
    "bl {entry}",
    "brk #0",
    ".size _start, . - _start",
    entry = sym entry,
);

// Arm EABI (ARM state): AAPCS wants `sp` 8-byte aligned at a public interface; 16 costs nothing.
// Big-endian (BE8) code is the same: instructions stay little-endian.
#[cfg(target_arch = "arm")]
global_asm!(
    ".globl _start",
    ".type _start, %function",
    ".arm",
    "_start:",
    "mov fp, #0",
    "mov lr, #0",
    "mov r0, sp",
    "bic r1, r0, #15",
    "mov sp, r1",
    "bl {entry}",
    "udf #0",
    ".size _start, . - _start",
    entry = sym entry,
);

// RISC-V (RV32 and RV64): `gp` must hold `__global_pointer$` (from the linker script, or
// defined by lld) before any code the linker relaxed to gp-relative accesses runs; its own load
// must not be relaxed. The psABI wants `sp` 16-byte aligned on both.
#[cfg(any(target_arch = "riscv32", target_arch = "riscv64"))]
global_asm!(
    ".globl _start",
    ".type _start, %function",
    "_start:",
    ".option push",
    ".option norelax",
    "lla gp, __global_pointer$",
    ".option pop",
    "mv a0, sp",
    "andi sp, sp, -16",
    "call {entry}",
    "unimp",
    ".size _start, . - _start",
    entry = sym entry,
);

// LoongArch64 (LP64D): the argument in `a0`; `sp` 16-byte aligned (clear its low four bits);
// `fp` and `ra` cleared. Code reaches its data PC-relative: no global pointer to set.
#[cfg(target_arch = "loongarch64")]
global_asm!(
    ".globl _start",
    ".type _start, %function",
    "_start:",
    "move $fp, $zero",
    "move $ra, $zero",
    "move $a0, $sp",
    "bstrins.d $sp, $zero, 3, 0",
    "bl {entry}",
    "break 0",
    ".size _start, . - _start",
    entry = sym entry,
);

// s390x: the argument in r2; a callee may store registers in the 160-byte save area above the
// stack pointer it is given, and the back chain word at 0(r15) is zero for the outermost frame.
#[cfg(target_arch = "s390x")]
global_asm!(
    ".globl _start",
    ".type _start, %function",
    "_start:",
    "lgr %r2, %r15",
    "nill %r15, 65528",
    "aghi %r15, -160",
    "xc 0(8,%r15), 0(%r15)",
    "brasl %r14, {entry}",
    ".word 0",
    ".size _start, . - _start",
    entry = sym entry,
);

// powerpc64le (ELFv2): compiled code reaches its data through the TOC pointer in r2, so compute
// it from this code's own address (`bcl` gives it in the link register, without relying on what
// the kernel left in r12); then a minimal 32-byte frame with a zero back chain, 16-byte aligned.
#[cfg(all(target_arch = "powerpc64", target_endian = "little"))]
global_asm!(
    ".globl _start",
    ".type _start, %function",
    "_start:",
    "bcl 20, 31, 1f",
    "1:",
    "mflr 12",
    "addis 2, 12, (.TOC. - 1b)@ha",
    "addi 2, 2, (.TOC. - 1b)@l",
    "mr 3, 1",
    "clrrdi 1, 1, 4",
    "li 0, 0",
    "mtlr 0",
    "stdu 0, -32(1)",
    "bl {entry}",
    "nop",
    "trap",
    ".size _start, . - _start",
    entry = sym entry,
);

// powerpc64 big-endian glibc (ELFv1): a function symbol names a descriptor in `.opd` (code
// address, TOC base, environment), and so does the ELF entry point: the kernel (and qemu-user)
// reads the code address and the TOC pointer (r2) from the descriptor `_start`. The code then
// needs only a minimal ELFv1 frame, 112 bytes (48 of header, where a call stub saves r2 at
// 40(r1), and 64 of parameter save area), 16-byte aligned, with a zero back chain. `bl` to the
// callee's descriptor symbol reaches its code (the linker resolves it through `.opd`); the
// `nop` after it is the slot where the linker puts a TOC restore if it needs a stub.
#[cfg(all(target_arch = "powerpc64", target_endian = "big"))]
global_asm!(
    ".pushsection .opd, \"aw\"",
    ".balign 8",
    ".globl _start",
    ".type _start, @function",
    "_start:",
    ".quad .L_start_code, .TOC.@tocbase, 0",
    ".size _start, 24",
    ".popsection",
    ".L_start_code:",
    "mr 3, 1",
    "clrrdi 1, 1, 4",
    "li 0, 0",
    "mtlr 0",
    "stdu 0, -112(1)",
    "bl {entry}",
    "nop",
    "trap",
    entry = sym entry,
);

// mips o32: as mips64 below (`t9` holds the callee's address, for position-independent
// callees that compute `gp` from it), with 32-bit words, and o32's argument save area: the 16
// bytes at the stack pointer a callee is given are the caller's, for the callee to store
// `a0`..`a3` in; so align (o32 wants 8 bytes, 16 costs nothing), then reserve them below.
#[cfg(target_arch = "mips")]
global_asm!(
    ".set push",
    ".set noreorder",
    ".globl _start",
    ".type _start, %function",
    ".balign 4",
    "_start:",
    "bal 1f",
    "nop",
    ".word {entry}",
    "1:",
    "lw $25, 0($31)",
    "move $4, $29",
    "li $8, -16",
    "and $29, $29, $8",
    "addiu $29, $29, -16",
    "move $31, $0",
    "jalr $25",
    "nop",
    "break",
    ".size _start, . - _start",
    ".set pop",
    entry = sym entry,
);

// mips64 n64: position-independent callees compute `gp` from `t9` ($25), so call through it;
// the entry's address is a word in the code itself (`bal` puts its address in `ra`), fixed at
// link time in this static, fixed-address executable. `noreorder`: the delay slots are
// written out.
#[cfg(target_arch = "mips64")]
global_asm!(
    ".set push",
    ".set noreorder",
    ".globl _start",
    ".type _start, %function",
    ".balign 8",
    "_start:",
    "bal 1f",
    "nop",
    ".dword {entry}",
    "1:",
    "ld $25, 0($31)",
    "move $4, $29",
    "li $8, -16",
    "and $29, $29, $8",
    "move $31, $0",
    "jalr $25",
    "nop",
    "break",
    ".size _start, . - _start",
    ".set pop",
    entry = sym entry,
);

/// Called by `_start` with the initial stack pointer (unused: no arguments are needed).
extern "C" fn entry(_initial_stack: *const usize) -> ! {
    exit_group(crate::program())
}

/// `exit_group(status)`, by `aio-sys`'s system call instruction: nothing of libc's exit path
/// exists here.
pub fn exit_group(status: i32) -> ! {
    let nr = linux_raw_sys::general::__NR_exit_group as usize;
    // SAFETY: exit_group takes one integer (a C int, sign-extended) and ends the process.
    let _ = unsafe { syscall3(nr, [status as Word, 0, 0]) };
    // Not reached: exit_group does not return, even on error.
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    exit_group(PANICKED)
}

/// The precompiled `core` is built for unwinding and its unwind tables name this personality
/// routine. With `panic = "abort"` nothing ever unwinds (no unwinder is even linked), so it is
/// never called; it only has to exist for the link.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// Arm EHABI: the unwind index entries of the precompiled `core` name these personality
/// routines of the compact model. As with [`rust_eh_personality`], nothing unwinds with
/// `panic = "abort"`, so they only have to exist for the link.
#[cfg(target_arch = "arm")]
#[unsafe(no_mangle)]
extern "C" fn __aeabi_unwind_cpp_pr0() {}

/// As [`__aeabi_unwind_cpp_pr0`].
#[cfg(target_arch = "arm")]
#[unsafe(no_mangle)]
extern "C" fn __aeabi_unwind_cpp_pr1() {}
