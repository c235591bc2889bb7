//! Helpers shared by the integration tests of `aio-tests` (`mod common;` in each test file).
//!
//! - [`each_backend!`] / [`backend`]: one suite for both backends of the safe crate. A test that
//!   goes through [`aio::Context`] is a plain `fn name()` that builds its contexts with
//!   [`context_or_skip`] (or applies [`backend`] itself); `each_backend!(name, ...)` declares
//!   `kernel::name` and `emulated::name`, which run it with [`Backend::Kernel`] and
//!   [`Backend::Emulated`]. Where the two must differ, the test asks [`on_kernel`] and asserts
//!   each side's behaviour. Tests about the kernel itself (its ring, its limits, raw `aio-sys`
//!   calls) stay plain `#[test]`s, on the kernel.
//! - [`context_or_skip`]: the ENOSYS convention. Under qemu-user (and other places without
//!   kernel AIO) every AIO system call answers `ENOSYS`; the runner sets
//!   `AIO_TEST_EXPECT_ENOSYS=1` there. A test starts by building its context through this helper:
//!   with the variable set, a kernel build must fail with [`Error::Unsupported`] (and the test
//!   returns); without it, `Unsupported` is a failure, because a real kernel must have AIO. The
//!   emulated backend needs no kernel AIO: it builds, and its tests run, everywhere.
//! - [`direct_or_skip`]: a file (or the raw block device named by `AIO_TEST_BLOCK_DEV`) that
//!   accepts `O_DIRECT`, else a printed `SKIPPED:` line, the only skip the tests allow.
//! - [`TempFile`]: a scratch file removed on drop.
//! - [`run_scenario_in_child`] / [`scenario`]: re-runs one test in a fresh process of the same
//!   test binary, for scenarios that change process-wide state (resource limits, signal
//!   dispositions, `fork`); the child runs the variant of the parent's backend.
#![allow(dead_code)]

use aio::{AlignedBuf, Backend, Builder, Context, Error, IoBuf};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// The suite for both backends, the lock and the test names: the `aio` crate's file, included
// by this binary's `main.rs` as `variants`.
#[allow(unused_imports)]
pub(crate) use crate::variants::each_backend;
pub use crate::variants::{
    backend, backend_module, exclusive, on_kernel, shared, test_path, variant_path,
};

/// Set to `1` where every AIO system call is expected to answer `ENOSYS`.
pub const EXPECT_ENOSYS_VAR: &str = "AIO_TEST_EXPECT_ENOSYS";
/// A directory whose file system accepts `O_DIRECT`, tried first.
pub const DIRECT_DIR_VAR: &str = "AIO_TEST_DIRECT_DIR";
/// A block device (e.g. `/dev/ram0` in a test kernel) that `O_DIRECT` tests may use raw.
pub const BLOCK_DEV_VAR: &str = "AIO_TEST_BLOCK_DEV";
/// Under qemu-user: the emulator that runs this (foreign) binary, for re-executing it.
pub const QEMU_USER_VAR: &str = "AIO_TEST_QEMU_USER";
/// Selects the scenario a re-executed test binary runs (see [`run_scenario_in_child`]).
pub const SCENARIO_VAR: &str = "AIO_TEST_HARNESS_SCENARIO";
/// The backend (`kernel` or `emulated`) of the parent whose scenario a re-executed test binary
/// runs: the child checks that it runs the same variant.
pub const SCENARIO_BACKEND_VAR: &str = "AIO_TEST_HARNESS_BACKEND";

/// Whether this run expects `ENOSYS` from every AIO call.
pub fn expect_enosys() -> bool {
    std::env::var_os(EXPECT_ENOSYS_VAR).is_some_and(|v| v == "1")
}

/// Builds a context from `builder` on the test's [`backend`], following the ENOSYS convention:
/// `None` means "the kernel has no AIO here, as expected; end the test" (kernel backend only).
///
/// # Panics
/// If the build fails otherwise, if it fails with `Unsupported` on a run that expects AIO, if a
/// kernel build succeeds on a run that expects `ENOSYS`, or if the context runs on another
/// backend than asked. The emulated backend must build everywhere, `ENOSYS` or not.
pub fn context_or_skip<B: IoBuf>(test: &str, builder: Builder) -> Option<Context<B>> {
    let backend = backend();
    match builder.backend(backend).buffers::<B>().build() {
        Ok(ctx) => {
            assert!(
                backend == Backend::Emulated || !expect_enosys(),
                "{test}: {EXPECT_ENOSYS_VAR}=1 but a context was created: this kernel has AIO"
            );
            assert_eq!(ctx.backend(), backend, "{test}: the backend asked for");
            Some(ctx)
        }
        Err(Error::Unsupported { call }) if backend == Backend::Kernel => {
            assert_eq!(call, "io_setup", "{test}: Unsupported from the wrong call");
            assert!(
                expect_enosys(),
                "{test}: io_setup answered ENOSYS, but a real kernel must have AIO \
                 (set {EXPECT_ENOSYS_VAR}=1 only under qemu-user or similar)"
            );
            println!("ENOSYS path: {test} got Error::Unsupported as expected");
            None
        }
        Err(e) => panic!("{test} ({backend:?}): creating the context failed: {e}"),
    }
}

/// [`context_or_skip`] with a depth-1 context that is dropped at once: `false` means "end the
/// test" (the ENOSYS path, kernel backend only).
pub fn aio_or_skip(test: &str) -> bool {
    context_or_skip::<Vec<u8>>(test, Context::builder().depth(1)).is_some()
}

/// The directory for scratch files: cargo's target tmpdir when it exists (it does not inside a
/// test guest that only has the binary), else the system temporary directory.
pub fn scratch_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    if target.is_dir() {
        target.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn unique_name(tag: &str) -> String {
    format!(
        "aio-harness-{}-{}-{tag}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

/// A file path removed (if it exists) on drop.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A fresh, not yet created path in `dir`.
    pub fn new_in(dir: &Path, tag: &str) -> Self {
        Self {
            path: dir.join(unique_name(tag)),
        }
    }

    /// A fresh, not yet created path in [`scratch_dir`].
    pub fn new(tag: &str) -> Self {
        Self::new_in(&scratch_dir(), tag)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates (truncating) the file for reading and writing.
    pub fn create_rw(&self) -> File {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.path)
            .unwrap_or_else(|e| panic!("create {}: {e}", self.path.display()))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The kernel release as (major, minor), from `/proc/sys/kernel/osrelease`.
pub fn kernel_version() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Reads a number from `/proc/sys/fs/<name>` (`aio-nr`, `aio-max-nr`).
pub fn proc_fs_number(name: &str) -> u64 {
    let path = format!("/proc/sys/fs/{name}");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// Waits (up to 10 s) for `/proc/sys/fs/aio-nr` to read `expected`; returns the last value read.
/// `aio-nr` is system-wide: other processes creating or destroying contexts meanwhile can make
/// it differ for a while.
pub fn wait_for_aio_nr(expected: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = proc_fs_number("aio-nr");
        if now == expected || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How many AIO completion rings (`/[aio]` mappings, one per context) `/proc/<pid>/maps` shows.
pub fn aio_rings_mapped(pid: &str) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map(|maps| maps.lines().filter(|l| l.contains("/[aio]")).count())
        .unwrap_or(0)
}

/// The other processes that map AIO rings now.
pub fn other_processes_with_aio_rings() -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && aio_rings_mapped(&pid.to_string()) > 0)
        .collect()
}

/// Asserts that every context this process created is gone and gave its events back: this
/// process maps no ring, and `/proc/sys/fs/aio-nr` is back at `before`. `aio-nr` is system-wide,
/// so when it stays different (for 10 s) while other processes hold contexts (other test runs
/// on the machine), only this process's side is asserted, and that is reported.
///
/// Only for test binaries none of whose other tests may hold a context at this point.
pub fn assert_aio_nr_restored(before: u64, test: &str) {
    assert_eq!(
        aio_rings_mapped("self"),
        0,
        "{test}: this process still maps AIO rings (a context was not destroyed)"
    );
    let after = wait_for_aio_nr(before);
    if after == before {
        return;
    }
    let others = other_processes_with_aio_rings();
    assert!(
        !others.is_empty(),
        "{test}: /proc/sys/fs/aio-nr is {after}, was {before}, and no other process holds a \
         context"
    );
    println!(
        "{test}: /proc/sys/fs/aio-nr is {after}, was {before}, changed by other processes \
         holding contexts ({others:?}); this process holds none"
    );
}

/// A target for `O_DIRECT` I/O: a scratch file or a region of a raw block device.
#[derive(Debug)]
pub struct Direct {
    /// Open read-write with `O_DIRECT`.
    pub file: File,
    /// The larger of the memory and offset alignments `O_DIRECT` needs here.
    pub align: usize,
    /// Where this test's region starts (0 for a file; a private region of a block device).
    pub base: u64,
    /// What it is, for messages.
    pub what: String,
    _temp: Option<TempFile>,
}

impl Direct {
    /// Fills `[base, base + blocks * block)` with `pattern(block_index)` bytes, block by block,
    /// with plain (synchronous) direct writes.
    pub fn fill(&self, block: usize, blocks: usize, pattern: impl Fn(usize) -> u8) {
        let mut buf = AlignedBuf::new(block, self.align).expect("aligned buffer");
        for i in 0..blocks {
            buf.fill(pattern(i));
            let offset = self.base + (i * block) as u64;
            let n = rustix::io::pwrite(&self.file, &buf, offset)
                .unwrap_or_else(|e| panic!("pwrite {} at {offset}: {e}", self.what));
            assert_eq!(n, block, "short direct write to {}", self.what);
        }
    }
}

/// The block device is handed out in regions of this size.
const REGION: u64 = 1 << 20;

/// The next free region of the block device within this process (its number: `AtomicUsize`, as
/// 32-bit MIPS and PowerPC have no 64-bit atomics), so that tests running in parallel threads do
/// not overwrite each other's data.
static BLOCK_DEV_NEXT: AtomicUsize = AtomicUsize::new(0);

fn open_direct(path: &Path, create: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(create)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(path)
}

fn block_dev_target(dev: &str, len: u64) -> Direct {
    let path = Path::new(dev);
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{BLOCK_DEV_VAR}={dev}: {e}"));
    assert!(
        meta.file_type().is_block_device(),
        "{BLOCK_DEV_VAR}={dev} is not a block device"
    );
    let mut file = open_direct(path, false)
        .unwrap_or_else(|e| panic!("{BLOCK_DEV_VAR}={dev}: open with O_DIRECT: {e}"));
    let dio = aio::dio_alignment(&file).unwrap_or_else(|e| panic!("dio_alignment({dev}): {e}"));
    let align = dio.memory.max(dio.offset).max(512) as usize;
    let size = file.seek(SeekFrom::End(0)).expect("block device size");
    let regions = len.div_ceil(REGION);
    let len = regions * REGION;
    let base = BLOCK_DEV_NEXT.fetch_add(regions as usize, Ordering::Relaxed) as u64 * REGION;
    assert!(
        base + len <= size,
        "{BLOCK_DEV_VAR}={dev}: {size} bytes, not enough for {len} more bytes at {base}"
    );
    Direct {
        file,
        align,
        base,
        what: format!("{dev} (raw, at {base})"),
        _temp: None,
    }
}

/// Why `dir` cannot hold an `O_DIRECT` file, or the target.
fn dir_target(dir: &Path, tag: &str) -> Result<Direct, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let temp = TempFile::new_in(dir, tag);
    let file = open_direct(temp.path(), true)
        .map_err(|e| format!("{}: open with O_DIRECT: {e}", dir.display()))?;
    let dio = aio::dio_alignment(&file).map_err(|e| format!("{}: {e}", dir.display()))?;
    let align = dio.memory.max(dio.offset).max(512) as usize;
    // Some file systems accept the open flag but refuse the I/O: try one block.
    let probe = AlignedBuf::new(align, align).expect("aligned buffer");
    match rustix::io::pwrite(&file, &probe, 0) {
        Ok(n) if n == align => {}
        Ok(n) => return Err(format!("{}: probe direct write gave {n}", dir.display())),
        Err(e) => return Err(format!("{}: probe direct write: {e}", dir.display())),
    }
    file.set_len(0).map_err(|e| format!("truncate: {e}"))?;
    Ok(Direct {
        file,
        align,
        base: 0,
        what: format!("{}", temp.path().display()),
        _temp: Some(temp),
    })
}

/// Finds somewhere to do `len` bytes of `O_DIRECT` I/O: `$AIO_TEST_DIRECT_DIR`, the block device
/// `$AIO_TEST_BLOCK_DEV` (raw, a private region of it), `/dev/shm`, cargo's target tmpdir, the
/// system temporary directory. With `prefer_disk`, the target tmpdir (a disk-backed file system,
/// where direct I/O is really asynchronous) comes before `/dev/shm`.
///
/// Prints `SKIPPED: <reason>` and returns `None` if none accepts `O_DIRECT`.
///
/// # Panics
/// If `AIO_TEST_DIRECT_DIR` or `AIO_TEST_BLOCK_DEV` is set but unusable.
pub fn direct_or_skip(test: &str, len: u64, prefer_disk: bool) -> Option<Direct> {
    if let Some(dir) = std::env::var_os(DIRECT_DIR_VAR) {
        return Some(
            dir_target(Path::new(&dir), test)
                .unwrap_or_else(|why| panic!("{test}: {DIRECT_DIR_VAR}: {why}")),
        );
    }
    if let Ok(dev) = std::env::var(BLOCK_DEV_VAR) {
        return Some(block_dev_target(&dev, len));
    }
    let shm = PathBuf::from("/dev/shm");
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let mut candidates = if prefer_disk {
        vec![target, shm]
    } else {
        vec![shm, target]
    };
    candidates.push(std::env::temp_dir());
    let mut reasons = Vec::new();
    for dir in &candidates {
        match dir_target(dir, test) {
            Ok(direct) => return Some(direct),
            Err(why) => reasons.push(why),
        }
    }
    println!(
        "SKIPPED: {test}: no file system here accepts O_DIRECT ({})",
        reasons.join("; ")
    );
    None
}

/// The scenario this process was re-executed for, if any.
pub fn scenario() -> Option<String> {
    std::env::var(SCENARIO_VAR).ok()
}

/// Whether this process was re-executed to run `name`.
pub fn in_scenario(name: &str) -> bool {
    scenario().as_deref() == Some(name)
}

/// The line a child prints when its scenario ran to the end.
pub fn scenario_done_marker(name: &str) -> String {
    format!("aio-harness scenario {name}: done")
}

/// Re-executes this test binary to run only `test` (the plain function name, listed in
/// `each_backend!` in the module whose `module_path!()` is `module`), alone and with one test
/// thread, with [`SCENARIO_VAR`] set to `name`; the test then runs the scenario instead of
/// calling this, and prints [`scenario_done_marker`] at its end. The child runs the variant of
/// this thread's [`backend`] ([`variant_path`]), and [`SCENARIO_BACKEND_VAR`] tells it which
/// backend that is, for [`scenario_test`] to check.
///
/// # Panics
/// If the child fails, or did not run the scenario to its end.
pub fn run_scenario_in_child(module: &str, test: &str, name: &str) {
    let full = variant_path(module, test);
    let module = backend_module(backend());
    let exe = std::env::current_exe().expect("current_exe");
    // Under qemu-user the binary is foreign to the host: run it through the same emulator.
    let mut command = match std::env::var_os(QEMU_USER_VAR) {
        Some(qemu) => {
            let mut c = Command::new(qemu);
            c.arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    let output = command
        .args(["--exact", &full, "--nocapture", "--test-threads=1"])
        .env(SCENARIO_VAR, name)
        .env(SCENARIO_BACKEND_VAR, module)
        .output()
        .unwrap_or_else(|e| panic!("re-executing {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("--- child {full} ({name}) stdout ---\n{stdout}");
    println!("--- child {full} ({name}) stderr ---\n{stderr}");
    assert!(
        output.status.success(),
        "the child running scenario {name} failed: {}",
        output.status
    );
    assert!(
        stdout.contains(&scenario_done_marker(name)),
        "the child did not run scenario {name} to its end (wrong test name {full}?)"
    );
}

/// Whether `preadv2`/`pwritev2` exist here (Linux 4.6; qemu-user 7.2 answers `ENOSYS` for
/// them). Without them the emulated backend can honour no `RWF_*` flag and answers
/// `EOPNOTSUPP`, as a kernel before 4.6 does.
pub fn rwf_calls_available() -> bool {
    let zero = File::open("/dev/zero").expect("/dev/zero");
    let mut byte = [0u8; 1];
    let probe = rustix::io::preadv2(
        &zero,
        &mut [std::io::IoSliceMut::new(&mut byte)],
        0,
        rustix::io::ReadWriteFlags::empty(),
    );
    probe != Err(rustix::io::Errno::NOSYS)
}

/// Whether this test runs on the emulated backend where it cannot honour `RWF_*` flags (see
/// [`rwf_calls_available`]): the operations carrying them complete with `EOPNOTSUPP`.
pub fn emulated_without_rwf_calls() -> bool {
    !on_kernel() && !rwf_calls_available()
}

/// `MemAvailable` (Linux 3.14; else `MemFree`) from `/proc/meminfo`, in bytes.
pub fn mem_available() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("read /proc/meminfo");
    ["MemAvailable:", "MemFree:"]
        .iter()
        .find_map(|name| {
            meminfo.lines().find_map(|line| {
                let kib: u64 = line
                    .strip_prefix(name)?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()?;
                Some(kib * 1024)
            })
        })
        .expect("MemAvailable or MemFree in /proc/meminfo")
}

/// How many bytes [`direct_or_skip`] can still hand out in this process when the target is the
/// raw block device of `AIO_TEST_BLOCK_DEV` (a small `brd` ramdisk in booted test kernels);
/// `None` when the target is a file, which grows as needed.
pub fn direct_room() -> Option<u64> {
    if std::env::var_os(DIRECT_DIR_VAR).is_some() {
        return None;
    }
    let dev = std::env::var_os(BLOCK_DEV_VAR)?;
    let size = File::open(&dev).ok()?.seek(SeekFrom::End(0)).ok()?;
    Some(size.saturating_sub(BLOCK_DEV_NEXT.load(Ordering::Relaxed) as u64 * REGION))
}

/// An `iocb` for a read or write (`cmd`) of `len` bytes at `buf`, on descriptor `fd` at `offset`,
/// tagged `data`: the raw request the harness ports that bypass the safe API submit.
pub fn rw_iocb(
    cmd: u16,
    fd: i32,
    buf: *const u8,
    len: usize,
    offset: i64,
    data: u64,
) -> aio_sys::abi::iocb {
    aio_sys::abi::iocb {
        aio_data: data,
        aio_lio_opcode: cmd,
        aio_fildes: fd as u32,
        aio_buf: buf as u64,
        aio_nbytes: len as u64,
        aio_offset: offset,
        ..Default::default()
    }
}

/// The body of a test whose `scenario` must run alone in a re-executed copy of this binary (it
/// forks, or changes process limits), listed in `each_backend!`: in that copy, runs it (on the
/// same backend as the parent, which it checks) and prints its done marker; otherwise, where the
/// backend works (the emulation always; the kernel where it has AIO), re-executes the binary for
/// it and checks the outcome ([`run_scenario_in_child`]).
pub fn scenario_test(module: &str, test: &str, name: &str, scenario: fn()) {
    if in_scenario(name) {
        let module = backend_module(backend());
        assert_eq!(
            std::env::var(SCENARIO_BACKEND_VAR).ok().as_deref(),
            Some(module),
            "{test}: the child runs the {module} variant, not the parent's"
        );
        scenario();
        println!("{}", scenario_done_marker(name));
        return;
    }
    if !aio_or_skip(test) {
        return;
    }
    run_scenario_in_child(module, test, name);
}
