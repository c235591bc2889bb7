//! The architectures under test: target triple, Debian names, kernel and QEMU settings.

use crate::util::{Result, bail};

/// Where a target's std comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdSource {
    /// The host's own std (`/usr/lib/rustlib/<triple>`, Debian's rustc-web).
    Host,
    /// Debian's `libstd-rust-web-dev:<deb_arch>` of the pinned version, in a private sysroot.
    Debian,
    /// Built with `-Zbuild-std` from Debian's `rust-web-src` (no matching std in bookworm).
    BuildStd,
}

/// The Debian suite a kernel is taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Suite {
    /// Debian 11: Linux 5.10.
    Bullseye,
    /// Debian 12: Linux 6.1.
    Bookworm,
    /// Debian 13: Linux 6.12. riscv64 is not a bookworm port: its kernel comes from here.
    Trixie,
    /// unstable: the newest kernel Debian packages.
    Sid,
}

impl Suite {
    /// The suite's name, as in `--kernel` and the kernel cache.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Bullseye => "bullseye",
            Suite::Bookworm => "bookworm",
            Suite::Trixie => "trixie",
            Suite::Sid => "sid",
        }
    }
}

/// One architecture of `cargo xtask cross`.
#[derive(Debug)]
pub struct Arch {
    /// The `--arch` name.
    pub name: &'static str,
    pub triple: &'static str,
    /// dpkg's architecture name.
    pub deb_arch: &'static str,
    /// The linker (a gcc driver), `None` for the host's `cc`.
    pub gcc: Option<&'static str>,
    /// The Debian packages of the cross gcc and libc.
    pub gcc_packages: &'static [&'static str],
    pub std: StdSource,
    /// The suites whose kernels the suite runs in (the kernel-version matrix); the first is the
    /// architecture's own, the one `--kernels first` keeps.
    pub kernels: &'static [Suite],
    /// The kernel metapackage (the same name in every suite); its `Depends` names the versioned
    /// image.
    pub kernel_meta: &'static str,
    /// dpkg's architecture of the kernel, where it is not `deb_arch`'s (x32 runs on amd64's).
    pub kernel_deb_arch: Option<&'static str>,
    /// `qemu-<x>` of qemu-user.
    pub qemu_user: &'static str,
    /// Why the architecture has no qemu-user run, if it has none.
    pub no_user_mode: Option<&'static str>,
    /// `qemu-system-<x>` and where it comes from.
    pub qemu_system: &'static str,
    pub qemu: QemuFrom,
    /// Machine options (before `-kernel`).
    pub machine: &'static [&'static str],
    /// Memory in MiB.
    pub memory: u32,
    /// Whether `-nographic` provides the console (else `machine` sets one up).
    pub nographic: bool,
    /// The kernel command line (the runner adds nothing to it but `rdinit`).
    pub append: &'static str,
}

/// Where `qemu-system-<x>` comes from.
#[derive(Debug)]
pub enum QemuFrom {
    /// The system's, installed with apt from bookworm: the package.
    Bookworm(&'static str),
    /// The package of bookworm-backports, extracted into the cache (never installed).
    Backports(&'static str),
}

/// QEMU's pseries machine as TCG can run it (no Spectre mitigation capabilities TCG lacks),
/// its console on the spapr VTY (`console=hvc0`): ppc64le here, and big-endian ppc64 in `bare`.
pub const PSERIES: &[&str] = &[
    "-M",
    "pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off",
    "-nodefaults",
    "-display",
    "none",
    "-chardev",
    "stdio,id=con0",
    "-device",
    "spapr-vty,chardev=con0",
];

const APPEND_ARM: &str = "console=ttyAMA0 quiet panic=-1 cryptomgr.notests";
const APPEND_TTYS0: &str = "console=ttyS0 quiet panic=-1 cryptomgr.notests";
const APPEND_PC: &str = "console=ttyS0 quiet panic=-1 cryptomgr.notests isapnp=0";

/// Every architecture, in the order of the summary table.
pub const ALL: &[Arch] = &[
    Arch {
        name: "x86_64",
        triple: "x86_64-unknown-linux-gnu",
        deb_arch: "amd64",
        gcc: None,
        gcc_packages: &["gcc", "libc6-dev"],
        std: StdSource::Host,
        kernels: &[Suite::Bookworm, Suite::Bullseye, Suite::Trixie, Suite::Sid],
        kernel_meta: "linux-image-amd64",
        kernel_deb_arch: None,
        no_user_mode: None,
        qemu_user: "qemu-x86_64",
        qemu_system: "qemu-system-x86_64",
        qemu: QemuFrom::Bookworm("qemu-system-x86"),
        machine: &["-M", "pc"],
        memory: 512,
        nographic: true,
        append: APPEND_PC,
    },
    Arch {
        name: "aarch64",
        triple: "aarch64-unknown-linux-gnu",
        deb_arch: "arm64",
        gcc: Some("aarch64-linux-gnu-gcc"),
        gcc_packages: &["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"],
        std: StdSource::Debian,
        kernels: &[Suite::Bookworm, Suite::Trixie],
        kernel_meta: "linux-image-arm64",
        kernel_deb_arch: None,
        no_user_mode: None,
        qemu_user: "qemu-aarch64",
        qemu_system: "qemu-system-aarch64",
        qemu: QemuFrom::Bookworm("qemu-system-arm"),
        machine: &["-M", "virt", "-cpu", "cortex-a57"],
        memory: 512,
        nographic: true,
        append: APPEND_ARM,
    },
    Arch {
        name: "armv7",
        triple: "armv7-unknown-linux-gnueabihf",
        deb_arch: "armhf",
        gcc: Some("arm-linux-gnueabihf-gcc"),
        gcc_packages: &["gcc-arm-linux-gnueabihf", "libc6-dev-armhf-cross"],
        std: StdSource::Debian,
        kernels: &[Suite::Bookworm],
        kernel_meta: "linux-image-armmp-lpae",
        kernel_deb_arch: None,
        no_user_mode: None,
        qemu_user: "qemu-arm",
        qemu_system: "qemu-system-arm",
        qemu: QemuFrom::Bookworm("qemu-system-arm"),
        machine: &["-M", "virt", "-cpu", "cortex-a15"],
        memory: 512,
        nographic: true,
        append: APPEND_ARM,
    },
    Arch {
        name: "i686",
        triple: "i686-unknown-linux-gnu",
        deb_arch: "i386",
        gcc: Some("i686-linux-gnu-gcc"),
        gcc_packages: &["gcc-i686-linux-gnu", "libc6-dev-i386-cross"],
        std: StdSource::Debian,
        kernels: &[Suite::Bookworm],
        kernel_meta: "linux-image-686",
        kernel_deb_arch: None,
        no_user_mode: None,
        qemu_user: "qemu-i386",
        qemu_system: "qemu-system-i386",
        qemu: QemuFrom::Bookworm("qemu-system-x86"),
        machine: &["-M", "pc"],
        memory: 512,
        nographic: true,
        append: APPEND_PC,
    },
    Arch {
        name: "riscv64",
        triple: "riscv64gc-unknown-linux-gnu",
        deb_arch: "riscv64",
        gcc: Some("riscv64-linux-gnu-gcc"),
        gcc_packages: &["gcc-riscv64-linux-gnu", "libc6-dev-riscv64-cross"],
        std: StdSource::BuildStd,
        kernels: &[Suite::Trixie],
        kernel_meta: "linux-image-riscv64",
        kernel_deb_arch: None,
        no_user_mode: None,
        qemu_user: "qemu-riscv64",
        qemu_system: "qemu-system-riscv64",
        // bookworm's QEMU 7.2 writes through the guest's page cache about 18 times slower on
        // riscv64 (32 MiB written to /tmp: 14.7 s against 0.81 s with 10.0), which made
        // riscv64's boot the longest of CI (540 s, 280 s of it one test's 500 MiB of writes).
        qemu: QemuFrom::Backports("qemu-system-riscv"),
        machine: &["-M", "virt"],
        memory: 512,
        nographic: true,
        append: APPEND_TTYS0,
    },
    Arch {
        name: "s390x",
        triple: "s390x-unknown-linux-gnu",
        deb_arch: "s390x",
        gcc: Some("s390x-linux-gnu-gcc"),
        gcc_packages: &["gcc-s390x-linux-gnu", "libc6-dev-s390x-cross"],
        std: StdSource::Debian,
        kernels: &[Suite::Bookworm],
        kernel_meta: "linux-image-s390x",
        kernel_deb_arch: None,
        no_user_mode: None,
        qemu_user: "qemu-s390x",
        qemu_system: "qemu-system-s390x",
        qemu: QemuFrom::Bookworm("qemu-system-misc"),
        machine: &["-M", "s390-ccw-virtio"],
        memory: 512,
        nographic: true,
        append: "console=ttysclp0 quiet panic=-1 cryptomgr.notests",
    },
    Arch {
        name: "ppc64le",
        triple: "powerpc64le-unknown-linux-gnu",
        deb_arch: "ppc64el",
        gcc: Some("powerpc64le-linux-gnu-gcc"),
        gcc_packages: &["gcc-powerpc64le-linux-gnu", "libc6-dev-ppc64el-cross"],
        std: StdSource::Debian,
        kernels: &[Suite::Bookworm],
        kernel_meta: "linux-image-powerpc64le",
        kernel_deb_arch: None,
        no_user_mode: None,
        qemu_user: "qemu-ppc64le",
        qemu_system: "qemu-system-ppc64",
        qemu: QemuFrom::Bookworm("qemu-system-ppc"),
        machine: PSERIES,
        memory: 1024,
        nographic: false,
        append: "console=hvc0 quiet panic=-1 cryptomgr.notests",
    },
    Arch {
        name: "mips64el",
        triple: "mips64el-unknown-linux-gnuabi64",
        deb_arch: "mips64el",
        gcc: Some("mips64el-linux-gnuabi64-gcc"),
        gcc_packages: &["gcc-mips64el-linux-gnuabi64", "libc6-dev-mips64el-cross"],
        std: StdSource::BuildStd,
        kernels: &[Suite::Bookworm],
        kernel_meta: "linux-image-5kc-malta",
        kernel_deb_arch: None,
        no_user_mode: None,
        qemu_user: "qemu-mips64el",
        qemu_system: "qemu-system-mips64el",
        qemu: QemuFrom::Bookworm("qemu-system-mips"),
        machine: &["-M", "malta", "-cpu", "5KEc"],
        memory: 256,
        nographic: true,
        append: APPEND_TTYS0,
    },
];

/// Architectures whose whole suite runs only with `--all` or when named: not in the default
/// set (and so not in CI: with x32 in it, CI took 46 minutes cold on two cores; x32's build
/// alone was 234 s).
pub const EXTRA: &[Arch] = &[
    Arch {
        name: "x32",
        triple: "x86_64-unknown-linux-gnux32",
        deb_arch: "amd64",
        gcc: Some("x86_64-linux-gnux32-gcc"),
        gcc_packages: &["gcc-x86-64-linux-gnux32", "libc6-dev-x32-cross"],
        std: StdSource::BuildStd,
        // Debian's amd64 kernel is built with the x32 ABI, off unless `syscall.x32=y`.
        kernels: &[Suite::Bookworm],
        kernel_meta: "linux-image-amd64",
        kernel_deb_arch: Some("amd64"),
        no_user_mode: Some(
            "qemu-user has no x32 ABI (qemu-x86_64 loads 64-bit ELF only): the ENOSYS path is \
             the x86_64 row's",
        ),
        qemu_user: "qemu-x86_64",
        qemu_system: "qemu-system-x86_64",
        qemu: QemuFrom::Bookworm("qemu-system-x86"),
        machine: &["-M", "pc"],
        memory: 512,
        nographic: true,
        append: "console=ttyS0 quiet panic=-1 cryptomgr.notests isapnp=0 syscall.x32=y",
    },
    Arch {
        name: "mipsel",
        triple: "mipsel-unknown-linux-gnu",
        deb_arch: "mipsel",
        gcc: Some("mipsel-linux-gnu-gcc"),
        gcc_packages: &["gcc-mipsel-linux-gnu", "libc6-dev-mipsel-cross"],
        std: StdSource::BuildStd,
        kernels: &[Suite::Bookworm],
        kernel_meta: "linux-image-4kc-malta",
        kernel_deb_arch: None,
        no_user_mode: None,
        qemu_user: "qemu-mipsel",
        qemu_system: "qemu-system-mipsel",
        qemu: QemuFrom::Bookworm("qemu-system-mips"),
        machine: &["-M", "malta"],
        memory: 256,
        nographic: true,
        append: APPEND_TTYS0,
    },
];

impl Arch {
    /// `little` or `big`, from the triple.
    pub fn byte_order(&self) -> &'static str {
        byte_order(self.triple)
    }

    /// dpkg's architecture of the kernel packages.
    pub fn kernel_deb_arch(&self) -> &'static str {
        self.kernel_deb_arch.unwrap_or(self.deb_arch)
    }

    /// `CARGO_TARGET_<TRIPLE>_<what>`.
    pub fn cargo_env(&self, what: &str) -> String {
        crate::toolchain::cargo_env(self.triple, what)
    }
}

/// Looks an architecture up by its `--arch` name (or its triple).
pub fn by_name(name: &str) -> Result<&'static Arch> {
    let known = || ALL.iter().chain(EXTRA);
    match known().find(|a| a.name == name || a.triple == name) {
        Some(a) => Ok(a),
        None => bail!(
            "unknown architecture {name}; known: {}",
            known().map(|a| a.name).collect::<Vec<_>>().join(" ")
        ),
    }
}

/// Every architecture whose whole suite runs: the default set and the extra ones (`--all`).
pub fn everything() -> Vec<&'static Arch> {
    ALL.iter().chain(EXTRA).collect()
}

/// The architectures named by `--arch` (all of them when none is named).
pub fn select(names: &[String]) -> Result<Vec<&'static Arch>> {
    if names.is_empty() || names.iter().any(|n| n == "all") {
        return Ok(ALL.iter().collect());
    }
    let mut out: Vec<&'static Arch> = Vec::new();
    for n in names {
        let a = by_name(n)?;
        if !out.iter().any(|b| b.name == a.name) {
            out.push(a);
        }
    }
    Ok(out)
}

/// `big` or `little`: the byte order of a target triple.
pub fn byte_order(triple: &str) -> &'static str {
    let arch = triple.split('-').next().unwrap_or("");
    let big = matches!(arch, "s390x" | "mips" | "mips64" | "powerpc" | "powerpc64")
        || arch.ends_with("_be")
        || arch.starts_with("armeb");
    if big { "big" } else { "little" }
}
