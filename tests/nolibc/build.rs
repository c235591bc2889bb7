//! Links the program freestanding: no C runtime start files (`_start` is ours), no libc or
//! libgcc, and static, so that the kernel runs it without a dynamic loader. The entry point is
//! named explicitly: MIPS linkers default to `__start`, and with `--gc-sections` an entry they
//! do not know of would be collected with everything it calls.
//!
//! Two linker styles, chosen by the target's rustflags: a C compiler driver (the default; the
//! cross `gcc` of each architecture that has one), or the linker itself when the flags say
//! `-C linker-flavor=ld.lld` (or `ld`), as for `rust-lld` on the architectures without a cross
//! gcc here (riscv32, aarch64_be, armeb, loongarch64). Big-endian Arm then also needs `--be8`
//! (instructions little-endian, data big-endian: what Armv6 and later run), which a gcc
//! driver adds on its own.

use std::env;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let args: &[&str] = if linker_is_ld() {
        &["--entry=_start", "-static"]
    } else {
        &[
            "-nostartfiles",
            "-nostdlib",
            "-static",
            "-Wl,--entry=_start",
        ]
    };
    for arg in args {
        println!("cargo::rustc-link-arg-bins={arg}");
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let endian = env::var("CARGO_CFG_TARGET_ENDIAN").unwrap_or_default();
    if linker_is_ld() && arch == "arm" && endian == "big" {
        println!("cargo::rustc-link-arg-bins=--be8");
    }
}

/// Whether the rustflags ask for a linker invoked directly (`-C linker-flavor=ld.lld`, `ld`,
/// `gnu`, `gnu-lld`) rather than through a C compiler driver.
fn linker_is_ld() -> bool {
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags: Vec<&str> = flags.split('\x1f').collect();
    let mut flavor = None;
    for (i, flag) in flags.iter().enumerate() {
        let codegen = match *flag {
            "-C" | "--codegen" => flags.get(i + 1).copied().unwrap_or(""),
            other => other.strip_prefix("-C").unwrap_or(""),
        };
        if let Some(value) = codegen.strip_prefix("linker-flavor=") {
            flavor = Some(value); // the last one wins, as in rustc
        }
    }
    matches!(flavor, Some("ld" | "ld.lld" | "gnu" | "gnu-lld"))
}
