//! `struct io_event`, one completion.

/// One completed request (`struct io_event`), 32 bytes on every architecture.
///
/// Returned by `io_getevents(2)`/`io_pgetevents(2)` and stored in the completion ring after the
/// [`aio_ring`](crate::aio_ring) header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct io_event {
    /// The request's [`iocb::aio_data`](crate::iocb::aio_data), unchanged.
    pub data: u64,
    /// The user address of the request's `iocb`.
    pub obj: u64,
    /// The result: bytes transferred, the ready `POLL*` mask for a poll, 0 for a sync, or a
    /// negative errno (`-EINVAL` for misaligned `O_DIRECT`, `-EAGAIN` under `RWF_NOWAIT`,
    /// `-EFBIG`, `-ENOSPC`, …). A cancelled poll completes with 0.
    pub res: i64,
    /// Secondary result; 0 for every generic operation.
    pub res2: i64,
}
