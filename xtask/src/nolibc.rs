//! The no-libc programs of `tests/nolibc` (raw `aio-sys`) and `tests/nolibc-safe` (the safe
//! `aio` API without std) built for a cross architecture, checked with its cross binutils as
//! the host's test checks the host's build, and gathered in one directory per architecture.
//! `tests/tests/integration/nolibc.rs` runs them in the guest (and under qemu-user), finding the directory
//! through `AIO_TEST_PROGRAMS`.

use crate::arch::Arch;
use crate::toolchain::freestanding_setup;
use crate::util::{Context, Result, cross_target_dir, root, run};
use std::path::PathBuf;

#[path = "../../tests/nolibc/freestanding.rs"]
pub mod freestanding;

/// One program: its directory under the root, its binary, and whether it uses rustix (so
/// needs rustix's inline-asm backend, which is what keeps libc out).
struct Program {
    dir: &'static str,
    bin: &'static str,
    uses_rustix: bool,
}

const PROGRAMS: [Program; 2] = [
    Program {
        dir: "tests/nolibc",
        bin: "aio-nolibc",
        uses_rustix: false,
    },
    Program {
        dir: "tests/nolibc-safe",
        bin: "aio-nolibc-safe",
        uses_rustix: true,
    },
];

/// Why `program` cannot be built for `arch` without libc, if it cannot.
fn unbuildable(arch: &Arch, program: &Program) -> Option<&'static str> {
    if program.uses_rustix && arch.name == "x32" {
        return Some(
            "not built for x32: it needs rustix, which has no libc-free (linux_raw) backend for \
             the x32 ABI (`cargo xtask libc-graph` shows libc in its graph there). The raw \
             aio-sys program runs there.",
        );
    }
    (program.uses_rustix && arch.name == "ppc64le").then_some(
        "not built for powerpc64le: it needs rustix, whose libc-free (linux_raw) backend there \
         needs a newer rustc than 1.85, the only cross compiler here (its asm names the ctr \
         register, which rustc 1.85 rejects as an operand); rustix's libc backend would link \
         libc. The raw aio-sys program runs there.",
    )
}

/// Where the programs of `arch` are gathered (the value of `AIO_TEST_PROGRAMS`).
pub fn programs_dir(arch: &Arch) -> PathBuf {
    cross_target_dir().join("programs").join(arch.name)
}

/// Builds both programs for `arch` (release, as the host's test does), checks each, and copies
/// it into [`programs_dir`]; a program that cannot be built leaves `<bin>.skipped` with the
/// reason instead. Returns the directory.
pub fn build(arch: &Arch) -> Result<PathBuf> {
    let out = programs_dir(arch);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).context(out.display())?;
    let target_dir = cross_target_dir().join("nolibc");
    // The cross binutils beside the cross gcc (`aarch64-linux-gnu-gcc` → `aarch64-linux-gnu-nm`).
    let prefix = arch
        .gcc
        .and_then(|gcc| gcc.strip_suffix("gcc"))
        .unwrap_or("");
    for program in &PROGRAMS {
        if let Some(why) = unbuildable(arch, program) {
            println!("    {}: {why}", program.bin);
            let skipped = out.join(format!("{}.skipped", program.bin));
            std::fs::write(&skipped, why).context(skipped.display())?;
            continue;
        }
        let setup = freestanding_setup(arch, program.uses_rustix, &target_dir)?;
        let mut cmd = setup.command("build");
        cmd.args(["--release", "--quiet", "--manifest-path"])
            .arg(root().join(program.dir).join("Cargo.toml"));
        run(&mut cmd)?;
        let exe = target_dir
            .join(arch.triple)
            .join("release")
            .join(program.bin);
        let size = freestanding::check(&exe, prefix)?;
        println!("    {} ({}): {size}", program.bin, arch.name);
        let dest = out.join(program.bin);
        std::fs::copy(&exe, &dest).context(dest.display())?;
    }
    Ok(out)
}
