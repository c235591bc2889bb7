//! The descriptor an operation acts on, held open by the operation until its completion.
//!
//! See [`Fd`] for the descriptor model.

use alloc::sync::Arc;
use core::fmt;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// A descriptor registered with one [`Context`](crate::Context) by
/// [`register`](crate::Context::register): a small copyable name for a descriptor the context
/// owns, valid on that context only, until [`unregister`](crate::Context::unregister).
///
/// Using it costs nothing per operation (no reference count, no system call). A `Fixed` of
/// another context, or one already unregistered, is refused by
/// [`push`](crate::Context::push) with [`Error::NotRegistered`](crate::Error::NotRegistered).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fixed {
    pub(crate) context: u64,
    pub(crate) generation: u64,
    pub(crate) index: u32,
}

/// What an operation acts on: a descriptor the operation keeps open until its completion is
/// handed back.
///
/// The kernel reads an operation's descriptor number when `io_submit` takes it (and an emulated
/// or queued operation needs it even later). If the caller could close the descriptor between
/// [`push`](crate::Context::push) and that moment, the number could be reused by another
/// `open`, and the operation would read or write **the other file**. So an operation never
/// borrows its descriptor: it **holds** it, in one of these forms, from construction until its
/// [`Completion`](crate::Completion) is handed back:
///
/// | form | per-operation cost | when |
/// |---|---|---|
/// | [`Fixed`], from [`Context::register`](crate::Context::register) | none (an index) | files used by many operations: the context owns them, like io_uring's registered files |
/// | `Arc<T>` (`T:` [`StableFd`], e.g. `Arc<File>`) | one atomic increment and decrement | descriptors shared with other code or other contexts |
/// | `File`, `OwnedFd`, sockets by value | none | one-off operations; the completion gives the descriptor back ([`Completion::take_fd`](crate::Completion::take_fd)) |
/// | `BorrowedFd<'static>` | none | descriptors that live for the whole program |
///
/// A plain borrow (`&File`) is **not** accepted, because nothing would stop the caller from
/// closing the file while the operation is queued:
///
/// ```compile_fail,E0277
/// # use aio::Op;
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let op: Op<Vec<u8>> = Op::read(&file, vec![0; 16], 0); // error: `&File` is not an `aio::Fd`
/// drop(file);
/// ```
///
/// A registered descriptor stays open while any operation names it:
/// [`Context::unregister`](crate::Context::unregister) gives it back at once when none does, and
/// otherwise closes it when the last such operation's completion is handed back.
///
/// Made with `From`/`Into` from a [`Fixed`], an `Arc<T>` of a [`StableFd`] type (`File`,
/// `OwnedFd`, the std sockets and child pipes), the same types by value, or a
/// `BorrowedFd<'static>`.
///
/// A `BorrowedFd<'static>` holds a descriptor **number**, not an open file: the kernel looks
/// it up when `io_submit` takes the operation (and the emulated backend or an offload when it
/// runs it). If the program replaces what that number names meanwhile (`dup2` onto it, as a
/// redirect of standard output onto a log file does with `rustix::stdio::stdout()`), the
/// operation acts on the new file. To act on the file open now whatever happens to the number,
/// duplicate it first (`rustix::io::fcntl_dupfd_cloexec`, or `std::io::stdout().as_fd()
/// .try_clone_to_owned()`) and pass the `OwnedFd`.
pub struct Fd(pub(crate) Hold);

pub(crate) enum Hold {
    Owned(OwnedFd),
    Shared(Arc<dyn AsFd + Send + Sync>),
    Static(BorrowedFd<'static>),
    Fixed(Fixed),
}

impl Fd {
    /// The descriptor number, or `None` for a [`Fixed`] (whose number only its context knows).
    #[inline]
    pub fn as_raw_fd(&self) -> Option<RawFd> {
        match &self.0 {
            Hold::Owned(fd) => Some(fd.as_raw_fd()),
            Hold::Shared(fd) => Some(fd.as_fd().as_raw_fd()),
            Hold::Static(fd) => Some(fd.as_raw_fd()),
            Hold::Fixed(_) => None,
        }
    }

    /// The registered descriptor this names, if it is one.
    pub fn as_fixed(&self) -> Option<Fixed> {
        match self.0 {
            Hold::Fixed(fixed) => Some(fixed),
            _ => None,
        }
    }

    /// The owned descriptor given by value (a `File`, `OwnedFd`, socket, …), back to the
    /// caller; `Err(self)` for the other forms. `File::from(owned)` makes it a file again.
    pub fn into_owned(self) -> Result<OwnedFd, Self> {
        match self.0 {
            Hold::Owned(fd) => Ok(fd),
            other => Err(Self(other)),
        }
    }

    /// The shared handle given as an `Arc`, back to the caller; `Err(self)` for the other forms.
    pub fn into_shared(self) -> Result<Arc<dyn AsFd + Send + Sync>, Self> {
        match self.0 {
            Hold::Shared(fd) => Ok(fd),
            other => Err(Self(other)),
        }
    }
}

impl fmt::Debug for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Hold::Owned(fd) => f.debug_tuple("Owned").field(&fd.as_raw_fd()).finish(),
            Hold::Shared(fd) => f
                .debug_tuple("Shared")
                .field(&fd.as_fd().as_raw_fd())
                .finish(),
            Hold::Static(fd) => f.debug_tuple("Static").field(&fd.as_raw_fd()).finish(),
            Hold::Fixed(fixed) => fixed.fmt(f),
        }
    }
}

impl From<Fixed> for Fd {
    #[inline]
    fn from(fixed: Fixed) -> Self {
        Self(Hold::Fixed(fixed))
    }
}

/// A type whose descriptor stays the same, and open, for as long as the value lives: what lets
/// an operation hold an `Arc<T>` and use the number it read once.
///
/// `AsFd` alone does not promise this: its borrow ends with the call, and a type with interior
/// mutability could close or replace its descriptor afterwards (a reconnecting socket wrapper,
/// say), leaving a queued operation with a number that names something else.
///
/// # Safety
/// For the whole life of a value, `as_fd` must return the same descriptor, and the value must
/// keep it open until it is dropped.
pub unsafe trait StableFd: AsFd + Send + Sync + 'static {}

impl<T: StableFd> From<Arc<T>> for Fd {
    #[inline]
    fn from(shared: Arc<T>) -> Self {
        Self(Hold::Shared(shared))
    }
}

impl From<BorrowedFd<'static>> for Fd {
    #[inline]
    fn from(fd: BorrowedFd<'static>) -> Self {
        Self(Hold::Static(fd))
    }
}

impl From<OwnedFd> for Fd {
    #[inline]
    fn from(fd: OwnedFd) -> Self {
        Self(Hold::Owned(fd))
    }
}

/// Owned std types: by value, the operation keeps them open and the completion gives them back
/// as `OwnedFd`; in an `Arc`, they never change their descriptor.
#[cfg(feature = "std")]
macro_rules! owned_fd_types {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for Fd {
            #[inline]
            fn from(owned: $ty) -> Self {
                Self(Hold::Owned(OwnedFd::from(owned)))
            }
        }

        // SAFETY: the std type owns one descriptor from creation to drop and never replaces it.
        unsafe impl StableFd for $ty {}
    )*};
}

// SAFETY: an `OwnedFd` owns one descriptor from creation to drop.
unsafe impl StableFd for OwnedFd {}

#[cfg(feature = "std")]
owned_fd_types!(
    std::fs::File,
    std::net::TcpStream,
    std::net::TcpListener,
    std::net::UdpSocket,
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixListener,
    std::os::unix::net::UnixDatagram,
    std::process::ChildStdin,
    std::process::ChildStdout,
    std::process::ChildStderr,
);
