//! The benchmark loop: keep `depth` operations in flight, submit them, reap, record each
//! operation's latency.
//!
//! # Submission policy (`--batch`)
//!
//! With `--batch N` every `io_submit` carries up to `N` operations. The default, `--batch auto`,
//! chooses per turn of the loop from what the last wait saw:
//!
//! - **The wait had to block, or found only part of what is in flight complete** (the device
//!   is still working, as with a disk or a virtio/NVMe device): the next operations are submitted **one per `io_submit`**, each
//!   as soon as it is ready, the way fio's libaio engine does by default
//!   (`iodepth_batch_submit=1`). One `io_submit` of `nr > 2` iocbs runs under a block-layer
//!   plug (`AIO_PLUG_THRESHOLD` in the kernel's `fs/aio.c`): the requests are only handed to the
//!   device when the last one is prepared, so the device idles while the kernel prepares the
//!   whole batch. On a device that completes requests in bursts (virtio-blk here: every wait
//!   collects about `depth` completions whatever the batch), the queue then drains and refills
//!   in lock-step, and every cycle pays the whole batch's preparation time before the device
//!   sees any of it. Submitted one at a time, the first request reaches the device while the
//!   next are being prepared. Measured on this project's machine (ext4 on virtio, 4 KiB random
//!   O_DIRECT reads, depth 32): one call per depth operations ~60k IOPS, one per operation
//!   ~75k, fio's libaio engine ~70k.
//! - **Every operation in flight was found complete without blocking** (operations finish
//!   inside `io_submit`: tmpfs, the page cache, the emulated backend; the run is CPU-bound):
//!   all the ready operations go in **one `io_submit`**, since the system call is then the cost
//!   (tmpfs, depth 32: ~710k IOPS batched against ~520k one per call).
//!
//! With `--reap syscall` the loop cannot look at the ring, and every wait is an `io_getevents`:
//! `auto` then submits one operation per call.
//!
//! # Latencies
//!
//! The loop reads the clock once per turn, right after reaping: that instant is both the
//! completion time of the operations just reaped and the push time of those pushed next; and
//! once after each `io_submit`. Per operation (its `user_data` names a slot holding its times)
//! that gives fio's three latencies: **slat**, submission latency, from the push until the
//! `io_submit` that carried it returned (for a file that completes inside `io_submit`, the
//! I/O itself); **clat**, completion latency, from that return until the reap; **lat**, total,
//! their sum. The C baseline of `cargo xtask bench` reads the clock once per turn and keeps
//! only the total (`lat`). Nothing is allocated per operation: the buffers cycle between a pool
//! and the context, the slots are fixed, and the histograms have fixed buckets.
//!
//! The buffers are `&'static mut [u8]` blocks of one aligned arena (like the C loop's single
//! `posix_memalign` region), which the process keeps until it exits. The `aio` crate accepts any
//! owned buffer type; a plain slice is the cheapest to move in and out of the context: with
//! [`AlignedBuf`] per operation (a type with `Drop`) the loop measured ~20 ns more user time per
//! operation (store-forwarding stalls copying the buffer enum through the stack).

use crate::args::{Options, Rw};
use crate::hist::Histogram;
use crate::target::{Prepared, dio_source};
use aio::{AlignedBuf, Context, Errno, IoBuf, Op, Reap, RwFlags, Stats};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The buffer type of the benchmark's context.
pub type Block = &'static mut [u8];

/// The xorshift64 generator (13, 7, 17) for offsets; the C baseline uses the same.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator; a zero seed (a fixed point) is replaced by the default.
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            crate::args::DEFAULT_SEED
        } else {
            seed
        })
    }

    /// The next value.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Operations completed successfully.
    pub ops: u64,
    /// Of which reads.
    pub reads: u64,
    /// Of which writes.
    pub writes: u64,
    /// Operations that failed with `EAGAIN` under `--nowait` (not in `ops`).
    pub eagain: u64,
    /// From the start to the last completion.
    pub elapsed: Duration,
    /// Total latency (fio's `lat`): from push to reap, nanoseconds.
    pub lat: Latencies,
    /// Submission latency (fio's `slat`): from push until the `io_submit` that carried the
    /// operation returned.
    pub slat: Latencies,
    /// Completion latency (fio's `clat`): from that `io_submit`'s return until the reap.
    pub clat: Latencies,
    /// The context's counters.
    pub stats: Stats,
    /// Whether completions were read from the ring.
    pub ring: bool,
    /// Whether the crate's emulation ran the operations (no kernel AIO).
    pub emulated: bool,
    /// Whether SIGINT ([`interrupt_flag`]) ended the run before its time or count.
    pub interrupted: bool,
}

/// Latencies of one kind (nanoseconds): of every operation, and of each direction.
#[derive(Clone, Debug, Default)]
pub struct Latencies {
    /// Every operation (the sum of the two directions, once [`finish`](Self::finish)ed).
    pub all: Histogram,
    /// The reads alone.
    pub read: Histogram,
    /// The writes alone.
    pub write: Histogram,
}

impl Latencies {
    /// Counts one operation's latency, in its direction's histogram only (one record per
    /// operation and kind on the hot path; [`finish`](Self::finish) adds them up).
    #[inline]
    pub fn record(&mut self, write: bool, ns: u64) {
        if write {
            self.write.record(ns);
        } else {
            self.read.record(ns);
        }
    }

    /// Fills [`all`](Self::all) from the two directions, once the run is over.
    pub fn finish(mut self) -> Self {
        self.all = self.read.clone();
        self.all.merge(&self.write);
        self
    }
}

/// When each operation in flight was pushed and submitted, by slot (its `user_data`): the ends
/// of its submission and completion latencies. Fixed-size: nothing is allocated per operation.
struct Timing {
    /// Per slot: (pushed, submitted), nanoseconds since the start.
    times: Vec<(u64, u64)>,
    free: Vec<u32>,
    /// Slots pushed and not yet taken by an `io_submit`, in push order (the order the context
    /// submits them in).
    unsubmitted: std::collections::VecDeque<u32>,
}

impl Timing {
    fn new(depth: usize) -> Self {
        Self {
            times: vec![(0, 0); depth],
            free: (0..depth as u32).rev().collect(),
            unsubmitted: std::collections::VecDeque::with_capacity(depth),
        }
    }

    /// A free slot for an operation pushed at `now`.
    #[inline]
    fn pushed(&mut self, now: u64) -> u32 {
        let slot = self.free.pop().expect("a slot per operation in flight");
        self.times[slot as usize] = (now, 0);
        self.unsubmitted.push_back(slot);
        slot
    }

    /// An `io_submit` returned at `now`, leaving `queued` operations unsubmitted.
    #[inline]
    fn submitted(&mut self, queued: usize, now: u64) {
        while self.unsubmitted.len() > queued {
            let slot = self.unsubmitted.pop_front().expect("counted");
            self.times[slot as usize].1 = now;
        }
    }

    /// The operation of `slot` was reaped at `now`: frees the slot; (slat, clat, lat).
    #[inline]
    fn reaped(&mut self, slot: u64, now: u64) -> (u64, u64, u64) {
        let (pushed, submitted) = self.times[slot as usize];
        self.free.push(slot as u32);
        (
            submitted.saturating_sub(pushed),
            now.saturating_sub(submitted),
            now.saturating_sub(pushed),
        )
    }
}

/// Set by SIGINT (`main` registers it with signal-hook): the running job starts no more
/// operations, collects those in flight and reports what it did; a sweep stops after it.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    flag().clone()
}

fn flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Whether SIGINT has arrived.
pub fn interrupted() -> bool {
    flag().load(Ordering::Relaxed)
}

impl Outcome {
    /// Operations per second.
    pub fn iops(&self) -> f64 {
        self.rate(self.ops)
    }

    /// `n` operations over the run's length, per second.
    pub fn rate(&self, n: u64) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { n as f64 / secs } else { 0.0 }
    }

    /// `io_submit` calls per operation (none with the emulated backend).
    pub fn submit_per_op(&self) -> f64 {
        if self.emulated {
            return 0.0;
        }
        per(self.stats.submit_calls, self.ops + self.eagain)
    }

    /// System calls per operation: `io_submit` and `io_getevents`, or with the emulated backend
    /// its `pread`/`pwrite` (one per operation) and `poll` calls.
    pub fn syscalls_per_op(&self) -> f64 {
        if self.emulated {
            return per(
                self.stats.emulated + self.stats.poll_calls,
                self.ops + self.eagain,
            );
        }
        self.submit_per_op() + self.getevents_per_op()
    }

    /// `io_getevents` calls per operation.
    pub fn getevents_per_op(&self) -> f64 {
        per(self.stats.getevents_calls, self.ops + self.eagain)
    }

    /// The fraction of completions copied from the ring.
    pub fn ring_fraction(&self) -> f64 {
        per(
            self.stats.ring_reaped,
            self.stats.ring_reaped + self.stats.syscall_reaped,
        )
    }
}

fn per(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// Progress reports during a run: `(elapsed, operations so far)`, about twice a second.
pub type ProgressFn<'a> = &'a mut dyn FnMut(Duration, u64);

/// Runs the job `o` on `p`.
pub fn run(
    o: &Options,
    p: &Prepared,
    mut progress: Option<ProgressFn<'_>>,
) -> Result<Outcome, String> {
    let mut ctx: Context<Block> = Context::builder()
        .buffers::<Block>()
        .depth(o.depth)
        .reap(o.reap)
        .backend(o.backend)
        .build()
        .map_err(|e| format!("cannot create an AIO context of depth {}: {e}", o.depth))?;
    // A registered descriptor: operations name it at no per-operation cost.
    let file = p
        .file
        .try_clone()
        .map_err(|e| format!("cannot duplicate the file's descriptor: {e}"))?;
    let file = ctx
        .register(file)
        .map_err(|e| format!("cannot register the file: {e}"))?;
    let bs = o.bs as usize;
    let mut pool = arena(bs, o.depth as usize, p.align)?;
    if o.rw.writes() {
        for block in &mut pool {
            block.fill(0x5a);
        }
    }
    let blocks = p.size / o.bs;
    let depth = o.depth as usize;
    // `--batch auto` starts one operation per call; the first wait tells which way to go.
    let mut batch = o.batch.map_or(1, |b| b as usize);
    let flags = if o.nowait {
        RwFlags::NOWAIT
    } else {
        RwFlags::empty()
    };
    let deadline = o.runtime.map_or(u64::MAX, |t| t.as_nanos() as u64);
    let max_ops = o.ops.unwrap_or(u64::MAX);
    let mut rng = XorShift::new(o.seed);
    let mut mix = XorShift::new(o.seed.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15);
    let mut seq = 0u64;
    let (mut lat, mut slat, mut clat) = (
        Latencies::default(),
        Latencies::default(),
        Latencies::default(),
    );
    let mut timing = Timing::new(depth);
    let (mut issued, mut ops, mut reads, mut writes, mut eagain) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut outstanding = 0usize;
    let mut stop = false;
    let interrupt = flag();
    let mut interrupted = false;
    const TICK: u64 = 500_000_000;
    let mut next_tick = TICK;

    // std's clock is libc's clock_gettime(CLOCK_MONOTONIC), through the vDSO, as in C.
    let start = Instant::now();
    let mut now = 0u64;
    loop {
        while !stop && outstanding < depth {
            if issued >= max_ops {
                stop = true;
                break;
            }
            let block = if o.rw.is_random() {
                rng.next_u64() % blocks
            } else {
                let b = seq;
                seq = if seq + 1 == blocks { 0 } else { seq + 1 };
                b
            };
            let offset = block * o.bs;
            let write = match o.rw {
                Rw::Read | Rw::RandRead => false,
                Rw::Write | Rw::RandWrite => true,
                Rw::RandRw => mix.next_u64() % 100 >= u64::from(o.rwmix),
            };
            let buf = pool.pop().expect("a buffer per free slot");
            let op = if write {
                Op::write(file, buf, offset)
            } else {
                Op::read(file, buf, offset)
            };
            let slot = timing.pushed(now);
            if let Err(e) = ctx.push(op.user_data(u64::from(slot)).flags(flags)) {
                return Err(format!("push: {e}"));
            }
            issued += 1;
            outstanding += 1;
            if ctx.queued() >= batch {
                submit_timed(&mut ctx, &mut timing, start)?;
            }
        }
        if ctx.queued() > 0 {
            submit_timed(&mut ctx, &mut timing, start)?;
        }
        if outstanding == 0 {
            break;
        }
        let waits = ctx.stats().getevents_calls;
        wait_one(&mut ctx)?;
        if o.batch.is_none() {
            let blocked = ctx.stats().getevents_calls != waits;
            batch = auto_batch(blocked, ctx.ready(), outstanding, depth);
        }
        now = start.elapsed().as_nanos() as u64;
        if now >= deadline {
            stop = true;
        }
        if !stop && interrupt.load(Ordering::Relaxed) {
            (stop, interrupted) = (true, true);
        }
        for completion in ctx.completions() {
            let result = completion.result();
            let (slat_ns, clat_ns, lat_ns) = timing.reaped(completion.user_data(), now);
            let kind = completion.kind();
            pool.push(
                completion
                    .into_buf()
                    .expect("reads and writes own a buffer"),
            );
            outstanding -= 1;
            match result {
                Ok(n) if n == bs => {
                    ops += 1;
                    let write = kind == aio::OpKind::Write;
                    if write {
                        writes += 1;
                    } else {
                        reads += 1;
                    }
                    lat.record(write, lat_ns);
                    slat.record(write, slat_ns);
                    clat.record(write, clat_ns);
                }
                Err(Errno::AGAIN) if o.nowait => eagain += 1,
                Ok(n) => {
                    return Err(format!(
                        "short {}: {n} of {bs} bytes{}",
                        if kind == aio::OpKind::Write {
                            "write"
                        } else {
                            "read"
                        },
                        if p.device {
                            ""
                        } else {
                            " (did the file shrink?)"
                        }
                    ));
                }
                Err(errno) => return Err(op_error(o, p, kind, errno)),
            }
        }
        if let Some(report) = progress.as_mut() {
            if now >= next_tick {
                next_tick = now + TICK;
                report(Duration::from_nanos(now), ops);
            }
        }
    }
    Ok(Outcome {
        ops,
        reads,
        writes,
        eagain,
        elapsed: Duration::from_nanos(now),
        lat: lat.finish(),
        slat: slat.finish(),
        clat: clat.finish(),
        stats: ctx.stats(),
        ring: ctx.reaps_from_ring(),
        emulated: ctx.backend() == aio::Backend::Emulated,
        interrupted,
    })
}

/// `depth` blocks of `bs` bytes, each aligned to `align` (a power of two) when `bs` is a
/// multiple of it, carved from one allocation that lives until the process exits.
pub fn arena(bs: usize, depth: usize, align: usize) -> Result<Vec<Block>, String> {
    let total = bs
        .checked_mul(depth)
        .ok_or("--bs × --depth overflows the address space")?;
    let arena = AlignedBuf::new(total, align.max(1))
        .map_err(|e| format!("cannot allocate {total} bytes of buffers: {e}"))?;
    let arena: &'static mut AlignedBuf = Box::leak(Box::new(arena));
    Ok(arena.chunks_exact_mut(bs).collect())
}

/// Submits the queue; an error if the kernel took nothing while nothing is in flight (the
/// loop would never end).
pub fn submit<B: IoBuf>(ctx: &mut Context<B>) -> Result<(), String> {
    ctx.submit().map_err(|e| format!("io_submit: {e}"))?;
    if ctx.queued() > 0 && ctx.in_flight() == 0 && ctx.ready() == 0 {
        return Err("io_submit accepted nothing with nothing in flight (EAGAIN)".into());
    }
    Ok(())
}

/// [`submit`], then the end of the submission latency of what it took.
#[inline]
fn submit_timed(
    ctx: &mut Context<Block>,
    timing: &mut Timing,
    start: Instant,
) -> Result<(), String> {
    submit(ctx)?;
    timing.submitted(ctx.queued(), start.elapsed().as_nanos() as u64);
    Ok(())
}

/// `--batch auto`'s operations per `io_submit` after a wait (module docs): the whole
/// refill (`depth`) only while every operation in flight (`outstanding`) was found complete
/// (`ready`) without blocking; else one per call.
pub fn auto_batch(blocked: bool, ready: usize, outstanding: usize, depth: usize) -> usize {
    if !blocked && ready >= outstanding {
        depth
    } else {
        1
    }
}

/// Waits for at least one completion, again after a signal (`EINTR`).
pub fn wait_one<B: IoBuf>(ctx: &mut Context<B>) -> Result<(), String> {
    loop {
        match ctx.wait(1, None) {
            Ok(_) => return Ok(()),
            Err(e) if e.errno() == Some(Errno::INTR) => continue,
            Err(e) => return Err(format!("waiting for completions: {e}")),
        }
    }
}

fn op_error(o: &Options, p: &Prepared, kind: aio::OpKind, errno: Errno) -> String {
    let what = if kind == aio::OpKind::Write {
        "write"
    } else {
        "read"
    };
    let mut msg = format!("{what} of {} failed: {errno}", p.path.display());
    match (errno, p.dio) {
        (Errno::INVAL, Some(dio)) => {
            msg += &format!(
                " — O_DIRECT needs offsets and lengths aligned to {} bytes and buffers to {} ({}); \
             try --bs {} or --buffered",
                dio.offset,
                dio.memory,
                dio_source(&dio),
                dio.offset.max(dio.memory).max(4096),
            )
        }
        (Errno::OPNOTSUPP, _) if o.nowait => {
            msg += " — this kernel or file does not support RWF_NOWAIT; drop --nowait"
        }
        (Errno::BADF, _) if kind == aio::OpKind::Write => {
            msg += " — the file is not open for writing"
        }
        (Errno::NOSPC, _) => msg += " — the file system is full",
        _ => {}
    }
    msg
}

/// A one-line description of the job, for the summary and the progress line.
pub fn describe(o: &Options, p: &Prepared, ring: bool) -> String {
    let rw = match o.rw {
        Rw::RandRw => format!("randrw {}% reads", o.rwmix),
        rw => rw.name().to_string(),
    };
    let reap = match (o.reap, ring) {
        _ if o.backend == aio::Backend::Emulated => "emulated backend (pread/pwrite at submit)",
        (Reap::Ring, true) => "ring reaping",
        (Reap::Ring, false) => "ring reaping unavailable: io_getevents",
        (Reap::Syscall, _) => "io_getevents reaping",
    };
    let batch = match o.batch {
        Some(n) => format!("{n} per io_submit"),
        None => "adaptive batch".to_string(),
    };
    format!(
        "{rw} {}, depth {}, {batch}, {}{}, {reap}",
        crate::target::human_bytes(o.bs),
        o.depth,
        if p.direct { "O_DIRECT" } else { "buffered" },
        if o.nowait { " + RWF_NOWAIT" } else { "" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SIGINT's flag ends a long run within moments, with what was done reported.
    #[test]
    fn an_interrupt_ends_the_run_with_its_results() {
        let dir = std::env::temp_dir();
        let o = crate::args::parse([
            "--dir",
            dir.to_str().unwrap(),
            "--size",
            "1M",
            "--runtime",
            "60s",
            "--buffered",
            "--backend",
            "auto",
        ])
        .unwrap();
        let p = crate::target::prepare(&o, |_| {}).unwrap();
        let flag = interrupt_flag();
        let setter = std::thread::spawn({
            let flag = flag.clone();
            move || {
                std::thread::sleep(Duration::from_millis(200));
                flag.store(true, Ordering::Relaxed);
            }
        });
        let started = std::time::Instant::now();
        let outcome = run(&o, &p, None);
        setter.join().unwrap();
        flag.store(false, Ordering::Relaxed);
        let outcome = outcome.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
        assert!(outcome.interrupted);
        assert!(outcome.ops > 0 && outcome.elapsed < Duration::from_secs(30));
    }

    #[test]
    fn arena_blocks_are_aligned_and_disjoint() {
        let blocks = arena(8192, 3, 4096).unwrap();
        assert_eq!(blocks.len(), 3);
        for (i, b) in blocks.iter().enumerate() {
            assert_eq!(b.len(), 8192);
            assert_eq!(b.as_ptr() as usize % 4096, 0);
            assert_eq!(b.as_ptr() as usize, blocks[0].as_ptr() as usize + i * 8192);
        }
        assert!(arena(usize::MAX, 2, 4096).is_err());
    }

    #[test]
    fn xorshift_matches_the_reference_sequence() {
        // Marsaglia's xorshift64 (13, 7, 17) from 1.
        let mut r = XorShift::new(1);
        assert_eq!(r.next_u64(), 1_082_269_761);
        assert_eq!(r.next_u64(), 1_152_992_998_833_853_505);
        assert_ne!(XorShift::new(0).next_u64(), 0, "a zero seed is replaced");
    }
}
