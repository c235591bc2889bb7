//! `cargo xtask libc-graph`: which crates bring the C library into the dependency graph, per ABI.
//!
//! For every ABI of the README's architecture table it asks `cargo tree -e normal --target T`
//! (no build: cargo only evaluates the target's cfgs) whether the `libc` crate is in the graph
//! of `aio-sys` without default features, `aio-sys` with them (its `rustix` feature, for the
//! `Errno` conversions), `aio` without `std`, plus `aio` with
//! `--cfg rustix_use_experimental_asm` where that switches rustix to its inline-asm backend,
//! and the drop-in `libaio.so.1` (`aio-libaio`). It fails if `aio-sys` without default features
//! or `aio-libaio` has libc anywhere, or if `aio` has it on an ABI
//! where rustix's inline-asm backend is the default (a regression); elsewhere it reports.

use crate::util::{Args, Result, bail, root};
use std::process::{Command, ExitCode};

/// The ABIs: target triple, README name, and whether rustix uses its inline-asm backend there
/// on a stable compiler without any cfg.
const ABIS: &[(&str, &str, bool)] = &[
    ("x86_64-unknown-linux-gnu", "x86_64", true),
    ("x86_64-unknown-linux-gnux32", "x32", false),
    ("i686-unknown-linux-gnu", "i386", true),
    ("aarch64-unknown-linux-gnu", "aarch64", true),
    ("aarch64_be-unknown-linux-gnu", "aarch64 big-endian", false),
    ("armv7-unknown-linux-gnueabihf", "arm EABI", true),
    ("armeb-unknown-linux-gnueabi", "arm EABI big-endian", false),
    ("riscv64gc-unknown-linux-gnu", "riscv64", true),
    ("riscv32gc-unknown-linux-gnu", "riscv32", false),
    ("loongarch64-unknown-linux-gnu", "loongarch64", false),
    ("powerpc64le-unknown-linux-gnu", "powerpc64le", false),
    ("powerpc64-unknown-linux-gnu", "powerpc64 big-endian", false),
    ("s390x-unknown-linux-gnu", "s390x", false),
    ("mipsel-unknown-linux-gnu", "mips o32", false),
    ("mips-unknown-linux-gnu", "mips o32 big-endian", false),
    ("mips64el-unknown-linux-gnuabi64", "mips64 n64", false),
    (
        "mips64-unknown-linux-gnuabi64",
        "mips64 n64 big-endian",
        false,
    ),
];

/// Whether `libc` is in the normal dependency graph of `package` for `triple`.
fn has_libc(package: &str, triple: &str, extra: &[&str], experimental_asm: bool) -> Result<bool> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
    cmd.current_dir(root())
        .args([
            "tree", "-q", "-e", "normal", "--prefix", "none", "-p", package,
        ])
        .args(["--target", triple])
        .args(extra)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    if experimental_asm {
        cmd.env("RUSTFLAGS", "--cfg rustix_use_experimental_asm");
    } else {
        cmd.env_remove("RUSTFLAGS");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !out.status.success() {
        bail!(
            "cargo tree -p {package} --target {triple} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.starts_with("libc ")))
}

fn yes_no(libc: bool) -> &'static str {
    if libc { "yes" } else { "no" }
}

pub fn main(args: &[String]) -> Result<ExitCode> {
    Args::new(args).finish()?;
    let mut failures = Vec::new();
    println!(
        "| ABI | target | aio-sys, no default features | aio-sys (default: `rustix`) | aio, no `std` | aio, no `std`, `--cfg rustix_use_experimental_asm` | aio-libaio |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &(triple, name, raw_by_default) in ABIS {
        let sys_bare = has_libc("aio-sys", triple, &["--no-default-features"], false)?;
        let sys_default = has_libc("aio-sys", triple, &[], false)?;
        let aio = has_libc("linux-aio", triple, &["--no-default-features"], false)?;
        let aio_asm = has_libc("linux-aio", triple, &["--no-default-features"], true)?;
        let libaio = has_libc("aio-libaio", triple, &[], false)?;
        println!(
            "| {name} | `{triple}` | {} | {} | {} | {} | {} |",
            yes_no(sys_bare),
            yes_no(sys_default),
            yes_no(aio),
            yes_no(aio_asm),
            yes_no(libaio)
        );
        if libaio {
            failures.push(format!("aio-libaio has libc on {triple}"));
        }
        if sys_bare {
            failures.push(format!(
                "aio-sys without default features has libc on {triple}"
            ));
        }
        if raw_by_default && (aio || sys_default) {
            failures.push(format!(
                "libc appeared in the graph on {triple}, where rustix uses inline asm"
            ));
        }
    }
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("{}", failures.join("; "))
    }
}
