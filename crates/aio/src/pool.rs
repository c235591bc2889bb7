//! [`BufPool`]: a fixed set of aligned blocks that operations take and give back when dropped,
//! and [`AnyBuf`], one buffer type for contexts whose operations use several kinds.

use crate::Error;
use crate::buf::{AlignedBuf, IoBuf, IoBufMut};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};
use std::sync::{Mutex, PoisonError};

/// A pool of `blocks` aligned blocks of one size, allocated up front: [`take`](Self::take)
/// hands one out as a [`PooledBuf`], which goes back to the pool when dropped, wherever that
/// happens (a completion handed back, a future of the tokio handle dropped, another thread).
/// Memory stays bounded at `blocks × block_len`, and taking and giving back allocate nothing:
/// in steady state an operation costs no allocation (tested). Cloning the pool shares it.
///
/// For `O_DIRECT`, size and align the blocks with [`dio_alignment`](crate::dio_alignment).
///
/// ```
/// use aio::{BufPool, Context, Op, PooledBuf};
/// let pool = BufPool::new(4, 4096, 4096)?;
/// let mut ctx = Context::builder().buffers::<PooledBuf>().depth(4).build()?;
/// let zero = ctx.register(std::fs::File::open("/dev/zero")?)?;
/// let buf = pool.take().expect("a free block");
/// assert_eq!(pool.available(), 3);
/// ctx.push(Op::read(zero, buf, 0))?;
/// ctx.submit()?;
/// ctx.wait(1, None)?;
/// let done = ctx.completions().next().unwrap();
/// assert_eq!(done.result(), Ok(4096));
/// drop(done); // the block goes back
/// assert_eq!(pool.available(), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BufPool {
    shared: Arc<Shared>,
}

struct Shared {
    free: Mutex<Vec<AlignedBuf>>,
    blocks: usize,
    block_len: usize,
    align: usize,
}

impl Shared {
    fn give_back(&self, buf: AlignedBuf) {
        // The vector was given room for every block: no allocation here. A panic elsewhere
        // while the lock was held leaves a consistent list (push and pop are the only uses).
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(buf);
    }
}

impl BufPool {
    /// `blocks` blocks of `block_len` bytes aligned to `align` (a power of two), zeroed.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad alignment or a size that overflows;
    /// [`Error::OutOfMemory`] if the blocks cannot be allocated (nothing is kept then).
    pub fn new(blocks: usize, block_len: usize, align: usize) -> Result<Self, Error> {
        let mut free = Vec::new();
        free.try_reserve_exact(blocks)
            .map_err(|_| Error::OutOfMemory {
                what: "BufPool's list",
                bytes: blocks.saturating_mul(core::mem::size_of::<AlignedBuf>()),
            })?;
        for _ in 0..blocks {
            free.push(AlignedBuf::new(block_len, align)?);
        }
        Ok(Self {
            shared: Arc::new(Shared {
                free: Mutex::new(free),
                blocks,
                block_len,
                align,
            }),
        })
    }

    /// A free block (its whole length; [`PooledBuf::truncate`] shortens it for one
    /// operation), or `None` while every block is out: bounded memory means the caller waits
    /// for a completion, or makes a larger pool.
    pub fn take(&self) -> Option<PooledBuf> {
        let buf = self
            .shared
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()?;
        Some(PooledBuf {
            len: buf.len(),
            buf: Some(buf),
            pool: self.shared.clone(),
        })
    }

    /// Blocks free now.
    pub fn available(&self) -> usize {
        self.shared
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Blocks in all.
    pub fn blocks(&self) -> usize {
        self.shared.blocks
    }

    /// The length of every block.
    pub fn block_len(&self) -> usize {
        self.shared.block_len
    }

    /// The alignment of every block.
    pub fn align(&self) -> usize {
        self.shared.align
    }
}

impl core::fmt::Debug for BufPool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BufPool")
            .field("blocks", &self.shared.blocks)
            .field("available", &self.available())
            .field("block_len", &self.shared.block_len)
            .field("align", &self.shared.align)
            .finish()
    }
}

/// A block of a [`BufPool`], back in the pool when dropped. Derefs to its bytes: the block's
/// first `len()` bytes (the whole block unless [`truncate`](Self::truncate)d).
pub struct PooledBuf {
    /// Always `Some` until `drop` takes it.
    buf: Option<AlignedBuf>,
    len: usize,
    pool: Arc<Shared>,
}

impl PooledBuf {
    /// Shortens the bytes an operation covers to `len` (no effect if longer); the block keeps
    /// its size for the next user.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// The block's whole length again.
    pub fn restore_len(&mut self) {
        self.len = self.block().len();
    }

    fn block(&self) -> &AlignedBuf {
        // `buf` is only taken in `drop`.
        self.buf.as_ref().expect("a pooled block until dropped")
    }

    fn block_mut(&mut self) -> &mut AlignedBuf {
        self.buf.as_mut().expect("a pooled block until dropped")
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            self.pool.give_back(buf);
        }
    }
}

impl Deref for PooledBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.block()[..self.len]
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut self.block_mut()[..len]
    }
}

impl core::fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PooledBuf")
            .field("len", &self.len)
            .field("block_len", &self.block().len())
            .field("align", &self.block().align())
            .finish()
    }
}

// SAFETY: the block's heap allocation (an AlignedBuf's) does not move when the PooledBuf is
// moved, and `len` never exceeds the block's length.
unsafe impl IoBuf for PooledBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.block().stable_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.len
    }
}

// SAFETY: as above; u8 accepts any byte.
unsafe impl IoBufMut for PooledBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.block_mut().stable_mut_ptr()
    }
}

/// One buffer type for a context whose operations use several kinds: a plain `Vec<u8>` for
/// some, an [`AlignedBuf`] or a pool's block for `O_DIRECT` ones, with no `unsafe impl` of
/// the caller's. `From` each kind; deref to the bytes.
///
/// ```
/// use aio::{AlignedBuf, AnyBuf, Context, Op};
/// let mut ctx = Context::builder().buffers::<AnyBuf>().depth(4).build()?;
/// let zero = ctx.register(std::fs::File::open("/dev/zero")?)?;
/// ctx.push(Op::read(zero, AnyBuf::from(vec![1u8; 512]), 0))?;
/// ctx.push(Op::read(zero, AnyBuf::from(AlignedBuf::new(4096, 4096)?), 0))?;
/// ctx.submit()?;
/// ctx.wait(2, None)?;
/// for done in ctx.completions() {
///     assert!(done.result()? > 0);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyBuf {
    /// A `Vec<u8>` (its length, not its capacity, is what an operation covers).
    Vec(Vec<u8>),
    /// A boxed slice.
    Boxed(Box<[u8]>),
    /// An aligned heap buffer.
    Aligned(AlignedBuf),
    /// A block of a [`BufPool`].
    Pooled(PooledBuf),
    /// A `bytes::BytesMut` (the `bytes` feature).
    #[cfg(feature = "bytes")]
    BytesMut(bytes::BytesMut),
}

impl From<Vec<u8>> for AnyBuf {
    fn from(buf: Vec<u8>) -> Self {
        Self::Vec(buf)
    }
}

impl From<Box<[u8]>> for AnyBuf {
    fn from(buf: Box<[u8]>) -> Self {
        Self::Boxed(buf)
    }
}

impl From<AlignedBuf> for AnyBuf {
    fn from(buf: AlignedBuf) -> Self {
        Self::Aligned(buf)
    }
}

impl From<PooledBuf> for AnyBuf {
    fn from(buf: PooledBuf) -> Self {
        Self::Pooled(buf)
    }
}

#[cfg(feature = "bytes")]
impl From<bytes::BytesMut> for AnyBuf {
    fn from(buf: bytes::BytesMut) -> Self {
        Self::BytesMut(buf)
    }
}

impl Deref for AnyBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Self::Vec(b) => b,
            Self::Boxed(b) => b,
            Self::Aligned(b) => b,
            Self::Pooled(b) => b,
            #[cfg(feature = "bytes")]
            Self::BytesMut(b) => b,
        }
    }
}

impl DerefMut for AnyBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            Self::Vec(b) => b,
            Self::Boxed(b) => b,
            Self::Aligned(b) => b,
            Self::Pooled(b) => b,
            #[cfg(feature = "bytes")]
            Self::BytesMut(b) => b,
        }
    }
}

// SAFETY: each variant is an IoBuf whose storage is on the heap, so moving the enum moves no
// byte the pointer names; the pointer and length are the variant's own.
unsafe impl IoBuf for AnyBuf {
    fn stable_ptr(&self) -> *const u8 {
        match self {
            Self::Vec(b) => b.stable_ptr(),
            Self::Boxed(b) => b.stable_ptr(),
            Self::Aligned(b) => b.stable_ptr(),
            Self::Pooled(b) => b.stable_ptr(),
            #[cfg(feature = "bytes")]
            Self::BytesMut(b) => b.stable_ptr(),
        }
    }
    fn bytes_len(&self) -> usize {
        match self {
            Self::Vec(b) => b.bytes_len(),
            Self::Boxed(b) => b.bytes_len(),
            Self::Aligned(b) => b.bytes_len(),
            Self::Pooled(b) => b.bytes_len(),
            #[cfg(feature = "bytes")]
            Self::BytesMut(b) => b.bytes_len(),
        }
    }
}

// SAFETY: as above; every variant is an IoBufMut.
unsafe impl IoBufMut for AnyBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        match self {
            Self::Vec(b) => b.stable_mut_ptr(),
            Self::Boxed(b) => b.stable_mut_ptr(),
            Self::Aligned(b) => b.stable_mut_ptr(),
            Self::Pooled(b) => b.stable_mut_ptr(),
            #[cfg(feature = "bytes")]
            Self::BytesMut(b) => b.stable_mut_ptr(),
        }
    }
}
