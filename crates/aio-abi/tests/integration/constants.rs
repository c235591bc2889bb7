//! Cross-checks of `aio-abi` against `linux-raw-sys` (generated from the kernel's uapi headers),
//! plus the behaviour of the small helpers the crate defines on top of the raw ABI.
//!
//! `linux-raw-sys` has no `iocb`, `io_event`, `aio_context_t` or `IOCB_*`; everything it does
//! define that `aio-abi` also defines is compared here, for whichever architecture is built.

use aio_abi::{
    __aio_sigset, __kernel_size_t, __kernel_timespec, _NSIG, IOCB_CMD_FDSYNC, IOCB_CMD_FSYNC,
    IOCB_CMD_NOOP, IOCB_CMD_POLL, IOCB_CMD_PREAD, IOCB_CMD_PREADV, IOCB_CMD_PREADX,
    IOCB_CMD_PWRITE, IOCB_CMD_PWRITEV, IOCB_FLAG_IOPRIO, IOCB_FLAG_RESFD, IOPRIO_BE_NR,
    IOPRIO_CLASS_SHIFT, IOPRIO_PRIO_MASK, IocbCmd, IocbFlags, IoprioClass, KERNEL_SIGSET_SIZE,
    RwFlags, ioprio_class, ioprio_level, ioprio_value, kernel_sigset_t, old_timespec32,
};
use core::mem::{align_of, offset_of, size_of};
use linux_raw_sys::general as uapi;

// ---------------------------------------------------------------------------------------------
// RWF_* (include/uapi/linux/fs.h)
// ---------------------------------------------------------------------------------------------

#[test]
fn rwf_flags_match_uapi() {
    // linux-raw-sys carries RWF_HIPRI..RWF_APPEND; the newer bits are checked against the
    // kernel facts below.
    let pairs = [
        (RwFlags::HIPRI, uapi::RWF_HIPRI),
        (RwFlags::DSYNC, uapi::RWF_DSYNC),
        (RwFlags::SYNC, uapi::RWF_SYNC),
        (RwFlags::NOWAIT, uapi::RWF_NOWAIT),
        (RwFlags::APPEND, uapi::RWF_APPEND),
    ];
    for (ours, theirs) in pairs {
        assert_eq!(ours.bits() as u32, theirs, "{ours:?}");
    }
}

#[test]
fn rwf_flags_newer_than_linux_raw_sys() {
    // include/uapi/linux/fs.h: NOAPPEND 6.9, ATOMIC 6.11, DONTCACHE 6.14, NOSIGNAL 6.18.
    assert_eq!(RwFlags::NOAPPEND.bits(), 0x20);
    assert_eq!(RwFlags::ATOMIC.bits(), 0x40);
    assert_eq!(RwFlags::DONTCACHE.bits(), 0x80);
    assert_eq!(RwFlags::NOSIGNAL.bits(), 0x100);
    // Nine distinct single bits, contiguous from bit 0.
    assert_eq!(RwFlags::all().bits(), 0x1ff);
    for flag in RwFlags::all().iter() {
        assert_eq!(flag.bits().count_ones(), 1, "{flag:?}");
    }
    // A bit the kernel does not know is not representable (the kernel answers EOPNOTSUPP).
    assert_eq!(RwFlags::from_bits(1 << 30), None);
}

#[test]
fn rwf_t_is_a_c_int() {
    assert_eq!(
        size_of::<aio_abi::__kernel_rwf_t>(),
        size_of::<uapi::__kernel_rwf_t>()
    );
    assert_eq!(size_of::<aio_abi::__kernel_rwf_t>(), 4);
}

// ---------------------------------------------------------------------------------------------
// IOCB_* (include/uapi/linux/aio_abi.h): not in linux-raw-sys, so checked against the header's
// literal values.
// ---------------------------------------------------------------------------------------------

#[test]
fn iocb_cmd_values_match_aio_abi_h() {
    assert_eq!(IOCB_CMD_PREAD, 0);
    assert_eq!(IOCB_CMD_PWRITE, 1);
    assert_eq!(IOCB_CMD_FSYNC, 2);
    assert_eq!(IOCB_CMD_FDSYNC, 3);
    assert_eq!(IOCB_CMD_PREADX, 4);
    assert_eq!(IOCB_CMD_POLL, 5);
    assert_eq!(IOCB_CMD_NOOP, 6);
    assert_eq!(IOCB_CMD_PREADV, 7);
    assert_eq!(IOCB_CMD_PWRITEV, 8);

    assert_eq!(IocbCmd::Pread as u16, IOCB_CMD_PREAD);
    assert_eq!(IocbCmd::Pwrite as u16, IOCB_CMD_PWRITE);
    assert_eq!(IocbCmd::Fsync as u16, IOCB_CMD_FSYNC);
    assert_eq!(IocbCmd::Fdsync as u16, IOCB_CMD_FDSYNC);
    assert_eq!(IocbCmd::Poll as u16, IOCB_CMD_POLL);
    assert_eq!(IocbCmd::Noop as u16, IOCB_CMD_NOOP);
    assert_eq!(IocbCmd::Preadv as u16, IOCB_CMD_PREADV);
    assert_eq!(IocbCmd::Pwritev as u16, IOCB_CMD_PWRITEV);
}

#[test]
fn iocb_cmd_from_raw() {
    let all = [
        IocbCmd::Pread,
        IocbCmd::Pwrite,
        IocbCmd::Fsync,
        IocbCmd::Fdsync,
        IocbCmd::Poll,
        IocbCmd::Noop,
        IocbCmd::Preadv,
        IocbCmd::Pwritev,
    ];
    for cmd in all {
        assert_eq!(IocbCmd::from_raw(cmd as u16), Some(cmd));
    }
    // 4 is the retired IOCB_CMD_PREADX: no command.
    assert_eq!(IocbCmd::from_raw(IOCB_CMD_PREADX), None);
    assert_eq!(IocbCmd::from_raw(9), None);
    assert_eq!(IocbCmd::from_raw(u16::MAX), None);
    // Exactly the eight defined codes map to a command.
    let mapped = (0..=u16::MAX)
        .filter(|&raw| IocbCmd::from_raw(raw).is_some())
        .count();
    assert_eq!(mapped, 8);
}

#[test]
fn iocb_flag_values_match_aio_abi_h() {
    assert_eq!(IOCB_FLAG_RESFD, 1);
    assert_eq!(IOCB_FLAG_IOPRIO, 2);
    assert_eq!(IocbFlags::RESFD.bits(), IOCB_FLAG_RESFD);
    assert_eq!(IocbFlags::IOPRIO.bits(), IOCB_FLAG_IOPRIO);
    assert_eq!(IocbFlags::all().bits(), 3);
}

// ---------------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------------

#[test]
fn nsig_matches_uapi() {
    assert_eq!(_NSIG, uapi::_NSIG as usize);
    assert_eq!(KERNEL_SIGSET_SIZE, _NSIG / 8);
    assert_eq!(size_of::<kernel_sigset_t>(), KERNEL_SIGSET_SIZE);
    // Same size; the word type may differ (x32 linux-raw-sys uses two 32-bit words, the kernel
    // reads the bytes with copy_from_user, so only the size matters).
    assert_eq!(
        size_of::<kernel_sigset_t>(),
        size_of::<uapi::kernel_sigset_t>()
    );
}

#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6"
)))]
#[test]
fn sigset_size_is_8_off_mips() {
    assert_eq!(_NSIG, 64);
    assert_eq!(KERNEL_SIGSET_SIZE, 8);
}

#[cfg(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6"
))]
#[test]
fn sigset_size_is_16_on_mips() {
    assert_eq!(_NSIG, 128);
    assert_eq!(KERNEL_SIGSET_SIZE, 16);
}

#[test]
fn sigset_empty_and_full() {
    let empty = kernel_sigset_t::empty();
    let full = kernel_sigset_t::full();
    assert_eq!(empty, kernel_sigset_t::default());
    for signo in 1..=_NSIG as u32 {
        assert!(!empty.contains(signo), "{signo}");
        assert!(full.contains(signo), "{signo}");
    }
    assert!(empty.sig.iter().all(|&w| w == 0));
    assert!(full.sig.iter().all(|&w| w == !0));
}

#[test]
fn sigset_out_of_range_signals_are_rejected() {
    let mut set = kernel_sigset_t::empty();
    // Signal numbers are 1-based: 0 is not a signal.
    assert!(!set.insert(0));
    assert!(!set.remove(0));
    assert!(!set.contains(0));
    // _NSIG itself is the last valid signal; _NSIG + 1 is not.
    let past = _NSIG as u32 + 1;
    assert!(!set.insert(past));
    assert!(!set.contains(past));
    assert!(!set.insert(u32::MAX));
    assert_eq!(
        set,
        kernel_sigset_t::empty(),
        "a rejected insert changes nothing"
    );

    let mut full = kernel_sigset_t::full();
    assert!(!full.remove(0));
    assert!(!full.remove(past));
    assert!(
        !full.contains(past),
        "out of range is never contained, even in a full set"
    );
    assert_eq!(
        full,
        kernel_sigset_t::full(),
        "a rejected remove changes nothing"
    );
}

#[test]
fn sigset_bit_positions() {
    let bits_per_word = aio_abi::__kernel_ulong_t::BITS as usize;

    // Signal 1 is bit 0 of word 0.
    let mut set = kernel_sigset_t::empty();
    assert!(set.insert(1));
    assert!(set.contains(1));
    assert_eq!(set.sig[0], 1);

    // Signal _NSIG (64; 128 on MIPS) is the top bit of the last word.
    let mut set = kernel_sigset_t::empty();
    assert!(set.insert(_NSIG as u32));
    assert!(set.contains(_NSIG as u32));
    let last = set.sig.len() - 1;
    assert_eq!(set.sig[last], 1 << (bits_per_word - 1));
    assert!(set.sig[..last].iter().all(|&w| w == 0));
    assert!(set.remove(_NSIG as u32));
    assert_eq!(set, kernel_sigset_t::empty());

    // Signal n is bit (n - 1) % BITS of word (n - 1) / BITS, for every n.
    for signo in 1..=_NSIG as u32 {
        let mut set = kernel_sigset_t::empty();
        assert!(set.insert(signo));
        let index = signo as usize - 1;
        for (word, &value) in set.sig.iter().enumerate() {
            let expected = if word == index / bits_per_word {
                1 << (index % bits_per_word)
            } else {
                0
            };
            assert_eq!(value, expected, "signal {signo}, word {word}");
        }
        for other in 1..=_NSIG as u32 {
            assert_eq!(set.contains(other), other == signo, "{signo} vs {other}");
        }
    }
}

#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6"
)))]
#[test]
fn sigset_signal_65_is_out_of_range_with_64_signals() {
    let mut set = kernel_sigset_t::empty();
    assert!(set.insert(64));
    assert!(!set.insert(65));
    assert!(!set.contains(65));
    assert!(!set.remove(65));
    assert!(set.contains(64));
}

#[cfg(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6"
))]
#[test]
fn sigset_signal_65_is_valid_with_128_signals() {
    let mut set = kernel_sigset_t::empty();
    assert!(set.insert(65));
    assert!(set.contains(65));
    assert!(!set.contains(64));
    assert!(!set.contains(66));
    assert!(set.remove(65));
    assert_eq!(set, kernel_sigset_t::empty());
}

#[test]
fn sigset_insert_remove_are_idempotent_and_independent() {
    let mut set = kernel_sigset_t::empty();
    assert!(set.insert(10));
    assert!(set.insert(10));
    assert!(set.insert(12));
    assert!(set.contains(10) && set.contains(12) && !set.contains(11));
    assert!(set.remove(10));
    assert!(set.remove(10));
    assert!(!set.contains(10));
    assert!(set.contains(12));

    let mut full = kernel_sigset_t::full();
    assert!(full.remove(9));
    assert!(!full.contains(9));
    assert!(full.contains(8) && full.contains(10));
}

#[test]
fn aio_sigset_constructors() {
    let mask = kernel_sigset_t::empty();
    let sig = __aio_sigset::new(&mask);
    assert_eq!(sig.sigmask, &mask as *const kernel_sigset_t);
    assert_eq!(sig.sigsetsize, KERNEL_SIGSET_SIZE as __kernel_size_t);

    let wrong = __aio_sigset::with_size(core::ptr::null(), KERNEL_SIGSET_SIZE + 1);
    assert!(wrong.sigmask.is_null());
    assert_eq!(
        wrong.sigsetsize,
        (KERNEL_SIGSET_SIZE + 1) as __kernel_size_t
    );

    // { const sigset_t *sigmask; size_t sigsetsize; } as the kernel's 64-bit entry reads it.
    assert_eq!(offset_of!(__aio_sigset, sigmask), 0);
    assert_eq!(size_of::<__aio_sigset>(), 2 * size_of::<__kernel_size_t>());
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

#[test]
fn kernel_timespec_matches_uapi() {
    assert_eq!(
        size_of::<__kernel_timespec>(),
        size_of::<uapi::__kernel_timespec>()
    );
    assert_eq!(size_of::<__kernel_timespec>(), 16);
    assert_eq!(
        align_of::<__kernel_timespec>(),
        align_of::<uapi::__kernel_timespec>()
    );
    assert_eq!(
        offset_of!(__kernel_timespec, tv_sec),
        offset_of!(uapi::__kernel_timespec, tv_sec)
    );
    assert_eq!(
        offset_of!(__kernel_timespec, tv_nsec),
        offset_of!(uapi::__kernel_timespec, tv_nsec)
    );
    assert_eq!(
        size_of::<i64>(),
        size_of::<uapi::__kernel_time64_t>(),
        "tv_sec is 64-bit everywhere"
    );
}

#[test]
fn old_timespec32_from_timespec64() {
    let ts = |tv_sec, tv_nsec| __kernel_timespec { tv_sec, tv_nsec };
    let ts32 = |tv_sec, tv_nsec| Some(old_timespec32 { tv_sec, tv_nsec });

    assert_eq!(old_timespec32::from_timespec64(&ts(0, 0)), ts32(0, 0));
    assert_eq!(
        old_timespec32::from_timespec64(&ts(1, 999_999_999)),
        ts32(1, 999_999_999)
    );
    // The edges of a 32-bit time_t still fit...
    assert_eq!(
        old_timespec32::from_timespec64(&ts(i32::MAX as i64, 0)),
        ts32(i32::MAX, 0)
    );
    assert_eq!(
        old_timespec32::from_timespec64(&ts(i32::MIN as i64, 0)),
        ts32(i32::MIN, 0)
    );
    // ...one second beyond them does not (2038 and 1901).
    assert_eq!(
        old_timespec32::from_timespec64(&ts(i32::MAX as i64 + 1, 0)),
        None
    );
    assert_eq!(
        old_timespec32::from_timespec64(&ts(i32::MIN as i64 - 1, 0)),
        None
    );
    assert_eq!(old_timespec32::from_timespec64(&ts(i64::MAX, 0)), None);
    assert_eq!(old_timespec32::from_timespec64(&ts(i64::MIN, 0)), None);
    // Nanoseconds are range-checked against i32 only (the kernel validates 0..1e9 itself):
    // a value that would wrap must not be truncated into a different, valid-looking one.
    assert_eq!(old_timespec32::from_timespec64(&ts(0, 1 << 32)), None);
    assert_eq!(old_timespec32::from_timespec64(&ts(0, -(1 << 32))), None);
    assert_eq!(old_timespec32::from_timespec64(&ts(0, i64::MAX)), None);
}

// ---------------------------------------------------------------------------------------------
// I/O priority (include/uapi/linux/ioprio.h)
// ---------------------------------------------------------------------------------------------

#[test]
fn ioprio_constants_match_ioprio_h() {
    assert_eq!(IOPRIO_CLASS_SHIFT, 13);
    assert_eq!(IOPRIO_PRIO_MASK, 0x1fff);
    assert_eq!(IOPRIO_BE_NR, 8);
    assert_eq!(IoprioClass::None as u16, 0);
    assert_eq!(IoprioClass::Rt as u16, 1);
    assert_eq!(IoprioClass::Be as u16, 2);
    assert_eq!(IoprioClass::Idle as u16, 3);
}

#[test]
fn ioprio_value_class_level() {
    // IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 4) == (2 << 13) | 4.
    assert_eq!(ioprio_value(IoprioClass::Be, 4), Some(0x4004));
    assert_eq!(ioprio_value(IoprioClass::Rt, 0), Some(0x2000));
    assert_eq!(ioprio_value(IoprioClass::Idle, 7), Some(0x6007));
    assert_eq!(ioprio_value(IoprioClass::None, 0), Some(0));
    // Levels run 0..IOPRIO_BE_NR.
    assert_eq!(ioprio_value(IoprioClass::Be, IOPRIO_BE_NR), None);
    assert_eq!(ioprio_value(IoprioClass::Rt, u8::MAX), None);

    let classes = [
        IoprioClass::None,
        IoprioClass::Rt,
        IoprioClass::Be,
        IoprioClass::Idle,
    ];
    for class in classes {
        for level in 0..IOPRIO_BE_NR {
            let prio = ioprio_value(class, level).unwrap();
            assert_eq!(ioprio_class(prio), class as u16, "{class:?} {level}");
            assert_eq!(ioprio_level(prio), u16::from(level), "{class:?} {level}");
        }
    }

    // The accessors take any raw value: class is the top 3 bits, level the low 3.
    assert_eq!(ioprio_class(-1), 7);
    assert_eq!(ioprio_level(-1), 7);
    assert_eq!(ioprio_class(0x1fff), 0);
    assert_eq!(ioprio_level(0x1ff8), 0);
}
