//! When the runtime layer's task yields before it submits.
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

/// See the module docs.
#[derive(Debug)]
pub(crate) struct YieldPolicy {
    /// Yields in a row followed by a batch of one operation (or none).
    useless: u32,
    /// Kicks left before the next yield.
    skip: u32,
    /// The next skip.
    backoff: u32,
}

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
