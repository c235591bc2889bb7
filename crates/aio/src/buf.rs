//! Buffers the kernel may read or write while an operation is in flight.

use crate::Error;
use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use alloc::{boxed::Box, vec::Vec};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// A buffer whose bytes the kernel may **read** (the source of a write) while the context owns it.
///
/// The context takes the buffer by value when an operation is pushed and hands it back in the
/// operation's [`Completion`](crate::Completion); in between nothing else can reach it.
///
/// # Safety
/// Implementors promise that [`stable_ptr`](IoBuf::stable_ptr) returns a pointer valid for
/// reads of [`bytes_len`](IoBuf::bytes_len) bytes, and that both stay the same, **even when the
/// buffer value is moved**, until the buffer is dropped or a `&mut` method is called on it (heap
/// storage like `Vec<u8>`'s qualifies; an inline array does not).
pub unsafe trait IoBuf: 'static {
    /// The address of the first byte.
    fn stable_ptr(&self) -> *const u8;
    /// How many bytes starting at [`stable_ptr`](IoBuf::stable_ptr) the operation covers.
    fn bytes_len(&self) -> usize;
}

/// A buffer the kernel may **write** (the target of a read) while the context owns it.
///
/// A read fills at most [`bytes_len`](IoBuf::bytes_len) bytes (for a `Vec<u8>`, its length, not
/// its capacity: size it with `vec![0; n]`); the completion's result says how many.
///
/// # Safety
/// As [`IoBuf`], and [`stable_mut_ptr`](IoBufMut::stable_mut_ptr) must be valid for writes of
/// `bytes_len()` bytes, with any byte pattern being a valid value.
pub unsafe trait IoBufMut: IoBuf {
    /// The address of the first byte, for writing.
    fn stable_mut_ptr(&mut self) -> *mut u8;
}

// SAFETY: a Vec's heap buffer does not move when the Vec is moved; `len` initialised bytes.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above; u8 accepts any byte.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
}

// SAFETY: a boxed slice's heap storage does not move when the box is moved.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above; u8 accepts any byte.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
}

// SAFETY: 'static data never moves or goes away; the kernel only reads it.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: 'static data never moves or goes away.
unsafe impl IoBuf for &'static mut [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: the exclusive 'static borrow is owned by the context while in flight; u8 accepts any
// byte.
unsafe impl IoBufMut for &'static mut [u8] {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
}

/// A zero-initialised heap buffer with a chosen alignment, for `O_DIRECT`.
///
/// Direct I/O needs the buffer address, the length and the file offset aligned to the file's
/// direct-I/O alignment (see [`dio_alignment`](crate::dio_alignment)); a misaligned request
/// completes with `EINVAL` in its result.
///
/// ```
/// let buf = aio::AlignedBuf::new(8192, 4096).unwrap();
/// assert_eq!(buf.as_ptr() as usize % 4096, 0);
/// assert!(buf.iter().all(|&b| b == 0));
/// ```
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    /// The allocation's size: `len` until [`truncate`](AlignedBuf::truncate).
    cap: usize,
    align: usize,
}

// SAFETY: AlignedBuf owns its allocation exclusively, like a Box<[u8]>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only reads.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// Allocates `len` zeroed bytes aligned to `align` (a power of two).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if `align` is not a power of two or the size overflows;
    /// [`Error::OutOfMemory`] if the allocation fails.
    pub fn new(len: usize, align: usize) -> Result<Self, Error> {
        let layout = Layout::from_size_align(len, align).map_err(|_| {
            Error::InvalidInput("AlignedBuf: align must be a power of two and len fit isize")
        })?;
        let ptr = if len == 0 {
            // A dangling but aligned pointer: nothing is ever read or written through it.
            NonNull::new(align as *mut u8).expect("a power of two is non-zero")
        } else {
            // SAFETY: the layout has a non-zero size.
            let raw = unsafe { alloc_zeroed(layout) };
            match NonNull::new(raw) {
                Some(ptr) => ptr,
                None => {
                    return Err(Error::OutOfMemory {
                        what: "AlignedBuf",
                        bytes: len,
                    });
                }
            }
        };
        Ok(Self {
            ptr,
            len,
            cap: len,
            align,
        })
    }

    /// The alignment the buffer was allocated with.
    pub fn align(&self) -> usize {
        self.align
    }

    /// The bytes allocated, whatever [`truncate`](Self::truncate) left visible.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Shortens the visible length to `len` (no effect if it is not shorter), keeping the
    /// allocation: what a short read leaves (the bytes past the end of the file were not
    /// read). [`restore_len`](Self::restore_len) makes the whole allocation visible again.
    ///
    /// ```
    /// let mut buf = aio::AlignedBuf::new(4096, 4096).unwrap();
    /// buf.truncate(100);
    /// assert_eq!((buf.len(), buf.capacity()), (100, 4096));
    /// buf.restore_len();
    /// assert_eq!(buf.len(), 4096);
    /// ```
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Makes the whole allocation visible again after [`truncate`](Self::truncate).
    pub fn restore_len(&mut self) {
        self.len = self.cap;
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.cap != 0 {
            // SAFETY: allocated in `new` with exactly this layout (`cap` is its size).
            unsafe {
                dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.cap, self.align),
                )
            }
        }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` initialised (zeroed) bytes owned by self.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Clone for AlignedBuf {
    fn clone(&self) -> Self {
        let mut copy = match Self::new(self.len, self.align) {
            Ok(copy) => copy,
            // Like every std collection's `clone`: the layout is self's, so only memory can
            // be missing.
            Err(_) => alloc::alloc::handle_alloc_error(
                Layout::from_size_align(self.len, self.align).expect("self's layout"),
            ),
        };
        copy.copy_from_slice(self);
        copy
    }
}

impl core::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("align", &self.align)
            .finish()
    }
}

// SAFETY: the heap allocation does not move with the struct; `len` bytes.
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.len
    }
}

// SAFETY: as above; u8 accepts any byte.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}
