//! `aio_sys::ppoll`, the emulation's wait: results, the timeout's validation, the mask, and the
//! time64 chain. Works wherever `ppoll` does, qemu-user included (it has no AIO, but has ppoll).

use aio_sys::abi::{__kernel_timespec, kernel_sigset_t, pollfd};
use aio_sys::{Errno, ppoll};
use rustix::fd::AsRawFd;
use std::time::{Duration, Instant};

const POLLIN: i16 = 0x1;

fn timespec(d: Duration) -> __kernel_timespec {
    __kernel_timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: d.subsec_nanos().into(),
    }
}

#[test]
fn ppoll_waits_times_out_and_reports_readiness() {
    let (rx, tx) = rustix::pipe::pipe().unwrap();
    let mut fds = [pollfd {
        fd: rx.as_raw_fd(),
        events: POLLIN,
        revents: 0,
    }];
    let timeout = timespec(Duration::from_millis(50));
    let start = Instant::now();
    // SAFETY: one valid pollfd; the timeout is readable; no mask.
    let n = unsafe { ppoll(fds.as_mut_ptr(), 1, &timeout, std::ptr::null()) };
    assert_eq!(n, Ok(0), "an empty pipe times out");
    assert!(start.elapsed() >= Duration::from_millis(40));
    assert_eq!(fds[0].revents, 0);
    assert_eq!(
        timeout,
        timespec(Duration::from_millis(50)),
        "only a copy is written"
    );

    rustix::io::write(&tx, b"x").unwrap();
    let empty = kernel_sigset_t::empty();
    // SAFETY: as above, with a readable (empty) mask.
    let n = unsafe { ppoll(fds.as_mut_ptr(), 1, std::ptr::null(), &empty) };
    assert_eq!(n, Ok(1));
    assert_eq!(fds[0].revents, POLLIN);
}

#[test]
fn ppoll_validates_its_timeout() {
    for bad in [
        __kernel_timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000_000,
        },
        __kernel_timespec {
            tv_sec: -1,
            tv_nsec: 0,
        },
    ] {
        // SAFETY: no descriptors; a readable timeout.
        let r = unsafe { ppoll(std::ptr::null_mut(), 0, &bad, std::ptr::null()) };
        assert_eq!(r, Err(Errno::INVAL), "{bad:?}");
    }
    let zero = __kernel_timespec::default();
    // SAFETY: no descriptors; a zero timeout returns at once.
    assert_eq!(
        unsafe { ppoll(std::ptr::null_mut(), 0, &zero, std::ptr::null()) },
        Ok(0)
    );
}
