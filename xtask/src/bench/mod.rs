//! `cargo xtask bench`: `aio-bench` side by side with the programs a user would pick instead,
//! run alternately in the same rounds on the same files.
//!
//! The runners ([`runners::Runner`]): aio-bench as shipped (`--batch auto`) and with the C
//! loop's job shape (batch = depth, ring or io_getevents reaping, the emulated backend); the
//! hand-written C libaio loop (`xtask/bench-c/libaio_loop.c`, io_getevents or ring reaping);
//! `uring-loop` (the same job on the `io-uring` crate); fio with its libaio and io_uring
//! engines. Installs gcc, libaio-dev, fio and linux-perf with apt-get when missing; creates one
//! test file on tmpfs (`/dev/shm`: O_DIRECT there is CPU-bound, completions land inside the
//! submitting call) and one in the target directory's file system (device-bound); runs every
//! runner once per configuration per round, in a new order each time; prints per configuration the
//! median IOPS, the median of each round's ratio to aio-bench, system calls per operation and
//! latency, then the targets.

mod runners;
mod tools;

use runners::{Programs, Runner, Sample, TestFile};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;
use tools::target_dir;

const USAGE: &str = "\
usage: cargo xtask bench [--rounds N] [--runtime SECS] [--size MIB] [--depths D,..]
                         [--files tmpfs,disk] [--runners R,..] [--cpu N] [--no-install]

  --rounds N       rounds; each runs every runner once per configuration (default 7)
  --runtime SECS   seconds per run (default 1.5)
  --size MIB       test file size in MiB (default 256)
  --depths D,..    queue depths (default 1,32)
  --files F,..     tmpfs (a file in /dev/shm) and/or disk (in the target directory)
  --runners R,..   a subset of: aio-bench aio-batch aio-syscall emulated c c-ring io-uring
                   fio-libaio fio-libaio-ours fio-io_uring (default all)
  --cpu N          pin every run to CPU N (taskset), for steadier numbers
  --no-install     fail instead of running apt-get when gcc, libaio-dev, fio or perf is missing

4 KiB random O_DIRECT reads (buffered, with a note, where O_DIRECT is refused). Runners:
aio-bench as shipped (--batch auto); aio-bench with the C loop's job shape (batch = depth; ring,
io_getevents, emulated backend); the C libaio loop (io_getevents: the baseline of the C
ratios; ring); the io-uring crate loop (uring-loop); fio --ioengine=libaio and io_uring with
fio's defaults, and fio's libaio engine on this project's drop-in libaio.so.1 (fio-libaio-ours:
LD_LIBRARY_PATH). Ratios are each round's IOPS over aio-bench's in that round, median (range).
fio's system calls per operation are counted with perf stat (syscall tracepoints) in one extra
untimed run per configuration.";

type Result<T, E = String> = std::result::Result<T, E>;

struct Options {
    rounds: usize,
    runtime: f64,
    size_mib: u64,
    depths: Vec<u32>,
    files: Vec<String>,
    runners: Vec<Runner>,
    cpu: Option<u32>,
    install: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(None);
    }
    let mut a = crate::util::Args::new(args);
    let runtime = match a.value("--runtime")? {
        None => 1.5,
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|t| *t > 0.0 && t.is_finite())
            .ok_or_else(|| format!("--runtime {v}: seconds above 0"))?,
    };
    let depths = match a.list("--depths")? {
        d if d.is_empty() => vec![1, 32],
        d => d
            .iter()
            .map(|d| d.trim().parse::<u32>().ok().filter(|d| *d > 0))
            .collect::<Option<Vec<_>>>()
            .ok_or("--depths: a comma-separated list of depths above 0")?,
    };
    let files = match a.list("--files")? {
        f if f.is_empty() => vec!["tmpfs".to_string(), "disk".to_string()],
        f => f,
    };
    if let Some(bad) = files.iter().find(|f| *f != "tmpfs" && *f != "disk") {
        return Err(format!("--files: {bad}: expected tmpfs and/or disk"));
    }
    let runners = match a.list("--runners")? {
        r if r.is_empty() => Runner::ALL.to_vec(),
        r => r
            .iter()
            .map(|name| {
                Runner::from_name(name).ok_or_else(|| {
                    format!("--runners: unknown runner {name} (see cargo xtask bench --help)")
                })
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let o = Options {
        rounds: a.number("--rounds")?.unwrap_or(7).max(1) as usize,
        runtime,
        size_mib: a.number("--size")?.unwrap_or(256).max(1),
        depths,
        files,
        runners,
        cpu: a.number("--cpu")?.map(|c| c as u32),
        install: !a.flag("--no-install"),
    };
    if !a.finish()?.is_empty() {
        return Err("cargo xtask bench takes no arguments after --".into());
    }
    Ok(Some(o))
}

/// `cargo xtask bench-async`: builds `aio-async-bench` in release mode and runs it with `args`.
pub fn async_main(args: &[String]) -> Result<ExitCode> {
    let bin = tools::build_aio_bench(&["aio-async-bench"])?.remove(0);
    let status = Command::new(bin)
        .current_dir(crate::util::root())
        .args(args)
        .status()
        .map_err(|e| format!("cannot run aio-async-bench: {e}"))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// The file system type of the directory holding `path`, from /proc/self/mounts (longest
/// matching mount point).
fn fs_type(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut best = (0, "unknown".to_string());
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_), Some(mount), Some(fs)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let mount = mount.replace("\\040", " ");
        if path.starts_with(&mount) && mount.len() >= best.0 {
            best = (mount.len(), fs.to_string());
        }
    }
    best.1
}

/// Writes `size` bytes of non-zero data (real pages, no holes) and syncs.
fn create_file(path: &Path, size: u64) -> Result<()> {
    let err = |e: std::io::Error| format!("cannot create {}: {e}", path.display());
    let mut f = File::create(path).map_err(err)?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for word in chunk.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes());
    }
    for _ in 0..size >> 20 {
        f.write_all(&chunk).map_err(err)?;
        chunk.rotate_left(8);
    }
    f.sync_all().map_err(err)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn kilo(iops: f64) -> String {
    if iops >= 10_000.0 {
        format!("{:.0}k", iops / 1000.0)
    } else {
        format!("{:.1}k", iops / 1000.0)
    }
}

fn us(ns: f64) -> String {
    if ns < 10_000.0 {
        format!("{:.1}", ns / 1000.0)
    } else {
        format!("{:.0}", ns / 1000.0)
    }
}

/// `items` in an order drawn from `seed` (Fisher-Yates with xorshift64).
fn shuffled<T: Copy>(items: &[T], seed: u64) -> Vec<T> {
    let mut v = items.to_vec();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

/// Creates the test files `o.files` asks for, probing O_DIRECT on each with aio-bench.
fn test_files(o: &Options, aio_bench: &Path) -> Result<Vec<TestFile>> {
    let mut files = Vec::new();
    for which in &o.files {
        let (label, dir) = if which == "tmpfs" {
            let shm = Path::new("/dev/shm");
            if fs_type(shm) != "tmpfs" {
                println!("xtask bench: /dev/shm is not tmpfs here; skipping the tmpfs file");
                continue;
            }
            ("tmpfs", shm.to_path_buf())
        } else {
            ("disk", target_dir())
        };
        let path = dir.join(format!("aio-bench-xtask-{}.dat", std::process::id()));
        println!(
            "xtask bench: creating {} MiB test file {} …",
            o.size_mib,
            path.display()
        );
        create_file(&path, o.size_mib << 20)?;
        let mut file = TestFile {
            label,
            fs: fs_type(&dir),
            path,
            direct: true,
        };
        // Probe O_DIRECT with aio-bench, which explains a refusal.
        let probe = Command::new(aio_bench)
            .arg("--file")
            .arg(&file.path)
            .args(["--direct", "--ops", "1", "--quiet", "--json"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", aio_bench.display()))?;
        if !probe.status.success() {
            println!(
                "xtask bench: {}: {}; every runner runs buffered on it",
                file.path.display(),
                String::from_utf8_lossy(&probe.stderr).trim()
            );
            file.direct = false;
        }
        files.push(file);
    }
    if files.is_empty() {
        return Err("no test file to run on".into());
    }
    Ok(files)
}

/// One configuration: a file and a depth.
type Config = (usize, u32);

/// Every sample, by configuration and runner.
struct Results {
    samples: BTreeMap<(Config, Runner), Vec<Sample>>,
    /// fio's calls per operation (perf), or why not counted.
    fio_calls: BTreeMap<(Config, Runner), Result<f64>>,
}

impl Results {
    fn median(&self, c: Config, r: Runner, f: fn(&Sample) -> f64) -> f64 {
        median(&mut self.samples[&(c, r)].iter().map(f).collect::<Vec<_>>())
    }

    /// The median and range of each round's IOPS of `r` over `base`'s (the runs of a round
    /// are moments apart, so slow drifts of the machine's load cancel).
    fn ratio(&self, c: Config, r: Runner, base: Runner) -> Option<(f64, f64, f64)> {
        let (a, b) = (self.samples.get(&(c, r))?, self.samples.get(&(c, base))?);
        let mut v: Vec<f64> = a.iter().zip(b).map(|(a, b)| a.iops / b.iops).collect();
        let lo = v.iter().copied().fold(f64::MAX, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        Some((median(&mut v), lo, hi))
    }
}

pub fn main(args: &[String]) -> Result<ExitCode> {
    let Some(o) = parse(args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let fio = o.runners.iter().any(|r| r.is_fio());
    tools::ensure(o.install, fio)?;
    let c_loop = tools::build_c(&target_dir().join("bench-c"))?;
    let built = tools::build_aio_bench(&["aio-bench", "uring-loop"])?;
    let our_libaio = if o.runners.contains(&Runner::FioLibaioOurs) {
        Some(tools::build_our_libaio()?)
    } else {
        None
    };
    let programs = Programs {
        c_loop,
        aio_bench: built[0].clone(),
        uring_loop: built[1].clone(),
        our_libaio,
        cpu: o.cpu,
    };
    let files = test_files(&o, &programs.aio_bench)?;
    let configs: Vec<Config> = (0..files.len())
        .flat_map(|f| o.depths.iter().map(move |&d| (f, d)))
        .collect();
    let runners = &o.runners;
    let total = configs.len() * runners.len() * o.rounds;
    println!(
        "xtask bench: {} rounds × {} configurations × {} runners × {} s ≈ {:.0} s",
        o.rounds,
        configs.len(),
        runners.len(),
        o.runtime,
        total as f64 * (o.runtime + 0.15)
    );
    let started = Instant::now();
    let live = std::io::stdout().is_terminal();
    let mut results = Results {
        samples: BTreeMap::new(),
        fio_calls: BTreeMap::new(),
    };
    let mut done = 0;
    for round in 0..o.rounds {
        for &(f, depth) in &configs {
            // A new order every round (and configuration), so that no runner always runs
            // first or right after the same other runner: a runner that leaves the machine
            // busier or quieter would otherwise bias its successor's numbers.
            for runner in shuffled(
                runners,
                (round * configs.len() + f) as u64 * 64 + u64::from(depth),
            ) {
                let sample = programs.run(runner, &files[f], depth, o.runtime)?;
                results
                    .samples
                    .entry(((f, depth), runner))
                    .or_default()
                    .push(sample);
                done += 1;
                if live {
                    print!(
                        "\rxtask bench: round {}/{}, {done}/{total} runs, {:.0} s   ",
                        round + 1,
                        o.rounds,
                        started.elapsed().as_secs_f64()
                    );
                    let _ = std::io::stdout().flush();
                }
            }
        }
        if !live {
            println!(
                "xtask bench: round {}/{} done, {:.0} s",
                round + 1,
                o.rounds,
                started.elapsed().as_secs_f64()
            );
        }
    }
    if live {
        println!();
    }
    if fio {
        println!("xtask bench: counting fio's system calls with perf stat (one untimed run each)");
        let scratch = target_dir().join(format!("xtask-bench-perf-{}.txt", std::process::id()));
        for &(f, depth) in &configs {
            for &r in runners.iter().filter(|r| r.is_fio()) {
                let counted = programs.count_fio_calls(r, &files[f], depth, o.runtime, &scratch);
                results.fio_calls.insert(((f, depth), r), counted);
            }
        }
        let _ = std::fs::remove_file(&scratch);
    }
    println!();
    print_tables(&o, &files, &configs, &results);
    let missed = print_targets(&o, &files, &results);
    println!(
        "\n(C loop: xtask/bench-c/libaio_loop.c with batch = depth; io-uring crate loop: \
         crates/aio-bench/src/bin/uring-loop.rs; {:.0} s in all)",
        started.elapsed().as_secs_f64()
    );
    Ok(if missed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn file_label(file: &TestFile) -> String {
    format!(
        "{} {}",
        file.fs,
        if file.direct { "O_DIRECT" } else { "buffered" }
    )
}

fn print_tables(o: &Options, files: &[TestFile], configs: &[Config], res: &Results) {
    println!(
        "4 KiB random reads, {} MiB file, median of {} rounds × {} s; ratio: median (range) of \
         each round's IOPS over aio-bench's in that round",
        o.size_mib, o.rounds, o.runtime
    );
    let base = Runner::AioBench;
    for &c in configs {
        let (f, depth) = c;
        println!();
        println!("{}, depth {depth}", file_label(&files[f]));
        println!(
            "  {:<40} {:>8} {:>20} {:>12} {:>9} {:>9}",
            "runner", "IOPS", "/ aio-bench", "syscalls/op", "p50 µs", "p99 µs"
        );
        for &r in &o.runners {
            let ratio = match res.ratio(c, r, base) {
                Some((m, lo, hi)) if r != base => format!("{m:.2} ({lo:.2}–{hi:.2})"),
                Some(_) => "1".to_string(),
                None => "-".to_string(),
            };
            let calls = match (r.is_fio(), res.fio_calls.get(&(c, r))) {
                (true, Some(Ok(n))) => format!("{n:.3} (perf)"),
                (true, _) => "n/a".to_string(),
                (false, _) => format!(
                    "{:.3}",
                    res.median(c, r, |s| s.syscalls_per_op.unwrap_or(0.0))
                ),
            };
            println!(
                "  {:<40} {:>8} {:>20} {:>12} {:>9} {:>9}",
                r.label(),
                kilo(res.median(c, r, |s| s.iops)),
                ratio,
                calls,
                us(res.median(c, r, |s| s.p50_ns)),
                us(res.median(c, r, |s| s.p99_ns)),
            );
        }
    }
    let uncounted: Vec<String> = res
        .fio_calls
        .values()
        .filter_map(|r| r.as_ref().err().cloned())
        .collect();
    if let Some(why) = uncounted.first() {
        println!("\n(fio's calls not counted: {why})");
    }
}

/// Prints the targets of the issues this benchmark serves; returns how many were missed.
fn print_targets(o: &Options, files: &[TestFile], res: &Results) -> usize {
    let mut missed = 0;
    let mut check = |what: String, ok: bool| {
        println!("  [{}] {what}", if ok { "ok" } else { "MISSED" });
        missed += usize::from(!ok);
    };
    println!("\ntargets (paired medians):");
    let tmpfs = files.iter().position(|f| f.label == "tmpfs" && f.direct);
    let disk = files.iter().position(|f| f.label == "disk" && f.direct);
    let has = |r: Runner| o.runners.contains(&r);
    for &depth in &o.depths {
        if let (Some(f), true, true) = (disk, has(Runner::AioBench), has(Runner::FioLibaio)) {
            let (m, _, _) = res
                .ratio((f, depth), Runner::AioBench, Runner::FioLibaio)
                .expect("both ran");
            check(
                format!(
                    "{} depth {depth}: aio-bench / fio libaio ≥ 1.0: {m:.3}",
                    files[f].fs
                ),
                m >= 1.0,
            );
        }
        // The drop-in libaio.so.1 (issue 27): the same fio, only the library swapped.
        for f in [tmpfs, disk].into_iter().flatten() {
            if !(has(Runner::FioLibaioOurs) && has(Runner::FioLibaio)) {
                break;
            }
            let (m, _, _) = res
                .ratio((f, depth), Runner::FioLibaioOurs, Runner::FioLibaio)
                .expect("both ran");
            let goal = if files[f].label == "tmpfs" && depth == 1 {
                1.25
            } else {
                1.0
            };
            check(
                format!(
                    "{} depth {depth}: fio on aio-libaio / on Debian's libaio ≥ {goal}: {m:.3}",
                    files[f].fs
                ),
                m >= goal,
            );
        }
        if let (Some(f), true, true) = (tmpfs, has(Runner::AioBench), has(Runner::CRing)) {
            let (m, _, _) = res
                .ratio((f, depth), Runner::AioBench, Runner::CRing)
                .expect("both ran");
            check(
                format!("tmpfs depth {depth}: aio-bench within 5% of the C ring loop: {m:.3}"),
                m >= 0.95,
            );
        }
    }
    if let Some(f) = tmpfs {
        if has(Runner::AioBatch) && has(Runner::CPlain) {
            if o.depths.contains(&1) {
                let c = (f, 1);
                let (m, _, _) = res.ratio(c, Runner::AioBatch, Runner::CPlain).expect("ran");
                check(
                    format!(
                        "tmpfs depth 1: aio-bench ring ≥ 1.25× the C io_getevents loop: {m:.3}"
                    ),
                    m >= 1.25,
                );
                let calls = res.median(c, Runner::AioBatch, |s| s.syscalls_per_op.unwrap_or(0.0));
                check(
                    format!("tmpfs depth 1: aio-bench ring ≤ 1.05 syscalls/op: {calls:.3}"),
                    calls <= 1.05,
                );
            }
            if o.depths.contains(&32) {
                let (m, _, _) = res
                    .ratio((f, 32), Runner::AioBatch, Runner::CPlain)
                    .expect("ran");
                check(
                    format!(
                        "tmpfs depth 32: aio-bench ring ≥ 1.0× the C io_getevents loop: {m:.3}"
                    ),
                    m >= 1.0,
                );
            }
        }
    }
    missed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_are_permutations_that_vary() {
        let items: Vec<u32> = (0..9).collect();
        let mut firsts = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let mut v = shuffled(&items, seed);
            firsts.insert(v[0]);
            v.sort();
            assert_eq!(v, items);
        }
        assert!(firsts.len() > 3, "first places vary: {firsts:?}");
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn options() {
        let o = parse(&[]).unwrap().unwrap();
        assert_eq!(
            (o.rounds, o.runtime, o.depths.clone()),
            (7, 1.5, vec![1, 32])
        );
        assert_eq!(o.runners, Runner::ALL.to_vec());
        let args: Vec<String> = [
            "--rounds",
            "3",
            "--runtime=1.5",
            "--depths",
            "1,8",
            "--files",
            "tmpfs",
            "--runners=aio-bench,fio-libaio",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = parse(&args).unwrap().unwrap();
        assert_eq!(
            (o.rounds, o.runtime, o.depths.clone()),
            (3, 1.5, vec![1, 8])
        );
        assert_eq!(o.files, vec!["tmpfs".to_string()]);
        assert_eq!(o.runners, vec![Runner::AioBench, Runner::FioLibaio]);
        let bad = |a: &[&str]| parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).is_err();
        assert!(bad(&["--files", "nfs"]));
        assert!(bad(&["--runners", "dd"]));
        assert!(bad(&["--depths", "0"]));
        assert!(bad(&["--bogus"]));
    }
}
