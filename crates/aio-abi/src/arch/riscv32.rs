//! riscv32 layouts: ILP32 with 8-byte aligned 64-bit fields, little-endian.

crate::layout::check_layout! {
    aio_context_t: 4,
    align_of_u64: 8,
    aio_key: 8,
    aio_rw_flags: 12,
    kernel_sigset_t: 8,
    __aio_sigset: 8,
}
