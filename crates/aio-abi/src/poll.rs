//! `struct pollfd` (`include/uapi/asm-generic/poll.h`), for `ppoll`.

/// One descriptor to watch with `ppoll` (`struct pollfd`), 8 bytes on every architecture.
///
/// Not part of the AIO calls themselves: `aio-sys` waits with `ppoll` where the kernel has no
/// AIO (the `aio` crate's emulated backend checks its pending polls with it). `events` and
/// `revents` hold the userspace `POLL*` bits, the same values as an `IOCB_CMD_POLL`'s
/// `aio_buf`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct pollfd {
    /// The descriptor; a negative one is ignored (its `revents` is 0).
    pub fd: i32,
    /// The events asked for.
    pub events: i16,
    /// The events that happened, written by the kernel (`POLLERR`, `POLLHUP` and `POLLNVAL`
    /// even when not asked for).
    pub revents: i16,
}

static_assertions::assert_eq_size!(pollfd, u64);
static_assertions::const_assert_eq!(core::mem::align_of::<pollfd>(), 4);
