//! s390x layouts: LP64, big-endian.

crate::layout::check_layout! {
    aio_context_t: 8,
    align_of_u64: 8,
    aio_key: 12,
    aio_rw_flags: 8,
    kernel_sigset_t: 8,
    __aio_sigset: 16,
}
