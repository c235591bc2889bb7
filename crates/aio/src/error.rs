//! The one error type, which keeps the errno and says what to do about it.

use core::fmt;
use rustix::io::Errno;

/// What went wrong, with enough detail to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The kernel answered `ENOSYS`: it was built without AIO (`CONFIG_AIO=n`, common in tiny
    /// embedded configurations), or this process runs where the AIO calls are not implemented
    /// (qemu-user, gVisor, rr, a seccomp profile), or this architecture has no syscall
    /// instruction in `aio-sys`.
    Unsupported {
        /// The system call that answered `ENOSYS`.
        call: &'static str,
    },
    /// `io_setup` answered `EAGAIN`: the system-wide limit on AIO events would be exceeded.
    ContextLimit {
        /// The queue depth that was asked for.
        requested: u32,
        /// `/proc/sys/fs/aio-nr` at the time (events held by all contexts), if readable.
        aio_nr: Option<u64>,
        /// `/proc/sys/fs/aio-max-nr` at the time (the limit), if readable.
        aio_max_nr: Option<u64>,
    },
    /// An AIO call (`io_setup`, usually) answered `EPERM`: native AIO is forbidden to this process, almost always by a
    /// sandbox or seccomp policy (a container runtime's profile, systemd's
    /// `SystemCallFilter=`, Android's app filter, a browser-style sandbox).
    NotPermitted {
        /// The system call that answered `EPERM`.
        call: &'static str,
    },
    /// A [`depth`](crate::Builder::depth) or [`kernel_events`](crate::Builder::kernel_events)
    /// beyond what one kernel context can take ([`MAX_EVENTS`](crate::MAX_EVENTS)).
    DepthLimit {
        /// What was asked for.
        requested: u32,
        /// The largest value accepted.
        limit: u32,
    },
    /// Memory for the context could not be allocated.
    OutOfMemory {
        /// What was being allocated.
        what: &'static str,
        /// How many bytes it needed.
        bytes: usize,
    },
    /// The [`Fixed`](crate::Fixed) descriptor is not registered with this context: it belongs
    /// to another context, or was unregistered.
    NotRegistered,
    /// The context was created by another process: this is a child after `fork`, where every
    /// call on the parent's context fails (`EINVAL`). Create a new context in the child.
    Forked,
    /// Every slot of the context holds an operation (pushed, in flight, or completed but not yet
    /// handed back): collect completions before pushing more, or build a deeper context.
    QueueFull {
        /// The context's depth.
        depth: u32,
    },
    /// An argument this crate rejects before asking the kernel.
    InvalidInput(&'static str),
    /// A request on an `O_DIRECT` file (`aio::File`, with `std`) whose offset, length or buffer
    /// address is not a multiple of what the file needs ([`dio_alignment`](crate::dio_alignment)):
    /// refused before the kernel, which would answer a bare `EINVAL`.
    Misaligned {
        /// What is misaligned: `"offset"`, `"length"` or `"buffer address"`.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The alignment the file needs, in bytes.
        required: u32,
    },
    /// A system call failed.
    Os {
        /// The call that failed.
        call: &'static str,
        /// The error it returned.
        errno: Errno,
    },
}

impl Error {
    /// The kernel error behind this error, if there is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Self::Unsupported { .. } => Some(Errno::NOSYS),
            Self::ContextLimit { .. } => Some(Errno::AGAIN),
            Self::NotPermitted { .. } => Some(Errno::PERM),
            Self::DepthLimit { .. } => Some(Errno::INVAL),
            Self::OutOfMemory { .. } => Some(Errno::NOMEM),
            Self::NotRegistered => Some(Errno::BADF),
            Self::Forked => Some(Errno::INVAL),
            Self::QueueFull { .. } | Self::InvalidInput(_) | Self::Misaligned { .. } => None,
            Self::Os { errno, .. } => Some(*errno),
        }
    }

    /// Maps a system call error. For the AIO calls (`io_*`), `ENOSYS` becomes
    /// [`Error::Unsupported`] and `EPERM` [`Error::NotPermitted`]; other calls keep their errno
    /// in [`Error::Os`], so that their message does not blame native AIO.
    pub(crate) fn from_call(call: &'static str, errno: Errno) -> Self {
        match errno {
            Errno::NOSYS if call.starts_with("io_") => Self::Unsupported { call },
            Errno::PERM if call.starts_with("io_") => Self::NotPermitted { call },
            errno => Self::Os { call, errno },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported { call } => write!(
                f,
                "{call}: the kernel has no native AIO (ENOSYS): it may be built without \
                 CONFIG_AIO, or this process runs under qemu-user, gVisor, rr or a seccomp \
                 filter that blocks it; use a kernel with CONFIG_AIO=y, or build the context \
                 with Backend::KernelOrEmulated to fall back to the crate's emulation"
            ),
            Self::ContextLimit {
                requested,
                aio_nr,
                aio_max_nr,
            } => {
                write!(
                    f,
                    "io_setup({requested}): EAGAIN: the system-wide AIO event limit is reached"
                )?;
                match (aio_nr, aio_max_nr) {
                    (Some(nr), Some(max)) => write!(
                        f,
                        " (/proc/sys/fs/aio-nr = {nr} in use of /proc/sys/fs/aio-max-nr = {max})"
                    )?,
                    _ => write!(f, " (/proc/sys/fs/aio-nr and aio-max-nr were not readable)")?,
                }
                write!(
                    f,
                    "; ask for a smaller depth, destroy unused contexts, or raise \
                     /proc/sys/fs/aio-max-nr (sysctl fs.aio-max-nr)"
                )
            }
            Self::NotPermitted { call } => write!(
                f,
                "{call}: EPERM: native AIO is forbidden to this process, most likely by a \
                 sandbox or seccomp policy (a container runtime's profile, systemd's \
                 SystemCallFilter=, Android's app filter); allow io_setup, io_submit, \
                 io_getevents, io_pgetevents, io_cancel and io_destroy in the policy, or build \
                 the context with Backend::KernelOrEmulated to fall back to the crate's \
                 emulation"
            ),
            Self::DepthLimit { requested, limit } => write!(
                f,
                "depth {requested} is beyond what one kernel AIO context can take ({limit} \
                 events: io_setup doubles the request and refuses rings over 256 MiB); ask for \
                 at most {limit}, or spread the operations over several contexts"
            ),
            Self::OutOfMemory { what, bytes } => write!(
                f,
                "could not allocate {bytes} bytes for the {what}; ask for a smaller depth"
            ),
            Self::NotRegistered => write!(
                f,
                "the Fixed descriptor is not registered with this context (it belongs to another \
                 context or was unregistered): register the file with this context first"
            ),
            Self::Forked => write!(
                f,
                "this AIO context belongs to the parent process: after fork every call on it \
                 fails with EINVAL; create a new context in the child"
            ),
            Self::QueueFull { depth } => write!(
                f,
                "all {depth} operation slots are in use: collect completions (wait/completions) \
                 before pushing more, or build the context with a larger depth"
            ),
            Self::InvalidInput(what) => write!(f, "invalid argument: {what}"),
            Self::Misaligned {
                what,
                value,
                required,
            } => write!(
                f,
                "the file is open with O_DIRECT, which needs the {what} to be a multiple of \
                 {required} bytes, and it is {value} (the kernel would answer EINVAL): align it \
                 (AlignedBuf, File::alignment), or open the file without O_DIRECT"
            ),
            // aio-sys's Display names the error (`EAGAIN`) and gives libc's message, with or
            // without std (rustix's gives only the number without std).
            Self::Os { call, errno } => write!(f, "{call}: {}", aio_sys::Errno::from(*errno)),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(feature = "std")]
/// An error with an errno ([`Error::errno`]) becomes that OS error, as `std::fs` reports one:
/// [`raw_os_error`](std::io::Error::raw_os_error) gives the errno back, and the kind and message
/// are std's for it. This crate's explanation (what to change: `fs.aio-max-nr`, the seccomp
/// policy, the depth) is not kept, since an `io::Error` holds either an OS code or a payload:
/// print the [`Error`] itself where the explanation matters (every call of the synchronous API
/// and the tokio `Handle::new` answer one). [`Error::QueueFull`], [`Error::InvalidInput`] and
/// [`Error::Misaligned`], which have no errno, keep their message and the [`Error`] itself
/// (`get_ref().downcast_ref::<aio::Error>()`), with
/// [`ErrorKind::InvalidInput`](std::io::ErrorKind::InvalidInput).
///
/// ```
/// let error = std::io::Error::from(aio::Error::ContextLimit {
///     requested: 64,
///     aio_nr: None,
///     aio_max_nr: None,
/// });
/// assert_eq!(error.raw_os_error(), Some(aio::Errno::AGAIN.raw_os_error()));
/// assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
/// ```
impl From<Error> for std::io::Error {
    fn from(error: Error) -> Self {
        match error.errno() {
            Some(errno) => std::io::Error::from_raw_os_error(errno.raw_os_error()),
            None => std::io::Error::new(std::io::ErrorKind::InvalidInput, error),
        }
    }
}

/// Reads a number from a `/proc/sys/fs` file, for error reports.
pub(crate) fn read_proc_number(path: &str) -> Option<u64> {
    use rustix::fs::{Mode, OFlags};
    let file = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    // A number and a newline; the files read here hold one unsigned value.
    let mut text = [0u8; 32];
    let len = rustix::io::read(&file, &mut text).ok()?;
    core::str::from_utf8(&text[..len]).ok()?.trim().parse().ok()
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use std::io;

    /// Every variant: the errno survives the conversion (or, without one, the message does).
    #[test]
    fn io_errors_keep_the_errno_of_every_variant_that_has_one() {
        let cases = [
            (Error::Unsupported { call: "io_setup" }, Some(Errno::NOSYS)),
            (
                Error::ContextLimit {
                    requested: 64,
                    aio_nr: Some(65_000),
                    aio_max_nr: Some(65_536),
                },
                Some(Errno::AGAIN),
            ),
            (Error::NotPermitted { call: "io_setup" }, Some(Errno::PERM)),
            (
                Error::DepthLimit {
                    requested: u32::MAX,
                    limit: 1,
                },
                Some(Errno::INVAL),
            ),
            (
                Error::OutOfMemory {
                    what: "ring",
                    bytes: usize::MAX,
                },
                Some(Errno::NOMEM),
            ),
            (Error::NotRegistered, Some(Errno::BADF)),
            (Error::Forked, Some(Errno::INVAL)),
            (
                Error::Os {
                    call: "io_submit",
                    errno: Errno::AGAIN,
                },
                Some(Errno::AGAIN),
            ),
            (
                Error::Os {
                    call: "io_getevents",
                    errno: Errno::INTR,
                },
                Some(Errno::INTR),
            ),
            (Error::QueueFull { depth: 8 }, None),
            (Error::InvalidInput("a test"), None),
            (
                Error::Misaligned {
                    what: "offset",
                    value: 100,
                    required: 512,
                },
                None,
            ),
        ];
        for (error, errno) in cases {
            assert_eq!(error.errno(), errno, "{error:?}");
            let message = error.to_string();
            let converted = io::Error::from(error.clone());
            match errno {
                Some(errno) => {
                    let expected = io::Error::from_raw_os_error(errno.raw_os_error());
                    assert_eq!(
                        converted.raw_os_error(),
                        Some(errno.raw_os_error()),
                        "{error:?}"
                    );
                    assert_eq!(converted.kind(), expected.kind(), "{error:?}");
                }
                None => {
                    assert_eq!(converted.raw_os_error(), None, "{error:?}");
                    assert_eq!(converted.kind(), io::ErrorKind::InvalidInput, "{error:?}");
                    assert_eq!(converted.to_string(), message);
                    let inner = converted.get_ref().and_then(|e| e.downcast_ref::<Error>());
                    assert_eq!(inner, Some(&error));
                }
            }
        }
    }
}
