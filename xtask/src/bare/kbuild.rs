//! Kernels built here, for the ABIs Debian has no kernel for: Linux 6.1 from bookworm's
//! `linux-source-6.1`, compiled by Debian's cross gcc with a small configuration.
//!
//! The configuration is `allnoconfig` with `KCONFIG_ALLCONFIG` set to [`COMMON`] plus the ABI's
//! fragment: Kconfig applies the fragment first (choices such as the board or the byte order
//! included) and turns everything else off, so the kernel has what the program needs and no
//! more. Every line of the fragment is then checked against the `.config` (a symbol whose
//! dependencies are not met is dropped silently by Kconfig; here it is an error).
//!
//! Everything lives outside the build tree ([`kbuild_cache_dir`]: `~/.cache/aio-xtask/kbuild`
//! by default), so `cargo clean` and a fresh clone on the same machine reuse it: the source is
//! extracted once into `src-<version>`; each build goes to `<abi>-<key>`, the key a hash of the
//! source package's version, the configuration, the make target and the cross gcc's version,
//! and is reused while present.

use super::ensure_installed;
use crate::apt::system;
use crate::util::{Context, Result, bail, human_size, kbuild_cache_dir, output, run, secs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The Debian package of the kernel source, and what it installs.
pub const SOURCE_PACKAGE: &str = "linux-source-6.1";
const SOURCE_TARBALL: &str = "/usr/src/linux-source-6.1.tar.xz";
/// The tarball's top directory.
const SOURCE_TOP: &str = "linux-source-6.1";

/// What every build needs on the host besides the cross gcc.
const HOST_PACKAGES: &[&str] = &[
    SOURCE_PACKAGE,
    "make",
    "gcc",
    "libc6-dev",
    "flex",
    "bison",
    "bc",
    "xz-utils",
];

/// The part of the configuration every ABI shares: AIO and the calls the tests make around it
/// (eventfd, epoll, futex, signalfd, timerfd, memfd through shmem/tmpfs, pipes, unix sockets
/// for tokio), an uncompressed initramfs, ELF binaries, proc/sys with sysctl (aio-max-nr),
/// devtmpfs, a TTY and printk for the console, and a built-in 32 MiB ramdisk as `/dev/ram0`
/// (`brd` as a module is what the Debian kernels' runs load).
pub const COMMON: &str = "\
CONFIG_EXPERT=y
CONFIG_CC_OPTIMIZE_FOR_SIZE=y
CONFIG_PRINTK=y
CONFIG_BUG=y
CONFIG_MULTIUSER=y
CONFIG_POSIX_TIMERS=y
CONFIG_FUTEX=y
CONFIG_EPOLL=y
CONFIG_SIGNALFD=y
CONFIG_TIMERFD=y
CONFIG_EVENTFD=y
CONFIG_AIO=y
CONFIG_SHMEM=y
CONFIG_FILE_LOCKING=y
CONFIG_ADVISE_SYSCALLS=y
CONFIG_MEMBARRIER=y
CONFIG_SYSVIPC=n
CONFIG_KALLSYMS=n
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=n
CONFIG_RD_BZIP2=n
CONFIG_RD_LZMA=n
CONFIG_RD_XZ=n
CONFIG_RD_LZO=n
CONFIG_RD_LZ4=n
CONFIG_RD_ZSTD=n
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_SYSCTL=y
CONFIG_PROC_SYSCTL=y
CONFIG_TMPFS=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_TTY=y
CONFIG_UNIX98_PTYS=y
CONFIG_BLOCK=y
CONFIG_BLK_DEV=y
CONFIG_BLK_DEV_RAM=y
CONFIG_BLK_DEV_RAM_COUNT=1
CONFIG_BLK_DEV_RAM_SIZE=32768
CONFIG_NET=y
CONFIG_UNIX=y
CONFIG_HIGH_RES_TIMERS=y
CONFIG_NO_HZ_IDLE=y
CONFIG_OF=y
";

/// How one ABI's kernel is built.
#[derive(Debug)]
pub struct Config {
    /// `ARCH=` and `CROSS_COMPILE=`.
    pub arch: &'static str,
    pub cross_compile: &'static str,
    /// The Debian package of the cross gcc (bookworm).
    pub gcc_package: &'static str,
    /// The ABI's lines of the configuration, after [`COMMON`].
    pub fragment: &'static str,
    /// The make target and the image it leaves (relative to the build directory).
    pub target: &'static str,
    pub image: &'static str,
}

/// A kernel built (or found built): its image and what to call it in the table.
pub struct Built {
    pub image: PathBuf,
    /// `6.1.192 (linux-source-6.1, built)`.
    pub label: String,
}

/// Builds the kernel of ABI `abi` from `config` with `make -j<jobs>`, or finds it built.
pub fn build(abi: &str, config: &Config, jobs: usize) -> Result<Built> {
    let mut packages: Vec<&str> = HOST_PACKAGES.to_vec();
    packages.push(config.gcc_package);
    ensure_installed(&packages)?;
    let version = system::installed(SOURCE_PACKAGE)
        .ok_or_else(|| format!("{SOURCE_PACKAGE} is not installed"))?;
    let source = extract_source(&version)?;
    let gcc = format!("{}gcc", config.cross_compile);
    let gcc_version = output(Command::new(&gcc).arg("--version"))?;
    let gcc_version = gcc_version.lines().next().unwrap_or_default().to_string();
    let full = format!("{COMMON}{}", config.fragment);
    let key = fnv1a(&[
        &version,
        config.arch,
        config.cross_compile,
        &gcc_version,
        config.target,
        &full,
    ]);
    let out = kbuild_dir().join(format!("{abi}-{key:016x}"));
    let image = out.join(config.image);
    let done = out.join(".xtask-built");
    // `6.1.192-3` → `6.1.192`: the kernel's own version.
    let upstream = version.split('-').next().unwrap_or(&version);
    let label = format!("{upstream} ({SOURCE_PACKAGE}, built)");
    if done.is_file() && image.is_file() {
        println!(
            "    kernel {abi}: built before in {} ({})",
            out.display(),
            human_size(file_size(&image))
        );
        return Ok(Built { image, label });
    }
    // A build that did not finish is redone from its configuration on: make picks up the rest.
    std::fs::create_dir_all(&out).context(out.display())?;
    let fragment = out.join("xtask.fragment");
    std::fs::write(&fragment, &full).context(fragment.display())?;
    let make = |args: &[&str]| {
        let mut cmd = Command::new("make");
        cmd.arg("-C")
            .arg(&source)
            .arg(format!("O={}", out.display()))
            .arg(format!("ARCH={}", config.arch))
            .arg(format!("CROSS_COMPILE={}", config.cross_compile))
            .args(args);
        cmd
    };
    let start = Instant::now();
    run(make(&["-s", "allnoconfig"]).env("KCONFIG_ALLCONFIG", &fragment))?;
    let dot_config = out.join(".config");
    let dot_config = std::fs::read_to_string(&dot_config).context(dot_config.display())?;
    let missing = unmet(&full, &dot_config);
    if !missing.is_empty() {
        bail!(
            "the {abi} kernel configuration drops or changes what the fragment sets (a \
             dependency is not met): {}",
            missing.join(", ")
        );
    }
    println!(
        "    kernel {abi}: make -j{jobs} {} (a few minutes)",
        config.target
    );
    run(make(&["-s", &format!("-j{jobs}"), config.target]).env("KBUILD_BUILD_HOST", "xtask"))?;
    if !image.is_file() {
        bail!("make {} left no {}", config.target, image.display());
    }
    let took = start.elapsed();
    let info = format!(
        "{SOURCE_PACKAGE} {version}\n{gcc_version}\nmake -j{jobs} {}: {} s\n",
        config.target,
        secs(took)
    );
    std::fs::write(&done, info).context(done.display())?;
    println!(
        "    kernel {abi}: built in {} s: {} ({})",
        secs(took),
        image.display(),
        human_size(file_size(&image))
    );
    Ok(Built { image, label })
}

fn kbuild_dir() -> PathBuf {
    kbuild_cache_dir()
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The source tree of `version` of [`SOURCE_PACKAGE`], extracted once.
fn extract_source(version: &str) -> Result<PathBuf> {
    let dir = kbuild_dir().join(format!("src-{version}"));
    let tree = dir.join(SOURCE_TOP);
    let marker = dir.join(".xtask-extracted");
    if marker.is_file() && tree.is_dir() {
        return Ok(tree);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).context(dir.display())?;
    }
    std::fs::create_dir_all(&dir).context(dir.display())?;
    let start = Instant::now();
    run(Command::new("tar")
        .arg("-xf")
        .arg(SOURCE_TARBALL)
        .arg("-C")
        .arg(&dir))?;
    if !tree.join("Makefile").is_file() {
        bail!("{SOURCE_TARBALL} has no {SOURCE_TOP}/Makefile");
    }
    std::fs::write(&marker, version).context(marker.display())?;
    println!(
        "    {SOURCE_PACKAGE} {version} extracted in {} s",
        secs(start.elapsed())
    );
    Ok(tree)
}

/// The lines of `fragment` that `.config` does not have as set (`=n`: absent or not set).
fn unmet(fragment: &str, dot_config: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in fragment.lines() {
        let Some((name, want)) = line.trim().split_once('=') else {
            continue;
        };
        if !name.starts_with("CONFIG_") {
            continue;
        }
        let prefix = format!("{name}=");
        let got = dot_config
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()));
        let ok = match (want, got) {
            ("n", None) => true,
            ("n", Some(_)) => false,
            (w, Some(g)) => w == g,
            (_, None) => false,
        };
        if !ok {
            out.push(format!("{name}={want} (is {})", got.unwrap_or("not set")));
        }
    }
    out
}

/// FNV-1a, 64 bits, over the parts with a separator: a cache key stable across Rust versions
/// (std's hasher is not).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmet_lines() {
        let fragment = "CONFIG_A=y\nCONFIG_B=n\nCONFIG_C=32\nCONFIG_D=y\n# comment\n";
        let config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=16\n";
        assert_eq!(
            unmet(fragment, config),
            vec!["CONFIG_C=32 (is 16)", "CONFIG_D=y (is not set)"]
        );
    }

    #[test]
    fn common_ends_with_a_newline() {
        assert!(COMMON.ends_with('\n'));
    }
}
