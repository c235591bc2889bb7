//! Shared by the `aio` crate's integration tests: one suite for every backend, the ENOSYS
//! convention and O_DIRECT targets.
//!
//! A test is a plain `fn name()` that builds its contexts with [`build_or_enosys`] (or applies
//! [`backend`] itself); `each_backend!(name, ...)` declares `kernel::name` and
//! `emulated::name`, which run it with [`Backend::Kernel`] and [`Backend::Emulated`]. Where the
//! two must differ, the test asks [`backend`] and asserts each side's behaviour.
#![allow(dead_code)]

use aio::{Backend, Builder, Context, Error, IoBuf};
use std::path::PathBuf;

// The suite for both backends, the lock and the test names: one file for both test crates.
#[allow(unused_imports)]
pub(crate) use crate::variants::each_backend;
// `shared` serves the tokio modules only.
#[allow(unused_imports)]
pub use crate::variants::{backend, on_kernel, set_backend, shared, test_path, variant_path};

/// Whether a panic made on purpose can be caught here. On x32, Rust's unwinder does not
/// recognise its own panics (rust-lang/rust#117859: `catch_unwind` aborts the process with
/// "Rust cannot catch foreign exceptions"), so a test that panics on purpose and catches it
/// prints why it is skipped there.
pub fn panics_can_be_caught(test: &str) -> bool {
    if cfg!(all(target_arch = "x86_64", target_pointer_width = "32")) {
        println!(
            "SKIPPED: {test}: rustc's x32 target lacks working panic catching: catch_unwind \
             aborts the process (rust-lang/rust#117859), so the panic this test makes cannot \
             be caught"
        );
        return false;
    }
    true
}

/// Whether the harness told us the AIO calls are missing here (qemu-user).
pub fn expect_enosys() -> bool {
    std::env::var_os("AIO_TEST_EXPECT_ENOSYS").is_some_and(|v| v == "1")
}

/// Builds a context on the test's [`backend`], or proves the ENOSYS path and returns `None`.
///
/// With the kernel backend under `AIO_TEST_EXPECT_ENOSYS=1` (qemu-user) the build must fail
/// with [`Error::Unsupported`]; anywhere else it must succeed: a real kernel has AIO, and the
/// emulation works everywhere.
pub fn build_or_enosys<B: IoBuf>(test: &str, builder: Builder) -> Option<Context<B>> {
    let backend = backend();
    match builder.backend(backend).buffers::<B>().build() {
        Ok(ctx) => {
            assert!(
                backend == Backend::Emulated || !expect_enosys(),
                "{test}: AIO_TEST_EXPECT_ENOSYS=1 but io_setup worked"
            );
            assert_eq!(ctx.backend(), backend, "{test}: the backend asked for");
            Some(ctx)
        }
        Err(Error::Unsupported { call }) if backend == Backend::Kernel && expect_enosys() => {
            assert_eq!(call, "io_setup");
            println!("ENOSYS path: {test} got Error::Unsupported as expected");
            None
        }
        Err(e) => panic!("{test} ({backend:?}): building a context failed: {e}"),
    }
}

/// Where to run O_DIRECT tests: a directory whose file system accepts `O_DIRECT`.
pub enum DirectTarget {
    /// A raw block device (`AIO_TEST_BLOCK_DEV`, e.g. `/dev/ram0` in a booted test kernel).
    Device(PathBuf),
    /// A file to create in a directory that accepts O_DIRECT.
    File(PathBuf),
}

impl DirectTarget {
    /// Opens the target read-write with `O_DIRECT` (a file target is created, then unlinked, so
    /// nothing is left behind); returns the descriptor and the path, for messages.
    pub fn open(&self) -> (rustix::fd::OwnedFd, PathBuf) {
        let path = match self {
            Self::Device(dev) | Self::File(dev) => dev.clone(),
        };
        let fd = rustix::fs::open(
            &path,
            rustix::fs::OFlags::RDWR
                | rustix::fs::OFlags::DIRECT
                | rustix::fs::OFlags::CREATE
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap_or_else(|e| panic!("{}: open with O_DIRECT: {e}", path.display()));
        if let Self::File(_) = self {
            std::fs::remove_file(&path).unwrap();
        }
        (fd, path)
    }
}

/// Finds an O_DIRECT target, or `None` after printing why (the one allowed skip).
pub fn direct_target(test: &str) -> Option<DirectTarget> {
    if let Some(dev) = std::env::var_os("AIO_TEST_BLOCK_DEV") {
        return Some(DirectTarget::Device(dev.into()));
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("AIO_TEST_DIRECT_DIR") {
        candidates.push(dir.into());
    }
    candidates.push("/dev/shm".into());
    candidates.push(env!("CARGO_TARGET_TMPDIR").into());
    candidates.push(std::env::temp_dir());
    let mut refused = Vec::new();
    for dir in candidates {
        let path = dir.join(format!(
            "aio-direct-probe-{}-{test}-{:?}",
            std::process::id(),
            backend()
        ));
        let opened = rustix::fs::open(
            &path,
            rustix::fs::OFlags::CREATE | rustix::fs::OFlags::RDWR | rustix::fs::OFlags::DIRECT,
            rustix::fs::Mode::from_raw_mode(0o600),
        );
        let _ = std::fs::remove_file(&path);
        match opened {
            Ok(_) => {
                return Some(DirectTarget::File(dir.join(format!(
                    "aio-{test}-{:?}-{}",
                    backend(),
                    std::process::id()
                ))));
            }
            Err(e) => refused.push(format!("{}: {e}", dir.display())),
        }
    }
    println!(
        "SKIPPED: {test}: no file system here accepts O_DIRECT ({})",
        refused.join("; ")
    );
    None
}

/// A new, empty, already unlinked read-write file in the target's test directory (named for
/// the test and its backend, so that both variants can run at once).
pub fn temp_file(name: &str) -> std::fs::File {
    // In a booted test kernel the directory exists only once some test made it.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("aio-{name}-{:?}-{}", backend(), std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

/// The number of open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// `/proc/sys/fs/aio-nr`: events held by all contexts on the system.
pub fn aio_nr() -> u64 {
    std::fs::read_to_string("/proc/sys/fs/aio-nr")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// How many AIO rings (`/[aio]` mappings, one per live context) this process maps.
pub fn aio_rings_mapped() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|maps| maps.lines().filter(|l| l.contains("/[aio]")).count())
        .unwrap_or(0)
}

/// Asserts that this process gave back every AIO context: aio-nr is back at `before`, or, if
/// another process on the machine changed it meanwhile, this process maps no ring any more.
pub fn assert_contexts_released(before: u64) {
    let now = aio_nr();
    assert!(
        now == before || aio_rings_mapped() == 0,
        "aio-nr went from {before} to {now} and this process still maps {} AIO rings",
        aio_rings_mapped()
    );
    assert_eq!(
        aio_rings_mapped(),
        0,
        "a context of this process was not destroyed"
    );
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Set in the child process [`in_child`] starts.
const CHILD: &str = "AIO_TEST_CHILD";

/// Runs the calling test (libtest's name `path`: [`test_path`], [`variant_path`]) again, alone,
/// in a child process of the test binary (through the emulator under qemu-user), prints its
/// output and asserts that it passed: `false` here, in the parent, which has nothing more to
/// do; `true` in the child, which runs the test's body. For a test that changes what belongs
/// to the whole process, such as [`lower_open_file_limit`], or counts what the tests beside it
/// would change (its descriptors, its AIO rings).
pub fn in_child(path: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let mut command = match std::env::var_os("AIO_TEST_QEMU_USER") {
        Some(qemu) => {
            let mut c = std::process::Command::new(qemu);
            c.arg(&exe);
            c
        }
        None => std::process::Command::new(&exe),
    };
    let output = command
        .args([path, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap_or_else(|e| panic!("re-executing {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("--- {path} in a child process ---\n{stdout}");
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{path} in a child process: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    false
}

/// Lowers this process's soft `RLIMIT_NOFILE` to `limit` (in a child of [`in_child`]: the
/// harness of the parent keeps its own). Descriptors already open stay open.
pub fn lower_open_file_limit(limit: u64) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    assert!(
        std::env::var_os(CHILD).is_some(),
        "only in a child of in_child"
    );
    let mut nofile = getrlimit(Resource::Nofile);
    nofile.current = Some(limit);
    setrlimit(Resource::Nofile, nofile).unwrap();
}

/// A buffer whose own code panics on demand: in `bytes_len` (which a readv/writev's push
/// runs) or in `Drop`. Drops that ran (panicking or not) are counted in `drops`.
#[derive(Debug)]
pub struct Panicky {
    pub bytes: Vec<u8>,
    pub panic_in_len: bool,
    pub panic_in_drop: bool,
    pub drops: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Panicky {
    pub fn new(len: usize) -> Self {
        Self {
            bytes: vec![1; len],
            panic_in_len: false,
            panic_in_drop: false,
            drops: Default::default(),
        }
    }
}

impl Drop for Panicky {
    fn drop(&mut self) {
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.panic_in_drop && !std::thread::panicking() {
            panic!("Panicky: panic in drop");
        }
    }
}

// SAFETY: the Vec's heap storage does not move with the struct; `bytes_len` either answers
// its length or panics.
unsafe impl IoBuf for Panicky {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn bytes_len(&self) -> usize {
        if self.panic_in_len {
            panic!("Panicky: panic in bytes_len");
        }
        self.bytes.len()
    }
}

// SAFETY: as above; u8 takes any byte.
unsafe impl aio::IoBufMut for Panicky {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut_ptr()
    }
}

/// The message of a panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Whether the running kernel knows `RWF_NOAPPEND` (Linux 6.9): only there can the emulated
/// backend tell a stream without `read_iter`/`write_iter` (an inotify descriptor, an eventfd
/// written to), which `io_submit` refuses with `EINVAL`; before, it reads or writes it as
/// `read(2)` would (the difference `Backend::Emulated` documents). Probed as the emulation
/// does: contradictory flags on a pipe answer `EINVAL` only where the flag is known.
pub fn kernel_knows_noappend() -> bool {
    use rustix::io::{IoSliceMut, ReadWriteFlags, preadv2};
    let (reader, _writer) = rustix::pipe::pipe().unwrap();
    let flags = ReadWriteFlags::from_bits_retain(
        (aio::RwFlags::APPEND | aio::RwFlags::NOAPPEND).bits() as u32,
    );
    let mut byte = [0u8];
    preadv2(&reader, &mut [IoSliceMut::new(&mut byte)], u64::MAX, flags)
        == Err(rustix::io::Errno::INVAL)
}
