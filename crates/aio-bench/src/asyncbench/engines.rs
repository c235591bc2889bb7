//! The three engines. Each keeps `depth` 4 KiB random reads in flight until the deadline,
//! checks every read's first 8 bytes against the pattern and returns what it measured. Setup
//! (context, runtime, handle, buffers, registration) happens before the clocks start; tokio's
//! runtime is built per run and shut down after the clocks stop.

use super::files::{TestFile, matches};
use super::{BS, CpuSample, Engine, Run};
use crate::job::{self, XorShift};
use aio::rt::tokio::Handle;
use aio::{AlignedBuf, Context, Fixed, Op};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// One run's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Job<'a> {
    pub file: &'a TestFile,
    pub depth: usize,
    /// Tasks of the async and tokio-fs engines (1 to `depth`).
    pub tasks: usize,
    /// Tokio worker threads.
    pub workers: usize,
    pub runtime: Duration,
    pub seed: u64,
    /// The async engine's driver policies.
    pub heuristics: aio::rt::Heuristics,
}

impl Job<'_> {
    /// How many reads task `t` keeps in flight: `depth` spread over the tasks.
    fn window(&self, t: usize) -> usize {
        self.depth / self.tasks + usize::from(t < self.depth % self.tasks)
    }

    /// Task `t`'s offset generator (the sync engine's is task 0's).
    fn rng(&self, t: usize) -> XorShift {
        XorShift::new(self.seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// Runs `engine` once.
pub fn run(engine: Engine, job: &Job<'_>) -> Result<Run, String> {
    match engine {
        Engine::Sync => run_sync(job),
        Engine::Async | Engine::TokioFs => run_tokio(job, engine),
    }
}

/// What a task (or the sync loop) counted.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    ops: u64,
    mismatches: u64,
}

impl Tally {
    /// Counts one finished read of `block`.
    fn record(&mut self, result: io::Result<usize>, buf: &[u8], block: u64) -> Result<(), String> {
        match result {
            Ok(n) if n == BS => {}
            Ok(n) => return Err(format!("short read of block {block}: {n} of {BS} bytes")),
            Err(e) => return Err(format!("read of block {block} failed: {e}")),
        }
        if !matches(buf, block) {
            self.mismatches += 1;
        }
        self.ops += 1;
        Ok(())
    }

    fn add(&mut self, other: Tally) {
        self.ops += other.ops;
        self.mismatches += other.mismatches;
    }
}

fn buffers(n: usize) -> Result<Vec<AlignedBuf>, String> {
    (0..n)
        .map(|_| AlignedBuf::new(BS, BS).map_err(|e| format!("cannot allocate a buffer: {e}")))
        .collect()
}

fn finish(
    tally: Tally,
    start: Instant,
    cpu0: &CpuSample,
    submit_calls: Option<u64>,
) -> Result<Run, String> {
    let wall = start.elapsed();
    let (cpu, user, sys) = CpuSample::now().since(cpu0);
    if tally.mismatches > 0 {
        return Err(format!(
            "{} of {} reads returned the wrong block's data",
            tally.mismatches, tally.ops
        ));
    }
    Ok(Run {
        ops: tally.ops,
        wall,
        cpu,
        user,
        sys,
        submit_calls,
    })
}

/// `aio::Context` on this thread: push until full, submit, `wait(1)`, drain, repeat; with
/// `aio-bench`'s default submission policy ([`job::auto_batch`]): one read per `io_submit`
/// while the device is working, the whole refill in one call where reads complete inside it.
fn run_sync(job: &Job<'_>) -> Result<Run, String> {
    let depth = job.depth;
    let mut ctx: Context<AlignedBuf> = Context::builder()
        .buffers::<AlignedBuf>()
        .depth(depth as u32)
        .build()
        .map_err(|e| format!("cannot create an AIO context of depth {depth}: {e}"))?;
    let fixed = ctx
        .register(job.file.open()?)
        .map_err(|e| format!("cannot register the file: {e}"))?;
    let mut pool = buffers(depth)?;
    let blocks = job.file.blocks();
    let mut rng = job.rng(0);
    let mut tally = Tally::default();
    let mut outstanding = 0usize;
    let mut stop = false;
    let mut batch = 1;

    let cpu0 = CpuSample::now();
    let start = Instant::now();
    let deadline = start + job.runtime;
    loop {
        while !stop && outstanding < depth {
            let block = rng.next_u64() % blocks;
            let buf = pool.pop().expect("a buffer per free slot");
            let op = Op::read(fixed, buf, block * BS as u64).user_data(block);
            ctx.push(op).map_err(|e| format!("push: {}", e.error))?;
            outstanding += 1;
            if ctx.queued() >= batch {
                job::submit(&mut ctx)?;
            }
        }
        if ctx.queued() > 0 {
            job::submit(&mut ctx)?;
        }
        if outstanding == 0 {
            break;
        }
        let waits = ctx.stats().getevents_calls;
        job::wait_one(&mut ctx)?;
        let blocked = ctx.stats().getevents_calls != waits;
        batch = job::auto_batch(blocked, ctx.ready(), outstanding, depth);
        if Instant::now() >= deadline {
            stop = true;
        }
        for done in ctx.completions() {
            let block = done.user_data();
            let result = done
                .result()
                .map_err(|e| io::Error::from_raw_os_error(e.raw_os_error()));
            let buf = done.into_buf().expect("a read owns its buffer");
            tally.record(result, &buf, block)?;
            pool.push(buf);
            outstanding -= 1;
        }
    }
    finish(tally, start, &cpu0, Some(ctx.stats().submit_calls))
}

/// What a tokio engine's task gets: its share of the depth and everything to read with.
struct TaskSetup {
    handle: Handle<AlignedBuf>,
    fixed: Fixed,
    file: Arc<File>,
    bufs: Vec<AlignedBuf>,
    rng: XorShift,
    blocks: u64,
    /// Set at the deadline by a timer thread (one load per operation, no clock read).
    stop: Arc<AtomicBool>,
}

type TaskFuture = std::pin::Pin<Box<dyn Future<Output = Result<Tally, String>> + Send>>;

/// A tokio runtime with `job.workers` workers, one handle of depth `depth` (the file registered) and one
/// `Arc<File>`; the engine's task runs `job.tasks` times, spawned.
fn run_tokio(job: &Job<'_>, engine: Engine) -> Result<Run, String> {
    let task: fn(TaskSetup) -> TaskFuture = match engine {
        Engine::Async => async_task,
        _ => fs_task,
    };
    // 0 workers: tokio's current-thread scheduler, every task on the thread that runs the job.
    let mut builder = if job.workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(job.workers);
        builder
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    let result = runtime.block_on(async {
        let handle: Handle<AlignedBuf> = Handle::with_heuristics(
            Context::builder().buffers().depth(job.depth as u32),
            job.heuristics,
        )
        .map_err(|e| {
            format!(
                "cannot create an async AIO handle of depth {}: {e}",
                job.depth
            )
        })?;
        let fixed = handle
            .register(job.file.open()?)
            .map_err(|e| format!("cannot register the file: {e}"))?;
        let file = Arc::new(job.file.open()?);
        let mut setups = Vec::with_capacity(job.tasks);
        for t in 0..job.tasks {
            setups.push((t, buffers(job.window(t))?));
        }

        let cpu0 = CpuSample::now();
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let timer = {
            let (stop, runtime) = (stop.clone(), job.runtime);
            std::thread::spawn(move || {
                std::thread::sleep(runtime);
                stop.store(true, Ordering::Relaxed);
            })
        };
        let mut set = JoinSet::new();
        for (t, bufs) in setups {
            set.spawn(task(TaskSetup {
                handle: handle.clone(),
                fixed,
                file: file.clone(),
                bufs,
                rng: job.rng(t),
                blocks: job.file.blocks(),
                stop: stop.clone(),
            }));
        }
        let mut tally = Tally::default();
        let mut first_error = None;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(t)) => tally.add(t),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(format!("a task failed: {e}"));
                }
            }
        }
        let mut run = finish(tally, start, &cpu0, None);
        let _ = timer.join();
        if let Ok(run) = &mut run {
            run.submit_calls = (engine == Engine::Async).then(|| handle.stats().submit_calls);
        }
        match first_error {
            Some(e) => Err(e),
            None => run,
        }
    });
    // Blocking threads idle for up to 10 s; do not wait for them.
    runtime.shutdown_background();
    result
}

/// Loops on `handle.read_at(..).await`: one read in flight per buffer; with more than one,
/// the reads are polled together by the task (`FuturesUnordered`).
fn async_task(s: TaskSetup) -> TaskFuture {
    Box::pin(async move {
        let TaskSetup {
            handle,
            fixed,
            mut bufs,
            mut rng,
            blocks,
            stop,
            ..
        } = s;
        let mut tally = Tally::default();
        if bufs.len() == 1 {
            let mut buf = bufs.pop().expect("one buffer");
            loop {
                let block = rng.next_u64() % blocks;
                let (result, back) = handle.read_at(fixed, buf, block * BS as u64).await;
                tally.record(result, &back, block)?;
                buf = back;
                if stop.load(Ordering::Relaxed) {
                    return Ok(tally);
                }
            }
        }
        // Several reads in flight from this one task: polled together in the task, no task
        // per read.
        let mut reads = FuturesUnordered::new();
        let start = |buf, rng: &mut XorShift| {
            let block = rng.next_u64() % blocks;
            let read = handle.read_at(fixed, buf, block * BS as u64);
            async move {
                let (result, buf) = read.await;
                (result, buf, block)
            }
        };
        for buf in bufs {
            reads.push(start(buf, &mut rng));
        }
        while let Some((result, buf, block)) = reads.next().await {
            tally.record(result, &buf, block)?;
            if !stop.load(Ordering::Relaxed) {
                reads.push(start(buf, &mut rng));
            }
        }
        Ok(tally)
    })
}

/// Loops on `spawn_blocking(pread)`: one read in flight per buffer, through a `JoinSet` when
/// more than one.
fn fs_task(s: TaskSetup) -> TaskFuture {
    Box::pin(async move {
        let TaskSetup {
            mut file,
            mut bufs,
            mut rng,
            blocks,
            stop,
            ..
        } = s;
        let mut tally = Tally::default();
        let read = move |file: Arc<File>, mut buf: AlignedBuf, block: u64| {
            let result = file.read_at(&mut buf, block * BS as u64);
            (result, buf, block, file)
        };
        if bufs.len() == 1 {
            let mut buf = bufs.pop().expect("one buffer");
            loop {
                let block = rng.next_u64() % blocks;
                let (result, back, block, f) =
                    tokio::task::spawn_blocking(move || read(file, buf, block))
                        .await
                        .map_err(|e| format!("a blocking read failed: {e}"))?;
                tally.record(result, &back, block)?;
                (buf, file) = (back, f);
                if stop.load(Ordering::Relaxed) {
                    return Ok(tally);
                }
            }
        }
        let mut set = JoinSet::new();
        for buf in bufs {
            let (block, file) = (rng.next_u64() % blocks, file.clone());
            set.spawn_blocking(move || read(file, buf, block));
        }
        while let Some(joined) = set.join_next().await {
            let (result, buf, block, file) =
                joined.map_err(|e| format!("a blocking read failed: {e}"))?;
            tally.record(result, &buf, block)?;
            if !stop.load(Ordering::Relaxed) {
                let block = rng.next_u64() % blocks;
                set.spawn_blocking(move || read(file, buf, block));
            }
        }
        Ok(tally)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_spread_the_depth() {
        let file = super::super::files::create(
            std::env::temp_dir().join(format!("aio-async-bench-unit-{}", std::process::id())),
            1 << 20,
        )
        .unwrap();
        let job = Job {
            file: &file,
            depth: 32,
            tasks: 5,
            workers: 2,
            runtime: Duration::from_millis(100),
            seed: 1,
            heuristics: Default::default(),
        };
        let windows: Vec<_> = (0..5).map(|t| job.window(t)).collect();
        assert_eq!(windows, [7, 7, 6, 6, 6]);
        if let Err(aio::Error::Unsupported { call }) = Context::<Vec<u8>>::new(1) {
            // qemu-user: the engines need the kernel's AIO.
            println!("SKIPPED: running the engines: {call} answers ENOSYS (no kernel AIO here)");
            return;
        }
        for engine in Engine::ALL {
            let run = run(engine, &job).unwrap();
            assert!(run.ops > 0, "{engine:?}");
        }
        let one = Job { tasks: 32, ..job };
        for engine in Engine::ALL {
            assert!(run(engine, &one).unwrap().ops > 0, "{engine:?}");
        }
    }
}
