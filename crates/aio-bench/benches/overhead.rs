//! Micro-benchmark: the per-operation cost of push + submit + reap for a batch, through the
//! `aio` crate and through raw `aio-sys` calls doing the same work, so that the crate's own
//! overhead (the difference) shows up and regressions are visible.
//!
//! `cargo bench -p aio-bench` (about 10 s). A filter argument keeps matching cases:
//! `cargo bench -p aio-bench -- ring`. `--quick` takes fewer, shorter samples.
//!
//! Every operation is a 512-byte read of `/dev/zero`: real kernel AIO requests (`aio_get_req`,
//! the file's `read_iter`, `aio_complete` into the ring) that complete inside `io_submit`, with
//! the smallest and steadiest kernel cost available without a device. A batch is `batch`
//! pushes, one `io_submit`, and reaping all `batch` completions (from the ring, or with
//! `io_getevents(min = batch)`); the context depth equals the batch.
//!
//! A custom harness (no Criterion, to keep the workspace's dependencies small): each case is
//! calibrated to ~40 ms samples; the crate and raw samples alternate; the median and the
//! spread of the samples are printed in ns per operation.

use aio::aio_abi::{
    AIO_RING_INCOMPAT_FEATURES, AIO_RING_MAGIC, IocbCmd, aio_context_t, aio_ring, io_event, iocb,
};
use aio::{Context, Fixed, IoBufMut, Op, Reap};
use std::fs::File;
use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const LEN: usize = 512;

/// One way of running batches: `run(n)` performs `n` batches.
trait Runner {
    fn batch(&mut self);
}

/// The crate: push × batch, submit, wait for the batch, take the buffers back.
struct Crate<B: IoBufMut> {
    ctx: Context<B>,
    file: Fixed,
    bufs: Vec<B>,
    batch: usize,
}

impl<B: IoBufMut> Crate<B> {
    fn new(reap: Reap, batch: usize, bufs: Vec<B>) -> Self {
        let mut ctx = Context::builder()
            .buffers()
            .depth(batch as u32)
            .reap(reap)
            .build()
            .expect("io_setup");
        let file = ctx
            .register(File::open("/dev/zero").expect("/dev/zero"))
            .expect("register");
        Self {
            ctx,
            file,
            bufs,
            batch,
        }
    }

    fn getevents_calls(&self) -> u64 {
        self.ctx.stats().getevents_calls
    }
}

/// `n` static blocks, as aio-bench uses.
fn blocks(n: usize) -> Vec<&'static mut [u8]> {
    aio_bench::job::arena(LEN, n, 64).expect("allocation")
}

/// `n` owned vectors, the context's default buffer type.
fn vecs(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| vec![1u8; LEN]).collect()
}

impl<B: IoBufMut> Runner for Crate<B> {
    fn batch(&mut self) {
        for i in 0..self.batch {
            let buf = self.bufs.pop().expect("one buffer per slot");
            let op = Op::read(self.file, buf, 0).user_data(i as u64);
            if self.ctx.push(op).is_err() {
                panic!("push: queue full");
            }
        }
        self.ctx.submit().expect("io_submit");
        self.ctx.wait(self.batch, None).expect("wait");
        for completion in self.ctx.completions() {
            debug_assert_eq!(completion.result(), Ok(LEN));
            black_box(completion.user_data());
            self.bufs
                .push(completion.into_buf().expect("a read's buffer"));
        }
    }
}

/// The same work with raw system calls: iocbs prepared in place, one io_submit, then the ring
/// (copied by hand) or io_getevents.
struct Raw {
    ctx: aio_context_t,
    ring: bool,
    _file: File,
    _bufs: Vec<Vec<u8>>,
    iocbs: Vec<iocb>,
    ptrs: Vec<*mut iocb>,
    events: Vec<io_event>,
    fd: u32,
    addrs: Vec<u64>,
}

impl Raw {
    fn new(ring: bool, batch: usize) -> Self {
        let mut ctx: aio_context_t = 0;
        // SAFETY: a valid, zeroed context variable.
        unsafe { aio::aio_sys::io_setup(batch as u32, &mut ctx) }.expect("io_setup");
        if ring {
            // SAFETY: the live context's ring header, written once by io_setup.
            #[allow(clippy::unnecessary_cast)]
            let header = unsafe { &*(ctx as usize as *const aio_ring) };
            assert!(
                header.magic == AIO_RING_MAGIC
                    && header.incompat_features == AIO_RING_INCOMPAT_FEATURES,
                "the ring is not readable here"
            );
        }
        let file = File::open("/dev/zero").expect("/dev/zero");
        let mut bufs: Vec<Vec<u8>> = (0..batch).map(|_| vec![1u8; LEN]).collect();
        let addrs = bufs.iter_mut().map(|b| b.as_mut_ptr() as u64).collect();
        let mut iocbs = vec![iocb::default(); batch];
        let ptrs = iocbs.iter_mut().map(|c| c as *mut iocb).collect();
        Self {
            ctx,
            ring,
            fd: file.as_raw_fd() as u32,
            _file: file,
            _bufs: bufs,
            iocbs,
            ptrs,
            events: vec![io_event::default(); batch],
            addrs,
        }
    }

    /// Copies up to `out.len()` events from the ring; the same protocol as the crate.
    fn reap_ring(&mut self, max: usize) -> usize {
        // `aio_context_t` is u64 on x32, where this cast is not a no-op.
        #[allow(clippy::unnecessary_cast)]
        let header = self.ctx as usize as *mut aio_ring;
        // SAFETY: the ring of this live context; this is its only consumer.
        unsafe {
            let nr = (*header).nr;
            let tail = AtomicU32::from_ptr(&raw mut (*header).tail).load(Ordering::Acquire);
            let head_ref = AtomicU32::from_ptr(&raw mut (*header).head);
            let mut head = head_ref.load(Ordering::Relaxed);
            let events = (&raw mut (*header).io_events).cast::<io_event>();
            let mut n = 0;
            while head != tail && n < max {
                self.events[n] = events.add(head as usize).read_volatile();
                n += 1;
                head = if head + 1 == nr { 0 } else { head + 1 };
            }
            if n > 0 {
                head_ref.store(head, Ordering::Release);
            }
            n
        }
    }
}

impl Runner for Raw {
    fn batch(&mut self) {
        let batch = self.iocbs.len();
        for (i, cb) in self.iocbs.iter_mut().enumerate() {
            *cb = iocb {
                aio_data: i as u64,
                aio_lio_opcode: IocbCmd::Pread as u16,
                aio_fildes: self.fd,
                aio_buf: self.addrs[i],
                aio_nbytes: LEN as u64,
                ..iocb::default()
            };
        }
        // SAFETY: `ptrs` points at the initialised iocbs; the buffers outlive the requests.
        let n = unsafe { aio::aio_sys::io_submit(self.ctx, batch as isize, self.ptrs.as_ptr()) }
            .expect("io_submit");
        assert_eq!(n, batch);
        let mut got = 0;
        while got < batch {
            let mut n = if self.ring {
                self.reap_ring(batch - got)
            } else {
                0
            };
            if n == 0 {
                let left = (batch - got) as isize;
                // SAFETY: room for `left` events; no timeout.
                n = unsafe {
                    aio::aio_sys::io_getevents(
                        self.ctx,
                        left,
                        left,
                        self.events.as_mut_ptr(),
                        std::ptr::null(),
                    )
                }
                .expect("io_getevents");
            }
            for e in &self.events[..n] {
                debug_assert_eq!(e.res, LEN as i64);
                black_box(e.data);
            }
            got += n;
        }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: nothing is in flight between batches.
        let _ = unsafe { aio::aio_sys::io_destroy(self.ctx) };
    }
}

/// ns per operation of `runner` over `batches` batches.
fn sample(runner: &mut dyn Runner, batches: u64, batch: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..batches {
        runner.batch();
    }
    start.elapsed().as_nanos() as f64 / (batches * batch as u64) as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Times `krate` against `raw` (interleaved samples) and prints one row.
fn case(
    name: &str,
    krate: &mut dyn Runner,
    raw: &mut dyn Runner,
    batch: usize,
    samples: usize,
    target: Duration,
) {
    // Warm up, and calibrate the batches per sample.
    let mut batches = 16u64;
    loop {
        let start = Instant::now();
        for _ in 0..batches {
            krate.batch();
            raw.batch();
        }
        if start.elapsed() >= target {
            break;
        }
        batches *= 2;
    }
    let (mut a, mut r) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        a.push(sample(krate, batches, batch));
        r.push(sample(raw, batches, batch));
    }
    let spread = |v: &[f64]| {
        (
            v.iter().copied().fold(f64::MAX, f64::min),
            v.iter().copied().fold(0.0, f64::max),
        )
    };
    let ((amin, amax), (rmin, rmax)) = (spread(&a), spread(&r));
    let (am, rm) = (median(&mut a), median(&mut r));
    println!(
        "{name:<28}{:>20}{:>20}{:>18}",
        format!("{am:.1} ({amin:.0}–{amax:.0})"),
        format!("{rm:.1} ({rmin:.0}–{rmax:.0})"),
        format!("{:+.1} ({:+.1}%)", am - rm, 100.0 * (am - rm) / rm),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let (samples, target) = if quick {
        (5, Duration::from_millis(20))
    } else {
        (15, Duration::from_millis(40))
    };
    if Context::<Vec<u8>>::new(1).is_err() {
        println!("overhead: skipped, kernel AIO is not available here");
        return;
    }
    println!(
        "push + submit + reap, 512-byte reads of /dev/zero, ns per operation \
         (median of {samples} samples, min–max)"
    );
    println!(
        "{:<28}{:>20}{:>20}{:>18}",
        "case", "aio crate", "raw aio-sys", "crate overhead"
    );
    let cases = [
        (Reap::Ring, 1, false),
        (Reap::Ring, 8, false),
        (Reap::Ring, 32, false),
        (Reap::Syscall, 1, false),
        (Reap::Syscall, 32, false),
        (Reap::Ring, 32, true),
    ];
    for (reap, batch, owned) in cases {
        let name = format!(
            "batch {batch:>2} {} {}",
            if reap == Reap::Ring {
                "ring"
            } else {
                "syscall"
            },
            if owned { "Vec<u8>" } else { "&'static" }
        );
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let mut raw = Raw::new(reap == Reap::Ring, batch);
        let getevents = if owned {
            let mut krate = Crate::new(reap, batch, vecs(batch));
            case(&name, &mut krate, &mut raw, batch, samples, target);
            krate.getevents_calls()
        } else {
            let mut krate = Crate::new(reap, batch, blocks(batch));
            case(&name, &mut krate, &mut raw, batch, samples, target);
            krate.getevents_calls()
        };
        if reap == Reap::Ring && getevents > 0 {
            println!(
                "  (note: {getevents} io_getevents calls: completions did not all land in io_submit)"
            );
        }
    }
    println!(
        "\n&'static: the 512-byte buffers are static slices, as aio-bench uses; Vec<u8>: the \
         context's default owned buffer."
    );
}
