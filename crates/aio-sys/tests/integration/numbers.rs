//! `aio_sys::NR` against `linux_raw_sys::general::__NR_io_*` and `__NR_ppoll*` (generated from the kernel's
//! syscall tables) for the architecture being built.
//!
//! Compiles on every architecture linux-raw-sys supports. Where aio-sys has no system call
//! instruction (or, on PowerPC and MIPS, was built without `asm_experimental_arch`) every
//! number must be `None`, so that every call returns `ENOSYS` instead of issuing a wrong call.

use aio_sys::{Errno, NR, Numbers, WaitPath};

macro_rules! nr {
    ($name:ident) => {
        Some(linux_raw_sys::general::$name as usize)
    };
}

/// 64-bit ABIs (and x32): every call but `io_pgetevents_time64`, whose job their 64-bit
/// `io_pgetevents` already does.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "loongarch64",
    target_arch = "mips64",
    target_arch = "mips64r6",
    target_arch = "powerpc64",
    target_arch = "riscv64",
    target_arch = "s390x",
    target_arch = "sparc64",
))]
const LINUX_RAW_SYS: Numbers = Numbers {
    io_setup: nr!(__NR_io_setup),
    io_destroy: nr!(__NR_io_destroy),
    io_submit: nr!(__NR_io_submit),
    io_cancel: nr!(__NR_io_cancel),
    io_getevents: nr!(__NR_io_getevents),
    io_pgetevents: nr!(__NR_io_pgetevents),
    io_pgetevents_time64: None,
    ppoll: nr!(__NR_ppoll),
    ppoll_time64: None,
};

/// 32-bit ABIs with both the time32 calls and `io_pgetevents_time64`.
#[cfg(any(
    target_arch = "arm",
    target_arch = "csky",
    target_arch = "hexagon",
    target_arch = "mips",
    target_arch = "mips32r6",
    target_arch = "powerpc",
    target_arch = "sparc",
    target_arch = "x86",
))]
const LINUX_RAW_SYS: Numbers = Numbers {
    io_setup: nr!(__NR_io_setup),
    io_destroy: nr!(__NR_io_destroy),
    io_submit: nr!(__NR_io_submit),
    io_cancel: nr!(__NR_io_cancel),
    io_getevents: nr!(__NR_io_getevents),
    io_pgetevents: nr!(__NR_io_pgetevents),
    io_pgetevents_time64: nr!(__NR_io_pgetevents_time64),
    ppoll: nr!(__NR_ppoll),
    ppoll_time64: nr!(__NR_ppoll_time64),
};

/// m68k never got the time32 `io_pgetevents`.
#[cfg(target_arch = "m68k")]
const LINUX_RAW_SYS: Numbers = Numbers {
    io_setup: nr!(__NR_io_setup),
    io_destroy: nr!(__NR_io_destroy),
    io_submit: nr!(__NR_io_submit),
    io_cancel: nr!(__NR_io_cancel),
    io_getevents: nr!(__NR_io_getevents),
    io_pgetevents: None,
    io_pgetevents_time64: nr!(__NR_io_pgetevents_time64),
    ppoll: nr!(__NR_ppoll),
    ppoll_time64: nr!(__NR_ppoll_time64),
};

/// riscv32 was born without 32-bit time: only `io_pgetevents_time64` waits.
#[cfg(target_arch = "riscv32")]
const LINUX_RAW_SYS: Numbers = Numbers {
    io_setup: nr!(__NR_io_setup),
    io_destroy: nr!(__NR_io_destroy),
    io_submit: nr!(__NR_io_submit),
    io_cancel: nr!(__NR_io_cancel),
    io_getevents: None,
    io_pgetevents: None,
    io_pgetevents_time64: nr!(__NR_io_pgetevents_time64),
    ppoll: None,
    ppoll_time64: nr!(__NR_ppoll_time64),
};

/// No calls: what aio-sys uses where it has no system call instruction.
const NONE: Numbers = Numbers {
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

/// Architectures whose inline assembly is stable: aio-sys always has their numbers.
const STABLE_ASM: bool = cfg!(any(
    target_arch = "x86_64",
    target_arch = "x86",
    all(target_arch = "aarch64", target_pointer_width = "64"),
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "riscv32",
    target_arch = "loongarch64",
    target_arch = "s390x",
));

/// Architectures aio-sys supports only with `asm_experimental_arch` (nightly or
/// `RUSTC_BOOTSTRAP=1`); without it the numbers are all `None`.
const EXPERIMENTAL_ASM: bool = cfg!(any(
    target_arch = "powerpc64",
    target_arch = "mips",
    all(target_arch = "mips64", target_pointer_width = "64"),
));

#[test]
fn numbers_match_linux_raw_sys() {
    if STABLE_ASM {
        assert_eq!(NR, LINUX_RAW_SYS);
    } else if EXPERIMENTAL_ASM && NR == NONE {
        println!(
            "note: aio-sys was built without asm_experimental_arch on {}: no numbers, every \
             call returns ENOSYS",
            std::env::consts::ARCH
        );
    } else if EXPERIMENTAL_ASM {
        assert_eq!(NR, LINUX_RAW_SYS);
    } else {
        assert_eq!(
            NR, NONE,
            "an architecture without a syscall instruction has no numbers"
        );
    }
}

#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
#[test]
fn x86_64_numbers_match_syscall_64_tbl() {
    let expected = Numbers {
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
    assert_eq!(NR, expected);
}

#[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
#[test]
fn x32_numbers_carry_the_x32_bit() {
    const X32: usize = 0x4000_0000;
    let expected = Numbers {
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
    assert_eq!(NR, expected);
}

/// A call the ABI lacks answers `ENOSYS` without entering the kernel.
#[test]
fn missing_calls_return_enosys() {
    let mut event = aio_sys::abi::io_event::default();
    let timeout = aio_sys::abi::__kernel_timespec::default();
    if NR.io_pgetevents_time64.is_none() {
        // SAFETY: valid pointers; the call is not issued (and with context 0 the kernel would
        // only answer EINVAL).
        let r = unsafe {
            aio_sys::io_pgetevents_time64(0, 0, 1, &mut event, &timeout, core::ptr::null())
        };
        assert_eq!(r, Err(Errno::NOSYS));
    }
    if NR.io_pgetevents_time64.is_none() || NR.io_getevents.is_none() {
        // On 64-bit ABIs there is no separate 32-bit-time call; riscv32 has none at all.
        let timeout32 = aio_sys::abi::old_timespec32::default();
        // SAFETY: as above.
        let r = unsafe { aio_sys::io_getevents_time32(0, 0, 1, &mut event, &timeout32) };
        assert_eq!(r, Err(Errno::NOSYS));
        // SAFETY: as above.
        let r = unsafe {
            aio_sys::io_pgetevents_time32(0, 0, 1, &mut event, &timeout32, core::ptr::null())
        };
        assert_eq!(r, Err(Errno::NOSYS));
    }
    if NR == NONE {
        let mut ctx = 0;
        // SAFETY: `ctx` is a valid, zeroed context variable.
        assert_eq!(unsafe { aio_sys::io_setup(1, &mut ctx) }, Err(Errno::NOSYS));
        assert_eq!(ctx, 0);
    }
}

#[test]
fn wait_path_follows_the_abi() {
    let path = aio_sys::wait_path();
    if NR.io_pgetevents_time64.is_none() && NR.io_getevents.is_some() {
        assert_eq!(path, WaitPath::Native64);
    } else {
        // 32-bit ABIs start on the time64 call and fall back only after a kernel ENOSYS.
        assert_ne!(path, WaitPath::Native64);
    }
}
