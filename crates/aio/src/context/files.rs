//! Descriptors registered with a context ([`Fixed`]): owned by the context, named by index, and
//! closed only once no operation names them.

use crate::error::Error;
use crate::fd::{Fd, Fixed};
use alloc::vec::Vec;
use rustix::fd::RawFd;

struct Entry {
    /// Bumped when the entry is unregistered, so that older [`Fixed`] names stop matching: a
    /// `Fixed` is live exactly when its generation equals its entry's.
    generation: u64,
    raw: RawFd,
    /// `None` when the entry is free.
    hold: Option<Fd>,
    /// Operations pushed with this descriptor whose completions are not yet handed back.
    users: u32,
    /// Unregistered while in use: closed when `users` drops to 0; refused to new operations.
    closing: bool,
}

#[derive(Default)]
pub(super) struct Files {
    entries: Vec<Entry>,
    /// Free entries; its capacity covers every entry, so releasing never allocates.
    free: Vec<u32>,
    /// Entries holding a descriptor (registered, or unregistered but still named).
    held: usize,
}

impl Files {
    pub(super) fn register(&mut self, context: u64, fd: Fd) -> Result<Fixed, Error> {
        let Some(raw) = fd.as_raw_fd() else {
            return Err(Error::InvalidInput(
                "register: the descriptor is already a registered Fixed",
            ));
        };
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.entries.len())
                    .map_err(|_| Error::InvalidInput("register: 2^32 descriptors registered"))?;
                let bytes = (self.entries.len() + 1) * core::mem::size_of::<Entry>();
                let out_of_memory = |_| Error::OutOfMemory {
                    what: "registered descriptor table",
                    bytes,
                };
                self.entries.try_reserve(1).map_err(out_of_memory)?;
                let room = self.entries.len() + 1;
                self.free
                    .try_reserve(room.saturating_sub(self.free.len()))
                    .map_err(out_of_memory)?;
                self.entries.push(Entry {
                    hold: None,
                    raw: -1,
                    generation: 0,
                    users: 0,
                    closing: false,
                });
                index
            }
        };
        let entry = &mut self.entries[index as usize];
        entry.hold = Some(fd);
        entry.raw = raw;
        entry.users = 0;
        entry.closing = false;
        self.held += 1;
        Ok(Fixed {
            context,
            generation: entry.generation,
            index,
        })
    }

    /// The descriptor number of `fixed`, if it names a live registration of this context.
    /// (Unregistering bumps the generation, so a free or closing entry never matches.)
    #[inline]
    pub(super) fn resolve(&self, context: u64, fixed: Fixed) -> Option<RawFd> {
        let entry = self.entries.get(fixed.index as usize)?;
        (fixed.context == context && entry.generation == fixed.generation).then_some(entry.raw)
    }

    /// One more operation names entry `index` (resolved just before).
    #[inline]
    pub(super) fn acquire(&mut self, index: u32) {
        self.entries[index as usize].users += 1;
    }

    /// An operation naming entry `index` was handed back: close the entry if it was waiting.
    #[inline]
    pub(super) fn release(&mut self, index: u32) {
        let entry = &mut self.entries[index as usize];
        entry.users -= 1;
        if entry.users == 0 && entry.closing {
            entry.closing = false;
            let hold = entry.hold.take();
            self.held -= 1;
            // Bookkeeping first: dropping the descriptor may run user code (an `Arc<T>`'s last
            // `Drop`), which may panic.
            self.free.push(index);
            drop(hold);
        }
    }

    pub(super) fn unregister(&mut self, context: u64, fixed: Fixed) -> Result<Option<Fd>, Error> {
        if self.resolve(context, fixed).is_none() {
            return Err(Error::NotRegistered);
        }
        let entry = &mut self.entries[fixed.index as usize];
        entry.generation += 1;
        if entry.users > 0 {
            entry.closing = true;
            return Ok(None);
        }
        let hold = entry.hold.take();
        self.held -= 1;
        self.free.push(fixed.index);
        Ok(hold)
    }

    /// Registered descriptors (including those waiting for their operations to close).
    pub(super) fn len(&self) -> usize {
        self.held
    }
}
