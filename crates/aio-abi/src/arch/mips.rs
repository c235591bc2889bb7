//! MIPS o32 layouts: ILP32, 8-byte aligned 64-bit fields, a 128-signal (16-byte) kernel sigset,
//! either byte order.

#[cfg(target_endian = "big")]
crate::layout::check_layout! {
    aio_context_t: 4,
    align_of_u64: 8,
    aio_key: 12,
    aio_rw_flags: 8,
    kernel_sigset_t: 16,
    __aio_sigset: 8,
}

#[cfg(target_endian = "little")]
crate::layout::check_layout! {
    aio_context_t: 4,
    align_of_u64: 8,
    aio_key: 8,
    aio_rw_flags: 12,
    kernel_sigset_t: 16,
    __aio_sigset: 8,
}
