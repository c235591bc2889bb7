//! `cargo xtask cross-setup`: installs and caches everything the cross runs need, from Debian's
//! archive only, idempotently. A second run with everything in place needs no network.
//!
//! - native packages (the system's apt): qemu-user, qemu-system-*, the cross gcc and libc of
//!   each target, xz-utils, and Debian's rustc-web pinned to a version whose target std exists
//!   on every architecture that takes std from Debian (with rust-web-src for build-std), held;
//! - foreign packages (a private apt state per architecture under `target/xtask-cache/apt`,
//!   never the system's): the target std, extracted into a private sysroot, and the kernel image
//!   with its `brd.ko`, extracted into `target/xtask-cache/kernels/<arch>`.

use crate::apt::{self, PrivateApt, system};
use crate::arch::{self, Arch, StdSource, Suite};
use crate::bare;
use crate::toolchain::{Manifest, kernel_dir_of, sysroot};
use crate::util::{Args, Context, Result, bail, cache_dir, dir_size, human_size, output, secs};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

pub fn main(args: &[String]) -> Result<ExitCode> {
    let mut args = Args::new(args);
    let names = args.list("--arch")?;
    let refresh = args.flag("--refresh");
    // What `cross --all` runs: every architecture (x32 and mipsel too) and every no-libc ABI.
    let everything = args.flag("--all");
    args.finish()?;
    if everything && !names.is_empty() {
        bail!("cross-setup: --all and --arch exclude each other");
    }
    // The ABIs booted with the no-libc program (`bare`) are prepared by their own code; with no
    // `--arch`, the ones `cross` boots by default.
    let (arches, bare_abis) = bare::select(&names, everything)?;
    let start = Instant::now();
    setup(&arches, refresh)?;
    for abi in bare_abis {
        println!("\n{} (no-libc program): qemu, firmware, kernel", abi.name);
        bare::prepare_only(abi)?;
    }
    println!(
        "cross-setup: done in {} s; cache {} ({})",
        secs(start.elapsed()),
        cache_dir().display(),
        human_size(dir_size(&cache_dir()))
    );
    Ok(ExitCode::SUCCESS)
}

/// The private apt state that serves `deb_arch` from `suite`.
fn private_apt(deb_arch: &str, suite: Suite) -> Result<PrivateApt> {
    let (name, suites): (String, &[&str]) = match suite {
        Suite::Bookworm => (deb_arch.to_string(), &["bookworm", "bookworm-updates"]),
        // The other suites alone: their kernels are there (point releases); trixie-updates was
        // seen failing for riscv64 while mirrors synced, and holds nothing needed here.
        Suite::Bullseye => (format!("{deb_arch}-bullseye"), &["bullseye"]),
        Suite::Trixie => (format!("{deb_arch}-trixie"), &["trixie"]),
        Suite::Sid => (format!("{deb_arch}-sid"), &["sid"]),
    };
    PrivateApt::new(&cache_dir(), &name, deb_arch, suites)
}

/// Private apt states, each updated at most once per run.
#[derive(Default)]
pub struct States {
    states: BTreeMap<String, PrivateApt>,
}

impl States {
    fn get(&mut self, deb_arch: &str, suite: Suite) -> Result<&PrivateApt> {
        let key = format!("{deb_arch}/{suite:?}");
        if !self.states.contains_key(&key) {
            let state = private_apt(deb_arch, suite)?;
            state.update()?;
            if !state.has_lists() {
                bail!("no package lists for {deb_arch} ({suite:?}): see the apt errors above");
            }
            self.states.insert(key.clone(), state);
        }
        Ok(&self.states[&key])
    }
}

/// `1.85.0+dfsg3-1~deb12u3` → `1.85`.
fn rust_release(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

fn setup(arches: &[&Arch], refresh: bool) -> Result<()> {
    let mut manifest = Manifest::load()?;
    let mut states = States::default();
    let mut system_updated = false;

    // 1. The rustc-web version: pinned in the manifest, or discovered.
    let version = match manifest.get("rustc-web") {
        Some(v) if !refresh => {
            println!(
                "rustc-web: pinned at {v} (target/xtask-cache/setup.txt; --refresh rediscovers)"
            );
            v.to_string()
        }
        _ => {
            system::update()?;
            system_updated = true;
            let v = discover_rustc(&mut states)?;
            manifest.set("rustc-web", &v);
            manifest.save()?;
            v
        }
    };
    let release = rust_release(&version);

    // 2. Native packages.
    let mut wanted: Vec<(String, String)> = Vec::new();
    let mut want = |spec: String, why: String| {
        if !wanted.iter().any(|(s, _)| *s == spec) {
            wanted.push((spec, why));
        }
    };
    for pkg in [
        "rustc-web",
        "libstd-rust-web-dev",
        &format!("libstd-rust-web-{release}"),
    ] {
        want(
            format!("{pkg}={version}"),
            "Debian's rustc, the cross compiler (pinned: its target std must match)".into(),
        );
    }
    want(
        format!("rust-web-src={version}"),
        "std sources for -Zbuild-std (riscv64, mips64el, check-targets)".into(),
    );
    want(
        "qemu-user".into(),
        "the ENOSYS path: test binaries under qemu-user".into(),
    );
    want(
        "xz-utils".into(),
        "decompresses brd.ko of compressed-module kernels".into(),
    );
    for a in arches {
        if let arch::QemuFrom::Bookworm(package) = a.qemu {
            want(
                package.into(),
                format!("{} for the {} kernel", a.qemu_system, a.name),
            );
        }
        for p in a.gcc_packages {
            want(p.to_string(), format!("static linking for {}", a.triple));
        }
        if a.name == "riscv64" {
            want(
                "qemu-system-data".into(),
                "OpenSBI firmware for riscv64".into(),
            );
        }
    }
    let mut to_install = Vec::new();
    for (spec, why) in &wanted {
        let (name, pinned) = match spec.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (spec.as_str(), None),
        };
        let have = system::installed(name);
        let ok = match (&have, pinned) {
            (Some(h), Some(p)) => h == p,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !ok {
            println!(
                "  install {spec:<40} {why}{}",
                have.map(|h| format!(" (have {h})")).unwrap_or_default()
            );
            to_install.push(spec.clone());
        }
    }
    if to_install.is_empty() {
        println!("native packages: all {} present", wanted.len());
    } else {
        if !system_updated {
            system::update()?;
        }
        system::install(&to_install)?;
    }
    let holds: Vec<String> = ["rustc-web", "libstd-rust-web-dev", "rust-web-src"]
        .iter()
        .map(|p| p.to_string())
        .chain([format!("libstd-rust-web-{release}")])
        .collect();
    system::hold(&holds)?;
    let rustc = output(Command::new(crate::toolchain::RUSTC).arg("--version"))?;
    if !rustc.contains(&format!("{release}.")) {
        bail!(
            "{} is `{}`, not {release}",
            crate::toolchain::RUSTC,
            rustc.trim()
        );
    }

    // 3. Target std (private sysroots), bookworm-backports' QEMU where bookworm's is too slow,
    // and kernels.
    for a in arches {
        if let arch::QemuFrom::Backports(_) = a.qemu {
            let qemu = crate::qemu::system_binary(a)?;
            println!(
                "{} for the {} kernel: {}",
                a.qemu_system,
                a.name,
                qemu.display()
            );
        }
        if a.std == StdSource::Debian {
            fetch_std(a, &version, &mut states)?;
        }
        for &suite in a.kernels {
            fetch_kernel(a, suite, &mut manifest, &mut states, refresh)?;
        }
    }
    manifest.save()?;

    println!("\ncache under {}:", cache_dir().display());
    for sub in ["apt", "sysroot", "kernels"] {
        println!(
            "  {sub:<8} {}",
            human_size(dir_size(&cache_dir().join(sub)))
        );
    }
    Ok(())
}

/// The newest rustc-web whose std exists for every architecture that takes std from Debian,
/// and whose rust-web-src and amd64 std exist too.
fn discover_rustc(states: &mut States) -> Result<String> {
    let candidates = system::versions("rustc-web")?;
    if candidates.is_empty() {
        bail!("apt knows no rustc-web: is Debian's archive in the sources?");
    }
    let src = system::versions("rust-web-src")?;
    let host_std = system::versions("libstd-rust-web-dev")?;
    let mut per_arch: Vec<(&str, Vec<String>)> = Vec::new();
    for a in arch::ALL.iter().filter(|a| a.std == StdSource::Debian) {
        let state = states.get(a.deb_arch, Suite::Bookworm)?;
        per_arch.push((a.deb_arch, state.versions("libstd-rust-web-dev")?));
    }
    for v in &candidates {
        let mut missing: Vec<&str> = per_arch
            .iter()
            .filter(|(_, vs)| !vs.contains(v))
            .map(|(a, _)| *a)
            .collect();
        if !src.contains(v) {
            missing.push("rust-web-src");
        }
        if !host_std.contains(v) {
            missing.push("amd64");
        }
        if missing.is_empty() {
            println!("rustc-web: pinning {v}: its std exists on every architecture");
            return Ok(v.clone());
        }
        println!("rustc-web {v}: no matching std for {}", missing.join(", "));
    }
    bail!("no rustc-web version has a std for every architecture")
}

/// Extracts Debian's `libstd-rust-web-dev:<arch>` into the private sysroot.
fn fetch_std(a: &Arch, version: &str, states: &mut States) -> Result<()> {
    let root = sysroot(a);
    let stamp = root.join("VERSION");
    let lib = root.join("lib/rustlib").join(a.triple).join("lib");
    if lib.is_dir() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == version) {
        println!("std {}: cached ({version})", a.triple);
        return Ok(());
    }
    println!(
        "std {}: libstd-rust-web-dev:{}={version}",
        a.triple, a.deb_arch
    );
    let state = states.get(a.deb_arch, Suite::Bookworm)?;
    let debs = cache_dir().join("debs");
    let deb = state.download("libstd-rust-web-dev", version, &debs)?;
    let top = root.parent().expect("sysroot has a parent");
    if top.exists() {
        std::fs::remove_dir_all(top).context(top.display())?;
    }
    apt::extract(&deb, top, &["./usr/lib/rustlib/*"])?;
    if !lib.is_dir() {
        bail!("{} did not contain {}", deb.display(), lib.display());
    }
    std::fs::write(&stamp, version).context(stamp.display())?;
    let _ = std::fs::remove_file(&deb);
    Ok(())
}

/// Downloads the newest kernel image of `a`'s flavour and keeps only what a boot needs.
fn fetch_kernel(
    a: &Arch,
    suite: Suite,
    manifest: &mut Manifest,
    states: &mut States,
    refresh: bool,
) -> Result<()> {
    let package = KernelPackage {
        name: a.name,
        deb_arch: a.kernel_deb_arch(),
        suite,
        meta: a.kernel_meta,
    };
    fetch_kernel_package(&package, manifest, states, refresh)
}

/// A Debian kernel: its metapackage in a suite, for the architecture `name` of the cache's
/// manifest.
pub struct KernelPackage {
    pub name: &'static str,
    pub deb_arch: &'static str,
    pub suite: Suite,
    pub meta: &'static str,
}

/// Downloads the newest image `k.meta` depends on into [`kernel_dir_of`] and keeps only what a
/// boot needs (the image as `vmlinux`, `brd.ko`, `INFO`).
pub fn fetch_kernel_package(
    k: &KernelPackage,
    manifest: &mut Manifest,
    states: &mut States,
    refresh: bool,
) -> Result<()> {
    let suite = k.suite;
    let dir = kernel_dir_of(k.deb_arch, suite, k.meta);
    let key = format!("kernel.{}.{}", k.name, suite.name());
    let label = format!("{} ({})", k.name, suite.name());
    let info = std::fs::read_to_string(dir.join("INFO")).unwrap_or_default();
    if !refresh && dir.join("vmlinux").is_file() && !info.trim().is_empty() {
        println!("kernel {label}: cached ({})", info.trim());
        manifest.set(&key, info.trim());
        return Ok(());
    }
    let state = states.get(k.deb_arch, suite)?;
    let depends = state.depends(k.meta)?;
    // "linux-image-6.1.0-50-arm64 (= 6.1.176-1)[, ...]": the first image among the
    // alternatives (sid's metapackage names `linux-base-<flavour>` first).
    let first = depends
        .split([',', '|'])
        .map(str::trim)
        .find(|d| d.starts_with("linux-image-"))
        .unwrap_or("");
    let (package, version) = match first.split_once('(') {
        Some((p, v)) => (
            p.trim().to_string(),
            v.trim_start_matches('=')
                .trim_end_matches(')')
                .trim()
                .to_string(),
        ),
        None => bail!("cannot read the image package of {}: {depends}", k.meta),
    };
    let wanted = format!("{package} {version}");
    if dir.join("vmlinux").is_file() && info.trim() == wanted {
        println!("kernel {label}: cached ({wanted})");
        manifest.set(&key, &wanted);
        return Ok(());
    }
    println!("kernel {label}: {package}:{}={version}", k.deb_arch);
    let debs = cache_dir().join("debs");
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).context(tmp.display())?;
    }
    let mut downloaded = Vec::new();
    for (part, patterns) in image_parts(state, &package)? {
        let deb = state.download(&part, &version, &debs)?;
        apt::extract(&deb, &tmp, &patterns)?;
        downloaded.push(deb);
    }
    let image =
        find_recursive(&tmp, "vmlinu").ok_or_else(|| format!("{package} has no vmlinu* image"))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).context(dir.display())?;
    }
    std::fs::create_dir_all(&dir).context(dir.display())?;
    std::fs::rename(&image, dir.join("vmlinux")).context("moving the image")?;
    match find_recursive(&tmp, "brd.ko") {
        Some(brd) => decompress_module(&brd, &dir.join("brd.ko"))?,
        None => println!("  no brd.ko in {package}: expecting brd built in"),
    }
    std::fs::write(dir.join("INFO"), &wanted).context(dir.display())?;
    std::fs::remove_dir_all(&tmp).context(tmp.display())?;
    for deb in downloaded {
        let _ = std::fs::remove_file(&deb);
    }
    manifest.set(&key, &wanted);
    Ok(())
}

const IMAGE: &str = "./boot/vmlinu*";
/// Where `linux-binary-<version>` keeps the image.
const SPLIT_IMAGE: &str = "./usr/lib/modules/*/vmlinu*";
const BRD: &str = "*/kernel/drivers/block/brd.ko*";

/// The packages that hold the kernel image `package` and its `brd` module, with what to extract
/// from each: the package itself up to Debian 13; from Linux 7 (sid) it is empty and depends on
/// `linux-binary-<version>` (the image) and `linux-modules-<version>` (the modules).
fn image_parts(state: &PrivateApt, package: &str) -> Result<Vec<(String, Vec<&'static str>)>> {
    let Some(version) = package.strip_prefix("linux-image-") else {
        return Ok(vec![(package.to_string(), vec![IMAGE, BRD])]);
    };
    let binary = format!("linux-binary-{version}");
    let modules = format!("linux-modules-{version}");
    let depends = state.depends(package)?;
    let names: Vec<&str> = depends
        .split([',', '|'])
        .filter_map(|d| d.split_whitespace().next())
        .collect();
    if !names.contains(&binary.as_str()) {
        return Ok(vec![(package.to_string(), vec![IMAGE, BRD])]);
    }
    let mut parts = vec![(binary, vec![SPLIT_IMAGE])];
    if names.contains(&modules.as_str()) {
        parts.push((modules, vec![BRD]));
    }
    Ok(parts)
}

fn find_recursive(dir: &Path, prefix: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(found) = find_recursive(&p, prefix) {
                return Some(found);
            }
        } else if p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        {
            return Some(p);
        }
    }
    None
}

/// Copies a module, decompressing `.xz`/`.zst`/`.gz` ones (finit_module needs the kernel's
/// own decompression support for those, which not every kernel has).
fn decompress_module(from: &Path, to: &Path) -> Result<()> {
    let name = from.to_string_lossy();
    let tool = if name.ends_with(".xz") {
        Some("xz")
    } else if name.ends_with(".zst") {
        Some("zstd")
    } else if name.ends_with(".gz") {
        Some("gzip")
    } else {
        None
    };
    match tool {
        None => std::fs::copy(from, to).map(|_| ()).context(to.display()),
        Some(tool) => {
            let out = Command::new(tool)
                .args(["-dc"])
                .arg(from)
                .output()
                .context(format!("running {tool}"))?;
            if !out.status.success() {
                bail!("{tool} -dc {name} failed");
            }
            std::fs::write(to, out.stdout).context(to.display())
        }
    }
}
