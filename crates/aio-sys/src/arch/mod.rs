//! The system call instruction and the AIO syscall numbers, one file per architecture.
//!
//! Each `<arch>.rs` holds only that architecture's register word type (`Word`), its number table
//! (`NR`), and two call shapes, `syscall3` and `syscall6` (the AIO calls take at most six
//! arguments; shorter calls pass zeros). Every shape returns the raw result register, normalised
//! to Linux's "-4095..=-1 is an error" convention where the architecture reports errors
//! differently (MIPS `a3`, PowerPC `cr0.SO`). `unsupported.rs` stands in elsewhere: every number
//! is `None`, so every call returns `ENOSYS`.

use crate::Errno;

/// The AIO system call numbers of one ABI; `None` where the ABI has no such call.
///
/// `io_getevents` and `io_pgetevents` take a 64-bit [`__kernel_timespec`] on 64-bit ABIs (x32
/// included) and a 32-bit [`old_timespec32`] on 32-bit ones; `io_pgetevents_time64` exists only
/// on 32-bit ABIs.
///
/// [`__kernel_timespec`]: aio_abi::__kernel_timespec
/// [`old_timespec32`]: aio_abi::old_timespec32
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Numbers {
    /// `__NR_io_setup`.
    pub io_setup: Option<usize>,
    /// `__NR_io_destroy`.
    pub io_destroy: Option<usize>,
    /// `__NR_io_submit`.
    pub io_submit: Option<usize>,
    /// `__NR_io_cancel`.
    pub io_cancel: Option<usize>,
    /// `__NR_io_getevents` (absent on riscv32, which has only the time64 call).
    pub io_getevents: Option<usize>,
    /// `__NR_io_pgetevents` (absent on riscv32).
    pub io_pgetevents: Option<usize>,
    /// `__NR_io_pgetevents_time64` (32-bit ABIs only).
    pub io_pgetevents_time64: Option<usize>,
    /// `__NR_ppoll` (32-bit time on 32-bit ABIs; absent on riscv32). Not an AIO call: the wait
    /// of the `aio` crate's emulated backend, which needs a signal mask set atomically.
    pub ppoll: Option<usize>,
    /// `__NR_ppoll_time64` (32-bit ABIs only).
    pub ppoll_time64: Option<usize>,
}

impl Numbers {
    /// No calls at all: an architecture this crate has no instruction for.
    #[allow(dead_code)]
    pub(crate) const NONE: Self = Self {
        io_setup: None,
        io_destroy: None,
        io_submit: None,
        io_cancel: None,
        io_getevents: None,
        io_pgetevents: None,
        io_pgetevents_time64: None,
        ppoll: None,
        ppoll_time64: None,
    };
}

macro_rules! select_arch {
    ($($arch:literal => $module:ident $(if $extra:meta)?;)*) => {
        $(
            #[cfg(all(target_arch = $arch $(, $extra)?))]
            mod $module;
            #[cfg(all(target_arch = $arch $(, $extra)?))]
            pub use $module::*;
        )*
        #[cfg(not(any($(all(target_arch = $arch $(, $extra)?)),*)))]
        mod unsupported;
        #[cfg(not(any($(all(target_arch = $arch $(, $extra)?)),*)))]
        pub use unsupported::*;
    };
}

select_arch! {
    "x86_64" => x86_64;
    "x86" => x86;
    "aarch64" => aarch64 if target_pointer_width = "64";
    "arm" => arm;
    "riscv64" => riscv64;
    "riscv32" => riscv32;
    "loongarch64" => loongarch64;
    "powerpc64" => powerpc64 if aio_sys_asm_experimental;
    "s390x" => s390x;
    "mips" => mips if aio_sys_asm_experimental;
    "mips64" => mips64 if all(target_pointer_width = "64", aio_sys_asm_experimental);
}

/// Turns a raw result register into a `Result`: Linux returns `-4095..=-1` for `-errno`.
#[inline]
pub(crate) fn check(raw: Word) -> Result<Word, Errno> {
    if raw > Word::MAX - 4095 {
        Err(Errno::known(raw.wrapping_neg() as u32))
    } else {
        Ok(raw)
    }
}

/// A C `long` argument in a register: sign-extended to the register width (matters on x32,
/// whose 32-bit `long` reaches 64-bit kernel entry points).
#[inline]
pub(crate) fn long(value: isize) -> Word {
    value as i64 as Word
}

/// A pointer argument in a register (zero-extended on x32).
#[inline]
pub(crate) fn ptr<T>(p: *const T) -> Word {
    p as usize as Word
}

/// Issues call `nr` with three arguments, or returns `ENOSYS` if this ABI has no such call.
///
/// # Safety
/// The arguments must satisfy the call's contract.
#[inline]
pub(crate) unsafe fn call3(nr: Option<usize>, a0: Word, a1: Word, a2: Word) -> Result<Word, Errno> {
    match nr {
        // SAFETY: `nr` is this ABI's number for the call; the caller vouches for the arguments.
        Some(nr) => check(unsafe { syscall3(nr as Word, a0, a1, a2) }),
        None => Err(Errno::NOSYS),
    }
}

/// Issues call `nr` with six arguments, or returns `ENOSYS` if this ABI has no such call.
///
/// # Safety
/// The arguments must satisfy the call's contract.
#[inline]
pub(crate) unsafe fn call6(nr: Option<usize>, args: [Word; 6]) -> Result<Word, Errno> {
    let [a0, a1, a2, a3, a4, a5] = args;
    match nr {
        // SAFETY: `nr` is this ABI's number for the call; the caller vouches for the arguments.
        Some(nr) => check(unsafe { syscall6(nr as Word, a0, a1, a2, a3, a4, a5) }),
        None => Err(Errno::NOSYS),
    }
}
