//! riscv64 layouts: LP64, little-endian.

crate::layout::check_layout! {
    aio_context_t: 8,
    align_of_u64: 8,
    aio_key: 8,
    aio_rw_flags: 12,
    kernel_sigset_t: 8,
    __aio_sigset: 16,
}
