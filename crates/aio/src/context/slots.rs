//! Slots: each operation's home from push to completion, and the [`OpId`] that names it.

use crate::fd::Fd;
use crate::op::{Bufs, IoVec, OpKind};
use aio_abi::iocb;
use alloc::vec::Vec;

/// Names an operation while a context owns it, for [`Context::cancel`](crate::Context::cancel).
///
/// It carries the context's serial number (unique in the process) and a 64-bit sequence number
/// given at push, so an id never matches another context's operation, nor a later operation in
/// the same slot: `cancel` of such an id answers
/// [`CancelOutcome::NotFound`](crate::CancelOutcome::NotFound).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpId {
    pub(super) context: u64,
    pub(super) seq: u64,
    pub(super) index: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    Free,
    /// Pushed, waiting for `submit`.
    Queued,
    /// Accepted by `io_submit`; the kernel may use the buffers.
    InFlight,
    /// In an `io_submit` made without the context's owner (`super::handoff`): counted in
    /// flight; the kernel may take it (or refuse it) at any moment. Only `aio::rt` makes it.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    Submitting,
    /// Completed, in `ready`, not yet handed back.
    Ready,
    /// Being run by a blocking thread (`super::offload`); the thread uses the buffers. Only
    /// `aio::rt` makes it.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    Offloaded,
}

/// One operation's home: the `iocb` at a stable address and everything it owns.
pub(super) struct Slot<B> {
    pub(super) iocb: iocb,
    pub(super) state: State,
    /// The sequence number of the operation in the slot (see [`OpId`]).
    pub(super) seq: u64,
    pub(super) kind: OpKind,
    pub(super) user_data: u64,
    /// `io_cancel` answered `EINPROGRESS`.
    pub(super) cancel_requested: bool,
    /// Cancelled by the context or with the event handed back by `io_cancel`.
    pub(super) cancelled: bool,
    /// Submitted with `RWF_NOWAIT` by the async driver: an `EAGAIN`/`EOPNOTSUPP` answer is
    /// retried on a blocking thread instead of being handed back ([`super::offload`]).
    pub(super) offload_on_again: bool,
    /// Pushed without `IOCB_FLAG_RESFD` ([`super::quiet`]): its completion does not signal the
    /// eventfd.
    pub(super) quiet: bool,
    /// A poll of the emulated backend looked at once since submit ([`super::emulated`]): the
    /// kernel would complete it from a wake-up, with the wake-up's events.
    pub(super) poll_checked: bool,
    pub(super) bufs: Bufs<B>,
    /// The descriptor, held until the completion is handed back.
    pub(super) fd: Option<Fd>,
    /// The iovec array of a readv/writev, kept between operations to avoid allocating.
    pub(super) iovecs: Vec<IoVec>,
}

impl<B> Slot<B> {
    pub(super) fn new() -> Self {
        Self {
            iocb: iocb::default(),
            state: State::Free,
            seq: 0,
            kind: OpKind::Read,
            user_data: 0,
            cancel_requested: false,
            cancelled: false,
            offload_on_again: false,
            quiet: false,
            poll_checked: false,
            bufs: Bufs::None,
            fd: None,
            iovecs: Vec::new(),
        }
    }

    /// In flight and bound to complete without anyone's help: a read, write or sync, or a
    /// poll whose cancellation is under way.
    pub(super) fn completes_by_itself(&self) -> bool {
        matches!(self.state, State::InFlight | State::Submitting)
            && (self.kind != OpKind::Poll || self.cancel_requested)
    }
}
