//! x86_64 layouts: the 64-bit ABI and x32 (ILP32 user space on a 64-bit kernel), both
//! little-endian.
//!
//! They agree on every number: on x32 `__kernel_ulong_t` is 64 bits, so the context and both
//! fields of `__aio_sigset` (read by the kernel's 64-bit `io_pgetevents`) are 8 bytes wide.

crate::layout::check_layout! {
    aio_context_t: 8,
    align_of_u64: 8,
    aio_key: 8,
    aio_rw_flags: 12,
    kernel_sigset_t: 8,
    __aio_sigset: 16,
}
