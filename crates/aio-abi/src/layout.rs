//! The compile-time layout check every `arch/<target_arch>.rs` file instantiates.
//!
//! An architecture file states the numbers that differ between ABIs (the width of
//! `aio_context_t`, the alignment of 64-bit fields, where `aio_key` and `aio_rw_flags` sit for the
//! byte order, the kernel sigset size, the width of `__aio_sigset`); everything that is the same
//! on every ABI (64-byte `iocb`, 32-byte `io_event` and ring header, …) is asserted here once.

/// Asserts the size, alignment and every field offset of every type in this crate.
macro_rules! check_layout {
    (
        aio_context_t: $ctx:literal,
        align_of_u64: $a64:literal,
        aio_key: $key:literal,
        aio_rw_flags: $rw:literal,
        kernel_sigset_t: $sigset:literal,
        __aio_sigset: $aio_sigset:literal $(,)?
    ) => {
        use core::mem::{align_of, offset_of, size_of};
        use static_assertions::const_assert_eq;

        use crate::{
            __aio_sigset, __kernel_timespec, aio_context_t, aio_ring, io_event, iocb,
            kernel_sigset_t, old_timespec32,
        };

        const_assert_eq!(size_of::<aio_context_t>(), $ctx);

        const_assert_eq!(size_of::<iocb>(), 64);
        const_assert_eq!(align_of::<iocb>(), $a64);
        const_assert_eq!(offset_of!(iocb, aio_data), 0);
        const_assert_eq!(offset_of!(iocb, aio_key), $key);
        const_assert_eq!(offset_of!(iocb, aio_rw_flags), $rw);
        const_assert_eq!(offset_of!(iocb, aio_lio_opcode), 16);
        const_assert_eq!(offset_of!(iocb, aio_reqprio), 18);
        const_assert_eq!(offset_of!(iocb, aio_fildes), 20);
        const_assert_eq!(offset_of!(iocb, aio_buf), 24);
        const_assert_eq!(offset_of!(iocb, aio_nbytes), 32);
        const_assert_eq!(offset_of!(iocb, aio_offset), 40);
        const_assert_eq!(offset_of!(iocb, aio_reserved2), 48);
        const_assert_eq!(offset_of!(iocb, aio_flags), 56);
        const_assert_eq!(offset_of!(iocb, aio_resfd), 60);

        const_assert_eq!(size_of::<io_event>(), 32);
        const_assert_eq!(align_of::<io_event>(), $a64);
        const_assert_eq!(offset_of!(io_event, data), 0);
        const_assert_eq!(offset_of!(io_event, obj), 8);
        const_assert_eq!(offset_of!(io_event, res), 16);
        const_assert_eq!(offset_of!(io_event, res2), 24);

        const_assert_eq!(size_of::<aio_ring>(), 32);
        const_assert_eq!(align_of::<aio_ring>(), $a64);
        const_assert_eq!(offset_of!(aio_ring, id), 0);
        const_assert_eq!(offset_of!(aio_ring, nr), 4);
        const_assert_eq!(offset_of!(aio_ring, head), 8);
        const_assert_eq!(offset_of!(aio_ring, tail), 12);
        const_assert_eq!(offset_of!(aio_ring, magic), 16);
        const_assert_eq!(offset_of!(aio_ring, compat_features), 20);
        const_assert_eq!(offset_of!(aio_ring, incompat_features), 24);
        const_assert_eq!(offset_of!(aio_ring, header_length), 28);
        const_assert_eq!(offset_of!(aio_ring, io_events), 32);

        const_assert_eq!(size_of::<__kernel_timespec>(), 16);
        const_assert_eq!(align_of::<__kernel_timespec>(), $a64);
        const_assert_eq!(offset_of!(__kernel_timespec, tv_sec), 0);
        const_assert_eq!(offset_of!(__kernel_timespec, tv_nsec), 8);

        const_assert_eq!(size_of::<old_timespec32>(), 8);
        const_assert_eq!(align_of::<old_timespec32>(), 4);
        const_assert_eq!(offset_of!(old_timespec32, tv_sec), 0);
        const_assert_eq!(offset_of!(old_timespec32, tv_nsec), 4);

        const_assert_eq!(size_of::<kernel_sigset_t>(), $sigset);
        const_assert_eq!(crate::KERNEL_SIGSET_SIZE, $sigset);

        const_assert_eq!(size_of::<__aio_sigset>(), $aio_sigset);
        const_assert_eq!(offset_of!(__aio_sigset, sigmask), 0);
        const_assert_eq!(offset_of!(__aio_sigset, sigsetsize), $aio_sigset / 2);
    };
}

pub(crate) use check_layout;
