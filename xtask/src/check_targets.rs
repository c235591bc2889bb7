//! `cargo xtask check-targets`: builds `aio-abi`, `aio-sys` and `aio` without `std` (all with
//! `--no-default-features`, `-Zbuild-std=core,alloc`) for every ABI the layout assertions cover
//! that has no runnable kernel here, so that each one's inline assembly, compile-time layout
//! checks and the safe API's `no_std` build are compiled.

use crate::util::{Args, Result, bail, root, secs, show};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// The ABIs: target triple and what it covers.
pub const TARGETS: &[(&str, &str)] = &[
    ("riscv32gc-unknown-linux-gnu", "riscv32: time64-only calls"),
    ("loongarch64-unknown-linux-gnu", "loongarch64"),
    (
        "powerpc64-unknown-linux-gnu",
        "powerpc64 big-endian: rw_flags/key swapped, cr0.SO errors",
    ),
    (
        "mips-unknown-linux-gnu",
        "mips o32: a3 errors, 16-byte sigset, stack arguments",
    ),
    (
        "x86_64-unknown-linux-gnux32",
        "x32: 0x40000000 numbers, 32-bit pointers in 64-bit registers",
    ),
];

pub fn main(args: &[String]) -> Result<ExitCode> {
    let mut args = Args::new(args);
    let wanted = args.list("--target")?;
    args.finish()?;
    let targets: Vec<&(&str, &str)> = TARGETS
        .iter()
        .filter(|(t, _)| wanted.is_empty() || wanted.iter().any(|w| t.starts_with(w.as_str())))
        .collect();
    if targets.is_empty() {
        bail!(
            "no such target; known: {}",
            TARGETS.iter().map(|t| t.0).collect::<Vec<_>>().join(" ")
        );
    }
    let report = check(&targets)?;
    print!("{report}");
    if report.failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("failed: {}", report.failed.join(", "))
    }
}

/// What [`check`] found: a row per target, the targets that failed, and the time it took.
pub struct Report {
    pub rows: Vec<String>,
    pub failed: Vec<&'static str>,
    pub elapsed: std::time::Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "\ncheck-targets ({} s):", secs(self.elapsed))?;
        for r in &self.rows {
            writeln!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Builds the three crates for each of `targets`; the compiler's errors are printed as they
/// come. Also run by `cargo xtask cross --check-targets`, while the boots run.
pub fn check(targets: &[&'static (&'static str, &'static str)]) -> Result<Report> {
    if !std::path::Path::new("/usr/lib/rustlib/src/rust/library").is_dir() {
        bail!("rust-web-src is not installed: run `cargo xtask cross-setup`");
    }
    let start = Instant::now();
    let mut failed = Vec::new();
    let mut rows = Vec::new();
    for (triple, what) in targets {
        let t = Instant::now();
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
        cmd.current_dir(root())
            .env("RUSTC", crate::toolchain::RUSTC)
            .env("RUSTC_BOOTSTRAP", "1")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .args([
                "build",
                "-p",
                "aio-abi",
                "-p",
                "aio-sys",
                "-p",
                "linux-aio",
                "--no-default-features",
                "-Zbuild-std=core,alloc",
            ])
            .args(["--target", triple])
            .arg("--target-dir")
            .arg(root().join("target/check-targets"))
            .stderr(Stdio::piped());
        println!("$ {}", show(&cmd));
        let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // aio-sys warns when the asm of an experimental arch is left out: that is a failure here.
        let asm_missing = stderr.contains("needs a nightly compiler or RUSTC_BOOTSTRAP");
        let ok = out.status.success() && !asm_missing;
        if !ok {
            eprintln!("{stderr}");
            failed.push(*triple);
        }
        rows.push(format!(
            "  {triple:<32} {:<4} {:>6} s  {what}",
            if ok { "ok" } else { "FAIL" },
            secs(t.elapsed())
        ));
    }
    Ok(Report {
        rows,
        failed,
        elapsed: start.elapsed(),
    })
}
