//! Proof that `aio-sys`, and the safe `aio` API without `std`, need no libc: builds
//! `tests/nolibc` (raw `aio-sys` calls) and `tests/nolibc-safe` (the `aio` crate with
//! `default-features = false` and a global allocator of its own), both `#![no_std]`,
//! `#![no_main]` programs with their own `_start`, linked `-nostartfiles -nostdlib -static`;
//! checks with `readelf` that each is a fixed-address executable with no program interpreter
//! and no dynamic section, and with `nm` that no C library symbol is in it; prints its size;
//! runs it, and expects exit status 0.
//!
//! On the host the test builds the x86_64 programs itself. In `cargo xtask cross` it runs in
//! each guest (and under qemu-user) with `AIO_TEST_PROGRAMS` naming a directory of programs
//! the xtask built for that architecture and checked with the same `freestanding.rs` and the
//! cross binutils; a program that cannot be built for it is a `<name>.skipped` file there,
//! holding the reason.
#![cfg(target_os = "linux")]

use crate::common;
use aio_sys::abi::aio_context_t;
use aio_sys::{Errno, io_destroy, io_setup};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../nolibc/freestanding.rs"]
mod freestanding;
#[path = "../../nolibc/steps.rs"]
mod steps;

/// Whether the kernel has native AIO; see `crates/aio-sys/tests/kernel.rs` for the convention:
/// `ENOSYS` is accepted only with `AIO_TEST_EXPECT_ENOSYS=1`, and panics otherwise.
fn kernel_has_aio() -> bool {
    let mut ctx: aio_context_t = 0;
    // SAFETY: `ctx` is a valid, zeroed context variable.
    match unsafe { io_setup(1, &mut ctx) } {
        Ok(()) => {
            // SAFETY: `ctx` was just created and nothing uses its ring.
            assert_eq!(unsafe { io_destroy(ctx) }, Ok(()));
            true
        }
        Err(Errno::NOSYS) => {
            let name = std::thread::current()
                .name()
                .unwrap_or("<unnamed test>")
                .to_owned();
            if std::env::var_os("AIO_TEST_EXPECT_ENOSYS").is_some_and(|v| v == "1") {
                println!("ENOSYS path: {name} verified io_setup -> ENOSYS");
                false
            } else {
                panic!(
                    "{name}: io_setup returned ENOSYS: this kernel has no native AIO \
                     (CONFIG_AIO=n) or a sandbox (qemu-user, seccomp, rr) blocks it. A real \
                     kernel must support AIO; set AIO_TEST_EXPECT_ENOSYS=1 only where ENOSYS \
                     is the expected answer."
                )
            }
        }
        Err(e) => panic!("io_setup(1) failed: {e:?}"),
    }
}

/// What `tests/nolibc-safe`'s exit statuses mean (`Step` in its `src/main.rs`).
fn describe_safe(status: i32) -> &'static str {
    match status {
        0 => "success",
        1 => "Context::build failed",
        2 => "memfd_create or register failed",
        3 => "the write did not complete whole, or its buffer came back changed",
        4 => "the read did not complete whole",
        5 => "the data read differ from the data written",
        6 => "the completions did not come from the ring (io_getevents was called)",
        7 => "the eventfd count is not one per completion",
        8 => "pipe failed",
        9 => "the poll was not cancelled (io_cancel, its completion, res 0)",
        10 => "drain lost or kept an operation",
        101 => "panicked (an allocation failure included)",
        _ => "unknown status",
    }
}

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Builds the program of `tests/<dir>` and returns the executable's path.
fn build(dir: &str, bin: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .join("Cargo.toml");
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    // The program is built with its own, fixed flags (profile and build script): flags meant
    // for the workspace (coverage instrumentation, a cross target) must not leak in.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
    ] {
        cargo.env_remove(var);
    }
    let output = cargo.output().expect("running cargo");
    assert!(
        output.status.success(),
        "building {} failed ({}):\n{}",
        manifest.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir.join(TARGET).join("release").join(bin)
}

/// The program to run: built by `cargo xtask cross` (`AIO_TEST_PROGRAMS`), or built and
/// checked here on an x86_64 host. `None`, after saying why, when the xtask could not build it.
fn program(dir: &str, bin: &str) -> Option<PathBuf> {
    if let Some(programs) = std::env::var_os("AIO_TEST_PROGRAMS") {
        let programs = PathBuf::from(programs);
        let skipped = programs.join(format!("{bin}.skipped"));
        if let Ok(reason) = std::fs::read_to_string(&skipped) {
            println!("SKIPPED: {bin}: {}", reason.trim());
            return None;
        }
        println!("{bin}: built by cargo xtask cross and checked there with readelf and nm");
        return Some(programs.join(bin));
    }
    if !cfg!(all(target_arch = "x86_64", target_pointer_width = "64")) {
        panic!(
            "outside x86_64 the programs come from `cargo xtask cross` (AIO_TEST_PROGRAMS unset)"
        );
    }
    let exe = build(dir, bin);
    match freestanding::check(&exe, "") {
        Ok(size) => println!("{bin}: {size}"),
        Err(e) => panic!("{e}"),
    }
    Some(exe)
}

/// Builds (or takes), checks and runs one program; `describe` explains its exit status.
fn build_check_run(dir: &str, bin: &str, describe: fn(i32) -> &'static str) {
    let Some(exe) = program(dir, bin) else {
        return;
    };
    // Under qemu-user the foreign program runs through the same emulator.
    let mut cmd = match std::env::var_os("AIO_TEST_QEMU_USER") {
        Some(qemu) => {
            let mut cmd = Command::new(qemu);
            cmd.arg(&exe);
            cmd
        }
        None => Command::new(&exe),
    };
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    print!("{}", String::from_utf8_lossy(&output.stdout));
    let code = output
        .status
        .code()
        .unwrap_or_else(|| panic!("{} was killed: {}", exe.display(), output.status));

    if !kernel_has_aio() {
        assert_eq!(code, 1, "without AIO the program stops at io_setup");
        return;
    }
    assert_eq!(
        code,
        0,
        "{}: exit status {code}: {}",
        exe.display(),
        describe(code)
    );
}

#[test]
fn aio_sys_round_trip_without_libc() {
    let _shared = common::shared();
    build_check_run("nolibc", "aio-nolibc", steps::describe);
}

#[test]
fn safe_api_without_std_or_libc() {
    let _shared = common::shared();
    build_check_run("nolibc-safe", "aio-nolibc-safe", describe_safe);
}
