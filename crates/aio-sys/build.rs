//! Enables the `asm_experimental_arch` feature where it is needed and the compiler allows it.
//!
//! Inline assembly is stable on x86, Arm, AArch64, RISC-V, LoongArch and s390x. On PowerPC and
//! MIPS it still sits behind `#![feature(asm_experimental_arch)]`, which only a nightly compiler
//! (or `RUSTC_BOOTSTRAP=1`) accepts. This script asks the compiler whether it takes the feature;
//! if not, those architectures build without a syscall instruction and every call returns
//! `ENOSYS`, with a warning at build time.

use std::env;
use std::io::Write;
use std::process::{Command, Stdio};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(aio_sys_asm_experimental)");
    println!("cargo::rerun-if-env-changed=RUSTC_BOOTSTRAP");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if !matches!(arch.as_str(), "powerpc64" | "mips" | "mips64") {
        return;
    }
    if compiler_accepts_experimental_asm() {
        println!("cargo::rustc-cfg=aio_sys_asm_experimental");
    } else {
        println!(
            "cargo::warning=aio-sys: inline asm on {arch} needs a nightly compiler or \
             RUSTC_BOOTSTRAP=1; without it every AIO call returns ENOSYS on this target"
        );
    }
}

/// Compiles a one-line crate that enables the feature, for the host, with the same compiler.
fn compiler_accepts_experimental_asm() -> bool {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out_dir = env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    let child = Command::new(rustc)
        .args([
            "--crate-type=lib",
            "--crate-name=probe",
            "--emit=metadata",
            "--out-dir",
        ])
        .arg(out_dir)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"#![feature(asm_experimental_arch)]\n");
    }
    child.wait().is_ok_and(|status| status.success())
}
