//! [`SharedContext`]: the driver for plain threads, with [`Ticket`]s to wait on.

use super::driver::{Driver, Poll, Token};
use crate::buf::IoBuf;
use crate::completion::Completion;
use crate::context::{Backend, Builder, PushError, Stats};
use crate::error::Error;
use crate::fd::{Fd, Fixed};
use crate::op::Op;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A context many threads can use at once: cloneable, `Send + Sync`, every method `&self`.
///
/// [`start`](Self::start) hands an operation to the shared context and returns a [`Ticket`];
/// [`Ticket::wait`] blocks until that operation's completion is there. Operations started by
/// any thread are submitted together by the next thread that waits (one `io_submit` for all
/// of them), and one waiting thread at a time collects completions for everyone: it sleeps
/// on the context's eventfd **outside** the lock (so other threads keep starting operations
/// meanwhile), takes the completions from the ring and wakes the threads they belong to.
///
/// When every slot of the context is taken, further operations wait in a backlog and enter
/// as completions free slots; `EAGAIN` from a full kernel ring keeps them queued. Nothing is
/// refused for lack of room.
///
/// Operations run as on a [`Context`](crate::Context): buffered file I/O runs inside
/// `io_submit`, on the thread that submits; with [`Backend::Emulated`], reads, writes and syncs
/// run on the thread whose submission took them, outside the context's lock. Either way a read
/// of an empty pipe blocks that thread (and only that one: every waiting thread may submit)
/// until data comes. (The async handle, `aio::rt::tokio::Handle` with the `tokio` feature,
/// moves what would block to blocking threads.)
///
/// ```
/// use aio::{Op, rt::SharedContext};
/// use std::sync::Arc;
/// let ctx: SharedContext = SharedContext::new(aio::Context::builder().depth(16))?;
/// let zero = Arc::new(std::fs::File::open("/dev/zero")?);
/// let threads: Vec<_> = (0..4)
///     .map(|_| {
///         let (ctx, zero) = (ctx.clone(), zero.clone());
///         std::thread::spawn(move || {
///             let ticket = ctx.start(Op::read(zero, vec![1; 512], 0))?;
///             let done = ticket.wait()?;
///             assert_eq!(done.result(), Ok(512));
///             Ok::<_, aio::Error>(())
///         })
///     })
///     .collect();
/// for thread in threads {
///     thread.join().unwrap()?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedContext<B = Vec<u8>> {
    driver: Arc<Driver<B>>,
}

impl<B> Clone for SharedContext<B> {
    fn clone(&self) -> Self {
        Self {
            driver: self.driver.clone(),
        }
    }
}

impl<B: IoBuf + Send + 'static> SharedContext<B> {
    /// A shared context built from `builder` (its eventfd is always on: the waiting thread
    /// sleeps on it).
    ///
    /// # Errors
    /// As [`Builder::build`].
    pub fn new(builder: Builder<B>) -> Result<Self, Error> {
        Ok(Self {
            driver: Driver::new(builder, None, super::Heuristics::default())?,
        })
    }

    /// Starts `op`; it is submitted by the next [`Ticket::wait`] of any thread (or
    /// [`submit`](Self::submit)). The ticket's completion carries the operation's own
    /// [`user_data`](Op::user_data).
    ///
    /// # Errors
    /// The operation comes back with [`Error::NotRegistered`] (a [`Fixed`] of another context
    /// or unregistered) or [`Error::OutOfMemory`]; a full context is not an error (see above).
    #[allow(clippy::result_large_err)]
    pub fn start(&self, op: Op<B>) -> Result<Ticket<B>, PushError<B>> {
        let token = self.driver.start(op, None)?;
        Ok(Ticket {
            driver: self.driver.clone(),
            token: Some(token),
        })
    }

    /// Submits every started operation now and collects what completed, without waiting for
    /// completions (an operation that runs inside the submission, such as a read of an empty
    /// pipe, still blocks this thread until it ends: see above).
    ///
    /// # Errors
    /// [`Error::Forked`] in a child process; [`Error::Unsupported`] if `io_submit` is missing
    /// (the queued operations then complete with that error).
    pub fn submit(&self) -> Result<(), Error> {
        self.driver.turn()
    }

    /// Registers `fd` with the shared context; see [`Context::register`](crate::Context::register).
    ///
    /// # Errors
    /// As [`Context::register`](crate::Context::register).
    pub fn register(&self, fd: impl Into<Fd>) -> Result<Fixed, Error> {
        self.driver.with_context(|ctx| ctx.register(fd))
    }

    /// Ends a registration; see [`Context::unregister`](crate::Context::unregister).
    ///
    /// # Errors
    /// [`Error::NotRegistered`].
    pub fn unregister(&self, fixed: Fixed) -> Result<Option<Fd>, Error> {
        self.driver.with_context(|ctx| ctx.unregister(fixed))
    }

    /// Operations started and not yet handed back, including those whose ticket was dropped
    /// (the context keeps them until the kernel is done) and those waiting for a slot.
    /// An operation nobody waits for any more counts until its buffers and descriptor are
    /// dropped: once this answers 0, every buffer given to the context is back.
    pub fn outstanding(&self) -> usize {
        self.driver.outstanding()
    }

    /// The context's counters.
    pub fn stats(&self) -> Stats {
        self.driver.with_context(|ctx| ctx.stats())
    }

    /// The backend the context runs on.
    pub fn backend(&self) -> Backend {
        self.driver.with_context(|ctx| ctx.backend())
    }

    /// The kernel ring's event slots when completions are read from it; see
    /// [`Context::ring_slots`](crate::Context::ring_slots).
    pub fn ring_slots(&self) -> Option<u32> {
        self.driver.with_context(|ctx| ctx.ring_slots())
    }
}

impl<B> fmt::Debug for SharedContext<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedContext").finish_non_exhaustive()
    }
}

/// One started operation's claim on its completion; see [`SharedContext::start`].
///
/// Dropping a ticket before its completion does not free anything the kernel may still use:
/// the context keeps the buffers and descriptor until the completion arrives and then drops
/// it; a poll is cancelled (`io_cancel`).
#[must_use = "dropping a ticket abandons the operation's result"]
pub struct Ticket<B: IoBuf + Send + 'static> {
    driver: Arc<Driver<B>>,
    token: Option<Token>,
}

impl<B: IoBuf + Send + 'static> Ticket<B> {
    /// Blocks until the operation completes.
    ///
    /// # Errors
    /// [`Error::Forked`] in a child process; [`Error::Os`] if sleeping on the eventfd fails.
    pub fn wait(mut self) -> Result<Completion<B>, Error> {
        loop {
            if let Some(completion) = self.wait_timeout(None)? {
                return Ok(completion);
            }
        }
    }

    /// Blocks until the operation completes or `timeout` passes (`None`: without limit);
    /// `Ok(None)` after a timeout, and the ticket stays valid. After `Ok(Some(_))` the ticket
    /// is spent: further calls answer [`Error::InvalidInput`]. An operation this thread
    /// submits that runs inside the submission (see above) may keep it past `timeout`.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_timeout(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<Completion<B>>, Error> {
        let Some(token) = self.token else {
            return Err(Error::InvalidInput(
                "ticket: the completion was already taken",
            ));
        };
        let done = self.driver.wait_for(token, timeout)?;
        if done.is_some() {
            self.token = None;
        }
        Ok(done)
    }

    /// The completion if the operation has completed (submitting and collecting first, as
    /// [`SharedContext::submit`]); `None` otherwise, or if already taken.
    pub fn try_take(&mut self) -> Option<Completion<B>> {
        let token = self.token?;
        let _ = self.driver.turn();
        match self.driver.poll_op(token, None) {
            Poll::Ready(completion) => {
                self.token = None;
                Some(completion)
            }
            Poll::Panicked(payload) => {
                self.token = None;
                std::panic::resume_unwind(payload)
            }
            Poll::Pending => None,
        }
    }
}

impl<B: IoBuf + Send + 'static> Drop for Ticket<B> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            self.driver.abandon(token);
        }
    }
}

impl<B: IoBuf + Send + 'static> fmt::Debug for Ticket<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}
