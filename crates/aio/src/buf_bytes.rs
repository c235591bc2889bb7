//! The `bytes` feature: [`bytes::Bytes`] and [`bytes::BytesMut`] as operation buffers, and
//! aligned buffers handed out as `Bytes` without a copy (the crate docs, "Buffers from the
//! `bytes` crate", say what each does).

use crate::buf::{AlignedBuf, IoBuf, IoBufMut};
use bytes::{Bytes, BytesMut};

// SAFETY: a `BytesMut`'s bytes live in a heap allocation (its own or shared with the `Bytes`
// it came from, which then holds only other ranges): moving the handle moves none of them, and
// `len()` bytes from `as_ptr()` are its own and initialised.
unsafe impl IoBuf for BytesMut {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above; a `BytesMut` is the only handle on its range, so the kernel's writes race
// with no reader, and u8 accepts any byte.
unsafe impl IoBufMut for BytesMut {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
}

// SAFETY: a `Bytes`'s bytes are static or on the heap (shared by its clones, which only read
// them): moving the handle moves none of them, and `len()` bytes from `as_ptr()` stay valid
// and unchanged until the last clone is dropped.
unsafe impl IoBuf for Bytes {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.len()
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// Wraps the buffer without copying it: the `Bytes` covers its `len()` bytes (what
/// [`truncate`](AlignedBuf::truncate) left), keeps its address and alignment, and frees it
/// when the last clone is dropped.
impl From<AlignedBuf> for Bytes {
    fn from(buf: AlignedBuf) -> Self {
        Bytes::from_owner(buf)
    }
}

#[cfg(feature = "std")]
mod pooled {
    use crate::pool::PooledBuf;
    use bytes::Bytes;

    impl AsRef<[u8]> for PooledBuf {
        fn as_ref(&self) -> &[u8] {
            self
        }
    }

    /// Wraps the block without copying it: the `Bytes` covers its `len()` bytes, and the block
    /// goes back to its pool when the last clone is dropped.
    impl From<PooledBuf> for Bytes {
        fn from(buf: PooledBuf) -> Self {
            Bytes::from_owner(buf)
        }
    }
}
