//! [`Errno`]: the error of a system call, as the kernel returned it.
//!
//! Every call of this crate returns `-errno` in a register; [`Errno`] keeps that number (always
//! `1..=4095`) and names it. The numbers are the target's own, from `linux-raw-sys`: they differ
//! between architectures (MIPS numbers most of all, PowerPC's `EDEADLOCK`), so compare values by
//! name (`e == Errno::AGAIN`), never by number.
//!
//! # Why not `rustix::io::Errno`
//!
//! `rustix` picks its libc backend on x32, riscv32, loongarch64, s390x, powerpc64, mips and
//! mips64 (all but x86, x86_64, arm, aarch64 and riscv64 little-endian on a stable compiler), and
//! its libc backend links the C library (`-lc`) even without `std`. Its `Errno` would bring libc
//! into every program using this crate there, so that a static program without a C library could
//! not link. This type has no dependency but `linux-raw-sys` (plain constants). With the default
//! `rustix` feature, `From` converts both ways with `rustix::io::Errno`, losslessly (both hold the
//! kernel's number); the `aio` crate, which speaks rustix, uses that.

use core::fmt;
use linux_raw_sys::errno;

/// An error number a system call returned: `EAGAIN`, `EINVAL`, …, with this target's values.
///
/// Its [`Display`](fmt::Display) is the C library's message with the name and number
/// (`Resource temporarily unavailable (EAGAIN, os error 11)`), its `Debug` the name.
///
/// ```
/// use aio_sys::Errno;
/// let e = Errno::from_raw_os_error(Errno::AGAIN.raw_os_error()).unwrap();
/// assert_eq!(e, Errno::AGAIN);
/// assert_eq!(e.name(), Some("EAGAIN"));
/// assert!(e.to_string().starts_with("Resource temporarily unavailable (EAGAIN"));
/// assert_eq!(Errno::from_raw_os_error(0), None); // not an error
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Errno(u16);

impl Errno {
    /// The largest error number Linux returns (`MAX_ERRNO`).
    pub const MAX: i32 = 4095;

    /// The error for `raw` (as in C's `errno`), or `None` outside `1..=4095`, which Linux never
    /// returns as an error.
    #[inline]
    pub const fn from_raw_os_error(raw: i32) -> Option<Self> {
        if raw >= 1 && raw <= Self::MAX {
            Some(Self(raw as u16))
        } else {
            None
        }
    }

    /// From a kernel constant or a decoded result register, known to be in `1..=4095`.
    pub(crate) const fn known(raw: u32) -> Self {
        Self(raw as u16)
    }

    /// The number, as C's `errno` holds it (positive).
    #[inline]
    pub const fn raw_os_error(self) -> i32 {
        self.0 as i32
    }

    /// The kernel's name of this number (`"EAGAIN"`), or `None` for a number without one.
    /// Where two names share a number (`EWOULDBLOCK` is `EAGAIN`, and `EDEADLOCK` is `EDEADLK`
    /// outside MIPS and PowerPC), the one listed first here is given.
    pub fn name(self) -> Option<&'static str> {
        self.describe().map(|(name, _)| name)
    }

    /// The C library's message for this number (`"Resource temporarily unavailable"`).
    pub fn message(self) -> Option<&'static str> {
        self.describe().map(|(_, message)| message)
    }

    fn describe(self) -> Option<(&'static str, &'static str)> {
        TABLE
            .iter()
            .find(|(errno, _, _)| *errno == self)
            .map(|&(_, name, message)| (name, message))
    }

    /// `EWOULDBLOCK`: the same number as [`AGAIN`](Self::AGAIN) on Linux.
    pub const WOULDBLOCK: Self = Self::AGAIN;
    /// `ENOTSUP`: the same number as [`OPNOTSUPP`](Self::OPNOTSUPP) on Linux.
    pub const NOTSUP: Self = Self::OPNOTSUPP;
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.describe() {
            Some((name, message)) => write!(f, "{message} ({name}, os error {})", self.0),
            None => write!(f, "unknown error (os error {})", self.0),
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "Errno({name})"),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl core::error::Error for Errno {}

#[cfg(feature = "rustix")]
impl From<Errno> for rustix::io::Errno {
    #[inline]
    fn from(e: Errno) -> Self {
        // In range by construction (1..=4095), where rustix's constructor does not panic.
        rustix::io::Errno::from_raw_os_error(e.raw_os_error())
    }
}

#[cfg(feature = "rustix")]
impl From<rustix::io::Errno> for Errno {
    #[inline]
    fn from(e: rustix::io::Errno) -> Self {
        // rustix holds the kernel's number, always in 1..=4095.
        Self(e.raw_os_error() as u16)
    }
}

macro_rules! errnos {
    ($($name:ident = $kernel:ident, $message:literal;)*) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($kernel), "`: ", $message, ".")]
                pub const $name: Self = Self::known(errno::$kernel);
            )*
        }

        /// Number, name and message, in alphabetical order of the names.
        const TABLE: &[(Errno, &str, &str)] = &[
            $((Errno::$name, stringify!($kernel), $message),)*
        ];
    };
}

errnos! {
    ACCESS = EACCES, "Permission denied";
    ADDRINUSE = EADDRINUSE, "Address already in use";
    ADDRNOTAVAIL = EADDRNOTAVAIL, "Cannot assign requested address";
    ADV = EADV, "Advertise error";
    AFNOSUPPORT = EAFNOSUPPORT, "Address family not supported by protocol";
    AGAIN = EAGAIN, "Resource temporarily unavailable";
    ALREADY = EALREADY, "Operation already in progress";
    BADE = EBADE, "Invalid exchange";
    BADF = EBADF, "Bad file descriptor";
    BADFD = EBADFD, "File descriptor in bad state";
    BADMSG = EBADMSG, "Bad message";
    BADR = EBADR, "Invalid request descriptor";
    BADRQC = EBADRQC, "Invalid request code";
    BADSLT = EBADSLT, "Invalid slot";
    BFONT = EBFONT, "Bad font file format";
    BUSY = EBUSY, "Device or resource busy";
    CANCELED = ECANCELED, "Operation canceled";
    CHILD = ECHILD, "No child processes";
    CHRNG = ECHRNG, "Channel number out of range";
    COMM = ECOMM, "Communication error on send";
    CONNABORTED = ECONNABORTED, "Software caused connection abort";
    CONNREFUSED = ECONNREFUSED, "Connection refused";
    CONNRESET = ECONNRESET, "Connection reset by peer";
    DEADLK = EDEADLK, "Resource deadlock avoided";
    DEADLOCK = EDEADLOCK, "File locking deadlock error";
    DESTADDRREQ = EDESTADDRREQ, "Destination address required";
    DOM = EDOM, "Numerical argument out of domain";
    DOTDOT = EDOTDOT, "RFS specific error";
    DQUOT = EDQUOT, "Disk quota exceeded";
    EXIST = EEXIST, "File exists";
    FAULT = EFAULT, "Bad address";
    FBIG = EFBIG, "File too large";
    HOSTDOWN = EHOSTDOWN, "Host is down";
    HOSTUNREACH = EHOSTUNREACH, "No route to host";
    HWPOISON = EHWPOISON, "Memory page has hardware error";
    IDRM = EIDRM, "Identifier removed";
    ILSEQ = EILSEQ, "Invalid or incomplete multibyte or wide character";
    INPROGRESS = EINPROGRESS, "Operation now in progress";
    INTR = EINTR, "Interrupted system call";
    INVAL = EINVAL, "Invalid argument";
    IO = EIO, "Input/output error";
    ISCONN = EISCONN, "Transport endpoint is already connected";
    ISDIR = EISDIR, "Is a directory";
    ISNAM = EISNAM, "Is a named type file";
    KEYEXPIRED = EKEYEXPIRED, "Key has expired";
    KEYREJECTED = EKEYREJECTED, "Key was rejected by service";
    KEYREVOKED = EKEYREVOKED, "Key has been revoked";
    L2HLT = EL2HLT, "Level 2 halted";
    L2NSYNC = EL2NSYNC, "Level 2 not synchronized";
    L3HLT = EL3HLT, "Level 3 halted";
    L3RST = EL3RST, "Level 3 reset";
    LIBACC = ELIBACC, "Can not access a needed shared library";
    LIBBAD = ELIBBAD, "Accessing a corrupted shared library";
    LIBEXEC = ELIBEXEC, "Cannot exec a shared library directly";
    LIBMAX = ELIBMAX, "Attempting to link in too many shared libraries";
    LIBSCN = ELIBSCN, ".lib section in a.out corrupted";
    LNRNG = ELNRNG, "Link number out of range";
    LOOP = ELOOP, "Too many levels of symbolic links";
    MEDIUMTYPE = EMEDIUMTYPE, "Wrong medium type";
    MFILE = EMFILE, "Too many open files";
    MLINK = EMLINK, "Too many links";
    MSGSIZE = EMSGSIZE, "Message too long";
    MULTIHOP = EMULTIHOP, "Multihop attempted";
    NAMETOOLONG = ENAMETOOLONG, "File name too long";
    NAVAIL = ENAVAIL, "No XENIX semaphores available";
    NETDOWN = ENETDOWN, "Network is down";
    NETRESET = ENETRESET, "Network dropped connection on reset";
    NETUNREACH = ENETUNREACH, "Network is unreachable";
    NFILE = ENFILE, "Too many open files in system";
    NOANO = ENOANO, "No anode";
    NOBUFS = ENOBUFS, "No buffer space available";
    NOCSI = ENOCSI, "No CSI structure available";
    NODATA = ENODATA, "No data available";
    NODEV = ENODEV, "No such device";
    NOENT = ENOENT, "No such file or directory";
    NOEXEC = ENOEXEC, "Exec format error";
    NOKEY = ENOKEY, "Required key not available";
    NOLCK = ENOLCK, "No locks available";
    NOLINK = ENOLINK, "Link has been severed";
    NOMEDIUM = ENOMEDIUM, "No medium found";
    NOMEM = ENOMEM, "Cannot allocate memory";
    NOMSG = ENOMSG, "No message of desired type";
    NONET = ENONET, "Machine is not on the network";
    NOPKG = ENOPKG, "Package not installed";
    NOPROTOOPT = ENOPROTOOPT, "Protocol not available";
    NOSPC = ENOSPC, "No space left on device";
    NOSR = ENOSR, "Out of streams resources";
    NOSTR = ENOSTR, "Device not a stream";
    NOSYS = ENOSYS, "Function not implemented";
    NOTBLK = ENOTBLK, "Block device required";
    NOTCONN = ENOTCONN, "Transport endpoint is not connected";
    NOTDIR = ENOTDIR, "Not a directory";
    NOTEMPTY = ENOTEMPTY, "Directory not empty";
    NOTNAM = ENOTNAM, "Not a XENIX named type file";
    NOTRECOVERABLE = ENOTRECOVERABLE, "State not recoverable";
    NOTSOCK = ENOTSOCK, "Socket operation on non-socket";
    NOTTY = ENOTTY, "Inappropriate ioctl for device";
    NOTUNIQ = ENOTUNIQ, "Name not unique on network";
    NXIO = ENXIO, "No such device or address";
    OPNOTSUPP = EOPNOTSUPP, "Operation not supported";
    OVERFLOW = EOVERFLOW, "Value too large for defined data type";
    OWNERDEAD = EOWNERDEAD, "Owner died";
    PERM = EPERM, "Operation not permitted";
    PFNOSUPPORT = EPFNOSUPPORT, "Protocol family not supported";
    PIPE = EPIPE, "Broken pipe";
    PROTO = EPROTO, "Protocol error";
    PROTONOSUPPORT = EPROTONOSUPPORT, "Protocol not supported";
    PROTOTYPE = EPROTOTYPE, "Protocol wrong type for socket";
    RANGE = ERANGE, "Numerical result out of range";
    REMCHG = EREMCHG, "Remote address changed";
    REMOTE = EREMOTE, "Object is remote";
    REMOTEIO = EREMOTEIO, "Remote I/O error";
    RESTART = ERESTART, "Interrupted system call should be restarted";
    RFKILL = ERFKILL, "Operation not possible due to RF-kill";
    ROFS = EROFS, "Read-only file system";
    SHUTDOWN = ESHUTDOWN, "Cannot send after transport endpoint shutdown";
    SOCKTNOSUPPORT = ESOCKTNOSUPPORT, "Socket type not supported";
    SPIPE = ESPIPE, "Illegal seek";
    SRCH = ESRCH, "No such process";
    SRMNT = ESRMNT, "Srmount error";
    STALE = ESTALE, "Stale file handle";
    STRPIPE = ESTRPIPE, "Streams pipe error";
    TIME = ETIME, "Timer expired";
    TIMEDOUT = ETIMEDOUT, "Connection timed out";
    TOOBIG = E2BIG, "Argument list too long";
    TOOMANYREFS = ETOOMANYREFS, "Too many references: cannot splice";
    TXTBSY = ETXTBSY, "Text file busy";
    UCLEAN = EUCLEAN, "Structure needs cleaning";
    UNATCH = EUNATCH, "Protocol driver not attached";
    USERS = EUSERS, "Too many users";
    XDEV = EXDEV, "Invalid cross-device link";
    XFULL = EXFULL, "Exchange full";
}
