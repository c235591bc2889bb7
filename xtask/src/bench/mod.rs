//! `cargo xtask bench`: `aio-bench` side by side with a hand-written C libaio loop.
//!
//! Builds `xtask/bench-c/libaio_loop.c` (installing `gcc` and `libaio-dev` with apt-get only if
//! they are missing) and `aio-bench` in release mode, creates one test file on tmpfs
//! (`/dev/shm`: O_DIRECT there is CPU-bound, completions land inside io_submit) and one in the
//! target directory's file system, and runs both programs alternately on the same file, several
//! rounds, for depth 1 and depth 32, reaping from the ring and by io_getevents. Prints the median
//! IOPS of each and the ratios aio-bench / C (plain io_getevents loop).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask bench [--rounds N] [--runtime SECS] [--size SIZE_MIB] [--depths D,..]
                         [--files tmpfs,disk] [--cpu N] [--no-install]

  --rounds N       rounds; each runs every program once per configuration (default 7)
  --runtime SECS   seconds per run (default 1.5)
  --size MIB       test file size in MiB (default 256)
  --depths D,..    queue depths (default 1,32)
  --files F,..     tmpfs (a file in /dev/shm) and/or disk (in the target directory)
  --cpu N          pin every run to CPU N (taskset), for steadier numbers
  --no-install     fail instead of running apt-get when gcc or libaio-dev is missing

4 KiB random O_DIRECT reads (buffered, with a note, where O_DIRECT is refused), batch = depth.
Programs: C libaio with io_getevents (the baseline), C libaio reading the ring by hand,
aio-bench --reap ring, aio-bench --reap syscall, aio-bench --backend emulated (the crate's
fallback where the kernel has no AIO: one pread per operation). Prints medians and aio-bench / C
ratios.";

type Result<T, E = String> = std::result::Result<T, E>;

/// One program the benchmark runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Variant {
    /// The C loop with io_getevents(min_nr = 1): the baseline.
    CPlain,
    /// The C loop reading the ring by hand.
    CRing,
    /// aio-bench --reap ring.
    AioRing,
    /// aio-bench --reap syscall.
    AioSyscall,
    /// aio-bench --backend emulated.
    AioEmulated,
}

const VARIANTS: [Variant; 5] = [
    Variant::CPlain,
    Variant::CRing,
    Variant::AioRing,
    Variant::AioSyscall,
    Variant::AioEmulated,
];

impl Variant {
    fn reap(self) -> &'static str {
        match self {
            Self::CPlain | Self::AioSyscall => "syscall",
            Self::CRing | Self::AioRing | Self::AioEmulated => "ring",
        }
    }
}

struct Options {
    rounds: usize,
    runtime: f64,
    size_mib: u64,
    depths: Vec<u32>,
    files: Vec<String>,
    cpu: Option<u32>,
    install: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        rounds: 7,
        runtime: 1.5,
        size_mib: 256,
        depths: vec![1, 32],
        files: vec!["tmpfs".into(), "disk".into()],
        cpu: None,
        install: true,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let number = |v: String| -> Result<u64> {
            v.parse().map_err(|_| format!("{name} {v}: not a number"))
        };
        match name {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "--rounds" => o.rounds = number(value()?)?.max(1) as usize,
            "--runtime" => {
                let v = value()?;
                o.runtime = v
                    .parse::<f64>()
                    .ok()
                    .filter(|t| *t > 0.0)
                    .ok_or_else(|| format!("--runtime {v}: seconds above 0"))?;
            }
            "--size" => o.size_mib = number(value()?)?.max(1),
            "--depths" => {
                o.depths = value()?
                    .split(',')
                    .map(|d| d.trim().parse::<u32>().ok().filter(|d| *d > 0))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("--depths: a comma-separated list of depths above 0")?;
            }
            "--files" => {
                o.files = value()?.split(',').map(|f| f.trim().to_string()).collect();
                if let Some(bad) = o.files.iter().find(|f| *f != "tmpfs" && *f != "disk") {
                    return Err(format!("--files: {bad}: expected tmpfs and/or disk"));
                }
            }
            "--cpu" => o.cpu = Some(number(value()?)? as u32),
            "--no-install" => o.install = false,
            _ => return Err(format!("unknown option {arg}\n{USAGE}")),
        }
    }
    Ok(Some(o))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_relative() { root().join(p) } else { p })
        .unwrap_or_else(|| root().join("target"))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn run_visible(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}").replace('"', "");
    println!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// gcc and libaio's header and library, installed from Debian if missing.
fn ensure_toolchain(install: bool) -> Result<()> {
    let missing = || {
        let mut packages = Vec::new();
        if !on_path("gcc") {
            packages.push("gcc");
        }
        if !Path::new("/usr/include/stdio.h").is_file() {
            packages.push("libc6-dev");
        }
        if !Path::new("/usr/include/libaio.h").is_file() {
            packages.push("libaio-dev");
        }
        packages
    };
    let packages = missing();
    if packages.is_empty() {
        return Ok(());
    }
    let list = packages.join(" ");
    if !install {
        return Err(format!("{list} missing; install: apt-get install {list}"));
    }
    if !is_root() || !on_path("apt-get") {
        return Err(format!(
            "{list} missing, and this is not root on a Debian-like system; install them \
             yourself (apt-get install {list})"
        ));
    }
    println!("xtask bench: installing {list} (missing)");
    let install_cmd = || {
        let mut c = Command::new("apt-get");
        c.args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    if run_visible(&mut install_cmd()).is_err() {
        // Stale package lists: refresh once and retry.
        run_visible(Command::new("apt-get").args(["update", "-q"]))?;
        run_visible(&mut install_cmd())?;
    }
    match missing() {
        still if still.is_empty() => Ok(()),
        still => Err(format!(
            "{} still missing after apt-get install",
            still.join(" ")
        )),
    }
}

/// Compiles the C loop (when its source is newer than the binary).
fn build_c(out_dir: &Path) -> Result<PathBuf> {
    let src = root().join("xtask/bench-c/libaio_loop.c");
    let bin = out_dir.join("libaio-loop");
    let stale = match (std::fs::metadata(&src), std::fs::metadata(&bin)) {
        (Ok(s), Ok(b)) => match (s.modified(), b.modified()) {
            (Ok(s), Ok(b)) => s > b,
            _ => true,
        },
        _ => true,
    };
    if stale {
        std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
        run_visible(
            Command::new("gcc")
                .args(["-O2", "-Wall", "-Wextra", "-o"])
                .arg(&bin)
                .arg(&src)
                .arg("-laio"),
        )?;
    }
    Ok(bin)
}

/// `cargo xtask bench-async`: builds `aio-async-bench` in release mode and runs it with `args`.
pub fn async_main(args: &[String]) -> Result<ExitCode> {
    let status = Command::new(build_aio_bench("aio-async-bench")?)
        .current_dir(root())
        .args(args)
        .status()
        .map_err(|e| format!("cannot run aio-async-bench: {e}"))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// Builds the aio-bench program `bin` (`aio-bench`, `aio-async-bench`) in release mode.
fn build_aio_bench(bin: &str) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run_visible(Command::new(cargo).current_dir(root()).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "aio-bench",
        "--bin",
        bin,
    ]))?;
    Ok(target_dir().join("release").join(bin))
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

/// A test file, removed on drop.
struct TestFile {
    label: &'static str,
    path: PathBuf,
    fs: String,
    direct: bool,
}

impl Drop for TestFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The numbers one run reports (a subset of the JSON both programs print).
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    iops: f64,
    syscalls_per_op: f64,
    p50_ns: f64,
    p99_ns: f64,
}

/// The number after `"key":` in a flat JSON text (keys are unique in our outputs).
fn json_number(text: &str, key: &str) -> Option<f64> {
    let pattern = format!("\"{key}\":");
    let start = text.find(&pattern)? + pattern.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

struct Runner<'a> {
    c_bin: &'a Path,
    aio_bin: &'a Path,
    o: &'a Options,
}

impl Runner<'_> {
    fn command(&self, variant: Variant, file: &TestFile, depth: u32, runtime: f64) -> Command {
        let mut cmd = match self.o.cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpu.to_string()]);
                c.arg(match variant {
                    Variant::CPlain | Variant::CRing => self.c_bin,
                    _ => self.aio_bin,
                });
                c
            }
            None => Command::new(match variant {
                Variant::CPlain | Variant::CRing => self.c_bin,
                _ => self.aio_bin,
            }),
        };
        let depth = depth.to_string();
        let runtime = format!("{runtime}");
        cmd.args(["--file"])
            .arg(&file.path)
            .args(["--rw", "randread", "--bs", "4096", "--depth", &depth])
            .args(["--batch", &depth, "--runtime", &runtime])
            .args(["--reap", variant.reap()]);
        match variant {
            Variant::CPlain | Variant::CRing => {
                if !file.direct {
                    cmd.arg("--buffered");
                }
            }
            Variant::AioRing | Variant::AioSyscall | Variant::AioEmulated => {
                cmd.args(["--json", "--quiet"]);
                if variant == Variant::AioEmulated {
                    cmd.args(["--backend", "emulated"]);
                }
                cmd.arg(if file.direct {
                    "--direct"
                } else {
                    "--buffered"
                });
            }
        }
        cmd
    }

    fn run(&self, variant: Variant, file: &TestFile, depth: u32, runtime: f64) -> Result<Sample> {
        let mut cmd = self.command(variant, file, depth, runtime);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "{cmd:?} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                stdout.trim()
            ));
        }
        let get = |key: &str| {
            json_number(&stdout, key).ok_or_else(|| format!("no {key:?} in the output: {stdout}"))
        };
        Ok(Sample {
            iops: get("iops")?,
            syscalls_per_op: get("syscalls_per_op")?,
            p50_ns: get("p50")?,
            p99_ns: get("p99")?,
        })
    }
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

/// Medians of a configuration's samples.
fn summary(samples: &[Sample]) -> Sample {
    let pick = |f: fn(&Sample) -> f64| median(&mut samples.iter().map(f).collect::<Vec<_>>());
    Sample {
        iops: pick(|s| s.iops),
        syscalls_per_op: pick(|s| s.syscalls_per_op),
        p50_ns: pick(|s| s.p50_ns),
        p99_ns: pick(|s| s.p99_ns),
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

pub fn main(args: &[String]) -> Result<ExitCode> {
    let Some(o) = parse(args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    ensure_toolchain(o.install)?;
    let c_bin = build_c(&target_dir().join("bench-c"))?;
    let aio_bin = build_aio_bench("aio-bench")?;

    let size = o.size_mib << 20;
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
        create_file(&path, size)?;
        let mut file = TestFile {
            label,
            fs: fs_type(&dir),
            path,
            direct: true,
        };
        // Probe O_DIRECT with aio-bench, which explains a refusal.
        let probe = Command::new(&aio_bin)
            .arg("--file")
            .arg(&file.path)
            .args(["--direct", "--ops", "1", "--quiet", "--json"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", aio_bin.display()))?;
        if !probe.status.success() {
            println!(
                "xtask bench: {}: {}; both programs run buffered on it",
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

    let runner = Runner {
        c_bin: &c_bin,
        aio_bin: &aio_bin,
        o: &o,
    };
    let configs: Vec<(usize, u32)> = (0..files.len())
        .flat_map(|f| o.depths.iter().map(move |&d| (f, d)))
        .collect();
    let total = configs.len() * VARIANTS.len() * o.rounds;
    println!(
        "xtask bench: {} rounds × {} configurations × {} programs × {} s ≈ {:.0} s",
        o.rounds,
        configs.len(),
        VARIANTS.len(),
        o.runtime,
        total as f64 * (o.runtime + 0.1)
    );
    let started = Instant::now();
    let live = std::io::stdout().is_terminal();
    let mut samples: BTreeMap<(usize, u32, Variant), Vec<Sample>> = BTreeMap::new();
    let mut done = 0;
    for round in 0..o.rounds {
        for &(f, depth) in &configs {
            // Rotate the order every round so that no program always runs first.
            for k in 0..VARIANTS.len() {
                let variant = VARIANTS[(k + round) % VARIANTS.len()];
                let sample = runner.run(variant, &files[f], depth, o.runtime)?;
                samples.entry((f, depth, variant)).or_default().push(sample);
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
    println!();

    let medians: BTreeMap<_, _> = samples.iter().map(|(k, v)| (*k, summary(v))).collect();
    let get = |f: usize, d: u32, v: Variant| medians[&(f, d, v)];
    // Paired ratios: each round's run against the C baseline of the same round (run moments
    // apart), so that slow drifts of the machine's load cancel; then their median and range.
    let ratio = |f: usize, d: u32, v: Variant| {
        let (a, c) = (&samples[&(f, d, v)], &samples[&(f, d, Variant::CPlain)]);
        let mut r: Vec<f64> = a.iter().zip(c).map(|(a, c)| a.iops / c.iops).collect();
        let (lo, hi) = (
            r.iter().copied().fold(f64::MAX, f64::min),
            r.iter().copied().fold(0.0, f64::max),
        );
        (median(&mut r), lo, hi)
    };
    let show_ratio = |(m, lo, hi): (f64, f64, f64)| format!("{m:.2} ({lo:.2}–{hi:.2})");
    let label = |f: usize| {
        let file: &TestFile = &files[f];
        format!(
            "{} {}",
            file.fs,
            if file.direct { "O_DIRECT" } else { "buffered" }
        )
    };
    println!(
        "4 KiB random reads, {} MiB file, batch = depth, median of {} rounds × {} s; ratios: \
         median (range) of each round's IOPS over the C io_getevents loop's in that round",
        o.size_mib, o.rounds, o.runtime
    );
    println!();
    let header = |what: &str, ratios: bool| {
        print!(
            "{what:<16} {:>5} {:>14} {:>10} {:>14} {:>14} {:>14}",
            "depth", "C io_getevents", "C ring", "aio-bench ring", "aio-bench sysc", "emulated"
        );
        if ratios {
            print!(" {:>18} {:>18} {:>18}", "ring/C", "sysc/C", "emulated/C");
        }
        println!();
    };
    header("IOPS", true);
    for &(f, depth) in &configs {
        println!(
            "{:<16} {:>5} {:>14} {:>10} {:>14} {:>14} {:>14} {:>18} {:>18} {:>18}",
            label(f),
            depth,
            kilo(get(f, depth, Variant::CPlain).iops),
            kilo(get(f, depth, Variant::CRing).iops),
            kilo(get(f, depth, Variant::AioRing).iops),
            kilo(get(f, depth, Variant::AioSyscall).iops),
            kilo(get(f, depth, Variant::AioEmulated).iops),
            show_ratio(ratio(f, depth, Variant::AioRing)),
            show_ratio(ratio(f, depth, Variant::AioSyscall)),
            show_ratio(ratio(f, depth, Variant::AioEmulated)),
        );
    }
    println!();
    header("syscalls/op", false);
    for &(f, depth) in &configs {
        let n = |v| format!("{:.3}", get(f, depth, v).syscalls_per_op);
        println!(
            "{:<16} {:>5} {:>14} {:>10} {:>14} {:>14} {:>14}",
            label(f),
            depth,
            n(Variant::CPlain),
            n(Variant::CRing),
            n(Variant::AioRing),
            n(Variant::AioSyscall),
            n(Variant::AioEmulated)
        );
    }
    println!();
    header("p50/p99 µs", false);
    for &(f, depth) in &configs {
        let lat = |v| {
            let s = get(f, depth, v);
            format!("{} / {}", us(s.p50_ns), us(s.p99_ns))
        };
        println!(
            "{:<16} {:>5} {:>14} {:>10} {:>14} {:>14} {:>14}",
            label(f),
            depth,
            lat(Variant::CPlain),
            lat(Variant::CRing),
            lat(Variant::AioRing),
            lat(Variant::AioSyscall),
            lat(Variant::AioEmulated)
        );
    }

    // The issue's targets, on the CPU-bound tmpfs file.
    if let Some(f) = files.iter().position(|f| f.label == "tmpfs" && f.direct) {
        println!();
        let check = |what: String, ok: bool| {
            println!("  [{}] {what}", if ok { "ok" } else { "MISSED" });
        };
        if o.depths.contains(&1) {
            let r = get(f, 1, Variant::AioRing);
            let (m, _, _) = ratio(f, 1, Variant::AioRing);
            let (c_ring, _, _) = ratio(f, 1, Variant::CRing);
            check(
                format!(
                    "tmpfs depth 1: aio-bench ring ≥ 1.25× C: {m:.4}× (the C loop reaping from \
                     the ring: {c_ring:.4}×)"
                ),
                m >= 1.25,
            );
            check(
                format!(
                    "tmpfs depth 1: aio-bench ring ≤ 1.05 syscalls/op: {:.3}",
                    r.syscalls_per_op
                ),
                r.syscalls_per_op <= 1.05,
            );
        }
        if o.depths.contains(&32) {
            let (m, _, _) = ratio(f, 32, Variant::AioRing);
            check(
                format!("tmpfs depth 32: aio-bench ring ≥ 1.0× C: {m:.4}×"),
                m >= 1.0,
            );
        }
    }
    println!(
        "\n(C io_getevents: xtask/bench-c/libaio_loop.c with io_getevents(min_nr = 1); C ring: \
         the same loop reaping from the mmap'd ring by hand; {:.0} s in all)",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_from_json() {
        let text = r#"{"iops":412345.6,"lat_ns":{"p50":1375,"p99":2000},"syscalls_per_op":1.0000}"#;
        assert_eq!(json_number(text, "iops"), Some(412_345.6));
        assert_eq!(json_number(text, "p50"), Some(1375.0));
        assert_eq!(json_number(text, "syscalls_per_op"), Some(1.0));
        assert_eq!(json_number(text, "missing"), None);
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
        let args: Vec<String> = [
            "--rounds",
            "3",
            "--runtime=1.5",
            "--depths",
            "1,8",
            "--files",
            "tmpfs",
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
        assert!(parse(&["--files".to_string(), "nfs".to_string()]).is_err());
    }
}
