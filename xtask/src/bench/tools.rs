//! What `cargo xtask bench` runs: the programs it builds (the C libaio loop, `aio-bench`,
//! `uring-loop`) and the ones it installs from Debian (fio; perf for counting fio's calls).

use crate::util::{on_path, root, run};
use std::path::{Path, PathBuf};
use std::process::Command;

type Result<T, E = String> = std::result::Result<T, E>;

/// The cargo target directory (`CARGO_TARGET_DIR`, else `target/` of the workspace).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_relative() { root().join(p) } else { p })
        .unwrap_or_else(|| root().join("target"))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// The Debian packages a run needs that are missing: gcc, libc and libaio headers for the C
/// loop; fio when `fio` is among the runners; linux-perf to count fio's system calls.
fn missing(fio: bool) -> Vec<&'static str> {
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
    if fio && !on_path("fio") {
        packages.push("fio");
    }
    if fio && !on_path("perf") {
        packages.push("linux-perf");
    }
    packages
}

/// Installs what [`missing`] lists with apt-get (when `install` and root), or says what to
/// install.
pub fn ensure(install: bool, fio: bool) -> Result<()> {
    let packages = missing(fio);
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
    if run(&mut install_cmd()).is_err() {
        // Stale package lists: refresh once and retry.
        run(Command::new("apt-get").args(["update", "-q"]))?;
        run(&mut install_cmd())?;
    }
    match missing(fio) {
        still if still.is_empty() => Ok(()),
        still => Err(format!(
            "{} still missing after apt-get install",
            still.join(" ")
        )),
    }
}

/// Compiles the C loop (when its source is newer than the binary).
pub fn build_c(out_dir: &Path) -> Result<PathBuf> {
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
        run(Command::new("gcc")
            .args(["-O2", "-Wall", "-Wextra", "-o"])
            .arg(&bin)
            .arg(&src)
            .arg("-laio"))?;
    }
    Ok(bin)
}

/// Builds the `aio-bench` package's programs `bins` in release mode; their paths in order.
pub fn build_aio_bench(bins: &[&str]) -> Result<Vec<PathBuf>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root())
        .args(["build", "--release", "--quiet", "-p", "aio-bench"]);
    for bin in bins {
        cmd.args(["--bin", bin]);
    }
    run(&mut cmd)?;
    Ok(bins
        .iter()
        .map(|bin| target_dir().join("release").join(bin))
        .collect())
}

/// Builds the drop-in `libaio.so.1` (`crates/aio-libaio`, release) and copies it, under its
/// SONAME, into a directory of its own; returns the directory (for `LD_LIBRARY_PATH`).
pub fn build_our_libaio() -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo).current_dir(root()).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "aio-libaio",
    ]))?;
    let dir = target_dir().join("xtask-bench-libaio");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let built = target_dir().join("release").join("libaio.so");
    std::fs::copy(&built, dir.join("libaio.so.1"))
        .map_err(|e| format!("copy {}: {e}", built.display()))?;
    Ok(dir)
}
