//! Proof that `aio-sys` needs no libc: builds `tests/nolibc` (a `#![no_std]`, `#![no_main]`
//! program with its own `_start`, linked `-nostartfiles -nostdlib -static`), checks that the
//! executable has no program interpreter and no dynamic section, runs it, and expects exit
//! status 0 from its AIO round trip.
#![cfg(all(
    target_arch = "x86_64",
    target_os = "linux",
    target_pointer_width = "64"
))]

use aio_sys::abi::aio_context_t;
use aio_sys::{Errno, io_destroy, io_setup};
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The program's exit statuses (`Step` in `tests/nolibc/src/main.rs`).
fn describe(status: i32) -> &'static str {
    match status {
        0 => "success",
        1 => "io_setup failed",
        2 => "pipe failed",
        3 => "io_submit did not queue the request",
        4 => "io_getevents did not return the event",
        5 => "the event's data/obj do not match the iocb",
        6 => "the event's res is not the message length",
        7 => "reading the pipe failed",
        8 => "the pipe does not hold the message",
        9 => "io_destroy failed",
        101 => "panicked",
        _ => "unknown status",
    }
}

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Builds the program and returns the executable's path.
fn build() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("nolibc/Cargo.toml");
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nolibc");
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
    target_dir.join(TARGET).join("release/aio-nolibc")
}

/// What the ELF program headers say about how the file is loaded.
#[derive(Debug)]
struct Elf {
    /// `e_type`: 2 is `ET_EXEC` (fixed address), 3 `ET_DYN` (PIE or shared object).
    e_type: u16,
    /// `PT_INTERP`: the program needs a dynamic loader (`ld-linux`).
    has_interp: bool,
    /// `PT_DYNAMIC`: the program has a dynamic section (shared libraries or self-relocation).
    has_dynamic: bool,
}

/// Parses an ELF64 little-endian header and its program headers.
fn parse_elf(bytes: &[u8]) -> Elf {
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());

    assert_eq!(&bytes[..4], b"\x7fELF", "ELF magic");
    assert_eq!(bytes[4], 2, "ELFCLASS64");
    assert_eq!(bytes[5], 1, "ELFDATA2LSB");
    assert_eq!(u16_at(18), 62, "EM_X86_64");
    let e_type = u16_at(16);
    let phoff = u64_at(32) as usize;
    let phentsize = usize::from(u16_at(54));
    let phnum = usize::from(u16_at(56));
    assert!(phnum > 0 && phentsize >= 56, "program headers");

    let mut elf = Elf {
        e_type,
        has_interp: false,
        has_dynamic: false,
    };
    for i in 0..phnum {
        match u32_at(phoff + i * phentsize) {
            PT_INTERP => elf.has_interp = true,
            PT_DYNAMIC => elf.has_dynamic = true,
            _ => {}
        }
    }
    elf
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn aio_round_trip_without_libc() {
    let exe = build();
    let bytes = std::fs::read(&exe).unwrap_or_else(|e| panic!("{}: {e}", exe.display()));

    let elf = parse_elf(&bytes);
    assert_eq!(elf.e_type, 2, "a fixed-address ET_EXEC, not a PIE: {elf:?}");
    assert!(!elf.has_interp, "no PT_INTERP: no dynamic loader");
    assert!(
        !elf.has_dynamic,
        "no PT_DYNAMIC: no shared libraries, no relocation at start"
    );
    // A static glibc program would pass the checks above; this one must contain no C library
    // at all (its symbol table is kept).
    for libc_symbol in [&b"__libc_start_main"[..], b"__libc_", b"GLIBC"] {
        assert!(
            !contains(&bytes, libc_symbol),
            "{} mentions {}",
            exe.display(),
            String::from_utf8_lossy(libc_symbol)
        );
    }
    assert!(
        contains(&bytes, b"_start"),
        "the symbol table is there to check"
    );

    let status = Command::new(&exe)
        .status()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    let code = status
        .code()
        .unwrap_or_else(|| panic!("{} was killed: {status}", exe.display()));

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
