//! Detecting use of a context in a child process after `fork`, without a system call.
//!
//! After `fork` the child still sees the parent's ring mapping, but every call on the context
//! fails with `EINVAL`, and reading the shared ring would steal the parent's completions. The
//! guard is one anonymous page marked `MADV_WIPEONFORK` (Linux 4.14): the child gets it back
//! zero-filled, so one memory load tells parent from child. Where the advice is refused the
//! guard compares process ids instead (one `getpid` per check); so it does where `madvise` only
//! pretends (qemu-user answers 0 to every advice and wipes nothing), which shows as success for
//! `MADV_REMOVE` on the private anonymous page, advice every kernel refuses with `EINVAL`.

use core::ffi::c_void;
use core::ptr::{NonNull, null_mut};
use rustix::mm::{Advice, MapFlags, ProtFlags, madvise, mmap_anonymous, munmap};
use rustix::process::{Pid, getpid};

const PAGE: usize = 4096;

pub(crate) struct ForkGuard {
    page: Option<NonNull<u8>>,
    pid: Pid,
}

impl ForkGuard {
    pub(crate) fn new() -> Self {
        let pid = getpid();
        // SAFETY: a fresh private anonymous mapping, not aliasing anything.
        let page = unsafe {
            mmap_anonymous(
                null_mut(),
                PAGE,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        };
        let page = page.ok().and_then(|p| {
            // SAFETY: `p` is the page just mapped; advising it affects nothing else.
            let wipes = unsafe { madvise(p, PAGE, Advice::LinuxWipeOnFork) }.is_ok()
                // SAFETY: as above; a kernel refuses MADV_REMOVE here, changing nothing.
                && unsafe { madvise(p, PAGE, Advice::LinuxRemove) }.is_err();
            if wipes {
                NonNull::new(p.cast::<u8>())
            } else {
                // SAFETY: unmapping the page mapped above, which nothing else refers to.
                let _ = unsafe { munmap(p, PAGE) };
                None
            }
        });
        if let Some(p) = page {
            // SAFETY: the page is mapped read-write and owned by this guard.
            unsafe { p.as_ptr().write_volatile(1) };
        }
        Self { page, pid }
    }

    /// Whether this process is not the one that created the guard.
    #[inline]
    pub(crate) fn forked(&self) -> bool {
        match self.page {
            // SAFETY: the page stays mapped until drop; a child sees it zero-filled.
            Some(p) => unsafe { p.as_ptr().read_volatile() == 0 },
            None => getpid() != self.pid,
        }
    }
}

impl Drop for ForkGuard {
    fn drop(&mut self) {
        if let Some(p) = self.page {
            // SAFETY: the page was mapped in `new` and is unmapped once, here.
            let _ = unsafe { munmap(p.as_ptr().cast::<c_void>(), PAGE) };
        }
    }
}
