//! i386 layouts: ILP32, little-endian, and 64-bit fields only 4-byte aligned.

crate::layout::check_layout! {
    aio_context_t: 4,
    align_of_u64: 4,
    aio_key: 8,
    aio_rw_flags: 12,
    kernel_sigset_t: 8,
    __aio_sigset: 8,
}
