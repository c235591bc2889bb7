//! The ABIs without a Debian userland (no C library, so no std and no test binaries): each one
//! boots a real kernel under qemu-system with the no-libc program of `tests/nolibc` as its
//! `/init`. The program exercises every AIO call (`io_setup`, `io_submit` of a write and a poll,
//! `io_cancel`, ring reaping, `io_getevents`, `io_pgetevents` with a signal mask, the
//! `RWF_APPEND` byte-order proof, `io_destroy`) and exits with the number of the step that
//! failed, 0 when all passed; the kernel's `Attempted to kill init! exitcode=0x0000NN00` line
//! carries that status out of the guest.
//!
//! - Kernels: Debian's where one exists (loongarch64: sid's `linux-image-loong64`), else built
//!   by [`kbuild`] from bookworm's `linux-source-6.1` with Debian's cross gcc.
//! - The program is linked by the ABI's cross gcc where bookworm has one, else by `rust-lld`
//!   (shipped with the rustup toolchain), with `core` built from Debian's `rust-web-src`.
//! - QEMU is bookworm's, except where its 7.2 cannot boot the kernel (loongarch64: the
//!   qemu-system-misc of bookworm-backports, extracted into the cache, never installed);
//!   firmware bookworm lacks (riscv32's OpenSBI) comes from bookworm-backports too.
//!
//! Everything is fetched, built and cached on first use (`target/xtask-cache`), so a second run
//! boots at once.

pub mod kbuild;

use crate::apt::{self, PrivateApt, system};
use crate::arch::{QemuFrom, Suite};
use crate::initramfs::Cpio;
use crate::nolibc::freestanding;
use crate::qemu::{self, Limits};
use crate::report::Row;
use crate::setup::{KernelPackage, States, fetch_kernel_package};
use crate::toolchain::{Manifest, Target, kernel_dir_of, target_setup};
use crate::util::{Context, Result, bail, cache_dir, cross_target_dir, output, root, run, show};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../../../tests/nolibc/steps.rs"]
mod steps;

/// How the program is linked.
#[derive(Debug)]
pub enum Linker {
    /// Through the cross gcc (and the Debian package that ships it).
    Gcc {
        gcc: &'static str,
        package: &'static str,
    },
    /// By `rust-lld` directly (`-C linker-flavor=ld.lld`).
    RustLld,
}

/// Where the kernel comes from.
#[derive(Debug)]
pub enum KernelFrom {
    /// A Debian kernel package (its metapackage in a suite).
    Debian {
        deb_arch: &'static str,
        suite: Suite,
        meta: &'static str,
    },
    /// Built here from `linux-source-6.1`.
    Built(kbuild::Config),
}

/// A file of a bookworm-backports package (architecture `all`).
#[derive(Debug)]
pub struct Member {
    pub package: &'static str,
    pub path: &'static str,
}

/// One ABI booted with the no-libc program.
#[derive(Debug)]
pub struct Abi {
    /// The `--arch` name.
    pub name: &'static str,
    pub triple: &'static str,
    pub linker: Linker,
    /// Rustflags the ABI needs besides the static, freestanding link.
    pub rustflags: &'static [&'static str],
    pub kernel: KernelFrom,
    pub qemu_system: &'static str,
    pub qemu: QemuFrom,
    /// Machine options (before `-kernel`), memory in MiB, whether `-nographic` gives the
    /// console, the kernel command line (`rdinit=/init` is added).
    pub machine: &'static [&'static str],
    pub memory: u32,
    pub nographic: bool,
    pub append: &'static str,
    /// Passed as `-bios`.
    pub firmware: Option<Member>,
    /// The kernel cannot run here: why, for the table (the ABI is then listed, not booted).
    pub unbootable: Option<&'static str>,
}

const MALTA: &[&str] = &["-M", "malta"];

/// The ABIs, in the table's order.
pub const ABIS: &[Abi] = &[
    Abi {
        name: "riscv32",
        triple: "riscv32gc-unknown-linux-gnu",
        linker: Linker::RustLld,
        rustflags: &[],
        kernel: KernelFrom::Built(kbuild::Config {
            arch: "riscv",
            cross_compile: "riscv64-linux-gnu-",
            gcc_package: "gcc-riscv64-linux-gnu",
            fragment: "\
CONFIG_ARCH_RV32I=y
CONFIG_32BIT=y
CONFIG_MMU=y
CONFIG_NONPORTABLE=y
CONFIG_SOC_VIRT=y
CONFIG_RISCV_ISA_C=y
CONFIG_FPU=y
CONFIG_RISCV_SBI=y
CONFIG_COMPAT_32BIT_TIME=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_SERIAL_OF_PLATFORM=y
CONFIG_POWER_RESET=y
CONFIG_POWER_RESET_SYSCON=y
CONFIG_POWER_RESET_SYSCON_POWEROFF=y
",
            target: "Image",
            image: "arch/riscv/boot/Image",
        }),
        qemu_system: "qemu-system-riscv32",
        qemu: QemuFrom::Bookworm("qemu-system-misc"),
        machine: &["-M", "virt"],
        memory: 256,
        nographic: true,
        append: "console=ttyS0 panic=-1",
        // bookworm's qemu-system-data and opensbi have the 64-bit OpenSBI only.
        firmware: Some(Member {
            package: "opensbi",
            path: "usr/lib/riscv32-linux-gnu/opensbi/generic/fw_dynamic.bin",
        }),
        unbootable: None,
    },
    Abi {
        name: "loongarch64",
        triple: "loongarch64-unknown-linux-gnu",
        linker: Linker::RustLld,
        // The target's default features (LSX included): QEMU 10's la464 has them.
        rustflags: &[],
        kernel: KernelFrom::Debian {
            deb_arch: "loong64",
            suite: Suite::Sid,
            meta: "linux-image-loong64",
        },
        qemu_system: "qemu-system-loongarch64",
        // QEMU 7.2's loongarch64 loads ELF kernels only; Debian's is an EFI zboot image,
        // which QEMU 10 boots directly once decompressed (see `loong64_image`).
        qemu: QemuFrom::Backports("qemu-system-misc"),
        machine: &["-M", "virt", "-cpu", "la464"],
        memory: 2048,
        nographic: true,
        // The virt board has no i8042, and probing it oopses Debian's 7.2 kernel (a paging
        // fault in i8042_flush).
        append: "console=ttyS0 panic=-1 initcall_blacklist=i8042_init",
        firmware: None,
        unbootable: None,
    },
    Abi {
        name: "ppc64",
        triple: "powerpc64-unknown-linux-gnu",
        linker: Linker::Gcc {
            gcc: "powerpc64-linux-gnu-gcc",
            package: "gcc-powerpc64-linux-gnu",
        },
        rustflags: &[],
        kernel: KernelFrom::Built(kbuild::Config {
            arch: "powerpc",
            cross_compile: "powerpc64-linux-gnu-",
            gcc_package: "gcc-powerpc64-linux-gnu",
            // prom_init (the boot trampoline) is what SLOF enters.
            fragment: "\
CONFIG_PPC64=y
CONFIG_PPC_BOOK3S_64=y
CONFIG_CPU_BIG_ENDIAN=y
CONFIG_PPC_PSERIES=y
CONFIG_PPC_OF_BOOT_TRAMPOLINE=y
CONFIG_ALTIVEC=y
CONFIG_VSX=y
CONFIG_HVC_CONSOLE=y
CONFIG_PPC_4K_PAGES=n
",
            target: "vmlinux",
            image: "vmlinux",
        }),
        qemu_system: "qemu-system-ppc64",
        qemu: QemuFrom::Bookworm("qemu-system-ppc"),
        machine: crate::arch::PSERIES,
        memory: 512,
        nographic: false,
        append: "console=hvc0 panic=-1",
        firmware: None,
        unbootable: None,
    },
    Abi {
        name: "mips",
        triple: "mips-unknown-linux-gnu",
        linker: Linker::Gcc {
            gcc: "mips-linux-gnu-gcc",
            package: "gcc-mips-linux-gnu",
        },
        rustflags: &[],
        kernel: KernelFrom::Built(kbuild::Config {
            arch: "mips",
            cross_compile: "mips-linux-gnu-",
            gcc_package: "gcc-mips-linux-gnu",
            fragment: "\
CONFIG_MIPS_MALTA=y
CONFIG_CPU_BIG_ENDIAN=y
CONFIG_CPU_MIPS32_R2=y
CONFIG_32BIT=y
CONFIG_COMPAT_32BIT_TIME=y
CONFIG_PCI=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_POWER_RESET=y
CONFIG_POWER_RESET_SYSCON=y
CONFIG_MFD_SYSCON=y
",
            target: "vmlinux",
            image: "vmlinux",
        }),
        qemu_system: "qemu-system-mips",
        qemu: QemuFrom::Bookworm("qemu-system-mips"),
        machine: MALTA,
        memory: 256,
        nographic: true,
        append: "console=ttyS0 panic=-1",
        firmware: None,
        unbootable: None,
    },
    Abi {
        name: "mips64",
        triple: "mips64-unknown-linux-gnuabi64",
        linker: Linker::Gcc {
            gcc: "mips64-linux-gnuabi64-gcc",
            package: "gcc-mips64-linux-gnuabi64",
        },
        rustflags: &[],
        kernel: KernelFrom::Built(kbuild::Config {
            arch: "mips",
            cross_compile: "mips64-linux-gnuabi64-",
            gcc_package: "gcc-mips64-linux-gnuabi64",
            // n64 only: no o32 or n32 compat layer.
            fragment: "\
CONFIG_MIPS_MALTA=y
CONFIG_CPU_BIG_ENDIAN=y
CONFIG_CPU_MIPS64_R2=y
CONFIG_64BIT=y
CONFIG_MIPS32_O32=n
CONFIG_MIPS32_N32=n
CONFIG_PCI=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_POWER_RESET=y
CONFIG_POWER_RESET_SYSCON=y
CONFIG_MFD_SYSCON=y
",
            target: "vmlinux",
            image: "vmlinux",
        }),
        qemu_system: "qemu-system-mips64",
        qemu: QemuFrom::Bookworm("qemu-system-mips"),
        machine: &["-M", "malta", "-cpu", "MIPS64R2-generic"],
        memory: 256,
        nographic: true,
        append: "console=ttyS0 panic=-1",
        firmware: None,
        unbootable: None,
    },
    Abi {
        name: "aarch64_be",
        triple: "aarch64_be-unknown-linux-gnu",
        linker: Linker::RustLld,
        rustflags: &[],
        kernel: KernelFrom::Built(kbuild::Config {
            arch: "arm64",
            cross_compile: "aarch64-linux-gnu-",
            gcc_package: "gcc-aarch64-linux-gnu",
            fragment: "\
CONFIG_CPU_BIG_ENDIAN=y
CONFIG_ARM_AMBA=y
CONFIG_SERIAL_AMBA_PL011=y
CONFIG_SERIAL_AMBA_PL011_CONSOLE=y
CONFIG_ARM_PSCI_FW=y
CONFIG_POWER_RESET=y
",
            target: "Image",
            image: "arch/arm64/boot/Image",
        }),
        qemu_system: "qemu-system-aarch64",
        qemu: QemuFrom::Bookworm("qemu-system-arm"),
        machine: &["-M", "virt", "-cpu", "cortex-a57"],
        memory: 256,
        nographic: true,
        append: "console=ttyAMA0 panic=-1",
        firmware: None,
        unbootable: None,
    },
    Abi {
        name: "armeb",
        triple: "armeb-unknown-linux-gnueabi",
        linker: Linker::RustLld,
        rustflags: &[],
        kernel: KernelFrom::Built(kbuild::Config {
            arch: "arm",
            cross_compile: "arm-linux-gnueabihf-",
            gcc_package: "gcc-arm-linux-gnueabihf",
            // ARMv7 BE8 (what CONFIG_CPU_BIG_ENDIAN means from ARMv6 on): programs are linked
            // with --be8 (tests/nolibc/build.rs). ARCH_MULTIPLATFORM (off under EXPERT) brings
            // AUTO_ZRELADDR: without it the decompressor puts the kernel at 0x8000, which is
            // flash on the virt board, and the boot dies silently in prefetch aborts.
            fragment: "\
CONFIG_MMU=y
CONFIG_ARCH_MULTIPLATFORM=y
CONFIG_AUTO_ZRELADDR=y
CONFIG_ARCH_MULTI_V7=y
CONFIG_ARCH_VIRT=y
CONFIG_CPU_BIG_ENDIAN=y
CONFIG_ARM_LPAE=y
CONFIG_VFP=y
CONFIG_NEON=y
CONFIG_AEABI=y
CONFIG_COMPAT_32BIT_TIME=y
CONFIG_ATAGS=n
CONFIG_ARM_AMBA=y
CONFIG_SERIAL_AMBA_PL011=y
CONFIG_SERIAL_AMBA_PL011_CONSOLE=y
CONFIG_ARM_PSCI=y
",
            target: "zImage",
            image: "arch/arm/boot/zImage",
        }),
        qemu_system: "qemu-system-arm",
        qemu: QemuFrom::Bookworm("qemu-system-arm"),
        // Rust's armeb-unknown-linux-gnueabi is ARMv8 AArch32 (`lda`/`stl`, which a Cortex-A15
        // traps as undefined): the CPU must be an ARMv8 one.
        machine: &["-M", "virt", "-cpu", "max"],
        memory: 256,
        nographic: true,
        append: "console=ttyAMA0 panic=-1",
        firmware: None,
        unbootable: None,
    },
];

/// The ABIs `cargo xtask cross` boots when no `--arch` is named (CI's run): the ones with a
/// Debian kernel, which cost a download and a boot; the built kernels take minutes each on two
/// cores, so they run with `--all` or when named.
pub const DEFAULT: &[&str] = &["loongarch64"];

/// What `--all` and `--arch` select, for `cross` and `cross-setup` alike: the architectures
/// whose whole suite runs, and the ABIs booted with the no-libc program. `--all`: every
/// architecture and ABI; no `--arch`: [`crate::arch::select`]'s default and the [`DEFAULT`] ABIs; else
/// the names given (ABI names once each; only ABI names: no architecture).
pub fn select(
    names: &[String],
    everything: bool,
) -> Result<(Vec<&'static crate::arch::Arch>, Vec<&'static Abi>)> {
    if everything {
        return Ok((crate::arch::everything(), ABIS.iter().collect()));
    }
    let (bare_names, arch_names): (Vec<String>, Vec<String>) =
        names.iter().cloned().partition(|n| by_name(n).is_some());
    let wanted: Vec<&str> = if names.is_empty() {
        DEFAULT.to_vec()
    } else {
        bare_names.iter().map(String::as_str).collect()
    };
    let mut abis: Vec<&'static Abi> = Vec::new();
    for abi in wanted.into_iter().filter_map(by_name) {
        if !abis.iter().any(|a| a.name == abi.name) {
            abis.push(abi);
        }
    }
    let arches = if arch_names.is_empty() && !bare_names.is_empty() {
        Vec::new()
    } else {
        crate::arch::select(&arch_names)?
    };
    Ok((arches, abis))
}

/// Looks an ABI up by its `--arch` name or triple.
pub fn by_name(name: &str) -> Option<&'static Abi> {
    ABIS.iter().find(|a| a.name == name || a.triple == name)
}

/// What became of one ABI.
pub struct Outcome {
    pub abi: &'static Abi,
    /// The kernel booted, for the table.
    pub kernel: String,
    /// The program's exit status, if the kernel reported one.
    pub status: Option<i32>,
    /// What went wrong, with the console's tail.
    pub problem: Option<String>,
    pub elapsed: Duration,
}

/// Prepares (fetches, builds) and boots each ABI in turn: kernel builds use every core, so
/// nothing runs beside them.
pub fn boot_all(abis: &[&'static Abi], limits: Limits) -> Vec<Outcome> {
    let mut out = Vec::new();
    for &abi in abis {
        println!(
            "\n==> {} ({}): the no-libc program as /init",
            abi.name, abi.triple
        );
        let start = Instant::now();
        let outcome = match abi.unbootable {
            Some(why) => Outcome {
                abi,
                kernel: "(not booted)".into(),
                status: None,
                problem: Some(why.into()),
                elapsed: Duration::ZERO,
            },
            None => match prepare(abi).and_then(|p| boot(abi, &p, limits)) {
                Ok(mut o) => {
                    o.elapsed = start.elapsed();
                    o
                }
                Err(e) => Outcome {
                    abi,
                    kernel: "(not booted)".into(),
                    status: None,
                    problem: Some(e),
                    elapsed: start.elapsed(),
                },
            },
        };
        match (&outcome.status, &outcome.problem) {
            (Some(s), _) => println!(
                "    {}: exit status {s}: {} ({} s)",
                abi.name,
                describe(*s),
                crate::util::secs(outcome.elapsed)
            ),
            (None, Some(p)) => println!("    {}: {}", abi.name, first_line(p)),
            (None, None) => {}
        }
        out.push(outcome);
    }
    out
}

/// What exit status `s` (as [`exit_status`] reads it) says.
fn describe(s: i32) -> String {
    match s {
        129.. => format!("killed by signal {}", s - 128),
        _ => steps::describe(s).to_string(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The table rows of `outcomes` (a passed step counts as a passed test) and their failures.
pub fn rows(outcomes: &[Outcome]) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let steps = steps::STEPS.len() as u64;
    for o in outcomes {
        let (passed, failed) = match o.status {
            Some(0) => (steps, 0),
            Some(s) if s >= 1 && s as u64 <= steps => (s as u64 - 1, 1),
            _ => (0, 1),
        };
        let ok = o.status == Some(0);
        if !ok {
            let why = match o.status {
                Some(s) => format!("exit status {s}: {}", describe(s)),
                None => "no exit status".into(),
            };
            failures.push(format!(
                "{} no-libc program: {why}{}",
                o.abi.name,
                o.problem
                    .as_deref()
                    .map(|p| format!("\n{p}"))
                    .unwrap_or_default()
            ));
        }
        rows.push(Row {
            arch: o.abi.name.into(),
            byte_order: crate::arch::byte_order(o.abi.triple).into(),
            kernel: o.kernel.clone(),
            mode: "system, no-libc program".into(),
            passed,
            failed,
            skipped: 0,
            seconds: o.elapsed.as_secs_f64(),
            ok,
        });
    }
    (rows, failures)
}

/// What a boot needs, all local.
struct Prepared {
    program: PathBuf,
    kernel: PathBuf,
    kernel_label: String,
    qemu: PathBuf,
    firmware: Option<PathBuf>,
}

/// What `cross-setup` does for `abi`: everything its boot needs, fetched, installed and built.
pub fn prepare_only(abi: &Abi) -> Result<()> {
    if let Some(why) = abi.unbootable {
        println!("    not booted: {why}");
        return Ok(());
    }
    prepare(abi).map(|_| ())
}

/// Fetches, installs and builds what `abi`'s boot needs (each cached).
fn prepare(abi: &Abi) -> Result<Prepared> {
    let qemu = match abi.qemu {
        QemuFrom::Bookworm(package) => {
            ensure_installed(&[package])?;
            PathBuf::from(abi.qemu_system)
        }
        QemuFrom::Backports(package) => backports_qemu(package, abi.qemu_system)?,
    };
    let firmware = match &abi.firmware {
        Some(m) => Some(backports_member(m)?),
        None => None,
    };
    let program = build_program(abi)?;
    let (kernel, kernel_label) = match &abi.kernel {
        KernelFrom::Built(config) => {
            let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
            let built = kbuild::build(abi.name, config, jobs)?;
            (built.image, built.label)
        }
        KernelFrom::Debian {
            deb_arch,
            suite,
            meta,
        } => debian_kernel(abi, deb_arch, *suite, meta)?,
    };
    Ok(Prepared {
        program,
        kernel,
        kernel_label,
        qemu,
        firmware,
    })
}

/// Installs whichever of `packages` is missing (one `apt-get update` first).
pub fn ensure_installed(packages: &[&str]) -> Result<()> {
    let missing: Vec<String> = packages
        .iter()
        .filter(|p| system::installed(p).is_none())
        .map(|p| p.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("    installing {}", missing.join(" "));
    system::update()?;
    system::install(&missing)
}

/// Builds `tests/nolibc` for `abi` (release, as everywhere) and checks that it holds no C
/// library; returns the executable.
fn build_program(abi: &Abi) -> Result<PathBuf> {
    let mut rustflags: Vec<&str> = vec!["-C", "relocation-model=static"];
    let linker = match abi.linker {
        Linker::Gcc { gcc, package } => {
            ensure_installed(&[package])?;
            gcc.to_string()
        }
        Linker::RustLld => {
            rustflags.extend(["-C", "linker-flavor=ld.lld"]);
            rust_lld()?.display().to_string()
        }
    };
    rustflags.extend(abi.rustflags);
    let target_dir = cross_target_dir().join("nolibc");
    let target = Target {
        triple: abi.triple,
        std: crate::arch::StdSource::BuildStd,
        sysroot: None,
        linker: Some(linker),
        name: abi.name,
    };
    let setup = target_setup(&target, false, &rustflags, "core,alloc", &target_dir)?;
    let mut cmd = setup.command("build");
    cmd.args(["--release", "--quiet", "--manifest-path"])
        .arg(root().join("tests/nolibc/Cargo.toml"));
    run(&mut cmd)?;
    let exe = target_dir
        .join(abi.triple)
        .join("release")
        .join("aio-nolibc");
    // The host's binutils read every ELF these ABIs produce.
    let prefix = match abi.linker {
        Linker::Gcc { gcc, .. } => gcc.strip_suffix("gcc").unwrap_or(""),
        Linker::RustLld => "",
    };
    let size = freestanding::check(&exe, prefix)?;
    println!("    aio-nolibc ({}): {size}", abi.name);
    Ok(exe)
}

/// `rust-lld` of the rustup toolchain on `PATH` (Debian's rustc-web ships none).
fn rust_lld() -> Result<PathBuf> {
    let sysroot = output(Command::new("rustc").args(["--print", "sysroot"]))?;
    let host = output(Command::new("rustc").args(["--print", "host-tuple"]))
        .or_else(|_| -> Result<String> { Ok("x86_64-unknown-linux-gnu".into()) })?;
    let lld = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host.trim())
        .join("bin/rust-lld");
    if !lld.is_file() {
        bail!(
            "no rust-lld at {}: the ABIs without a cross gcc are linked by the rustup \
             toolchain's rust-lld",
            lld.display()
        );
    }
    Ok(lld)
}

/// The private apt state of bookworm-backports for the host (its `all` packages included).
fn backports() -> Result<PrivateApt> {
    let state = PrivateApt::new(
        &cache_dir(),
        "amd64-bookworm-backports",
        "amd64",
        &["bookworm-backports"],
    )?;
    if !state.has_lists() {
        state.update()?;
    }
    Ok(state)
}

/// The newest `package` of bookworm-backports, extracted (the patterns of `members`) into
/// `target/xtask-cache/backports/<package>-<version>`; returns that directory.
fn backports_package(package: &str, members: &[&str]) -> Result<(PathBuf, PathBuf)> {
    let base = cache_dir().join("backports");
    // A finished extraction is named in `<package>.dir`: no apt needed once it is there.
    let stamp = base.join(format!("{package}.dir"));
    if let Ok(dir) = std::fs::read_to_string(&stamp) {
        let dir = PathBuf::from(dir.trim());
        let deb = dir.join("package.deb");
        if dir.is_dir() && deb.is_file() {
            return Ok((dir, deb));
        }
    }
    let state = backports()?;
    let newest = |state: &PrivateApt| -> Result<String> {
        state
            .versions(package)?
            .into_iter()
            .next()
            .ok_or_else(|| format!("bookworm-backports has no {package}"))
    };
    let debs = base.join("debs");
    let mut version = newest(&state)?;
    // Lists from an earlier run may name a version the archive has since replaced.
    let downloaded = match state.download(package, &version, &debs) {
        Ok(deb) => deb,
        Err(_) => {
            state.update()?;
            version = newest(&state)?;
            state.download(package, &version, &debs)?
        }
    };
    let dir = base.join(format!("{package}-{}", version.replace(':', "_")));
    let deb = dir.join("package.deb");
    std::fs::create_dir_all(&dir).context(dir.display())?;
    std::fs::rename(&downloaded, &deb).context(deb.display())?;
    apt::extract(&deb, &dir, members)?;
    std::fs::write(&stamp, dir.display().to_string()).context(stamp.display())?;
    println!(
        "    bookworm-backports {package} {version} in {}",
        dir.display()
    );
    Ok((dir, deb))
}

/// A file of a bookworm-backports package.
fn backports_member(m: &Member) -> Result<PathBuf> {
    let (dir, _) = backports_package(m.package, &[&format!("./{}", m.path)])?;
    let file = dir.join(m.path);
    if !file.is_file() {
        bail!("bookworm-backports {} has no {}", m.package, m.path);
    }
    Ok(file)
}

/// `qemu-system-<x>` of bookworm-backports' `package`, with the bookworm libraries it links
/// installed (its `Depends` less the other qemu packages, whose data the boot does not use).
pub fn backports_qemu(package: &str, binary: &str) -> Result<PathBuf> {
    let (dir, deb) = backports_package(package, &[&format!("./usr/bin/{binary}")])?;
    let exe = dir.join("usr/bin").join(binary);
    if !exe.is_file() {
        bail!("bookworm-backports {package} has no {binary}");
    }
    let depends = output(Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Depends"))?;
    let libraries: Vec<&str> = depends
        .split(',')
        .filter_map(|d| d.split(['|', '(']).next().map(str::trim))
        .filter(|d| !d.is_empty() && !d.starts_with("qemu-"))
        .collect();
    ensure_installed(&libraries)?;
    Ok(exe)
}

/// The Debian kernel of `abi`: fetched as `cross-setup` fetches the others, then (an EFI zboot
/// image, as loong64's) decompressed to the image QEMU loads.
fn debian_kernel(
    abi: &Abi,
    deb_arch: &'static str,
    suite: Suite,
    meta: &'static str,
) -> Result<(PathBuf, String)> {
    let package = KernelPackage {
        name: abi.name,
        deb_arch,
        suite,
        meta,
    };
    let dir = kernel_dir_of(deb_arch, suite, meta);
    if !dir.join("vmlinux").is_file() {
        let mut manifest = Manifest::load()?;
        let mut states = States::default();
        fetch_kernel_package(&package, &mut manifest, &mut states, false)?;
        manifest.save()?;
    }
    let info = std::fs::read_to_string(dir.join("INFO")).unwrap_or_default();
    let image = zboot_payload(&dir.join("vmlinux"), &dir.join("Image"))?;
    Ok((image, info.trim().to_string()))
}

/// An EFI zboot image (`MZ`, then `zimg`, the payload's offset and size, its compression) is
/// decompressed into `to`; any other image is returned as it is.
fn zboot_payload(image: &Path, to: &Path) -> Result<PathBuf> {
    if to.is_file() {
        return Ok(to.to_path_buf());
    }
    let data = std::fs::read(image).context(image.display())?;
    if data.len() < 0x20 || &data[..2] != b"MZ" || &data[4..8] != b"zimg" {
        return Ok(image.to_path_buf());
    }
    let word = |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    let (offset, size) = (word(8) as usize, word(12) as usize);
    let method = String::from_utf8_lossy(&data[0x18..0x20])
        .trim_end_matches('\0')
        .to_string();
    let Some(payload) = data.get(offset..offset + size) else {
        bail!("{}: zboot payload out of bounds", image.display());
    };
    let tool = match method.as_str() {
        "zstd" | "zstd22" => "zstd",
        "gzip" => "gzip",
        "xz" => "xz",
        other => bail!("{}: zboot compression {other} not handled", image.display()),
    };
    ensure_installed(&[if tool == "zstd" { "zstd" } else { "xz-utils" }])?;
    let packed = to.with_extension(method);
    std::fs::write(&packed, payload).context(packed.display())?;
    let out = Command::new(tool)
        .arg("-dc")
        .arg(&packed)
        .output()
        .context(format!("running {tool}"))?;
    let _ = std::fs::remove_file(&packed);
    if !out.status.success() {
        bail!("{tool} -dc of {}'s payload failed", image.display());
    }
    std::fs::write(to, out.stdout).context(to.display())?;
    Ok(to.to_path_buf())
}

/// Boots `abi`'s kernel with an initramfs of `/dev/console` and the program as `/init`
/// (`panic=-1` and `-no-reboot`: qemu ends when init does) and reads the exit status.
fn boot(abi: &'static Abi, p: &Prepared, limits: Limits) -> Result<Outcome> {
    let work = cross_target_dir().join("xtask-boot");
    std::fs::create_dir_all(&work).context(work.display())?;
    let rd = work.join(format!("{}-nolibc-{}.cpio", abi.name, std::process::id()));
    let mut cpio = Cpio::create(&rd)?;
    cpio.dir("dev")?;
    cpio.char_dev("dev/console", 5, 1)?;
    cpio.copy("init", 0o755, &p.program)?;
    cpio.finish()?;
    let mut cmd = Command::new(&p.qemu);
    cmd.args(abi.machine)
        .args(["-m", &abi.memory.to_string()])
        .arg("-no-reboot");
    if abi.nographic {
        cmd.args(["-nographic", "-monitor", "none"]);
    }
    if let Some(firmware) = &p.firmware {
        cmd.arg("-bios").arg(firmware);
    }
    cmd.arg("-kernel")
        .arg(&p.kernel)
        .arg("-initrd")
        .arg(&rd)
        .args(["-append", &format!("{} rdinit=/init", abi.append)])
        // A QEMU from another suite must not load this system's (7.2) modules.
        .env("QEMU_MODULE_DIR", "/nonexistent");
    println!("    $ {}", show(&cmd));
    // Not every machine ends on the kernel's reboot after the panic (loongarch64's virt
    // spins): the line with the exit status ends the boot.
    let run = qemu::run_supervised(&mut cmd, limits, Some(INIT_EXIT), false);
    let _ = std::fs::remove_file(&rd);
    let qemu::Console {
        console,
        stderr,
        killed,
    } = run?;
    let log = cross_target_dir()
        .join("logs")
        .join(format!("{}-nolibc.log", abi.name));
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&log, format!("{console}\n--- qemu stderr ---\n{stderr}"));
    let status = exit_status(&console);
    let problem = match (status, killed) {
        (Some(_), _) => None,
        (None, Some(why)) => Some(why),
        (None, None) => Some("the console shows no end of /init".into()),
    }
    .map(|why| {
        format!(
            "{why} (console in {}):\n{}",
            log.display(),
            qemu::tail(&format!("{console}{stderr}"), 15)
        )
    });
    Ok(Outcome {
        abi,
        kernel: p.kernel_label.clone(),
        status,
        problem,
        elapsed: Duration::ZERO,
    })
}

/// What the kernel prints when init exits, before the status.
const INIT_EXIT: &str = "Attempted to kill init! exitcode=";

/// The exit status in the kernel's `Attempted to kill init! exitcode=0x0000NN00` (a wait
/// status: NN the exit code; a signal number in the low byte is reported as 128 + signal).
fn exit_status(console: &str) -> Option<i32> {
    let at = console.find(INIT_EXIT)?;
    let code = console[at + INIT_EXIT.len()..].split_whitespace().next()?;
    let code = i32::from_str_radix(code.trim_start_matches("0x"), 16).ok()?;
    Some(if code & 0x7f != 0 {
        128 + (code & 0x7f)
    } else {
        (code >> 8) & 0xff
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses() {
        let line =
            |c: &str| format!("Kernel panic - not syncing: Attempted to kill init! exitcode={c}\n");
        assert_eq!(exit_status(&line("0x00000000")), Some(0));
        assert_eq!(exit_status(&line("0x00000b00")), Some(11));
        assert_eq!(exit_status(&line("0x0000000b")), Some(128 + 11));
        assert_eq!(exit_status("Run /init as init process\n"), None);
    }

    #[test]
    fn abis_are_distinct_and_fragments_end_with_newlines() {
        for (i, a) in ABIS.iter().enumerate() {
            assert!(ABIS[i + 1..].iter().all(|b| b.name != a.name));
            assert!(
                crate::arch::by_name(a.name).is_err(),
                "{} is also an Arch",
                a.name
            );
            if let KernelFrom::Built(c) = &a.kernel {
                assert!(c.fragment.ends_with('\n'));
            }
        }
    }
}
