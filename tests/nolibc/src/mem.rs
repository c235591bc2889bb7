//! The memory functions the compiler may call (slice comparison, struct copies): with
//! `-nostdlib` neither libc nor libgcc provides them, and `compiler_builtins` does not export
//! them on `*-linux-gnu` targets. Byte loops: this program moves a few hundred bytes.

/// `memcpy`: copies `n` bytes; the ranges must not overlap.
///
/// # Safety
/// `dest` and `src` must be valid for `n` bytes and not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: `i < n`, within both ranges the caller vouches for.
        unsafe { *dest.add(i) = *src.add(i) };
    }
    dest
}

/// `memmove`: copies `n` bytes between possibly overlapping ranges.
///
/// # Safety
/// `dest` and `src` must be valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize) <= (src as usize) {
        // Forwards: each source byte is read before a write can reach it.
        for i in 0..n {
            // SAFETY: `i < n`, within both ranges.
            unsafe { *dest.add(i) = *src.add(i) };
        }
    } else {
        // Backwards, for a destination above the source.
        for i in (0..n).rev() {
            // SAFETY: `i < n`, within both ranges.
            unsafe { *dest.add(i) = *src.add(i) };
        }
    }
    dest
}

/// `memset`: fills `n` bytes with the low byte of `c`.
///
/// # Safety
/// `s` must be valid for writes of `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(s: *mut u8, c: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: `i < n`, within the range the caller vouches for.
        unsafe { *s.add(i) = c as u8 };
    }
    s
}

/// `memcmp`: compares `n` bytes as unsigned chars.
///
/// # Safety
/// `a` and `b` must be valid for reads of `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: `i < n`, within both ranges.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// `bcmp`: zero if the `n` bytes are equal (what slice equality compiles to).
///
/// # Safety
/// As [`memcmp`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe { memcmp(a, b, n) }
}

/// `strlen`: the length of a NUL-terminated string (rustix's vDSO lookup compiles `CStr`
/// lengths to it on some targets, i386 among them).
///
/// # Safety
/// `s` must point to a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: every byte up to and including the NUL is part of the string.
    while unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    n
}
