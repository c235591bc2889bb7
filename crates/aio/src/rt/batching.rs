//! How the driver shapes its `io_submit`s: how many operations one call carries
//! ([`ChunkPolicy`]), and when the runtime layer's task yields before it submits
//! ([`YieldPolicy`]).
//!
//! # Chunks
//!
//! One `io_submit` of many iocbs hands the device nothing until the call has prepared the
//! last one: the kernel's `fs/aio.c` plugs the block layer for calls of more than
//! `AIO_PLUG_THRESHOLD` (2) iocbs, and prepares every iocb (copy, file lookup, the file
//! system's mapping of the O_DIRECT range) before the plug lets go. Where the device sets
//! the pace (a disk, virtio-blk) and completions come in bursts, a driver that submits a
//! whole burst's refill in one call keeps the queue draining and refilling in lock-step: the
//! device idles while each batch is prepared. Measured here (ext4 on virtio, 4 KiB random
//! O_DIRECT reads, depth 32, `aio-async-bench`, alternating runs): batches of about 22
//! reads in one call each reached ~69k IOPS on two tokio workers; calls of at most 8 reached
//! 1.21× that (median of 10 paired runs) and 1.31× on one worker, for no more CPU per read.
//! Calls of at most 1 or 2 (unplugged) did no better than 8 and cost more calls. So while
//! the last batch left reads or writes in flight, [`ChunkPolicy`] cuts batches into calls of
//! [`ChunkPolicy::DEVICE`]; where the kernel completes them inside `io_submit` (tmpfs, the
//! page cache), the system call is the cost and the whole batch goes in one call.
//!
//! # Yields
//!
//! A kick comes from the first task of a tick to start an operation. Yielding once lets the
//! other tasks woken in that tick start theirs, so that one `io_submit` takes them all; at
//! depth 32 on tmpfs that turns 32 calls into one. But where one task keeps one operation in
//! flight (depth 1) the yield only costs: a turn of tokio's reactor (an `epoll_wait`) and,
//! on a multi-thread runtime, often a wake-up of another worker, which measured about 20 µs
//! of CPU per operation on ext4 at depth 1 here.
//!
//! So [`YieldPolicy`] watches what yielding bought: after [`YieldPolicy::TRIES`] yields in a
//! row that were followed by a batch of one operation, the task skips the yield for a while
//! (1, 2, 4, … up to [`YieldPolicy::MAX_SKIP`] kicks), then tries again. A batch of more than
//! one operation, after a yield or not, goes back to yielding at every kick.

use core::num::NonZeroUsize;

/// How many iocbs one `io_submit` carries; see the module docs.
#[derive(Debug)]
pub(crate) struct ChunkPolicy {
    chunk: Option<NonZeroUsize>,
}

impl ChunkPolicy {
    /// The most iocbs per call while the device is working.
    pub(crate) const DEVICE: NonZeroUsize = NonZeroUsize::new(8).unwrap();

    pub(crate) fn new() -> Self {
        Self { chunk: None }
    }

    /// The most iocbs per `io_submit` of the next batch; `None`: the whole batch in one.
    pub(crate) fn chunk(&self) -> Option<NonZeroUsize> {
        self.chunk
    }

    /// Takes in one batch: `accepted` reads and writes, `unfinished` of them still in flight
    /// after its `io_submit` and a reap. A batch without reads or writes (polls, syncs)
    /// tells nothing.
    pub(crate) fn observe(&mut self, accepted: usize, unfinished: usize) {
        if accepted > 0 {
            self.chunk = (unfinished > 0).then_some(Self::DEVICE);
        }
    }
}

/// When the tokio task yields before it submits; see the module docs.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub(crate) struct YieldPolicy {
    /// Yields in a row followed by a batch of one operation (or none).
    useless: u32,
    /// Kicks left before the next yield.
    skip: u32,
    /// The next skip.
    backoff: u32,
}

#[cfg(feature = "tokio")]
impl YieldPolicy {
    pub(crate) const TRIES: u32 = 8;
    pub(crate) const MAX_SKIP: u32 = 256;

    pub(crate) fn new() -> Self {
        Self {
            useless: 0,
            skip: 0,
            backoff: 1,
        }
    }

    /// After a kick: whether to yield before this turn.
    pub(crate) fn should_yield(&mut self) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        true
    }

    /// After the turn of a kick (`yielded` before it), which submitted `submitted`
    /// operations.
    pub(crate) fn after_turn(&mut self, yielded: bool, submitted: usize) {
        if submitted > 1 {
            *self = Self::new();
            return;
        }
        if yielded {
            self.useless += 1;
            if self.useless >= Self::TRIES {
                self.useless = 0;
                self.skip = self.backoff;
                self.backoff = (self.backoff * 2).min(Self::MAX_SKIP);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_cut_while_the_device_works_and_whole_when_io_completes_inline() {
        let mut policy = ChunkPolicy::new();
        assert_eq!(policy.chunk(), None);
        policy.observe(22, 22);
        assert_eq!(policy.chunk(), Some(ChunkPolicy::DEVICE));
        // Polls and syncs only: no change.
        policy.observe(0, 0);
        assert_eq!(policy.chunk(), Some(ChunkPolicy::DEVICE));
        policy.observe(32, 0);
        assert_eq!(policy.chunk(), None);
        policy.observe(32, 1);
        assert_eq!(policy.chunk(), Some(ChunkPolicy::DEVICE));
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn yields_stop_paying_off_at_depth_1_and_come_back_with_batches() {
        let mut policy = YieldPolicy::new();
        // Batches of 32: always yield.
        for _ in 0..100 {
            assert!(policy.should_yield());
            policy.after_turn(true, 32);
        }
        // One operation per batch: after TRIES useless yields, skips of 1, 2, 4, ….
        let mut yields = 0;
        for _ in 0..10_000 {
            let yielded = policy.should_yield();
            yields += u32::from(yielded);
            policy.after_turn(yielded, 1);
        }
        assert!(yields < 600, "{yields} yields in 10000 kicks");
        assert!(yields > 10_000 / (YieldPolicy::MAX_SKIP + YieldPolicy::TRIES));
        // A batch of several, even without a yield, brings the yields back at once.
        while policy.should_yield() {
            policy.after_turn(true, 1);
        }
        policy.after_turn(false, 5);
        assert!(policy.should_yield());
    }
}
