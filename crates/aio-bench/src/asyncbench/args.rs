//! The command line of `aio-async-bench`, parsed by hand: `--name value` or `--name=value`.

use super::Engine;
use crate::args::{DEFAULT_SEED, parse_duration, parse_size};
use std::path::PathBuf;
use std::time::Duration;

/// The help text.
pub const USAGE: &str = "\
aio-async-bench: 4 KiB random reads through aio's async API (aio::rt::tokio::Handle), against
the synchronous aio::Context and tokio's blocking pool (spawn_blocking + pread)

usage: aio-async-bench [options]

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
             opened with the same flags (DEPTH/TASKS each)

options:
  --files LIST       which files, comma-separated (default tmpfs,dir):
                       tmpfs  /dev/shm/aio-async-bench-PID, O_DIRECT (buffered, with a
                              note, if O_DIRECT is refused)
                       dir    aio-async-bench-PID.tmp in --dir, O_DIRECT (alias: ext4)
  --dir DIR          where the dir file goes (default $CARGO_TARGET_DIR, else ./target)
  --tmpfs-size SIZE  size of the tmpfs file (default 256M)
  --dir-size SIZE    size of the dir file (default 1G)
  --depths LIST      reads in flight, comma-separated (default 1,32)
  --tasks N          tasks of the async and tokio-fs engines (default: the depth, one read
                     in flight each); capped at the depth
  --workers N        tokio worker threads of the async and tokio-fs engines (default 2;
                     0: the current-thread runtime)
  --engines LIST     comma-separated subset of sync,async,tokio-fs (default all three)
  --runtime TIME     per run, e.g. 2, 2s, 500ms (default 2s)
  --rounds N         rounds per file and depth; each runs every engine once, in rotating
                     order (default 5)
  --seed N           xorshift seed of the offsets (default fixed)
  --without LIST     the async engine without some of the driver's adaptive policies,
                     comma-separated: quiet (quiet submissions), helper (the second
                     submitter), yield (adaptive yield: always yield), chunks (calls of at
                     most 8 iocbs while a device sets the pace); to measure what each earns
  --json             one JSON object on stdout instead of the markdown tables
  -h, --help         this text

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

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Options),
    Help,
}

/// The largest depth accepted (a kernel AIO context of that many events per run).
const MAX_DEPTH: usize = 4096;

/// Parses the arguments (without the program name).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut o = Options {
        files: vec![FileKind::Tmpfs, FileKind::Dir],
        dir: std::env::var_os("CARGO_TARGET_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from("target"), PathBuf::from),
        tmpfs_size: 256 << 20,
        dir_size: 1 << 30,
        depths: vec![1, 32],
        tasks: None,
        engines: Engine::ALL.to_vec(),
        workers: 2,
        runtime: Duration::from_secs(2),
        rounds: 5,
        seed: DEFAULT_SEED,
        json: false,
        heuristics: aio::rt::Heuristics::default(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_string(), Some(value)),
            _ => (arg.clone(), None),
        };
        let name = name.as_str();
        match name {
            "-h" | "--help" => return Ok(Command::Help),
            "--json" => {
                if inline.is_some() {
                    return Err("--json takes no value".into());
                }
                o.json = true;
                continue;
            }
            _ => {}
        }
        let known = [
            "--files",
            "--dir",
            "--tmpfs-size",
            "--dir-size",
            "--depths",
            "--tasks",
            "--engines",
            "--runtime",
            "--rounds",
            "--seed",
            "--workers",
            "--without",
        ];
        if !known.contains(&name) {
            return Err(format!("unknown option {arg:?}"));
        }
        let value = match inline {
            Some(v) => v.to_string(),
            None => args.next().ok_or_else(|| format!("{name} needs a value"))?,
        };
        let value = value.as_str();
        let bad = |why: String| format!("{name} {value:?}: {why}");
        match name {
            "--files" => {
                o.files = list(value, |s| match s {
                    "tmpfs" => Ok(FileKind::Tmpfs),
                    "dir" | "ext4" => Ok(FileKind::Dir),
                    _ => Err(format!("unknown file {s:?} (tmpfs or dir)")),
                })
                .map_err(bad)?;
            }
            "--dir" => o.dir = PathBuf::from(value),
            "--tmpfs-size" => o.tmpfs_size = file_size(value).map_err(bad)?,
            "--dir-size" => o.dir_size = file_size(value).map_err(bad)?,
            "--depths" => {
                o.depths = list(value, |s| number(s, 1, MAX_DEPTH)).map_err(bad)?;
            }
            "--tasks" => o.tasks = Some(number(value, 1, MAX_DEPTH).map_err(bad)?),
            "--engines" => o.engines = list(value, Engine::parse).map_err(bad)?,
            "--runtime" => {
                o.runtime = parse_duration(value).map_err(bad)?;
                if o.runtime.is_zero() {
                    return Err(bad("must be more than zero".into()));
                }
            }
            "--rounds" => o.rounds = number(value, 1, 1000).map_err(bad)?,
            "--workers" => o.workers = number(value, 0, 64).map_err(bad)?,
            "--without" => {
                for policy in value.split(',') {
                    let h = &mut o.heuristics;
                    match policy {
                        "quiet" => h.quiet = false,
                        "helper" => h.helper = false,
                        "yield" => h.adaptive_yield = false,
                        "chunks" => h.chunks = false,
                        _ => {
                            return Err(bad(format!(
                                "unknown policy {policy:?} (quiet, helper, yield, chunks)"
                            )));
                        }
                    }
                }
            }
            "--seed" => {
                o.seed = value
                    .parse()
                    .map_err(|_| bad("expected a whole number".into()))?;
            }
            _ => unreachable!("every known option is handled"),
        }
    }
    Ok(Command::Run(o))
}

/// A comma-separated list, without repeats, in the order given.
fn list<T: PartialEq>(s: &str, item: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            return Err("empty item in the list".into());
        }
        let value = item(part)?;
        if out.contains(&value) {
            return Err(format!("{part:?} is listed twice"));
        }
        out.push(value);
    }
    Ok(out)
}

fn number(s: &str, min: usize, max: usize) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(format!("{s:?} is out of range ({min} to {max})")),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

fn file_size(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    if n < 4096 || n % 4096 != 0 {
        return Err("must be a multiple of 4096 bytes, at least 4k".into());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Command::Run(o) => Ok(o),
            Command::Help => Err("help".into()),
        }
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
            &["--frobnicate"],
            &["stray"],
        ] {
            assert!(run(args).is_err(), "{args:?} accepted");
        }
        assert!(matches!(parse(["--help".to_string()]), Ok(Command::Help)));
    }
}
