//! The command line of `aio-async-bench`, parsed with clap (derive) as `aio-bench`'s is, with
//! the same value parsers for the options both have (`--runtime`, `--seed`, sizes:
//! `crate::args`).

use super::Engine;
use crate::args::{DEFAULT_SEED, parse_size};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

const ABOUT: &str = "\
aio-async-bench: 4 KiB random reads through aio's async API (aio::rt::tokio::Handle), against
the synchronous aio::Context and tokio's blocking pool (spawn_blocking + pread)";

const BEFORE_HELP: &str = "\
Each file is filled with a pattern (every 4 KiB block starts with its number, u64 LE; each
read is checked), then for every depth the engines run in alternating rounds on it; the files
are removed at the end. Engines:
  sync       one thread, aio::Context<AlignedBuf>, ring reaping, registered file: keeps
             DEPTH reads in flight (push until full, io_submit, wait(1), drain), with
             aio-bench's --batch auto: one read per io_submit while the device is
             working, the whole refill in one call where reads complete inside it
  async      a tokio multi-thread runtime (--workers), one Handle<AlignedBuf> of depth
             DEPTH, registered file; TASKS tasks loop on handle.read_at(..).await
             (DEPTH/TASKS each, through a JoinSet when more than one)
  tokio-fs   the same runtime; TASKS tasks loop on spawn_blocking(pread) on an Arc<File>
             opened with the same flags (DEPTH/TASKS each)";

const AFTER_HELP: &str = "\
SIZE takes k, M, G suffixes (powers of 1024). Progress goes to stderr. IOPS and CPU µs/op
are medians over the rounds; ratios are medians of each round's paired ratio. CPU is the
whole process's (CLOCK_PROCESS_CPUTIME_ID: user + system, all threads) during the run.
Exit status: 0 done (whether or not the targets are met), 1 error, 2 bad usage.";

/// Which test file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// In `/dev/shm`.
    Tmpfs,
    /// In `--dir`.
    Dir,
}

impl FileKind {
    /// The option's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tmpfs => "tmpfs",
            Self::Dir => "dir",
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "tmpfs" => Ok(Self::Tmpfs),
            "dir" | "ext4" => Ok(Self::Dir),
            other => Err(format!("unknown file {other:?} (tmpfs or dir)")),
        }
    }
}

/// The parsed options.
#[derive(Clone, Debug)]
pub struct Options {
    pub files: Vec<FileKind>,
    pub dir: PathBuf,
    pub tmpfs_size: u64,
    pub dir_size: u64,
    pub depths: Vec<usize>,
    /// `None`: as many as the depth.
    pub tasks: Option<usize>,
    pub engines: Vec<Engine>,
    pub workers: usize,
    pub runtime: Duration,
    pub rounds: usize,
    pub seed: u64,
    pub json: bool,
    /// The async engine's driver policies (`--without` turns some off).
    pub heuristics: aio::rt::Heuristics,
}

/// The largest depth accepted (a kernel AIO context of that many events per run).
const MAX_DEPTH: usize = 4096;

/// An adaptive policy of the driver (`--without`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    Quiet,
    Helper,
    Yield,
    Chunks,
}

fn policy(s: &str) -> Result<Policy, String> {
    Ok(match s.trim() {
        "quiet" => Policy::Quiet,
        "helper" => Policy::Helper,
        "yield" => Policy::Yield,
        "chunks" => Policy::Chunks,
        other => {
            return Err(format!(
                "unknown policy {other:?} (quiet, helper, yield, chunks)"
            ));
        }
    })
}

fn number(s: &str, min: usize, max: usize) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(format!("out of range ({min} to {max})")),
        Err(_) => Err("expected a whole number".into()),
    }
}

fn depth(s: &str) -> Result<usize, String> {
    number(s, 1, MAX_DEPTH)
}

fn workers(s: &str) -> Result<usize, String> {
    number(s, 0, 64)
}

fn rounds(s: &str) -> Result<usize, String> {
    number(s, 1, 1000)
}

fn file_size(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    if n < 4096 || n % 4096 != 0 {
        return Err("must be a multiple of 4096 bytes, at least 4k".into());
    }
    Ok(n)
}

// The command line as clap sees it (plain comments: a doc comment here would become clap's
// long help); `Cli::check` turns it into `Options`.
#[derive(Debug, Parser)]
#[command(
    name = "aio-async-bench",
    version,
    about = ABOUT,
    before_help = BEFORE_HELP,
    after_help = AFTER_HELP,
    help_template = "{about-with-newline}\n{usage-heading} {usage}\n\n{before-help}{all-args}{after-help}"
)]
struct Cli {
    /// which files, comma-separated: tmpfs (/dev/shm/aio-async-bench-PID,
    ///   O_DIRECT, buffered with a note if refused), dir
    ///   (aio-async-bench-PID.tmp in --dir, O_DIRECT; alias ext4); default both
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = FileKind::parse, default_value = "tmpfs,dir", hide_default_value = true, verbatim_doc_comment)]
    files: Vec<FileKind>,
    /// where the dir file goes (default $CARGO_TARGET_DIR, else ./target)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// size of the tmpfs file
    #[arg(long, value_name = "SIZE", value_parser = file_size, default_value = "256M")]
    tmpfs_size: u64,
    /// size of the dir file
    #[arg(long, value_name = "SIZE", value_parser = file_size, default_value = "1G")]
    dir_size: u64,
    /// reads in flight, comma-separated
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = depth, default_value = "1,32")]
    depths: Vec<usize>,
    /// tasks of the async and tokio-fs engines (default: the depth, one
    ///   read in flight each); capped at the depth
    #[arg(long, value_name = "N", value_parser = depth, verbatim_doc_comment)]
    tasks: Option<usize>,
    /// tokio worker threads of the async and tokio-fs engines
    ///   (0: the current-thread runtime)
    #[arg(long, value_name = "N", value_parser = workers, default_value = "2", verbatim_doc_comment)]
    workers: usize,
    /// comma-separated subset of sync,async,tokio-fs (default: all)
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = Engine::parse, default_value = "sync,async,tokio-fs", hide_default_value = true)]
    engines: Vec<Engine>,
    /// per run, e.g. 2, 2s, 500ms
    #[arg(long, value_name = "TIME", value_parser = crate::args::runtime, default_value = "2s")]
    runtime: Duration,
    /// rounds per file and depth; each runs every engine once, in
    ///   rotating order
    #[arg(long, value_name = "N", value_parser = rounds, default_value = "5", verbatim_doc_comment)]
    rounds: usize,
    /// xorshift seed of the offsets (default fixed)
    #[arg(long, value_name = "N", value_parser = crate::args::seed)]
    seed: Option<u64>,
    /// the async engine without some of the driver's adaptive policies,
    ///   comma-separated: quiet (quiet submissions), helper (the second
    ///   submitter), yield (adaptive yield: always yield), chunks (calls of
    ///   at most 8 iocbs while a device sets the pace); to measure what
    ///   each earns
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = policy, verbatim_doc_comment)]
    without: Vec<Policy>,
    /// one JSON object on stdout instead of the markdown tables
    #[arg(long)]
    json: bool,
}

/// A list option's values, each once.
fn no_repeats<T: PartialEq + std::fmt::Debug>(
    option: &str,
    values: &[T],
) -> Result<(), clap::Error> {
    for (i, v) in values.iter().enumerate() {
        if values[..i].contains(v) {
            return Err(Cli::command().error(
                ErrorKind::ValueValidation,
                format!("{option}: {v:?} is listed twice"),
            ));
        }
    }
    Ok(())
}

impl Cli {
    fn check(self) -> Result<Options, clap::Error> {
        no_repeats("--files", &self.files)?;
        no_repeats("--depths", &self.depths)?;
        no_repeats("--engines", &self.engines)?;
        let mut heuristics = aio::rt::Heuristics::default();
        for policy in self.without {
            match policy {
                Policy::Quiet => heuristics.quiet = false,
                Policy::Helper => heuristics.helper = false,
                Policy::Yield => heuristics.adaptive_yield = false,
                Policy::Chunks => heuristics.chunks = false,
            }
        }
        Ok(Options {
            files: self.files,
            dir: self.dir.unwrap_or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR")
                    .filter(|d| !d.is_empty())
                    .map_or_else(|| PathBuf::from("target"), PathBuf::from)
            }),
            tmpfs_size: self.tmpfs_size,
            dir_size: self.dir_size,
            depths: self.depths,
            tasks: self.tasks,
            engines: self.engines,
            workers: self.workers,
            runtime: self.runtime,
            rounds: self.rounds,
            seed: self.seed.unwrap_or(DEFAULT_SEED),
            json: self.json,
            heuristics,
        })
    }
}

/// Parses the arguments (without the program name); `--help` and `--version` come back as
/// clap's errors of those kinds, which `exit()` prints with status 0.
pub fn parse<I, S>(args: I) -> Result<Options, clap::Error>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString> + Clone,
{
    let argv =
        std::iter::once(OsString::from("aio-async-bench")).chain(args.into_iter().map(Into::into));
    Cli::try_parse_from(argv)?.check()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, clap::Error> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_options() {
        let o = run(&[]).unwrap();
        assert_eq!(o.depths, [1, 32]);
        assert_eq!(o.rounds, 5);
        assert_eq!(o.runtime, Duration::from_secs(2));
        assert_eq!(o.files, [FileKind::Tmpfs, FileKind::Dir]);
        let o = run(&[
            "--depths=32",
            "--tasks",
            "4",
            "--files",
            "ext4",
            "--runtime",
            "500ms",
            "--engines",
            "async,sync",
            "--json",
        ])
        .unwrap();
        assert_eq!(o.depths, [32]);
        assert_eq!(o.tasks, Some(4));
        assert_eq!(o.files, [FileKind::Dir]);
        assert_eq!(o.runtime, Duration::from_millis(500));
        assert_eq!(o.engines, [Engine::Async, Engine::Sync]);
        assert!(o.json);
    }

    #[test]
    fn bad_usage_is_refused() {
        for args in [
            &["--depths"][..],
            &["--depths", "0"],
            &["--depths", "1,,2"],
            &["--depths", "4,4"],
            &["--tasks", "x"],
            &["--files", "nfs"],
            &["--engines", "io_uring"],
            &["--runtime", "0"],
            &["--tmpfs-size", "1000"],
            &["--json=yes"],
            &["--without", "speed"],
            &["--seed", "0"],
            &["--frobnicate"],
            &["stray"],
        ] {
            assert!(run(args).is_err(), "{args:?} accepted");
        }
        let help = parse(["--help"]).unwrap_err();
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        let text = help.to_string();
        for option in [
            "--files",
            "--depths",
            "--without",
            "--runtime",
            "--seed",
            "--json",
        ] {
            assert!(
                text.contains(option),
                "{option} missing from --help:\n{text}"
            );
        }
        let o = run(&["--without", "quiet,yield", "--seed", "7"]).unwrap();
        assert!(!o.heuristics.quiet && !o.heuristics.adaptive_yield && o.heuristics.helper);
        assert_eq!(o.seed, 7);
    }
}
