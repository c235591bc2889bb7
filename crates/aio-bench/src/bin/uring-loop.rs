//! `uring-loop`: aio-bench's job on io_uring (the `io-uring` crate), a peer in
//! `cargo xtask bench`.
//!
//! The loop a Rust programmer would write with the `io-uring` crate: `Read`/`Write` entries on
//! the plain descriptor, as many queued as there are free buffers, then one
//! `io_uring_enter` that submits them and waits for at least one completion
//! (`submit_and_wait(1)`), then every completion in the ring. No SQPOLL, no registered files
//! or buffers: what aio-bench does with AIO, on the other interface.
//!
//! Shared with aio-bench and the C libaio loop, so that all three do the same work per
//! operation: xorshift64 offsets from the same seed, one clock read per loop turn (after the
//! wait: the completion time of what was reaped and the submission time of what is queued
//! next), the same log-linear latency histogram, stop issuing after `--runtime` and drain.
//! Output: one JSON object on stdout with the field names of `aio-bench --json`.
//!
//! Built only where the io-uring crate ships kernel bindings (x86_64, aarch64, riscv64,
//! loongarch64, powerpc64); elsewhere the program says so and exits with status 1.

#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "loongarch64",
    target_arch = "powerpc64"
))]
mod uring {
    use aio_bench::args::{DEFAULT_SEED, parse_duration, parse_size};
    use aio_bench::hist::Histogram;
    use aio_bench::job::{XorShift, arena};
    use clap::Parser;
    use io_uring::{IoUring, opcode, types};
    use std::fs::OpenOptions;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    /// The kind of job (sequential or random, reads or writes).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
    enum Rw {
        Read,
        Randread,
        Write,
        Randwrite,
    }

    /// aio-bench's job (4 KiB random O_DIRECT reads by default) on io_uring, with the io-uring
    /// crate: one io_uring_enter per loop turn submits what is queued and waits for a completion.
    #[derive(Debug, Parser)]
    #[command(name = "uring-loop", version)]
    struct Args {
        /// The file to read (or, with --rw write/randwrite, overwrite).
        #[arg(long, value_name = "PATH")]
        file: std::path::PathBuf,
        /// The job.
        #[arg(long, value_enum, default_value_t = Rw::Randread)]
        rw: Rw,
        /// Bytes per operation (k, M suffixes: powers of 1024).
        #[arg(long, value_name = "SIZE", default_value = "4k", value_parser = parse_size)]
        bs: u64,
        /// Operations in flight (also the ring's size).
        #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=32768))]
        depth: u32,
        /// Stop issuing after this long (10, 1.5s, 500ms).
        #[arg(long, value_name = "TIME", default_value = "5", value_parser = parse_duration)]
        runtime: Duration,
        /// xorshift seed for the offsets (not 0).
        #[arg(long, default_value_t = DEFAULT_SEED, value_parser = clap::value_parser!(u64).range(1..))]
        seed: u64,
        /// Page-cache I/O instead of O_DIRECT.
        #[arg(long)]
        buffered: bool,
    }

    pub fn main() -> ExitCode {
        let args = Args::parse();
        match run(&args) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("uring-loop: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn run(a: &Args) -> Result<serde_json::Value, String> {
        let writes = matches!(a.rw, Rw::Write | Rw::Randwrite);
        let random = matches!(a.rw, Rw::Randread | Rw::Randwrite);
        let file = OpenOptions::new()
            .read(true)
            .write(writes)
            .custom_flags(if a.buffered {
                0
            } else {
                rustix::fs::OFlags::DIRECT.bits() as i32
            })
            .open(&a.file)
            .map_err(|e| format!("{}: {e}", a.file.display()))?;
        let size = file
            .metadata()
            .map_err(|e| format!("{}: {e}", a.file.display()))?
            .len();
        let blocks = size / a.bs;
        if blocks == 0 {
            return Err(format!("{} is smaller than one block", a.file.display()));
        }
        let bs = usize::try_from(a.bs).map_err(|_| "--bs is too large".to_string())?;
        let depth = a.depth as usize;
        let mut ring = IoUring::new(a.depth).map_err(|e| {
            format!(
                "io_uring_setup({}): {e} (no io_uring in this kernel, or forbidden)",
                a.depth
            )
        })?;
        let mut bufs = arena(bs, depth, 4096)?;
        if writes {
            for b in &mut bufs {
                b.fill(0x5a);
            }
        }
        let fd = types::Fd(file.as_raw_fd());
        let mut free: Vec<usize> = (0..depth).rev().collect();
        let mut stamps = vec![0u64; depth];
        let mut rng = XorShift::new(a.seed);
        let mut seq = 0u64;
        let mut hist = Histogram::new();
        let (mut done, mut in_flight, mut enters) = (0u64, 0usize, 0u64);
        let deadline = a.runtime.as_nanos() as u64;
        let mut stop = false;
        let start = Instant::now();
        let mut now = 0u64;
        loop {
            {
                let mut sq = ring.submission();
                while !stop && !free.is_empty() {
                    let block = if random {
                        rng.next_u64() % blocks
                    } else {
                        let b = seq;
                        seq = if seq + 1 == blocks { 0 } else { seq + 1 };
                        b
                    };
                    let idx = free.pop().expect("checked non-empty");
                    let ptr = bufs[idx].as_mut_ptr();
                    let entry = if writes {
                        opcode::Write::new(fd, ptr, bs as u32)
                            .offset(block * a.bs)
                            .build()
                    } else {
                        opcode::Read::new(fd, ptr, bs as u32)
                            .offset(block * a.bs)
                            .build()
                    };
                    stamps[idx] = now;
                    // SAFETY: the buffer `bufs[idx]` lives until the process exits (an arena) and
                    // is not touched again until its completion returns `idx` to `free`; `file`
                    // outlives the ring's use of its descriptor (the loop drains before `run` ends).
                    unsafe { sq.push(&entry.user_data(idx as u64)) }
                        .map_err(|_| "the submission queue is full".to_string())?;
                    in_flight += 1;
                }
            }
            if in_flight == 0 {
                break;
            }
            loop {
                enters += 1;
                match ring.submit_and_wait(1) {
                    Ok(_) => break,
                    Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INTR.raw_os_error()) => {}
                    Err(e) => return Err(format!("io_uring_enter: {e}")),
                }
            }
            now = start.elapsed().as_nanos() as u64;
            if now >= deadline {
                stop = true;
            }
            for cqe in ring.completion() {
                let idx = cqe.user_data() as usize;
                let res = cqe.result();
                if res < 0 {
                    let what = if writes { "write" } else { "read" };
                    return Err(format!(
                        "{what}: {}",
                        std::io::Error::from_raw_os_error(-res)
                    ));
                }
                if res as usize != bs {
                    return Err(format!("short transfer: {res} of {bs} bytes"));
                }
                hist.record(now - stamps[idx]);
                free.push(idx);
                in_flight -= 1;
                done += 1;
            }
        }
        let secs = now as f64 / 1e9;
        let iops = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let per_op = |n: u64| {
            if done > 0 {
                n as f64 / done as f64
            } else {
                0.0
            }
        };
        Ok(serde_json::json!({
            "tool": "uring-loop",
            "rw": format!("{:?}", a.rw).to_lowercase(),
            "bs": a.bs,
            "depth": a.depth,
            "direct": !a.buffered,
            "ops": done,
            "seconds": secs,
            "iops": iops,
            "mib_s": iops * a.bs as f64 / 1048576.0,
            "lat_ns": {
                "min": hist.min(),
                "mean": hist.mean(),
                "p50": hist.percentile(0.50),
                "p90": hist.percentile(0.90),
                "p99": hist.percentile(0.99),
                "p99_9": hist.percentile(0.999),
                "max": hist.max(),
            },
            "enter_calls": enters,
            "syscalls_per_op": per_op(enters),
        }))
    }
}

#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "loongarch64",
    target_arch = "powerpc64"
))]
fn main() -> std::process::ExitCode {
    uring::main()
}

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "loongarch64",
    target_arch = "powerpc64"
)))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "uring-loop: not built for this architecture (the io-uring crate has no kernel \
         bindings for it)"
    );
    std::process::ExitCode::FAILURE
}
