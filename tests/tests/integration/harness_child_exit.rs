// Kernel only: raw aio-sys calls, about how the kernel tears a context down at exit (exit_aio).
//! After libaio's harness case 14.t: a child process exits with large I/O submitted and nothing
//! reaped, without `io_destroy`.
//!
//! The kernel tears the context down at exit (`exit_aio`): it cancels what can be cancelled,
//! waits for the rest, and gives the context's events back to `/proc/sys/fs/aio-nr`. So the
//! child exits promptly and cleanly, and `aio-nr` returns to its value from before the child.
//! `aio-nr` is system-wide: if it does not come back while other processes hold contexts, only
//! this process's side is asserted (see `common::assert_aio_nr_restored`).
//!
//! The child (this test binary, re-executed) uses the raw calls, as 14.t: a context of 1024
//! events; ten buffered requests alternating a write and a read of one large buffer (14.t uses
//! 768 MiB each; here min(128 MiB, MemAvailable / 8), which keeps the child around a second),
//! completed inside `io_submit` and left in the ring; a poll on a pipe nothing writes to, in
//! flight until the kernel cancels it at exit; and, where a file system takes `O_DIRECT`
//! (preferably a disk), eight 8 MiB direct reads, in flight when the child exits. It then leaves
//! with `_exit`, with no destructor run.

use crate::common;

use aio_sys::abi::{AIO_RING_MAGIC, IOCB_CMD_POLL, IOCB_CMD_PREAD, IOCB_CMD_PWRITE};
use aio_sys::abi::{aio_context_t, aio_ring, iocb};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::ptr::addr_of;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const TEST: &str = "child_exits_with_io_in_flight";
const SCENARIO: &str = "child-exit";
/// The events asked of io_setup, as 14.t's `aio_setup(1024)`.
const EVENTS: u32 = 1024;
/// The buffered requests of 14.t's loop.
const BUFFERED: usize = 10;
const BUFFERED_SIZE_MAX: usize = 128 << 20;
const DIRECT_READS: usize = 8;
const DIRECT_SIZE_MAX: usize = 8 << 20;
/// How long the child may take, from spawn to exit, before it counts as hung. Usually a few
/// seconds; generous because emulators differ: under bookworm's QEMU 7.2 the riscv64 guest took
/// 118 s to write the buffered requests (its page-cache writes ran at ~2 MB/s; the exit itself
/// took 0.1 s), so the child prints when it reached each step and the wait says that it is
/// still going.
const CHILD_DEADLINE: Duration = Duration::from_secs(400);
/// How often the wait reports on the console (the test runner ends a guest that prints nothing
/// for 180 s; the harness captures `println!`, not a direct write to stderr).
const HEARTBEAT: Duration = Duration::from_secs(30);
/// The line the child prints with the `aio-nr` it saw while holding its context.
const AIO_NR_LINE: &str = "child: aio-nr with its context:";

#[test]
fn child_exits_with_io_in_flight() {
    // Alone: its context must be the only one the process maps, and aio-nr come back.
    let _alone = common::exclusive();
    if common::in_scenario(SCENARIO) {
        child();
    }
    if !common::aio_or_skip(TEST) {
        return;
    }
    let before = common::proc_fs_number("aio-nr");
    let (status, stdout, elapsed) = run_child();
    println!("--- child stdout ---\n{stdout}--- child exited after {elapsed:?}: {status}");
    assert!(status.success(), "the child failed or was killed: {status}");
    assert!(
        stdout.contains(&common::scenario_done_marker(SCENARIO)),
        "the child did not reach its exit"
    );
    let seen: u64 = stdout
        .lines()
        .find_map(|l| Some(l.split_once(AIO_NR_LINE)?.1))
        .and_then(|v| v.trim().parse().ok())
        .expect("the child's aio-nr line");
    assert!(
        seen >= u64::from(EVENTS),
        "aio-nr {seen} while the child held a context of {EVENTS} events"
    );
    common::assert_aio_nr_restored(before, TEST);
}

/// Re-executes this test as the child; returns its status, its stdout, and how long it lived.
///
/// # Panics
/// If the child is still running after [`CHILD_DEADLINE`] (it is killed first).
fn run_child() -> (std::process::ExitStatus, String, Duration) {
    let exe = std::env::current_exe().expect("current_exe");
    let start = Instant::now();
    let full = common::test_path(module_path!(), TEST);
    let mut child = Command::new(&exe)
        .args(["--exact", &full, "--nocapture", "--test-threads=1"])
        .env(common::SCENARIO_VAR, SCENARIO)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", exe.display()));
    let mut out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).map(|_| s)
    });
    let stderr = std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            println!("child stderr: {line}");
        }
    });
    let mut next_heartbeat = HEARTBEAT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitpid") {
            break status;
        }
        if start.elapsed() > next_heartbeat {
            let line = format!("{TEST}: the child has not exited after {next_heartbeat:?}\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
            next_heartbeat += HEARTBEAT;
        }
        if start.elapsed() > CHILD_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            // What the child printed says how far it got (killed, its pipe is at end of file).
            let printed = stdout.join().ok().and_then(Result::ok).unwrap_or_default();
            let _ = stderr.join();
            let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
            let mem = meminfo.lines().take(3).collect::<Vec<_>>().join("; ");
            panic!(
                "the child did not exit within {CHILD_DEADLINE:?}: exit with I/O in flight hung; \
                 it printed:\n{printed}--- ({mem})"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    let stdout = stdout.join().unwrap().expect("the child's stdout");
    stderr.join().unwrap();
    (status, stdout, elapsed)
}

/// Submits `cbs` in one `io_submit`, which must take them all.
///
/// # Safety
/// The iocbs and their buffers must stay valid until the process exits.
unsafe fn submit_all(ctx: aio_context_t, cbs: &mut [iocb], what: &str) {
    let list: Vec<*mut iocb> = cbs.iter_mut().map(|cb| cb as *mut iocb).collect();
    // SAFETY: forwarded from the caller.
    let n = unsafe { aio_sys::io_submit(ctx, list.len() as isize, list.as_ptr()) };
    assert_eq!(n, Ok(list.len()), "io_submit of {what}");
}

/// The completed events waiting in the ring at `ctx`, if the ring is readable.
fn events_in_ring(ctx: aio_context_t) -> Option<u32> {
    if common::aio_rings_mapped("self") == 0 {
        return None;
    }
    // `aio_context_t` is u64 on x32, where the first cast is not a no-op.
    #[allow(clippy::unnecessary_cast)]
    let ring = ctx as usize as *mut aio_ring;
    // SAFETY: this process maps a ring, and the context id is its address: the header is
    // mapped until the process exits; `magic` and `nr` are written only by io_setup, `head` and
    // `tail` are read atomically (the kernel writes `tail` with a barrier, nobody moves `head`).
    unsafe {
        if addr_of!((*ring).magic).read_volatile() != AIO_RING_MAGIC {
            return None;
        }
        let nr = addr_of!((*ring).nr).read_volatile();
        let head = (*addr_of!((*ring).head).cast::<AtomicU32>()).load(Ordering::Acquire);
        let tail = (*addr_of!((*ring).tail).cast::<AtomicU32>()).load(Ordering::Acquire);
        Some((tail + nr - head) % nr)
    }
}

/// The child: submits, reaps nothing, and leaves with `_exit`.
fn child() -> ! {
    let born = Instant::now();
    let mut ctx: aio_context_t = 0;
    // SAFETY: `ctx` is a valid, zeroed context variable.
    let created = unsafe { aio_sys::io_setup(EVENTS, &mut ctx) };
    assert_eq!(created, Ok(()), "child: io_setup({EVENTS})");
    println!("{AIO_NR_LINE} {}", common::proc_fs_number("aio-nr"));

    // 14.t: one large buffer, written and read back ten times, each its own io_submit. Buffered
    // file I/O runs inside io_submit: ten completed, unreaped events.
    let cap = usize::try_from(common::mem_available() / 8).unwrap_or(usize::MAX);
    let size = BUFFERED_SIZE_MAX.min(cap) & !0xfff;
    let temp = common::TempFile::new("child-exit");
    let file = temp.create_rw();
    let mut buf = vec![0x14u8; size];
    let mut buffered: Vec<iocb> = (0..BUFFERED)
        .map(|i| {
            let cmd = if i % 2 == 0 {
                IOCB_CMD_PWRITE
            } else {
                IOCB_CMD_PREAD
            };
            common::rw_iocb(cmd, file.as_raw_fd(), buf.as_mut_ptr(), size, 0, i as u64)
        })
        .collect();
    for cb in buffered.chunks_mut(1) {
        // SAFETY: the iocbs and the buffer live until `_exit` (never dropped).
        unsafe { submit_all(ctx, cb, "a buffered request") };
    }
    println!(
        "child: {BUFFERED} buffered requests of {} MiB submitted (at {:?})",
        size >> 20,
        born.elapsed()
    );

    // A poll nothing will complete: the write end stays open and silent.
    let (rx, tx) = rustix::pipe::pipe().expect("pipe");
    let mut poll = [iocb {
        aio_data: 100,
        aio_lio_opcode: IOCB_CMD_POLL,
        aio_fildes: rx.as_raw_fd() as u32,
        aio_buf: u64::from(linux_raw_sys::general::POLLIN),
        ..iocb::default()
    }];
    // SAFETY: the iocb lives until `_exit`; a poll has no buffer.
    unsafe { submit_all(ctx, &mut poll, "a poll on an empty pipe") };

    // Direct reads, really in flight on a disk.
    // 8 MiB each, or what a raw ramdisk (booted test kernels) holds, in whole MiB.
    let room =
        common::direct_room().map_or(usize::MAX, |r| usize::try_from(r).unwrap_or(usize::MAX));
    let direct_size = DIRECT_SIZE_MAX
        .min((room / DIRECT_READS) & !((1 << 20) - 1))
        .max(1 << 20);
    let len = DIRECT_READS * direct_size;
    let direct = common::direct_or_skip(TEST, len as u64, true);
    let mut direct_bufs = Vec::new();
    let mut direct_cbs = Vec::new();
    match &direct {
        Some(direct) => {
            direct.fill(direct_size, DIRECT_READS, |i| i as u8);
            for i in 0..DIRECT_READS {
                let mut b = aio::AlignedBuf::new(direct_size, direct.align).expect("buffer");
                let offset = (direct.base + (i * direct_size) as u64) as i64;
                let fd = direct.file.as_raw_fd();
                direct_cbs.push(common::rw_iocb(
                    IOCB_CMD_PREAD,
                    fd,
                    b.as_mut_ptr(),
                    direct_size,
                    offset,
                    200,
                ));
                direct_bufs.push(b);
            }
            // SAFETY: the iocbs and the buffers live until `_exit` (never dropped).
            unsafe { submit_all(ctx, &mut direct_cbs, "the direct reads") };
            println!(
                "child: {DIRECT_READS} direct reads of {} MiB submitted on {} (at {:?})",
                direct_size >> 20,
                direct.what,
                born.elapsed()
            );
        }
        None => println!("child: no O_DIRECT target: only the poll is in flight at exit"),
    }

    let submitted = BUFFERED + 1 + direct_cbs.len();
    match events_in_ring(ctx) {
        Some(done) => {
            println!(
                "child: exiting with {submitted} submitted, {done} completed (unreaped), {} in \
                 flight",
                submitted as u32 - done
            );
            assert!(
                (done as usize) < submitted,
                "at least the poll is still in flight"
            );
        }
        None => println!("child: exiting with {submitted} submitted (ring not readable here)"),
    }
    // Closing the descriptors (and removing the scratch files) does not end in-flight requests:
    // the kernel holds its own reference to each file. The pipe stays open: closing its write
    // end would complete the poll with POLLHUP.
    drop(direct);
    drop(file);
    drop(temp);
    println!("child: exiting at {:?}", born.elapsed());
    println!("{}", common::scenario_done_marker(SCENARIO));
    let _ = std::io::stdout().flush();
    std::mem::forget((rx, tx, buf, buffered, poll, direct_bufs, direct_cbs));
    // SAFETY: ends the process at once: no io_destroy, no destructor, no unmapping by this code.
    unsafe { libc::_exit(0) }
}
