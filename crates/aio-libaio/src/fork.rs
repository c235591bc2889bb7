//! Telling a forked child from the process that made its contexts, in one load.
//!
//! After `fork` the child still maps the parent's rings (shared memory), but every call on
//! those contexts answers `EINVAL`; reaping from the ring there would take the parent's
//! completions. So the fast path asks [`forked`] first. The answer comes from one anonymous
//! page marked `MADV_WIPEONFORK` (Linux 4.14), which a child gets back zero-filled; where the
//! kernel refuses that advice (or only pretends to, as qemu-user does: it also accepts
//! `MADV_REMOVE` on a private page, which every kernel refuses) the pid is compared instead,
//! one `getpid` per check.

use aio_sys::raw::{Word, syscall3};
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use linux_raw_sys::general as sys;

/// The page's marker while the process is the one that set it up.
const MARK: u32 = 0xA10_A10;
const PAGE: usize = 4096;

/// The wipe-on-fork page (null: not set up, or the pid is compared instead).
static PAGE_PTR: AtomicPtr<AtomicU32> = AtomicPtr::new(core::ptr::null_mut());
/// The pid that set up the guard (0: not set up).
static PID: AtomicU32 = AtomicU32::new(0);

/// Sets up the guard, once per process (at the first `io_setup`). Also after a fork: a
/// child that makes contexts of its own takes the guard over.
pub(crate) fn arm() {
    let pid = getpid();
    if PID.load(Ordering::Acquire) == pid {
        return;
    }
    let page = wipe_on_fork_page();
    if let Some(page) = page {
        // SAFETY: the page is mapped for the life of the process and only used atomically.
        unsafe { (*page).store(MARK, Ordering::Release) };
    }
    PAGE_PTR.store(page.unwrap_or(core::ptr::null_mut()), Ordering::Release);
    PID.store(pid, Ordering::Release);
}

/// The process that set up the guard (0 before the first `io_setup`): contexts registered
/// by another (a parent) are not this process's.
#[inline]
pub(crate) fn owner() -> u32 {
    PID.load(Ordering::Acquire)
}

/// Whether this process is a child of the one that set up the guard ([`owner`]).
#[inline]
pub(crate) fn forked() -> bool {
    let page = PAGE_PTR.load(Ordering::Acquire);
    if !page.is_null() {
        // SAFETY: set by `arm` to a page mapped for the life of the process (and of its
        // children, which get it zero-filled).
        return unsafe { (*page).load(Ordering::Acquire) } != MARK;
    }
    PID.load(Ordering::Acquire) != getpid()
}

fn getpid() -> u32 {
    // SAFETY: getpid takes no arguments and touches no memory.
    unsafe { syscall3(sys::__NR_getpid as usize, [0; 3]) }.map_or(0, |pid| pid as u32)
}

/// A fresh private anonymous page the kernel wipes in children, or `None`.
fn wipe_on_fork_page() -> Option<*mut AtomicU32> {
    let page = map_page()?;
    // SAFETY: madvise on the page just mapped, which nothing else uses.
    let wipes = unsafe { advise(page, sys::MADV_WIPEONFORK) }
        // SAFETY: as above; a kernel refuses MADV_REMOVE on a private page and changes nothing.
        && !unsafe { advise(page, sys::MADV_REMOVE) };
    // A page that does not wipe stays mapped unused (one page, once per process).
    wipes.then_some(page.cast())
}

unsafe fn advise(page: *mut u8, advice: u32) -> bool {
    let args = [page as usize as Word, PAGE as Word, advice as Word];
    // SAFETY: the caller's page; madvise reads no memory.
    unsafe { syscall3(sys::__NR_madvise as usize, args) }.is_ok()
}

/// One private anonymous read-write page.
fn map_page() -> Option<*mut u8> {
    let prot = (sys::PROT_READ | sys::PROT_WRITE) as Word;
    let flags = (sys::MAP_PRIVATE | sys::MAP_ANONYMOUS) as Word;
    // No descriptor: -1 (sign-extended where registers are wider than `int`).
    let no_fd = -1i32 as isize as Word;
    // s390x's mmap is the old form: one pointer to the six arguments.
    #[cfg(target_arch = "s390x")]
    let result = {
        let args: [u64; 6] = [0, PAGE as u64, prot as u64, flags as u64, no_fd as u64, 0];
        // SAFETY: the kernel reads the six arguments; the mapping is new.
        unsafe {
            syscall3(
                sys::__NR_mmap as usize,
                [args.as_ptr() as usize as Word, 0, 0],
            )
        }
    };
    // 32-bit ABIs (x32 aside): mmap2, whose offset counts pages.
    #[cfg(all(target_pointer_width = "32", not(target_arch = "x86_64")))]
    let result = {
        let args = [0, PAGE as Word, prot, flags, no_fd, 0];
        // SAFETY: a new anonymous mapping at an address of the kernel's choice.
        unsafe { aio_sys::raw::syscall6(sys::__NR_mmap2 as usize, args) }
    };
    #[cfg(not(any(
        target_arch = "s390x",
        all(target_pointer_width = "32", not(target_arch = "x86_64"))
    )))]
    let result = {
        let args = [0, PAGE as Word, prot, flags, no_fd, 0];
        // SAFETY: a new anonymous mapping at an address of the kernel's choice.
        unsafe { aio_sys::raw::syscall6(sys::__NR_mmap as usize, args) }
    };
    result.ok().map(|address| address as usize as *mut u8)
}
