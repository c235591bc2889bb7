//! Reads, writes and syncs that run outside `io_submit`: on the runtime's blocking threads, or
//! without a runtime on the waiting thread whose round took them.

use super::{AfterUnlock, Driver};
use crate::buf::IoBuf;
use crate::context::{Offload, negative};
use rustix::io::Errno;
use std::sync::Arc;

impl<B: IoBuf + Send + 'static> Driver<B> {
    /// Without a runtime: runs the oldest of the emulated backend's reads, writes or syncs
    /// waiting for a thread, outside the lock, on this thread (in push order; several threads
    /// may run theirs at once, as two `io_submit`s would). Whether there was one. Never in a
    /// forked child: they are the parent's.
    pub(super) fn run_local_offload(self: &Arc<Self>) -> bool {
        let offload = {
            let mut state = self.lock();
            if state.ctx.forked() {
                return false;
            }
            state.local_offloads.pop_front()
        };
        let Some(offload) = offload else {
            return false;
        };

        OffloadJob {
            driver: self.clone(),
            offload: Some(offload),
        }
        .run();
        true
    }

    pub(super) fn spawn_offload(self: &Arc<Self>, offload: Offload) {
        let Some(runtime) = &self.runtime else {
            // Without a runtime offloads go to `local_offloads` (`submit_locked`), and a
            // kernel-backend read or write is marked for offload only with one.
            debug_assert!(false, "an offload without a runtime");
            return;
        };
        let job = OffloadJob {
            driver: self.clone(),
            offload: Some(offload),
        };
        runtime.spawn_blocking(Box::new(move || job.run()));
    }
}

/// An offloaded operation on its blocking thread. If the runtime drops the job without
/// running it (at shutdown), the operation completes with `ECANCELED` instead of never.
struct OffloadJob<B: IoBuf + Send + 'static> {
    driver: Arc<Driver<B>>,
    offload: Option<Offload>,
}

impl<B: IoBuf + Send + 'static> OffloadJob<B> {
    fn run(mut self) {
        if let Some(offload) = self.offload.take() {
            // SAFETY: `driver` keeps the context alive, and the offload is finished only
            // below.
            let res = unsafe { offload.run() };
            self.complete(offload.index, res);
        }
    }

    fn complete(&self, index: u32, res: i64) {
        let mut after = AfterUnlock::default();
        {
            let mut state = self.driver.lock();
            state.ctx.finish_offload(index, res);
            state.collect_and_kick(&mut after);
        }
        self.driver.finish(after);
    }
}

impl<B: IoBuf + Send + 'static> Drop for OffloadJob<B> {
    fn drop(&mut self) {
        if let Some(offload) = self.offload.take() {
            self.complete(offload.index, negative(Errno::CANCELED));
        }
    }
}
