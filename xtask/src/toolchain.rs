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
    kernel_dir_of(arch.kernel_deb_arch(), suite, arch.kernel_meta)
}

/// Where the kernel of metapackage `meta` for `deb_arch` from `suite` is kept.
pub fn kernel_dir_of(deb_arch: &str, suite: Suite, meta: &str) -> PathBuf {
    cache_dir()
        .join("kernels")
        .join(format!("{deb_arch}-{}-{meta}", suite.name()))
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
            // Except aio-bench, whose library's tests check its arithmetic and reports and
            // run each engine for a few operations: unoptimized, the workspace's own test
            // binaries rebuild in 49 s instead of 58 s (aarch64), and aio-bench's runs 0.3 s
            // longer per boot.
            "--config",
            "profile.dev.package.aio-bench.opt-level=0",
            // The binaries are linked with `strip=debuginfo` (smaller initramfs images):
            // building the debug info would only cost time and disk. Panic locations do not
            // need it.
            "--config",
            "profile.dev.debug=false",
            // Not one codegen unit per crate: a cold aarch64 build took 151-193 s of CPU
            // instead of 191-213 s, but the fresh-clone CI run with it took 1926 s against
            // 1811 s without (its cross builds 1450 s against 1389 s: a big crate's codegen
            // then holds one core while the other waits).
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

/// The target a cross build is for: its triple, where its std comes from, and its linker.
pub struct Target<'a> {
    pub triple: &'a str,
    pub std: StdSource,
    /// The private sysroot, for [`StdSource::Debian`].
    pub sysroot: Option<PathBuf>,
    /// The linker, if not the host's `cc`: a gcc driver, or `rust-lld` with
    /// `-C linker-flavor=ld.lld` among the rustflags.
    pub linker: Option<String>,
    /// The `--arch` name, for the hint of a missing sysroot.
    pub name: &'a str,
}

impl<'a> Target<'a> {
    pub fn of(arch: &'a Arch) -> Self {
        Target {
            triple: arch.triple,
            std: arch.std,
            sysroot: Some(sysroot(arch)),
            linker: arch.gcc.map(String::from),
            name: arch.name,
        }
    }
}

/// `CARGO_TARGET_<TRIPLE>_<what>`.
pub fn cargo_env(triple: &str, what: &str) -> String {
    format!(
        "CARGO_TARGET_{}_{what}",
        triple.to_uppercase().replace(['-', '.'], "_")
    )
}

/// What every cross build of `arch` shares: see [`target_setup`].
fn base_setup(
    arch: &Arch,
    rustix_asm: bool,
    extra_rustflags: &[&str],
    build_std: &str,
    target_dir: &Path,
) -> Result<CargoSetup> {
    let mut rustflags: Vec<String> = extra_rustflags.iter().map(|f| f.to_string()).collect();
    if let Some(dir) = fixed_link_scripts(arch)? {
        rustflags.push("-L".into());
        rustflags.push(format!("native={}", dir.display()));
    }
    let rustflags: Vec<&str> = rustflags.iter().map(String::as_str).collect();
    target_setup(
        &Target::of(arch),
        rustix_asm,
        &rustflags,
        build_std,
        target_dir,
    )
}

/// Corrected copies of the cross libc's linker scripts that name files where only the native
/// package puts them, in a directory searched first; `None` if there are none.
///
/// libc6-dev-x32-cross's `libm.a` is `GROUP ( /usr/lib/x86_64-linux-gnux32/libm-2.36.a
/// /usr/lib/x86_64-linux-gnux32/libmvec.a )`, while the cross package installs those under
/// `/usr/x86_64-linux-gnux32/lib`. (The native libc6-dev-x32 would need gcc-multilib, which
/// Debian makes conflict with every cross gcc.)
fn fixed_link_scripts(arch: &Arch) -> Result<Option<PathBuf>> {
    let Some(gnu) = arch.gcc.and_then(|g| g.strip_suffix("-gcc")) else {
        return Ok(None);
    };
    let lib = PathBuf::from(format!("/usr/{gnu}/lib"));
    let native = format!("/usr/lib/{gnu}/");
    let Ok(entries) = std::fs::read_dir(&lib) else {
        return Ok(None);
    };
    let out = cache_dir().join("link-scripts").join(gnu);
    let mut any = false;
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "a") || e.metadata().is_ok_and(|m| m.len() > 4096) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // an archive, not a script
        };
        if !text.starts_with("/* GNU ld script") || !text.contains(&native) {
            continue;
        }
        std::fs::create_dir_all(&out).context(out.display())?;
        let fixed = text.replace(&native, &format!("{}/", lib.display()));
        let dest = out.join(e.file_name());
        std::fs::write(&dest, fixed).context(dest.display())?;
        any = true;
    }
    Ok(any.then_some(out))
}

/// What every cross build shares: Debian's rustc, a static link through the target's linker,
/// the private sysroot (or build-std of `build_std`), rustix's asm backend if asked, and the
/// caller's `extra_rustflags`.
pub fn target_setup(
    target: &Target,
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
        target.triple.to_string(),
        "--target-dir".to_string(),
        target_dir.display().to_string(),
    ];
    match target.std {
        StdSource::Host => {}
        StdSource::Debian => {
            let sysroot = target.sysroot.clone().unwrap_or_default();
            let lib = sysroot.join("lib/rustlib").join(target.triple).join("lib");
            if !lib.is_dir() {
                bail!(
                    "no std for {} in {}: run `cargo xtask cross-setup --arch {}`",
                    target.triple,
                    lib.display(),
                    target.name
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
        (cargo_env(target.triple, "RUSTFLAGS"), rustflags.join(" ")),
        // A cross build is built once per run: the incremental state of the workspace's crates
        // would cost time and disk and never be used.
        ("CARGO_INCREMENTAL".to_string(), "0".to_string()),
    ];
    if let Some(linker) = &target.linker {
        env.push((cargo_env(target.triple, "LINKER"), linker.clone()));
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
