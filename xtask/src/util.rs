//! Small helpers shared by the subcommands: errors, paths, running commands, option parsing.

use std::ffi::OsStr;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Every subcommand reports errors as text: they are shown to a person, never matched on.
pub type Result<T, E = String> = std::result::Result<T, E>;

/// Returns early with a formatted error.
macro_rules! bail {
    ($($arg:tt)*) => { return Err(format!($($arg)*)) };
}
pub(crate) use bail;

/// Adds context to an error.
pub trait Context<T> {
    fn context(self, what: impl Display) -> Result<T>;
}

impl<T, E: Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Downloads, private apt state, kernels and target sysroots: `target/xtask-cache`.
pub fn cache_dir() -> PathBuf {
    root().join("target/xtask-cache")
}

/// Where the kernels the xtask builds are kept, outside the build tree so that `cargo clean`
/// and a fresh clone on the same machine reuse them: `$XTASK_KBUILD_DIR`, else
/// `$XDG_CACHE_HOME/aio-xtask/kbuild`, else `~/.cache/aio-xtask/kbuild`.
pub fn kbuild_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XTASK_KBUILD_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| cache_dir().join("home-cache"));
    base.join("aio-xtask").join("kbuild")
}

/// The target dir of cross builds, apart from the host's so no cargo lock is shared:
/// `target/cross`, or `$XTASK_CROSS_TARGET_DIR`.
pub fn cross_target_dir() -> PathBuf {
    std::env::var_os("XTASK_CROSS_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/cross"))
}

/// A command line as a person would type it (for logs).
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains([' ', '\'', '"']) {
            s.push_str(&format!("'{a}'"));
        } else {
            s.push_str(&a);
        }
    }
    s
}

/// Runs a command with inherited output, failing on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    println!("$ {}", show(cmd));
    let status = cmd.status().context(format!("cannot run {}", show(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", show(cmd));
    }
    Ok(())
}

/// Runs a command and returns its output whatever the exit status.
pub fn output_any(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .output()
        .context(format!("cannot run {}", show(cmd)))
}

/// Runs a command quietly and returns its stdout, failing (with its stderr) on a non-zero exit.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = output_any(cmd)?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            show(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `program` can be found on `PATH`.
pub fn on_path(program: impl AsRef<OsStr>) -> bool {
    let program = program.as_ref();
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A human-readable size.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The total size of the files under `path`.
pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Seconds with one decimal, for tables.
pub fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

/// A tiny option parser: `--name value`, `--name=value`, flags, and everything after `--`.
pub struct Args {
    items: Vec<String>,
    /// Arguments after a bare `--`.
    pub rest: Vec<String>,
}

impl Args {
    pub fn new(args: &[String]) -> Self {
        let mut items = Vec::new();
        let mut rest = Vec::new();
        let mut it = args.iter();
        for a in it.by_ref() {
            if a == "--" {
                break;
            }
            items.push(a.clone());
        }
        rest.extend(it.cloned());
        Args { items, rest }
    }

    /// Removes `--name` and reports whether it was there.
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|a| a != name);
        before != self.items.len()
    }

    /// Removes every `--name V` / `--name=V` and returns the values in order.
    pub fn values(&mut self, name: &str) -> Result<Vec<String>> {
        let mut values = Vec::new();
        let mut i = 0;
        let prefix = format!("{name}=");
        while i < self.items.len() {
            if self.items[i] == name {
                if i + 1 >= self.items.len() {
                    bail!("{name} needs a value");
                }
                values.push(self.items.remove(i + 1));
                self.items.remove(i);
            } else if let Some(v) = self.items[i].strip_prefix(&prefix) {
                values.push(v.to_string());
                self.items.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(values)
    }

    /// The last value of `--name`, if any.
    pub fn value(&mut self, name: &str) -> Result<Option<String>> {
        Ok(self.values(name)?.pop())
    }

    /// A comma- or repeat-separated list option.
    pub fn list(&mut self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .values(name)?
            .iter()
            .flat_map(|v| v.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// A numeric option.
    pub fn number(&mut self, name: &str) -> Result<Option<u64>> {
        match self.value(name)? {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}: not a number: {v}")),
        }
    }

    /// Fails on anything not consumed.
    pub fn finish(self) -> Result<Vec<String>> {
        if let Some(unknown) = self.items.first() {
            bail!("unknown argument {unknown} (see `cargo xtask help`)");
        }
        Ok(self.rest)
    }
}
