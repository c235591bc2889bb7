//! A soak of the async handle (`aio::rt::tokio`) on both backends: rounds of random mixes of
//! page-cache and `O_DIRECT` reads and writes, pipe round trips, polls, futures dropped after
//! they started, cancelled polls, and runtimes that shut down with operations in flight (half
//! the rounds end that way, the other half let every task finish).
//!
//! Checked after every round:
//! - **data**: every block of both files carries its own index, a version its writer wrote,
//!   and a checksum that matches (no block at the wrong offset, torn, or lost); a block a task
//!   owns holds the version it last wrote, or the one it was writing when its runtime went;
//! - **exactly once**: every pipe message read back is the one just written; in rounds that end
//!   gracefully, every started operation resolved or was dropped by its task; the handle ends
//!   up owning nothing (abandoned operations completed; after a shutdown, a thread of the
//!   handle's finishes them) and every buffer ever made has been dropped, once.
//!
//! 15 s per backend by default, 30 s in all (5 s per backend in the cross runs under qemu,
//! which `cargo xtask cross` sets); `AIO_SOAK_SECS` sets it (for a long soak, run `cargo test
//! -p linux-aio --features tokio --test integration soak --release` with `AIO_SOAK_SECS=600`).
#![cfg(feature = "tokio")]

use crate::support;

use aio::rt::tokio::Handle;
use aio::{AlignedBuf, Context, IoBuf, IoBufMut, PollFlags};
use std::sync::Arc;
// Pointer-sized: mips o32 has no 64-bit atomics.
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Rng, backend, expect_enosys, on_kernel, temp_file};

// Alone: it loads every core for seconds, which would slow the timed tests beside it.
support::each_backend!(alone: soak);

const BS: usize = 4096;
const TASKS: u64 = 4;
/// Blocks each task owns in each file.
const OWNED: u64 = 8;
/// Blocks after the owned ones that dropped writes go to (any writer, any version).
const SCRATCH: u64 = 8;
const BLOCKS: u64 = TASKS * OWNED + SCRATCH;

/// A block-sized aligned buffer that counts the buffers alive.
struct Buf {
    bytes: AlignedBuf,
    live: Arc<AtomicIsize>,
}

impl Buf {
    fn new(live: &Arc<AtomicIsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Self {
            bytes: AlignedBuf::new(BS, BS).unwrap(),
            live: live.clone(),
        }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

// SAFETY: the AlignedBuf's heap storage does not move with the struct.
unsafe impl IoBuf for Buf {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.stable_ptr()
    }
    fn bytes_len(&self) -> usize {
        self.bytes.bytes_len()
    }
}

// SAFETY: as above; u8 takes any byte.
unsafe impl IoBufMut for Buf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.stable_mut_ptr()
    }
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Block `index` at `version`: its index, version and checksum, then a pattern of both.
fn fill(buf: &mut Buf, index: u64, version: u64) {
    let bytes = &mut buf.bytes[..];
    for (i, b) in bytes[24..].iter_mut().enumerate() {
        *b = (index as usize * 31 + version as usize * 7 + i) as u8;
    }
    let sum = checksum(&bytes[24..]);
    bytes[..8].copy_from_slice(&index.to_le_bytes());
    bytes[8..16].copy_from_slice(&version.to_le_bytes());
    bytes[16..24].copy_from_slice(&sum.to_le_bytes());
}

/// The version block `index` holds, after checking its index and checksum.
fn version_of(bytes: &[u8], index: u64, what: &str) -> u64 {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(
        word(0),
        index,
        "{what}: block {index} holds block {}",
        word(0)
    );
    assert_eq!(
        word(16),
        checksum(&bytes[24..]),
        "{what}: block {index} torn"
    );
    word(8)
}

/// What a task knows of its own blocks: the version it last wrote, and the one it is writing.
#[derive(Clone, Copy, Default)]
struct Owned {
    done: u64,
    writing: Option<u64>,
}

struct Round {
    aio: Handle<Buf>,
    files: Vec<aio::Fixed>,
    live: Arc<AtomicIsize>,
    versions: Arc<std::sync::Mutex<Vec<Vec<Owned>>>>,
    stop: Arc<AtomicBool>,
    /// The runtime is being shut down under the tasks: an offload it drops completes with
    /// `ECANCELED` (as documented), which a task then takes as its end.
    abrupt: Arc<AtomicBool>,
    started: Arc<AtomicUsize>,
    settled: Arc<AtomicUsize>,
}

/// The bytes an operation moved, or `None` if the runtime's shutdown ended it: an offload
/// the runtime dropped (`ECANCELED`), or an operation started once the handle's task was gone
/// (refused, saying so).
fn moved(round: &Round, result: std::io::Result<usize>, what: &str) -> Option<usize> {
    match result {
        Err(e)
            if round.abrupt.load(Ordering::Relaxed)
                && (e.raw_os_error() == Some(aio::Errno::CANCELED.raw_os_error())
                    || e.to_string().contains("has shut down")) =>
        {
            None
        }
        other => Some(other.unwrap_or_else(|e| panic!("{what}: {e}"))),
    }
}

/// One task: random operations on its own blocks and pipes until `stop`.
async fn task(round: Arc<Round>, t: u64, seed: u64) {
    let mut rng = Rng::new(seed);
    let (pipe_r, pipe_w) = rustix::pipe::pipe().unwrap();
    let (pipe_r, pipe_w) = (Arc::new(pipe_r), Arc::new(pipe_w));
    let (quiet_r, _quiet_w) = rustix::pipe::pipe().unwrap();
    let quiet_r = Arc::new(quiet_r);
    let mut message = 0u64;
    let aio = &round.aio;
    while !round.stop.load(Ordering::Relaxed) {
        let file = rng.below(round.files.len() as u64) as usize;
        let fd = round.files[file];
        let block = t * OWNED + rng.below(OWNED);
        round.started.fetch_add(1, Ordering::Relaxed);
        match rng.below(10) {
            0..=2 => {
                let version = {
                    let mut versions = round.versions.lock().unwrap();
                    let owned = &mut versions[file][block as usize];
                    let version = owned.done + 1;
                    owned.writing = Some(version);
                    version
                };
                let mut buf = Buf::new(&round.live);
                fill(&mut buf, block, version);
                let (written, _) = aio.write_at(fd, buf, block * BS as u64).await;
                let Some(written) = moved(&round, written, "write") else {
                    return;
                };
                assert_eq!(written, BS, "write of block {block}");
                round.versions.lock().unwrap()[file][block as usize] = Owned {
                    done: version,
                    writing: None,
                };
            }
            3..=5 => {
                let (read, buf) = aio
                    .read_at(fd, Buf::new(&round.live), block * BS as u64)
                    .await;
                let Some(read) = moved(&round, read, "read") else {
                    return;
                };
                assert_eq!(read, BS, "read of block {block}");
                let version = version_of(&buf.bytes, block, "read");
                let done = round.versions.lock().unwrap()[file][block as usize].done;
                assert_eq!(version, done, "file {file} block {block}: a stale read");
            }
            6 => {
                // Started, then dropped: it still lands, whole, in a scratch block.
                let scratch = TASKS * OWNED + rng.below(SCRATCH);
                let mut buf = Buf::new(&round.live);
                fill(&mut buf, scratch, 1_000_000 + rng.below(1000));
                let write = aio.write_at(fd, buf, scratch * BS as u64);
                let _ = tokio::time::timeout(Duration::ZERO, write).await;
            }
            7 => {
                message += 1;
                let mut out = Buf::new(&round.live);
                out.bytes[..8].copy_from_slice(&(t << 32 | message).to_le_bytes());
                let (written, _) = aio.write_at(pipe_w.clone(), out, 0).await;
                let Some(written) = moved(&round, written, "pipe write") else {
                    return;
                };
                assert_eq!(written, BS);
                let (read, back) = aio.read_at(pipe_r.clone(), Buf::new(&round.live), 0).await;
                let Some(read) = moved(&round, read, "pipe read") else {
                    return;
                };
                assert_eq!(read, BS, "a pipe read of a whole message");
                let got = u64::from_le_bytes(back.bytes[..8].try_into().unwrap());
                assert_eq!(got, t << 32 | message, "pipe message");
            }
            8 => {
                // A poll nobody will satisfy, dropped: cancelled.
                let poll = aio.poll_ready(quiet_r.clone(), PollFlags::IN);
                let waited = tokio::time::timeout(Duration::from_micros(200), poll).await;
                assert!(waited.is_err(), "nothing writes that pipe");
            }
            _ => {
                rustix::io::write(&*pipe_w, b"p").unwrap();
                let ready = match aio.poll_ready(pipe_r.clone(), PollFlags::IN).await {
                    Ok(ready) => ready,
                    Err(e) => {
                        // Only a shutdown's refusal is an answer here (else it panics).
                        moved(&round, Err(e), "poll");
                        return;
                    }
                };
                assert!(ready.contains(PollFlags::IN));
                let mut byte = [0u8];
                rustix::io::read(&*pipe_r, &mut byte).unwrap();
                assert_eq!(&byte, b"p");
            }
        }
        round.settled.fetch_add(1, Ordering::Relaxed);
    }
}

/// The O_DIRECT file of a round, if the target directory's file system takes O_DIRECT.
fn direct_file() -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!(
        "aio-soak-direct-{:?}-{}",
        backend(),
        std::process::id()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(&path);
    let _ = std::fs::remove_file(&path);
    file.ok()
}

fn soak() {
    let secs: u64 = std::env::var("AIO_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let live = Arc::new(AtomicIsize::new(0));
    let seed = 0x5eed_u64 ^ u64::from(std::process::id());
    println!("soak ({:?}): {secs} s, seed {seed:#x}", backend());
    let mut rng = Rng::new(seed);
    let (mut rounds, mut shutdowns, mut ops) = (0u64, 0u64, 0u64);
    while Instant::now() < deadline {
        rounds += 1;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let depth = 1 + rng.below(48) as u32;
        let built = runtime.block_on(async {
            Handle::<Buf>::new(Context::builder().buffers().depth(depth).backend(backend()))
        });
        let aio = match built {
            Ok(aio) => aio,
            Err(aio::Error::Unsupported { .. }) if on_kernel() && expect_enosys() => {
                println!("ENOSYS path: soak: no kernel AIO here, as expected");
                return;
            }
            Err(e) => panic!("soak: Handle::new: {e}"),
        };
        let mut files = vec![temp_file("soak-buffered")];
        files.extend(direct_file());
        let fixed: Vec<_> = files
            .iter()
            .map(|f| aio.register(Arc::new(f.try_clone().unwrap())).unwrap())
            .collect();
        // Version 0 of every block, written through the handle.
        runtime.block_on(async {
            for &fd in &fixed {
                for block in 0..BLOCKS {
                    let mut buf = Buf::new(&live);
                    fill(&mut buf, block, 0);
                    let (written, _) = aio.write_at(fd, buf, block * BS as u64).await;
                    assert_eq!(written.unwrap(), BS);
                }
            }
        });
        let round = Arc::new(Round {
            aio: aio.clone(),
            files: fixed.clone(),
            live: live.clone(),
            versions: Arc::new(std::sync::Mutex::new(vec![
                vec![
                    Owned::default();
                    BLOCKS as usize
                ];
                fixed.len()
            ])),
            stop: Arc::new(AtomicBool::new(false)),
            abrupt: Arc::new(AtomicBool::new(false)),
            started: Arc::new(AtomicUsize::new(0)),
            settled: Arc::new(AtomicUsize::new(0)),
        });
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| runtime.spawn(task(round.clone(), t, rng.next())))
            .collect();
        std::thread::sleep(Duration::from_millis(50 + rng.below(250)));
        round.stop.store(true, Ordering::Relaxed);
        let abrupt = rng.below(2) == 0;
        if abrupt {
            // Tasks are dropped mid-operation; the handle outlives its runtime.
            shutdowns += 1;
            round.abrupt.store(true, Ordering::Relaxed);
            runtime.shutdown_timeout(Duration::ZERO);
        } else {
            runtime.block_on(async {
                for task in tasks {
                    task.await.unwrap();
                }
            });
            assert_eq!(
                round.started.load(Ordering::Relaxed),
                round.settled.load(Ordering::Relaxed),
                "every operation a task started resolved"
            );
            drop(runtime);
        }
        ops += round.settled.load(Ordering::Relaxed) as u64;
        let start = Instant::now();
        while aio.outstanding() > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "round {rounds} (abrupt: {abrupt}): {} operations still owned after 20 s",
                aio.outstanding()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        // Every block: its own index, a whole write, the version its owner knows of.
        let versions = round.versions.lock().unwrap().clone();
        for (f, file) in files.iter().enumerate() {
            let mut bytes = vec![0u8; BS * BLOCKS as usize];
            std::os::unix::fs::FileExt::read_exact_at(file, &mut bytes, 0).unwrap_or_else(|_| {
                // O_DIRECT wants an aligned buffer: read through the page cache instead.
                let path = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(file));
                bytes = std::fs::read(path).unwrap();
            });
            for block in 0..BLOCKS {
                let what = format!("round {rounds} file {f}");
                let got = version_of(&bytes[block as usize * BS..][..BS], block, &what);
                if block < TASKS * OWNED {
                    let owned = versions[f][block as usize];
                    assert!(
                        got == owned.done || Some(got) == owned.writing,
                        "{what} block {block}: version {got}, expected {} or {:?}",
                        owned.done,
                        owned.writing
                    );
                } else {
                    assert!(
                        got == 0 || got >= 1_000_000,
                        "{what} scratch {block}: {got}"
                    );
                }
            }
        }
        drop(round);
        drop(aio);
        // A blocking thread the shut-down runtime left running may still hold the handle's
        // state for a moment after its operation's completion.
        let start = Instant::now();
        while live.load(Ordering::SeqCst) != 0 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "round {rounds}: {} buffers never dropped",
                live.load(Ordering::SeqCst)
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    println!(
        "soak ({:?}): {rounds} rounds ({shutdowns} ended by a runtime shutdown), {ops} operations",
        backend()
    );
}
