//! `struct aio_ring`, the header of the completion ring `io_setup` maps into the process.

use crate::io_event;

/// The value of [`aio_ring::magic`] for a ring user space may read (`AIO_RING_MAGIC`).
pub const AIO_RING_MAGIC: u32 = 0xa10a_10a1;
/// The [`aio_ring::compat_features`] a current kernel reports (`AIO_RING_COMPAT_FEATURES`).
pub const AIO_RING_COMPAT_FEATURES: u32 = 1;
/// The [`aio_ring::incompat_features`] this layout understands (`AIO_RING_INCOMPAT_FEATURES`).
/// Any other value means user space must not read the ring and must reap with `io_getevents`.
pub const AIO_RING_INCOMPAT_FEATURES: u32 = 0;
/// The size of the header in bytes, as the kernel stores it in [`aio_ring::header_length`].
pub const AIO_RING_HEADER_LENGTH: u32 = 32;

/// The completion ring header (`struct aio_ring` in `fs/aio.c`, not part of the uapi headers).
///
/// `io_setup` maps the ring read-write into the caller at the address it returns as the
/// [`aio_context_t`](crate::aio_context_t); `nr` [`io_event`]s follow the header. The kernel
/// produces at `tail` (event stores, then a write barrier, then `tail`); a single user-space
/// consumer may copy `[head, tail)` modulo `nr` after an acquire load of `tail` and hand the slots
/// back with a release store of `head`, but only when `magic == AIO_RING_MAGIC` and
/// `incompat_features == AIO_RING_INCOMPAT_FEATURES`.
#[repr(C)]
#[derive(Debug)]
pub struct aio_ring {
    /// Kernel-internal context id.
    pub id: u32,
    /// Number of [`io_event`] slots after the header (larger than asked of `io_setup`).
    pub nr: u32,
    /// Consumer index, written by whoever reaps (kernel or user space).
    pub head: u32,
    /// Producer index, written by the kernel.
    pub tail: u32,
    /// [`AIO_RING_MAGIC`] when the ring may be read from user space.
    pub magic: u32,
    /// Compatible feature bits ([`AIO_RING_COMPAT_FEATURES`]).
    pub compat_features: u32,
    /// Incompatible feature bits; anything but [`AIO_RING_INCOMPAT_FEATURES`] forbids user-space
    /// reaping.
    pub incompat_features: u32,
    /// Size of this header in bytes ([`AIO_RING_HEADER_LENGTH`]).
    pub header_length: u32,
    /// The events (a C flexible array member): `nr` of them follow the header.
    pub io_events: [io_event; 0],
}
