//! The programs compared by `cargo xtask bench`, how each is started for a job, and how its
//! output is read (serde_json).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

type Result<T, E = String> = std::result::Result<T, E>;

/// One program (or way of running one) in the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Runner {
    /// `aio-bench` as a user runs it: `--batch auto`, reaping from the ring.
    AioBench,
    /// `aio-bench --batch <depth>` (ring): the same job shape as the C loops.
    AioBatch,
    /// `aio-bench --batch <depth> --reap syscall`.
    AioSyscall,
    /// `aio-bench --backend emulated`: the crate's fallback, one pread per operation.
    AioEmulated,
    /// The C libaio loop with io_getevents(min_nr = 1), batch = depth: the baseline.
    CPlain,
    /// The C loop reading the ring by hand.
    CRing,
    /// `uring-loop`: the job on the `io-uring` crate.
    UringLoop,
    /// fio's libaio engine with its defaults (one io_submit per operation).
    FioLibaio,
    /// The same fio, with this project's drop-in `libaio.so.1` (`crates/aio-libaio`) loaded
    /// instead of Debian's.
    FioLibaioOurs,
    /// fio's io_uring engine with its defaults.
    FioUring,
}

impl Runner {
    /// Every runner, in table order.
    pub const ALL: [Runner; 10] = [
        Self::AioBench,
        Self::AioBatch,
        Self::AioSyscall,
        Self::AioEmulated,
        Self::CPlain,
        Self::CRing,
        Self::UringLoop,
        Self::FioLibaio,
        Self::FioLibaioOurs,
        Self::FioUring,
    ];

    /// The name `--runners` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::AioBench => "aio-bench",
            Self::AioBatch => "aio-batch",
            Self::AioSyscall => "aio-syscall",
            Self::AioEmulated => "emulated",
            Self::CPlain => "c",
            Self::CRing => "c-ring",
            Self::UringLoop => "io-uring",
            Self::FioLibaio => "fio-libaio",
            Self::FioLibaioOurs => "fio-libaio-ours",
            Self::FioUring => "fio-io_uring",
        }
    }

    /// The runner called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// What the table calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::AioBench => "aio-bench (default: --batch auto)",
            Self::AioBatch => "aio-bench --batch depth",
            Self::AioSyscall => "aio-bench --batch depth --reap syscall",
            Self::AioEmulated => "aio-bench --backend emulated",
            Self::CPlain => "C libaio loop, io_getevents",
            Self::CRing => "C libaio loop, ring",
            Self::UringLoop => "io-uring crate loop",
            Self::FioLibaio => "fio --ioengine=libaio",
            Self::FioLibaioOurs => "fio --ioengine=libaio on aio-libaio",
            Self::FioUring => "fio --ioengine=io_uring",
        }
    }

    /// Whether this is fio (installed from Debian; its calls counted by perf).
    pub fn is_fio(self) -> bool {
        matches!(self, Self::FioLibaio | Self::FioLibaioOurs | Self::FioUring)
    }
}

/// The test file and how to open it.
pub struct TestFile {
    /// `tmpfs` or `disk`.
    pub label: &'static str,
    pub path: PathBuf,
    /// The file system's type.
    pub fs: String,
    /// O_DIRECT (else buffered: the file system refused O_DIRECT).
    pub direct: bool,
}

impl Drop for TestFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What one run measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub iops: f64,
    /// AIO or io_uring system calls per operation, where the program counts them.
    pub syscalls_per_op: Option<f64>,
    pub p50_ns: f64,
    pub p99_ns: f64,
}

/// The fields read from `aio-bench --json`, the C loop's and `uring-loop`'s output.
#[derive(Deserialize)]
struct OwnOutput {
    iops: f64,
    syscalls_per_op: f64,
    lat_ns: OwnLatency,
}

#[derive(Deserialize)]
struct OwnLatency {
    p50: f64,
    p99: f64,
}

/// The fields read from `fio --output-format=json --lat_percentiles=1`.
#[derive(Deserialize)]
struct FioOutput {
    jobs: Vec<FioJob>,
}

#[derive(Deserialize)]
struct FioJob {
    read: FioDirection,
}

#[derive(Deserialize)]
struct FioDirection {
    iops: f64,
    total_ios: u64,
    lat_ns: FioLatency,
}

#[derive(Deserialize)]
struct FioLatency {
    #[serde(default)]
    percentile: BTreeMap<String, f64>,
}

/// Reads a run's output.
pub fn parse_output(runner: Runner, stdout: &str) -> Result<(Sample, u64)> {
    if runner.is_fio() {
        let out: FioOutput = serde_json::from_str(stdout)
            .map_err(|e| format!("fio's JSON output: {e}: {stdout}"))?;
        let job = out.jobs.first().ok_or("fio's JSON output has no job")?;
        let pct = |key: &str| {
            job.read
                .lat_ns
                .percentile
                .get(key)
                .copied()
                .ok_or_else(|| format!("fio's output has no {key} latency percentile"))
        };
        Ok((
            Sample {
                iops: job.read.iops,
                syscalls_per_op: None,
                p50_ns: pct("50.000000")?,
                p99_ns: pct("99.000000")?,
            },
            job.read.total_ios,
        ))
    } else {
        let out: OwnOutput = serde_json::from_str(stdout.trim())
            .map_err(|e| format!("{}'s JSON output: {e}: {stdout}", runner.name()))?;
        Ok((
            Sample {
                iops: out.iops,
                syscalls_per_op: Some(out.syscalls_per_op),
                p50_ns: out.lat_ns.p50,
                p99_ns: out.lat_ns.p99,
            },
            0,
        ))
    }
}

/// The built or installed programs.
pub struct Programs {
    pub c_loop: PathBuf,
    pub aio_bench: PathBuf,
    pub uring_loop: PathBuf,
    /// A directory holding the drop-in `libaio.so.1` (for [`Runner::FioLibaioOurs`]).
    pub our_libaio: Option<PathBuf>,
    /// Pin every run to this CPU (taskset).
    pub cpu: Option<u32>,
}

impl Programs {
    /// The command that runs `runner`'s job: 4 KiB random reads of `file` at `depth` for
    /// `runtime` seconds.
    pub fn command(&self, runner: Runner, file: &TestFile, depth: u32, runtime: f64) -> Command {
        let program: &Path = match runner {
            Runner::CPlain | Runner::CRing => &self.c_loop,
            Runner::UringLoop => &self.uring_loop,
            Runner::FioLibaio | Runner::FioLibaioOurs | Runner::FioUring => Path::new("fio"),
            _ => &self.aio_bench,
        };
        let mut cmd = match self.cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpu.to_string()]).arg(program);
                c
            }
            None => Command::new(program),
        };
        let d = depth.to_string();
        let t = format!("{runtime}");
        match runner {
            Runner::FioLibaio | Runner::FioLibaioOurs | Runner::FioUring => {
                let engine = if runner == Runner::FioUring {
                    "io_uring"
                } else {
                    "libaio"
                };
                if runner == Runner::FioLibaioOurs {
                    if let Some(dir) = &self.our_libaio {
                        cmd.env("LD_LIBRARY_PATH", dir);
                    }
                }
                cmd.arg("--name=xtask-bench")
                    .arg(format!("--filename={}", file.path.display()))
                    .args(["--rw=randread", "--bs=4k"])
                    .arg(format!("--direct={}", u8::from(file.direct)))
                    .arg(format!("--ioengine={engine}"))
                    .arg(format!("--iodepth={depth}"))
                    .arg(format!("--runtime={}ms", (runtime * 1000.0).round()))
                    .args(["--time_based", "--norandommap", "--randrepeat=0"])
                    .args(["--lat_percentiles=1", "--output-format=json"]);
            }
            Runner::CPlain | Runner::CRing => {
                cmd.arg("--file").arg(&file.path);
                cmd.args(["--rw", "randread", "--bs", "4096", "--depth", &d]);
                cmd.args(["--batch", &d, "--runtime", &t]);
                cmd.args([
                    "--reap",
                    if runner == Runner::CRing {
                        "ring"
                    } else {
                        "syscall"
                    },
                ]);
                if !file.direct {
                    cmd.arg("--buffered");
                }
            }
            Runner::UringLoop => {
                cmd.arg("--file").arg(&file.path);
                cmd.args([
                    "--rw",
                    "randread",
                    "--bs",
                    "4096",
                    "--depth",
                    &d,
                    "--runtime",
                    &t,
                ]);
                if !file.direct {
                    cmd.arg("--buffered");
                }
            }
            Runner::AioBench | Runner::AioBatch | Runner::AioSyscall | Runner::AioEmulated => {
                cmd.arg("--file").arg(&file.path);
                cmd.args([
                    "--rw",
                    "randread",
                    "--bs",
                    "4096",
                    "--depth",
                    &d,
                    "--runtime",
                    &t,
                ]);
                cmd.args(["--json", "--quiet"]);
                match runner {
                    Runner::AioBatch => {
                        cmd.args(["--batch", &d]);
                    }
                    Runner::AioSyscall => {
                        cmd.args(["--batch", &d, "--reap", "syscall"]);
                    }
                    Runner::AioEmulated => {
                        cmd.args(["--backend", "emulated"]);
                    }
                    _ => {}
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

    /// Runs `runner` once.
    pub fn run(&self, runner: Runner, file: &TestFile, depth: u32, runtime: f64) -> Result<Sample> {
        let mut cmd = self.command(runner, file, depth, runtime);
        let stdout = output(&mut cmd)?;
        Ok(parse_output(runner, &stdout)?.0)
    }

    /// Runs fio once under `perf stat` counting its AIO and io_uring system calls (every
    /// thread and child: the tracepoints `syscalls:sys_enter_*`), and returns calls per
    /// operation; `None` with the reason where perf cannot count them here.
    pub fn count_fio_calls(
        &self,
        runner: Runner,
        file: &TestFile,
        depth: u32,
        runtime: f64,
        scratch: &Path,
    ) -> Result<f64, String> {
        const EVENTS: [&str; 4] = [
            "syscalls:sys_enter_io_submit",
            "syscalls:sys_enter_io_getevents",
            "syscalls:sys_enter_io_pgetevents",
            "syscalls:sys_enter_io_uring_enter",
        ];
        let fio = self.command(runner, file, depth, runtime);
        let mut cmd = Command::new("perf");
        cmd.args(["stat", "-x,", "-o"])
            .arg(scratch)
            .args(["-e", &EVENTS.join(","), "--"])
            .arg(fio.get_program())
            .args(fio.get_args());
        // The library fio loads (fio-libaio-ours) goes through perf to fio.
        for (key, value) in fio.get_envs() {
            if let Some(value) = value {
                cmd.env(key, value);
            }
        }
        let stdout = output(&mut cmd)?;
        let (_, ops) = parse_output(runner, &stdout)?;
        let text = std::fs::read_to_string(scratch)
            .map_err(|e| format!("perf's output {}: {e}", scratch.display()))?;
        let calls = perf_counts(&text)?;
        Ok(if ops == 0 {
            0.0
        } else {
            calls as f64 / ops as f64
        })
    }
}

/// The sum of the counts in `perf stat -x,` output; an error if an event was not counted.
fn perf_counts(text: &str) -> Result<u64> {
    let mut total = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut fields = line.split(',');
        let (count, event) = (fields.next().unwrap_or(""), fields.nth(1).unwrap_or(""));
        total += count.parse::<u64>().map_err(|_| {
            format!("perf could not count {event} here ({count}); no syscall tracepoints?")
        })?;
    }
    Ok(total)
}

/// Runs `cmd` and returns its stdout; an error with its stderr if it fails.
fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            stdout.trim()
        ));
    }
    Ok(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_output() {
        let text = r#"{"tool":"aio-bench","batch":"auto","iops":412345.6,"lat_ns":{"p50":1375,"p99":2000},"syscalls_per_op":1.0}"#;
        let (s, _) = parse_output(Runner::AioBench, text).unwrap();
        assert_eq!(s.iops, 412_345.6);
        assert_eq!(
            (s.p50_ns, s.p99_ns, s.syscalls_per_op),
            (1375.0, 2000.0, Some(1.0))
        );
        assert!(parse_output(Runner::CPlain, "{}").is_err());
    }

    #[test]
    fn fio_output() {
        let text = r#"{"fio version":"fio-3.33","jobs":[{"jobname":"x","read":{"iops":20736.2,
            "total_ios":20757,"lat_ns":{"min":1,"percentile":{"50.000000":42496,
            "99.000000":116224}}}}]}"#;
        let (s, ops) = parse_output(Runner::FioUring, text).unwrap();
        assert_eq!(
            (s.iops, ops, s.p50_ns, s.p99_ns),
            (20736.2, 20757, 42496.0, 116224.0)
        );
        assert_eq!(s.syscalls_per_op, None);
    }

    #[test]
    fn perf_output() {
        let text = "# started on x\n\n262568,,syscalls:sys_enter_io_submit,1174115950,100.00,,\n\
                    0,,syscalls:sys_enter_io_uring_enter,1174115950,100.00,,\n";
        assert_eq!(perf_counts(text), Ok(262_568));
        assert!(perf_counts("<not supported>,,syscalls:sys_enter_io_submit,0,100.00,,\n").is_err());
    }

    #[test]
    fn names() {
        for r in Runner::ALL {
            assert_eq!(Runner::from_name(r.name()), Some(r));
        }
        assert_eq!(Runner::from_name("nfs"), None);
    }
}
