//! Command-line options, parsed with clap (derive): [`parse`] turns the arguments into
//! [`Options`], checked across options.
//!
//! Single values are checked by their parsers ([`parse_size`], [`parse_count`],
//! [`parse_duration`] and a few stricter wrappers), so that clap names the option in the error;
//! what depends on several options (exclusive options, `--size` against `--bs`, `--batch`
//! against `--depth`, …) is checked after parsing, in the same error format.

use aio::{Backend, Reap};
use clap::error::ErrorKind;
use clap::{ArgAction, CommandFactory, Parser};
use std::ffi::OsString;
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

/// The help's first line.
const ABOUT: &str = "aio-bench: measure Linux native AIO (io_submit) on a file or block device";

/// The help's paragraph after the usage line: the default job.
const DEFAULT_JOB: &str = "\
With no options: 4 KiB random O_DIRECT reads at depth 32 for 5 s on a 256 MiB temporary file
(removed afterwards; buffered I/O, with a note, where the file system refuses O_DIRECT) in the
cargo target directory the program was built in, or, for a program installed elsewhere, in
$TMPDIR (else /tmp); --dir chooses another. The summary names the file.";

/// The help's closing paragraphs.
const AFTER_HELP: &str = "\
Submission policy: one io_submit of more than 2 operations runs under a block-layer plug,
which hands the requests to the device only once all are prepared; on a device that completes
in bursts the queue then drains and refills in lock-step, and one operation per call keeps it
busier. Where operations complete inside io_submit (tmpfs, page cache) the system call is the
cost and batching wins. auto does each where it fits (the README shows what each earned on
the project's machine); with --reap syscall it submits one per call.

The report's latencies, per operation, as fio names them: slat (submission latency) from the
push until the io_submit that carried it returned (where the file completes inside io_submit,
this is the I/O itself); clat (completion latency) from that return until the completion was
reaped; lat (total) from push to reap. Each with min, percentiles, max, mean and stdev (the
population standard deviation); the JSON adds fio's 17 default percentiles under
\"percentile\". The push time is read once per turn of the loop, right after the reap before
it. ring-reaped: the share of completions copied from the kernel's mapped ring without a
system call (the rest came from io_getevents).

SIZE takes k, M, G, T suffixes (powers of 1024: 4k = 4096, 1M, 256M; KiB/MiB also accepted).

Ctrl-C ends the run: the operations in flight are collected and the summary of what ran is
printed (in a sweep, the depths that ran; the current one cut short), with exit status 130. A
second Ctrl-C exits at once.";

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

    /// Parses `--rw`'s value (`rw` is accepted for `randrw`).
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "read" => Self::Read,
            "write" => Self::Write,
            "randread" => Self::RandRead,
            "randwrite" => Self::RandWrite,
            "randrw" | "rw" => Self::RandRw,
            _ => return Err("expected read, write, randread, randwrite or randrw".into()),
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
    /// `--depths`: run the job once per depth (`depth` set to each), in this order; empty for
    /// a single run at `depth`.
    pub depths: Vec<u32>,
    /// `--plot`: where to write the SVG chart of a sweep.
    pub plot: Option<PathBuf>,
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
            depths: Vec::new(),
            plot: None,
        }
    }
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

// The stricter value parsers: clap prefixes their messages with the option and the value
// ("invalid value '0' for '--depth <N>': must be at least 1").

fn whole_number(s: &str) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| "expected a whole number".to_string())
}

fn at_least_one(s: &str) -> Result<u32, String> {
    match whole_number(s)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

fn block_size(s: &str) -> Result<u64, String> {
    match parse_size(s)? {
        0 => Err("must be at least 1 byte".into()),
        n if n > 1 << 30 || usize::try_from(n).is_err() => {
            Err(format!("{n} bytes: at most 1G per operation"))
        }
        n => Ok(n),
    }
}

fn file_size(s: &str) -> Result<u64, String> {
    match parse_size(s)? {
        0 => Err("must not be 0".into()),
        n => Ok(n),
    }
}

fn percentage(s: &str) -> Result<u8, String> {
    match whole_number(s) {
        Ok(pct) if pct <= 100 => Ok(pct as u8),
        _ => Err("a percentage, 0 to 100".into()),
    }
}

pub(crate) fn runtime(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        t if t.is_zero() => Err("must be above 0".into()),
        t => Ok(t),
    }
}

fn op_count(s: &str) -> Result<u64, String> {
    match parse_count(s)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

pub(crate) fn seed(s: &str) -> Result<u64, String> {
    match parse_count(s)? {
        0 => Err("must not be 0 (xorshift would stay at 0)".into()),
        n => Ok(n),
    }
}

/// `--batch`'s value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Batch {
    Auto,
    Fixed(u32),
}

fn batch(s: &str) -> Result<Batch, String> {
    if s.trim() == "auto" {
        return Ok(Batch::Auto);
    }
    at_least_one(s)
        .map(Batch::Fixed)
        .map_err(|_| "expected auto or a number of operations, at least 1".into())
}

fn reap(s: &str) -> Result<Reap, String> {
    match s {
        "ring" => Ok(Reap::Ring),
        "syscall" => Ok(Reap::Syscall),
        _ => Err("expected ring or syscall".into()),
    }
}

fn backend(s: &str) -> Result<Backend, String> {
    match s {
        "kernel" => Ok(Backend::Kernel),
        "emulated" => Ok(Backend::Emulated),
        "auto" => Ok(Backend::KernelOrEmulated),
        _ => Err("expected kernel, emulated or auto".into()),
    }
}

// The command line as clap sees it; `Cli::check` turns it into `Options`. (Plain comments:
// a doc comment here would become clap's long help.) The help strings are wrapped by hand
// (clap's `wrap_help` feature is off): a continuation line is indented under the first.
#[derive(Debug, Parser)]
#[command(
    name = "aio-bench",
    version,
    about = ABOUT,
    before_help = DEFAULT_JOB,
    after_help = AFTER_HELP,
    help_template = "{about-with-newline}\n{usage-heading} {usage}\n\n{before-help}{all-args}{after-help}",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Cli {
    // what
    /// an existing file (never written without --write-ok)
    #[arg(long, value_name = "PATH", help_heading = "What")]
    file: Option<PathBuf>,
    /// a block device (never written without --write-ok)
    #[arg(long, value_name = "PATH", help_heading = "What")]
    device: Option<PathBuf>,
    /// where to create the temporary file (default: the target directory)
    #[arg(long, value_name = "DIR", help_heading = "What")]
    dir: Option<PathBuf>,
    /// bytes of the file to use (default: 256M for the temporary file, else
    /// the whole file); a multiple of --bs
    #[arg(long, value_name = "SIZE", value_parser = file_size, help_heading = "What", verbatim_doc_comment)]
    size: Option<u64>,
    /// allow writing to --file or --device
    #[arg(long, help_heading = "What")]
    write_ok: bool,

    // how
    /// read | write | randread | randwrite | randrw   (default randread)
    #[arg(long, value_name = "MODE", value_parser = Rw::parse, help_heading = "How")]
    rw: Option<Rw>,
    /// percentage of reads for randrw (default 50)
    #[arg(long, value_name = "PCT", value_parser = percentage, help_heading = "How")]
    rwmix: Option<u8>,
    /// block size per operation (default 4k)
    #[arg(long, value_name = "SIZE", value_parser = block_size, help_heading = "How")]
    bs: Option<u64>,
    /// operations in flight (default 32)
    #[arg(long, value_name = "N", value_parser = at_least_one, help_heading = "How")]
    depth: Option<u32>,
    /// a sweep: the job once per depth (e.g. 1,2,4,8,16,32,64,128,256) on the
    /// same file, then one table; instead of --depth
    #[arg(long, value_name = "D,..", value_delimiter = ',', value_parser = at_least_one, help_heading = "How", verbatim_doc_comment)]
    depths: Vec<u32>,
    /// operations per io_submit (default auto: one per call while the device
    /// is working, all that are ready in one call when operations complete
    /// inside io_submit; see the submission policy below)
    #[arg(long, value_name = "N|auto", value_parser = batch, help_heading = "How", verbatim_doc_comment)]
    batch: Option<Batch>,
    /// O_DIRECT, or fail (default: O_DIRECT if the file system allows it)
    #[arg(long, help_heading = "How")]
    direct: bool,
    /// page-cache I/O (completes inside io_submit)
    #[arg(long, help_heading = "How")]
    buffered: bool,
    /// ring (from the mmap'd ring, the default) | syscall (io_getevents)
    #[arg(long, value_name = "HOW", value_parser = reap, help_heading = "How")]
    reap: Option<Reap>,
    /// kernel (native AIO, the default) | emulated (the crate runs each
    /// operation itself with pread/pwrite, as where the kernel has no AIO) |
    /// auto (kernel, else emulated)
    #[arg(long, value_name = "B", value_parser = backend, help_heading = "How", verbatim_doc_comment)]
    backend: Option<Backend>,
    /// RWF_NOWAIT: operations that would block fail with EAGAIN (counted)
    #[arg(long, help_heading = "How")]
    nowait: bool,
    /// xorshift seed for random offsets (default fixed)
    #[arg(long, value_name = "N", value_parser = seed, help_heading = "How")]
    seed: Option<u64>,

    // how long
    /// e.g. 10, 10s, 500ms, 2m (default 5s, or unlimited with --ops);
    /// in a sweep, each depth runs this long
    #[arg(long, value_name = "TIME", value_parser = runtime, help_heading = "How long", verbatim_doc_comment)]
    runtime: Option<Duration>,
    /// stop after N operations (k, M, G: ×1000); per depth in a sweep
    #[arg(long, value_name = "N", value_parser = op_count, help_heading = "How long")]
    ops: Option<u64>,

    // output
    /// one JSON object on stdout instead of the table (a sweep's runs in "sweep")
    #[arg(long, help_heading = "Output")]
    json: bool,
    /// with --depths: write an SVG chart of IOPS and p99 latency against depth
    #[arg(long, value_name = "FILE.svg", help_heading = "Output")]
    plot: Option<PathBuf>,
    /// no progress line (it is only shown on a terminal anyway)
    #[arg(short, long, help_heading = "Output")]
    quiet: bool,
    /// this text
    #[arg(short, long, action = ArgAction::Help, help_heading = "Output")]
    help: Option<bool>,
    /// the version
    #[arg(short = 'V', long, action = ArgAction::Version, help_heading = "Output")]
    version: Option<bool>,
}

/// A usage error found after parsing, in clap's format (and with clap's exit status, 2).
fn usage_error(kind: ErrorKind, message: impl std::fmt::Display) -> clap::Error {
    Cli::command().error(kind, message)
}

impl Cli {
    /// The checks across options, and the defaults that depend on other options.
    fn check(self) -> Result<Options, clap::Error> {
        use ErrorKind::{ArgumentConflict, ValueValidation};
        let target = match (self.file, self.device, self.dir) {
            (Some(_), Some(_), _) => {
                return Err(usage_error(
                    ArgumentConflict,
                    "--file and --device are exclusive: pick the one to run on",
                ));
            }
            (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                return Err(usage_error(
                    ArgumentConflict,
                    "--dir is for the temporary file; it makes no sense with --file or --device",
                ));
            }
            (Some(f), None, None) => Target::File(f),
            (None, Some(d), None) => Target::Device(d),
            (None, None, dir) => Target::Temp { dir },
        };
        let io_mode = match (self.direct, self.buffered) {
            (true, true) => {
                return Err(usage_error(
                    ArgumentConflict,
                    "--direct and --buffered are exclusive",
                ));
            }
            (true, false) => IoMode::Direct,
            (false, true) => IoMode::Buffered,
            (false, false) => IoMode::Auto,
        };
        let rw = self.rw.unwrap_or(Rw::RandRead);
        if self.rwmix.is_some() && rw != Rw::RandRw {
            return Err(usage_error(
                ArgumentConflict,
                format!(
                    "--rwmix only applies to --rw randrw (this job is {})",
                    rw.name()
                ),
            ));
        }
        let bs = self.bs.unwrap_or(DEFAULT_BS);
        let depth = self.depth.unwrap_or(DEFAULT_DEPTH);
        let batch = match self.batch {
            None | Some(Batch::Auto) => None,
            Some(Batch::Fixed(n)) => Some(n),
        };
        if let Some(batch) = batch.filter(|b| *b > depth) {
            return Err(usage_error(
                ValueValidation,
                format!(
                    "--batch {batch} exceeds --depth {depth}: a submit cannot hold more \
                     operations than are in flight"
                ),
            ));
        }
        if self.depth.is_some() && !self.depths.is_empty() {
            return Err(usage_error(
                ArgumentConflict,
                "--depth and --depths are exclusive: --depths runs the job once per depth in \
                 its list",
            ));
        }
        if let Some(dup) = self
            .depths
            .iter()
            .enumerate()
            .find_map(|(i, d)| self.depths[..i].contains(d).then_some(*d))
        {
            return Err(usage_error(
                ValueValidation,
                format!("--depths lists {dup} more than once: name each depth once"),
            ));
        }
        if let (Some(batch), Some(&smallest)) = (batch, self.depths.iter().min()) {
            if batch > smallest {
                return Err(usage_error(
                    ValueValidation,
                    format!(
                        "--batch {batch} exceeds depth {smallest} of --depths: a submit cannot \
                         hold more operations than are in flight (use --batch auto, or a batch \
                         no larger than the smallest depth)"
                    ),
                ));
            }
        }
        if self.plot.is_some() && self.depths.is_empty() {
            return Err(usage_error(
                ArgumentConflict,
                "--plot draws a sweep's chart: it needs --depths (e.g. --depths 1,2,4,8,16,32)",
            ));
        }
        if let Some(size) = self.size.filter(|size| size % bs != 0) {
            return Err(usage_error(
                ValueValidation,
                format!("--size {size} is not a multiple of --bs {bs}: use a size of whole blocks"),
            ));
        }
        let runtime = match (self.runtime, self.ops) {
            (Some(t), _) => Some(t),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_RUNTIME),
        };
        Ok(Options {
            target,
            rw,
            rwmix: self.rwmix.unwrap_or(50),
            bs,
            depth,
            batch,
            size: self.size,
            runtime,
            ops: self.ops,
            io_mode,
            reap: self.reap.unwrap_or(Reap::Ring),
            backend: self.backend.unwrap_or(Backend::Kernel),
            nowait: self.nowait,
            seed: self.seed.unwrap_or(DEFAULT_SEED),
            json: self.json,
            write_ok: self.write_ok,
            progress: !self.quiet,
            depths: self.depths,
            plot: self.plot,
        })
    }
}

/// The clap command behind [`parse`] (its help: `command().render_help()`).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses the arguments (without the program name) and checks them across options.
///
/// `--help` and `--version` come back as errors of kind [`ErrorKind::DisplayHelp`] and
/// [`ErrorKind::DisplayVersion`], as clap does: [`clap::Error::exit`] prints them on stdout and
/// exits with status 0, and a usage error on stderr with status 2.
pub fn parse<I, S>(args: I) -> Result<Options, clap::Error>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString> + Clone,
{
    let argv = std::iter::once(OsString::from("aio-bench")).chain(args.into_iter().map(Into::into));
    Cli::try_parse_from(argv)?.check()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().copied()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_command_is_consistent() {
        command().debug_assert();
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
        assert!(!run(&["-q"]).unwrap().progress);
        assert_eq!(run(&["--rw", "rw"]).unwrap().rw, Rw::RandRw);
        assert_eq!(
            run(&["--backend=auto"]).unwrap().backend,
            Backend::KernelOrEmulated
        );
        assert_eq!(
            run(&["--backend", "kernel"]).unwrap().backend,
            Backend::Kernel
        );
        for rw in [Rw::Read, Rw::Write, Rw::RandRead, Rw::RandWrite, Rw::RandRw] {
            assert_eq!(run(&["--rw", rw.name()]).unwrap().rw, rw);
        }
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
    fn sweeps() {
        let o = run(&["--depths", "1,2,4,256", "--plot", "/tmp/s.svg"]).unwrap();
        assert_eq!(o.depths, vec![1, 2, 4, 256]);
        assert_eq!(o.plot, Some("/tmp/s.svg".into()));
        assert_eq!(o.depth, DEFAULT_DEPTH);
        assert_eq!(run(&["--depths=8"]).unwrap().depths, vec![8]);
        assert_eq!(
            run(&["--depths", "4,8", "--batch", "4"]).unwrap().batch,
            Some(4)
        );
        assert_eq!(
            run(&["--depths", "1,8", "--batch", "auto"]).unwrap().batch,
            None
        );
        assert!(run(&[]).unwrap().depths.is_empty());
    }

    #[test]
    fn help_and_version() {
        let kind = |args: &[&str]| parse(args.iter().copied()).unwrap_err().kind();
        assert_eq!(kind(&["--help"]), ErrorKind::DisplayHelp);
        assert_eq!(kind(&["--depth", "4", "-h"]), ErrorKind::DisplayHelp);
        assert_eq!(kind(&["-V"]), ErrorKind::DisplayVersion);
        assert_eq!(kind(&["--version"]), ErrorKind::DisplayVersion);
        let version = parse(["-V"]).unwrap_err().to_string();
        assert_eq!(
            version.trim(),
            format!("aio-bench {}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn the_help_has_its_sections_and_paragraphs() {
        let shown = |flag: &str| {
            let e = parse([flag]).unwrap_err();
            assert_eq!((e.kind(), e.exit_code()), (ErrorKind::DisplayHelp, 0));
            e.to_string()
        };
        let help = shown("--help");
        let at = |needle: &str| {
            help.find(needle)
                .unwrap_or_else(|| panic!("{needle:?} missing from the help:\n{help}"))
        };
        let order = [
            at(ABOUT),
            at("Usage: aio-bench [OPTIONS]"),
            at("With no options: 4 KiB random O_DIRECT reads"),
            at("What:"),
            at("--file <PATH>"),
            at("How:"),
            at("--depths <D,..>"),
            at("--batch <N|auto>"),
            at("How long:"),
            at("--runtime <TIME>"),
            at("Output:"),
            at("--plot <FILE.svg>"),
            at("-h, --help"),
            at("-V, --version"),
            at("Submission policy:"),
            at("SIZE takes k, M, G, T suffixes"),
        ];
        assert!(order.is_sorted(), "sections out of order:\n{help}");
        // The same text for -h and --help, and no line wider than 100 columns.
        assert_eq!(help, shown("-h"));
        for line in help.lines() {
            assert!(line.chars().count() <= 100, "too wide: {line:?}");
        }
    }

    #[test]
    fn errors() {
        let err = |args: &[&str]| run(args).unwrap_err();
        assert!(err(&["--size", "1000"]).contains("not a multiple of --bs 4096"));
        assert!(err(&["--bs", "4k", "--size", "6k"]).contains("not a multiple"));
        assert!(err(&["--depth", "0"]).contains("at least 1"));
        assert!(err(&["--depth", "x"]).contains("whole number"));
        assert!(err(&["--depth", "4", "--batch", "8"]).contains("exceeds --depth"));
        assert!(err(&["--batch", "0"]).contains("auto or a number"));
        assert!(err(&["--rw", "scribble"]).contains("randread"));
        assert!(err(&["--reap", "magic"]).contains("ring or syscall"));
        assert!(err(&["--backend", "threads"]).contains("kernel, emulated or auto"));
        assert!(err(&["--bogus"]).contains("unexpected argument '--bogus'"));
        assert!(err(&["stray"]).contains("unexpected argument 'stray'"));
        assert!(err(&["--bs"]).contains("a value is required for '--bs <SIZE>'"));
        assert!(err(&["--json=yes"]).contains("unexpected value 'yes' for '--json'"));
        assert!(err(&["--direct", "--buffered"]).contains("exclusive"));
        assert!(err(&["--file", "a", "--device", "b"]).contains("exclusive"));
        assert!(err(&["--file", "a", "--dir", "b"]).contains("--dir"));
        assert!(err(&["--rwmix", "30"]).contains("randrw"));
        assert!(err(&["--rw", "randrw", "--rwmix", "130"]).contains("percentage"));
        assert!(err(&["--bs", "0"]).contains("--bs"));
        assert!(err(&["--bs", "4G"]).contains("at most 1G"));
        assert!(err(&["--bs", "4x"]).contains("unknown size suffix"));
        assert!(err(&["--runtime", "0"]).contains("above 0"));
        assert!(err(&["--ops", "0"]).contains("at least 1"));
        assert!(err(&["--seed", "0"]).contains("must not be 0"));
        assert!(err(&["--size", "0"]).contains("not be 0"));
        assert!(err(&["--depths", "1,0"]).contains("at least 1"));
        assert!(err(&["--depths", "1,,4"]).contains("--depths"));
        assert!(err(&["--depths", "1,x"]).contains("whole number"));
        assert!(err(&["--depths", "1,2", "--depth", "4"]).contains("exclusive"));
        assert!(err(&["--depths", "2,4,2"]).contains("more than once"));
        assert!(err(&["--depths", "16,4", "--batch", "8"]).contains("exceeds depth 4 of --depths"));
        assert!(err(&["--plot", "x.svg"]).contains("needs --depths"));
        // Usage errors exit with status 2 and name the option.
        let e = parse(["--depth", "0"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--depth"));
        let e = parse(["--direct", "--buffered"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
