//! What `cross-setup` leaves behind (the manifest) and how cross builds use it: the cargo
//! environment of each target.

use crate::arch::{Arch, StdSource, Suite};
use crate::util::{Context, Result, bail, cache_dir, cross_target_dir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Debian's rustc for cross builds (the pinned rustc-web).
pub const RUSTC: &str = "/usr/bin/rustc";

/// The `key=value` manifest `cross-setup` writes: the pinned rustc-web version and the kernel
/// package of each architecture.
#[derive(Debug, Default)]
pub struct Manifest {
    pub entries: BTreeMap<String, String>,
}

impl Manifest {
    pub fn path() -> PathBuf {
        cache_dir().join("setup.txt")
    }

    pub fn load() -> Result<Self> {
        let path = Self::path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => bail!("{}: {e}", path.display()),
        };
        let entries = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(Manifest { entries })
    }

    pub fn save(&self) -> Result<()> {
        let mut text = String::from("# written by `cargo xtask cross-setup`\n");
        for (k, v) in &self.entries {
            text.push_str(&format!("{k}={v}\n"));
        }
        let path = Self::path();
        std::fs::create_dir_all(cache_dir()).context(cache_dir().display())?;
        std::fs::write(&path, text).context(path.display())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.entries.insert(key.into(), value.into());
    }

    /// The pinned rustc-web version, or an error telling to run `cross-setup`.
    pub fn rustc_version(&self) -> Result<&str> {
        self.get("rustc-web")
            .ok_or_else(|| "no pinned rustc-web: run `cargo xtask cross-setup` first".to_string())
    }
}

/// The private sysroot holding Debian's std for `arch` (`<dir>/lib/rustlib/<triple>/lib`).
pub fn sysroot(arch: &Arch) -> PathBuf {
    cache_dir().join("sysroot").join(arch.name).join("usr")
}

/// Where `cross-setup` keeps `arch`'s kernel from `suite`: `vmlinux` (the image), `brd.ko` and
/// `INFO`. Named by the package, so that architectures booting the same kernel (x86_64 and x32)
/// share it.
pub fn kernel_dir(arch: &Arch, suite: Suite) -> PathBuf {
    cache_dir().join("kernels").join(format!(
        "{}-{}-{}",
        arch.kernel_deb_arch(),
        suite.name(),
        arch.kernel_meta
    ))
}

/// The kernel image and the ramdisk module of `arch`, checked to exist.
pub struct Kernel {
    pub image: PathBuf,
    pub brd: Option<PathBuf>,
    /// `<package> <version>` as downloaded.
    pub package: String,
}

impl Kernel {
    pub fn load(arch: &Arch, suite: Suite) -> Result<Self> {
        let dir = kernel_dir(arch, suite);
        let image = dir.join("vmlinux");
        if !image.is_file() {
            bail!(
                "no {} kernel for {} in {}: run `cargo xtask cross-setup --arch {}`",
                suite.name(),
                arch.name,
                dir.display(),
                arch.name
            );
        }
        let brd = Some(dir.join("brd.ko")).filter(|p| p.is_file());
        let package = std::fs::read_to_string(dir.join("INFO"))
            .unwrap_or_default()
            .trim()
            .to_string();
        Ok(Kernel {
            image,
            brd,
            package,
        })
    }
}

/// How to invoke cargo for `arch`: environment and extra arguments.
pub struct CargoSetup {
    pub env: Vec<(String, String)>,
    /// Variables to remove (they would override the target's rustflags).
    pub env_remove: Vec<&'static str>,
    pub args: Vec<String>,
}

/// The cargo environment of a cross build for `arch`: Debian's rustc, a static link through the
/// cross gcc, the private sysroot (or build-std), and `RUSTC_BOOTSTRAP=1` (PowerPC and MIPS
/// inline assembly, build-std).
pub fn cargo_setup(arch: &Arch) -> Result<CargoSetup> {
    cargo_setup_with(arch, false)
}

/// rustix picks its libc backend on PowerPC, s390x and MIPS unless told to use its (experimental
/// there) inline asm: `--cfg rustix_use_experimental_asm`. mips64el needs that, because rustix
/// 1.1's libc backend does not build on mips64-linux-gnu (`libc::SIGEMT` is missing there).
/// `all_linux_raw` asks for it on s390x too. Never on ppc64le: rustix's powerpc64 asm names the
/// `ctr` register, which rustc 1.85 does not accept as an asm operand.
pub fn rustix_linux_raw(arch: &Arch, all_linux_raw: bool) -> bool {
    arch.name == "mips64el" || (all_linux_raw && arch.name != "ppc64le")
}

/// [`cargo_setup`], optionally with rustix's linux_raw backend on every target.
pub fn cargo_setup_with(arch: &Arch, all_linux_raw: bool) -> Result<CargoSetup> {
    let mut setup = base_setup(
        arch,
        rustix_linux_raw(arch, all_linux_raw),
        &[],
        "std,panic_unwind",
        &cross_target_dir(),
    )?;
    setup.args.extend(
        [
            // Debug assertions stay on, but TCG runs unoptimized code ~5x slower than
            // opt-level 1.
            "--config",
            "profile.dev.opt-level=1",
            // The binaries are linked with `strip=debuginfo` (smaller initramfs images):
            // building the debug info would only cost time and disk. Panic locations do not
            // need it.
            "--config",
            "profile.dev.debug=false",
        ]
        .map(String::from),
    );
    Ok(setup)
}

/// The cargo environment of a freestanding program for `arch` (`tests/nolibc*`: no std, its own
/// `_start`): as [`cargo_setup`], with only `core` and `alloc` where they are built from source,
/// a fixed-address executable (`relocation-model=static`: nothing relocates it at start), and
/// rustix's inline-asm backend when `rustix_asm` (a program that uses rustix must not get its
/// libc backend).
pub fn freestanding_setup(arch: &Arch, rustix_asm: bool, target_dir: &Path) -> Result<CargoSetup> {
    base_setup(
        arch,
        rustix_asm,
        &["-C", "relocation-model=static"],
        "core,alloc",
        target_dir,
    )
}

/// What every cross build shares: Debian's rustc, a static link through the cross gcc, the
/// private sysroot (or build-std of `build_std`), rustix's asm backend if asked, and the
/// caller's `extra_rustflags`.
fn base_setup(
    arch: &Arch,
    rustix_asm: bool,
    extra_rustflags: &[&str],
    build_std: &str,
    target_dir: &Path,
) -> Result<CargoSetup> {
    let mut rustflags: Vec<String> = ["-C", "target-feature=+crt-static", "-C", "strip=debuginfo"]
        .iter()
        .chain(extra_rustflags)
        .map(|f| f.to_string())
        .collect();
    if rustix_asm {
        rustflags.push("--cfg".into());
        rustflags.push("rustix_use_experimental_asm".into());
    }
    let mut args = vec![
        "--target".to_string(),
        arch.triple.to_string(),
        "--target-dir".to_string(),
        target_dir.display().to_string(),
    ];
    match arch.std {
        StdSource::Host => {}
        StdSource::Debian => {
            let sysroot = sysroot(arch);
            let lib = sysroot.join("lib/rustlib").join(arch.triple).join("lib");
            if !lib.is_dir() {
                bail!(
                    "no std for {} in {}: run `cargo xtask cross-setup --arch {}`",
                    arch.triple,
                    lib.display(),
                    arch.name
                );
            }
            rustflags.push("--sysroot".into());
            rustflags.push(sysroot.display().to_string());
        }
        StdSource::BuildStd => {
            if !Path::new("/usr/lib/rustlib/src/rust/library").is_dir() {
                bail!("rust-web-src is not installed: run `cargo xtask cross-setup`");
            }
            args.push(format!("-Zbuild-std={build_std}"));
        }
    }
    let mut env = vec![
        ("RUSTC".to_string(), RUSTC.to_string()),
        ("RUSTC_BOOTSTRAP".to_string(), "1".to_string()),
        (arch.cargo_env("RUSTFLAGS"), rustflags.join(" ")),
    ];
    if let Some(gcc) = arch.gcc {
        env.push((arch.cargo_env("LINKER"), gcc.to_string()));
    }
    Ok(CargoSetup {
        env,
        env_remove: vec![
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "CARGO_BUILD_TARGET",
        ],
        args,
    })
}

impl CargoSetup {
    /// A `cargo` command with this setup applied.
    pub fn command(&self, subcommand: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
        cmd.current_dir(crate::util::root()).arg(subcommand);
        for v in &self.env_remove {
            cmd.env_remove(v);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.args(&self.args);
        cmd
    }
}
