//! Command-line options, parsed by hand: `--name value` or `--name=value`.

use aio::{Backend, Reap};
use std::path::PathBuf;
use std::time::Duration;

/// The default size of the temporary file.
pub const DEFAULT_TEMP_SIZE: u64 = 256 << 20;
/// The default run time when neither `--runtime` nor `--ops` is given.
pub const DEFAULT_RUNTIME: Duration = Duration::from_secs(5);
/// The default block size.
pub const DEFAULT_BS: u64 = 4096;
/// The default queue depth.
pub const DEFAULT_DEPTH: u32 = 32;
/// The default xorshift seed (any non-zero value; the C baseline uses the same).
pub const DEFAULT_SEED: u64 = 0x2545_F491_4F6C_DD1D;

/// The help text.
pub const USAGE: &str = "\
aio-bench: measure Linux native AIO (io_submit) on a file or block device

usage: aio-bench [options]

With no options: 4 KiB random O_DIRECT reads at depth 32 for 5 s on a 256 MiB temporary file
in the cargo target directory (removed afterwards; buffered I/O, with a note, where the file
system refuses O_DIRECT).

what:
  --file PATH          an existing file (never written without --write-ok)
  --device PATH        a block device (never written without --write-ok)
  --dir DIR            where to create the temporary file (default: the target directory)
  --size SIZE          bytes of the file to use (default: 256M for the temporary file, else
                       the whole file); a multiple of --bs
  --write-ok           allow writing to --file or --device
how:
  --rw MODE            read | write | randread | randwrite | randrw   (default randread)
  --rwmix PCT          percentage of reads for randrw (default 50)
  --bs SIZE            block size per operation (default 4k)
  --depth N            operations in flight (default 32)
  --batch N|auto       operations per io_submit (default auto: one per call while the device
                       is working, all that are ready in one call when operations complete
                       inside io_submit; see submission policy below)
  --direct             O_DIRECT, or fail (default: O_DIRECT if the file system allows it)
  --buffered           page-cache I/O (completes inside io_submit)
  --reap ring|syscall  reap completions from the mmap'd ring or by io_getevents (default ring)
  --backend B          kernel (native AIO, the default) | emulated (the crate runs each
                       operation itself with pread/pwrite, as where the kernel has no AIO) |
                       auto (kernel, else emulated)
  --nowait             RWF_NOWAIT: operations that would block fail with EAGAIN (counted)
  --seed N             xorshift seed for random offsets (default fixed)
how long:
  --runtime TIME       e.g. 10, 10s, 500ms, 2m (default 5s, or unlimited with --ops)
  --ops N              stop after N operations (k, M, G: ×1000)
output:
  --json               one JSON object on stdout instead of the table
  --quiet              no progress line (it is only shown on a terminal anyway)
  -h, --help           this text
  -V, --version        the version

submission policy: one io_submit of more than 2 operations runs under a block-layer plug,
which hands the requests to the device only once all are prepared; on a device that completes
in bursts the queue then drains and refills in lock-step (measured on ext4 on virtio, depth 32:
~60k IOPS with --batch 32 against ~75k with --batch 1, fio ~70k). Where operations complete
inside io_submit (tmpfs, page cache) the system call is the cost and batching wins (~710k
against ~520k). auto does each where it fits; with --reap syscall it submits one per call.

SIZE takes k, M, G, T suffixes (powers of 1024: 4k = 4096, 1M, 256M; KiB/MiB also accepted).";

/// The kind of job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rw {
    /// Sequential reads.
    Read,
    /// Sequential writes.
    Write,
    /// Random reads.
    RandRead,
    /// Random writes.
    RandWrite,
    /// Random reads and writes, `--rwmix` percent reads.
    RandRw,
}

impl Rw {
    /// The option's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::RandRead => "randread",
            Self::RandWrite => "randwrite",
            Self::RandRw => "randrw",
        }
    }

    /// Whether offsets are random.
    pub fn is_random(self) -> bool {
        matches!(self, Self::RandRead | Self::RandWrite | Self::RandRw)
    }

    /// Whether the job writes.
    pub fn writes(self) -> bool {
        matches!(self, Self::Write | Self::RandWrite | Self::RandRw)
    }

    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "read" => Self::Read,
            "write" => Self::Write,
            "randread" => Self::RandRead,
            "randwrite" => Self::RandWrite,
            "randrw" | "rw" => Self::RandRw,
            _ => {
                return Err(format!(
                    "--rw {s}: expected read, write, randread, randwrite or randrw"
                ));
            }
        })
    }
}

/// What to run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A temporary file created (in `dir`, or the default directory) and removed afterwards.
    Temp {
        /// `--dir`.
        dir: Option<PathBuf>,
    },
    /// `--file`: an existing file.
    File(PathBuf),
    /// `--device`: a block device.
    Device(PathBuf),
}

/// `O_DIRECT` or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoMode {
    /// O_DIRECT where the file system allows it, else buffered with a note.
    Auto,
    /// `--direct`: O_DIRECT or an error.
    Direct,
    /// `--buffered`.
    Buffered,
}

/// Everything a run needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The file.
    pub target: Target,
    /// The job kind.
    pub rw: Rw,
    /// Reads percentage for [`Rw::RandRw`].
    pub rwmix: u8,
    /// Bytes per operation.
    pub bs: u64,
    /// Operations in flight.
    pub depth: u32,
    /// Operations per `io_submit`: `None` is the adaptive default (`--batch auto`, see
    /// [`crate::job`]).
    pub batch: Option<u32>,
    /// Bytes of the file to use (`None`: the whole file, or the temporary file's default).
    pub size: Option<u64>,
    /// Stop issuing after this long (`None`: only `ops` limits the run).
    pub runtime: Option<Duration>,
    /// Stop issuing after this many operations.
    pub ops: Option<u64>,
    /// O_DIRECT or not.
    pub io_mode: IoMode,
    /// How completions are reaped.
    pub reap: Reap,
    /// Kernel AIO or the crate's emulation.
    pub backend: Backend,
    /// `RWF_NOWAIT`.
    pub nowait: bool,
    /// The xorshift seed (non-zero).
    pub seed: u64,
    /// JSON output.
    pub json: bool,
    /// Writing to an existing file or device is allowed.
    pub write_ok: bool,
    /// Show the progress line (on a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            target: Target::Temp { dir: None },
            rw: Rw::RandRead,
            rwmix: 50,
            bs: DEFAULT_BS,
            depth: DEFAULT_DEPTH,
            batch: None,
            size: None,
            runtime: Some(DEFAULT_RUNTIME),
            ops: None,
            io_mode: IoMode::Auto,
            reap: Reap::Ring,
            backend: Backend::Kernel,
            nowait: false,
            seed: DEFAULT_SEED,
            json: false,
            write_ok: false,
            progress: true,
        }
    }
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Run a job.
    Run(Options),
    /// Print the help.
    Help,
    /// Print the version.
    Version,
}

/// Parses a size: a number with an optional binary suffix (`4k` = 4096, `1M`, `256M`, `1G`,
/// `2T`; `KiB`, `KB` and `b` accepted; case-insensitive).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!("{s:?} is not a size (try 4k, 1M, 256M, 1G)"));
    }
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "{s:?}: unknown size suffix {suffix:?} (use k, M, G or T)"
            ));
        }
    };
    let n: u64 = digits.parse().map_err(|_| format!("{s:?} is too large"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Parses a count: an integer with an optional decimal suffix (`100k` = 100 000, `2M`, `1G`).
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1_000),
        Some((i, 'm' | 'M')) => (&t[..i], 1_000_000),
        Some((i, 'g' | 'G')) => (&t[..i], 1_000_000_000),
        _ => (t, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a count (try 100000 or 100k)"))
}

/// Parses a duration: seconds, or a number with `ms`, `s`, `m` or `h` (`500ms`, `2.5s`, `1m`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (try 10, 10s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "{s:?}: unknown time unit {unit:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is out of range"))
}

fn parse_u32(name: &str, s: &str) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| format!("{name} {s}: expected a whole number"))
}

/// Parses the arguments (without the program name).
pub fn parse<I, S>(args: I) -> Result<Command, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut o = Options::default();
    let mut file = None;
    let mut device = None;
    let mut dir = None;
    let mut runtime = None;
    let mut batch = None;
    let mut direct = false;
    let mut buffered = false;
    let mut rwmix_given = false;
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let flag = |inline: &Option<String>| match inline {
            Some(_) => Err(format!("{name} takes no value")),
            None => Ok(()),
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--direct" => {
                flag(&inline)?;
                direct = true;
            }
            "--buffered" => {
                flag(&inline)?;
                buffered = true;
            }
            "--nowait" => {
                flag(&inline)?;
                o.nowait = true;
            }
            "--json" => {
                flag(&inline)?;
                o.json = true;
            }
            "--write-ok" => {
                flag(&inline)?;
                o.write_ok = true;
            }
            "--quiet" | "-q" => {
                flag(&inline)?;
                o.progress = false;
            }
            "--file" | "--device" | "--dir" | "--rw" | "--rwmix" | "--bs" | "--depth"
            | "--batch" | "--size" | "--runtime" | "--ops" | "--reap" | "--backend" | "--seed" => {
                let value = match inline {
                    Some(v) => v,
                    None => args.next().ok_or_else(|| format!("{name} needs a value"))?,
                };
                match name.as_str() {
                    "--file" => file = Some(PathBuf::from(value)),
                    "--device" => device = Some(PathBuf::from(value)),
                    "--dir" => dir = Some(PathBuf::from(value)),
                    "--rw" => o.rw = Rw::parse(&value)?,
                    "--rwmix" => {
                        let pct = parse_u32(&name, &value)?;
                        if pct > 100 {
                            return Err(format!("--rwmix {pct}: a percentage, 0 to 100"));
                        }
                        o.rwmix = pct as u8;
                        rwmix_given = true;
                    }
                    "--bs" => o.bs = parse_size(&value).map_err(|e| format!("--bs: {e}"))?,
                    "--depth" => o.depth = parse_u32(&name, &value)?,
                    "--batch" if value == "auto" => batch = None,
                    "--batch" => batch = Some(parse_u32(&name, &value)?),
                    "--size" => {
                        o.size = Some(parse_size(&value).map_err(|e| format!("--size: {e}"))?)
                    }
                    "--runtime" => {
                        runtime =
                            Some(parse_duration(&value).map_err(|e| format!("--runtime: {e}"))?)
                    }
                    "--ops" => {
                        o.ops = Some(parse_count(&value).map_err(|e| format!("--ops: {e}"))?)
                    }
                    "--reap" => {
                        o.reap = match value.as_str() {
                            "ring" => Reap::Ring,
                            "syscall" => Reap::Syscall,
                            _ => return Err(format!("--reap {value}: expected ring or syscall")),
                        }
                    }
                    "--backend" => {
                        o.backend = match value.as_str() {
                            "kernel" => Backend::Kernel,
                            "emulated" => Backend::Emulated,
                            "auto" => Backend::KernelOrEmulated,
                            _ => {
                                return Err(format!(
                                    "--backend {value}: expected kernel, emulated or auto"
                                ));
                            }
                        }
                    }
                    "--seed" => {
                        o.seed = parse_count(&value).map_err(|e| format!("--seed: {e}"))?;
                        if o.seed == 0 {
                            return Err("--seed must not be 0 (xorshift would stay at 0)".into());
                        }
                    }
                    _ => unreachable!("listed above"),
                }
            }
            _ if name.starts_with('-') => {
                return Err(format!("unknown option {name} (see --help)"));
            }
            _ => return Err(format!("unexpected argument {arg:?} (see --help)")),
        }
    }

    o.target = match (file, device, dir) {
        (Some(_), Some(_), _) => return Err("--file and --device are exclusive".into()),
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
            return Err(
                "--dir is for the temporary file; it makes no sense with --file or --device".into(),
            );
        }
        (Some(f), None, None) => Target::File(f),
        (None, Some(d), None) => Target::Device(d),
        (None, None, dir) => Target::Temp { dir },
    };
    o.io_mode = match (direct, buffered) {
        (true, true) => return Err("--direct and --buffered are exclusive".into()),
        (true, false) => IoMode::Direct,
        (false, true) => IoMode::Buffered,
        (false, false) => IoMode::Auto,
    };
    if rwmix_given && o.rw != Rw::RandRw {
        return Err("--rwmix only applies to --rw randrw".into());
    }
    if o.bs == 0 {
        return Err("--bs must be at least 1 byte".into());
    }
    if usize::try_from(o.bs).is_err() || o.bs > 1 << 30 {
        return Err(format!("--bs {}: at most 1G per operation", o.bs));
    }
    if o.depth == 0 {
        return Err("--depth must be at least 1".into());
    }
    o.batch = batch;
    if o.batch == Some(0) {
        return Err("--batch must be at least 1 (or auto)".into());
    }
    if let Some(batch) = o.batch.filter(|b| *b > o.depth) {
        return Err(format!(
            "--batch {batch} exceeds --depth {}: a submit cannot hold more operations than are in flight",
            o.depth
        ));
    }
    if let Some(size) = o.size {
        if size == 0 {
            return Err("--size must not be 0".into());
        }
        if size % o.bs != 0 {
            return Err(format!(
                "--size {size} is not a multiple of --bs {}: use a size of whole blocks",
                o.bs
            ));
        }
    }
    if o.ops == Some(0) {
        return Err("--ops must be at least 1".into());
    }
    o.runtime = match (runtime, o.ops) {
        (Some(t), _) if t.is_zero() => return Err("--runtime must be above 0".into()),
        (Some(t), _) => Some(t),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_RUNTIME),
    };
    Ok(Command::Run(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse(args.iter().copied())? {
            Command::Run(o) => Ok(o),
            other => panic!("not a run: {other:?}"),
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("256mb"), Ok(256 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("512b"), Ok(512));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("").is_err());
        assert!(parse_size("k").is_err());
        assert!(parse_size("4x").is_err());
        assert!(parse_size("-4k").is_err());
        assert!(parse_size("1.5M").is_err());
        assert!(parse_size("99999999999T").is_err(), "overflow");
    }

    #[test]
    fn counts_and_durations() {
        assert_eq!(parse_count("100000"), Ok(100_000));
        assert_eq!(parse_count("100k"), Ok(100_000));
        assert_eq!(parse_count("2M"), Ok(2_000_000));
        assert!(parse_count("x").is_err());
        assert!(parse_count("k").is_err());
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn defaults() {
        let o = run(&[]).unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(o.target, Target::Temp { dir: None });
        assert_eq!(
            (o.rw, o.bs, o.depth, o.batch),
            (Rw::RandRead, 4096, 32, None)
        );
        assert_eq!(o.runtime, Some(DEFAULT_RUNTIME));
        assert_eq!((o.io_mode, o.reap), (IoMode::Auto, Reap::Ring));
    }

    #[test]
    fn everything() {
        let o = run(&[
            "--file",
            "/x",
            "--rw",
            "randrw",
            "--rwmix=70",
            "--bs",
            "16k",
            "--depth",
            "64",
            "--batch",
            "8",
            "--size",
            "1G",
            "--ops",
            "1M",
            "--runtime",
            "3s",
            "--direct",
            "--reap",
            "syscall",
            "--backend",
            "emulated",
            "--nowait",
            "--json",
            "--write-ok",
            "--seed",
            "7",
            "--quiet",
        ])
        .unwrap();
        assert_eq!(o.target, Target::File("/x".into()));
        assert_eq!((o.rw, o.rwmix, o.bs), (Rw::RandRw, 70, 16384));
        assert_eq!((o.depth, o.batch, o.size), (64, Some(8), Some(1 << 30)));
        assert_eq!(
            (o.ops, o.runtime),
            (Some(1_000_000), Some(Duration::from_secs(3)))
        );
        assert_eq!((o.io_mode, o.reap), (IoMode::Direct, Reap::Syscall));
        assert_eq!(o.backend, Backend::Emulated);
        assert!(o.nowait && o.json && o.write_ok && !o.progress);
        assert_eq!(o.seed, 7);
    }

    #[test]
    fn batch_is_auto_by_default_and_ops_lifts_the_time_limit() {
        let o = run(&["--depth", "1"]).unwrap();
        assert_eq!((o.depth, o.batch), (1, None));
        assert_eq!(run(&["--batch", "auto"]).unwrap().batch, None);
        assert_eq!(run(&["--batch=4"]).unwrap().batch, Some(4));
        let o = run(&["--ops", "1000"]).unwrap();
        assert_eq!((o.ops, o.runtime), (Some(1000), None));
        let o = run(&["--device", "/dev/null", "--buffered"]).unwrap();
        assert_eq!(o.target, Target::Device("/dev/null".into()));
        assert_eq!(o.io_mode, IoMode::Buffered);
        let o = run(&["--dir", "/dev/shm"]).unwrap();
        assert_eq!(
            o.target,
            Target::Temp {
                dir: Some("/dev/shm".into())
            }
        );
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(["--help"]), Ok(Command::Help));
        assert_eq!(parse(["--depth", "4", "-h"]), Ok(Command::Help));
        assert_eq!(parse(["-V"]), Ok(Command::Version));
    }

    #[test]
    fn errors() {
        let err = |args: &[&str]| run(args).unwrap_err();
        assert!(err(&["--size", "1000"]).contains("not a multiple of --bs 4096"));
        assert!(err(&["--bs", "4k", "--size", "6k"]).contains("not a multiple"));
        assert!(err(&["--depth", "0"]).contains("at least 1"));
        assert!(err(&["--depth", "4", "--batch", "8"]).contains("exceeds --depth"));
        assert!(err(&["--rw", "scribble"]).contains("randread"));
        assert!(err(&["--reap", "magic"]).contains("ring or syscall"));
        assert!(err(&["--backend", "threads"]).contains("kernel, emulated or auto"));
        assert!(err(&["--bogus"]).contains("unknown option --bogus"));
        assert!(err(&["stray"]).contains("unexpected argument"));
        assert!(err(&["--bs"]).contains("--bs needs a value"));
        assert!(err(&["--json=yes"]).contains("takes no value"));
        assert!(err(&["--direct", "--buffered"]).contains("exclusive"));
        assert!(err(&["--file", "a", "--device", "b"]).contains("exclusive"));
        assert!(err(&["--file", "a", "--dir", "b"]).contains("--dir"));
        assert!(err(&["--rwmix", "30"]).contains("randrw"));
        assert!(err(&["--rw", "randrw", "--rwmix", "130"]).contains("percentage"));
        assert!(err(&["--bs", "0"]).contains("--bs"));
        assert!(err(&["--bs", "4G"]).contains("at most 1G"));
        assert!(err(&["--runtime", "0"]).contains("above 0"));
        assert!(err(&["--ops", "0"]).contains("at least 1"));
        assert!(err(&["--seed", "0"]).contains("0"));
        assert!(err(&["--size", "0"]).contains("not be 0"));
    }
}
