//! Any architecture this crate has no system call instruction for (or, on PowerPC and MIPS, a
//! compiler without `asm_experimental_arch`): no numbers, so every call returns `ENOSYS`.

use super::Numbers;

/// A register.
pub type Word = usize;

/// No calls.
pub const NR: Numbers = Numbers::NONE;

/// Never called: every number in [`NR`] is `None`, and callers return `ENOSYS` before reaching
/// the instruction.
///
/// # Safety
/// None needed; it does nothing.
#[inline]
pub(crate) unsafe fn syscall3(_: Word, _: Word, _: Word, _: Word) -> Word {
    (-(crate::Errno::NOSYS.raw_os_error() as isize)) as Word
}

/// Never called, as [`syscall3`].
///
/// # Safety
/// None needed; it does nothing.
#[inline]
pub(crate) unsafe fn syscall6(_: Word, _: Word, _: Word, _: Word, _: Word, _: Word, _: Word) -> Word {
    (-(crate::Errno::NOSYS.raw_os_error() as isize)) as Word
}
