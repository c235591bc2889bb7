//! The kernel signal set and the `io_pgetevents` signal-mask argument.

use crate::{__kernel_size_t, __kernel_ulong_t};

/// The number of signals the kernel's `sigset_t` holds (`_NSIG`): 128 on MIPS, 64 elsewhere.
#[cfg(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6"
))]
pub const _NSIG: usize = 128;
/// The number of signals the kernel's `sigset_t` holds (`_NSIG`): 128 on MIPS, 64 elsewhere.
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6"
)))]
pub const _NSIG: usize = 64;

/// The size in bytes of the kernel's `sigset_t`: the only `sigsetsize` `io_pgetevents` accepts
/// with a mask (8; 16 on MIPS). Any other size gives `EINVAL` when [`__aio_sigset::sigmask`] is
/// non-null; with a null mask the size is not looked at.
pub const KERNEL_SIGSET_SIZE: usize = _NSIG / 8;

const BITS_PER_WORD: usize = 8 * core::mem::size_of::<__kernel_ulong_t>();

/// The kernel's signal set (`sigset_t` in `include/linux/signal_types.h`), which differs from
/// glibc's 128-byte `sigset_t`.
///
/// Signal `n` (1-based) is bit `(n - 1) % BITS` of word `(n - 1) / BITS`, words being the
/// kernel's `unsigned long`: this type keeps that layout on every byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct kernel_sigset_t {
    /// The signal bits, as `unsigned long sig[_NSIG_WORDS]`.
    pub sig: [__kernel_ulong_t; _NSIG / BITS_PER_WORD],
}

impl kernel_sigset_t {
    /// The empty set.
    pub const fn empty() -> Self {
        Self {
            sig: [0; _NSIG / BITS_PER_WORD],
        }
    }

    /// The set with every signal.
    pub const fn full() -> Self {
        Self {
            sig: [!0; _NSIG / BITS_PER_WORD],
        }
    }

    /// Adds signal `signo` (1 ..= `_NSIG`); returns `false`, changing nothing, if it is out of
    /// range.
    pub fn insert(&mut self, signo: u32) -> bool {
        match Self::position(signo) {
            Some((word, bit)) => {
                self.sig[word] |= bit;
                true
            }
            None => false,
        }
    }

    /// Removes signal `signo`; returns `false` if it is out of range.
    pub fn remove(&mut self, signo: u32) -> bool {
        match Self::position(signo) {
            Some((word, bit)) => {
                self.sig[word] &= !bit;
                true
            }
            None => false,
        }
    }

    /// Whether signal `signo` is in the set (`false` when out of range).
    pub fn contains(&self, signo: u32) -> bool {
        Self::position(signo).is_some_and(|(word, bit)| self.sig[word] & bit != 0)
    }

    fn position(signo: u32) -> Option<(usize, __kernel_ulong_t)> {
        let index = (signo as usize).checked_sub(1)?;
        if index >= _NSIG {
            return None;
        }
        Some((index / BITS_PER_WORD, 1 << (index % BITS_PER_WORD)))
    }
}

/// The sixth argument of `io_pgetevents(2)` (`struct __aio_sigset`, defined in `fs/aio.c`).
///
/// During the wait the kernel installs `*sigmask` as the thread's signal mask, like `ppoll(2)`;
/// a null `sigmask` (or a null pointer to this struct) leaves the mask alone. With a non-null
/// `sigmask`, `sigsetsize` must be [`KERNEL_SIGSET_SIZE`], else `EINVAL`; with a null one it is
/// ignored (the kernel's `set_user_sigmask` returns before checking it).
///
/// On x32 the kernel reads this through its 64-bit entry point, so both fields are 8 bytes wide
/// there; the pointer sits in the low half, followed by explicit padding.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct __aio_sigset {
    /// The mask to install while waiting, or null.
    pub sigmask: *const kernel_sigset_t,
    /// Upper half of the pointer slot on x32; must be zero.
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
    pub __pad: u32,
    /// Size of `*sigmask` in bytes: [`KERNEL_SIGSET_SIZE`] (checked only when `sigmask` is
    /// non-null).
    pub sigsetsize: __kernel_size_t,
}

impl __aio_sigset {
    /// The argument for `mask`, with the kernel's sigset size.
    pub const fn new(mask: *const kernel_sigset_t) -> Self {
        Self::with_size(mask, KERNEL_SIGSET_SIZE)
    }

    /// The argument for `mask` with an explicit `sigsetsize` (tests use a wrong size to provoke
    /// `EINVAL`).
    pub const fn with_size(mask: *const kernel_sigset_t, sigsetsize: usize) -> Self {
        Self {
            sigmask: mask,
            #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
            __pad: 0,
            sigsetsize: sigsetsize as __kernel_size_t,
        }
    }
}
