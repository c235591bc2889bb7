//! Building the test binaries of a target: `cargo test --no-run` with cargo's JSON messages,
//! and the tests left out where they cannot run.

use super::Mode;
use crate::arch::Arch;
use crate::toolchain::cargo_setup_with;
use crate::util::{Context, Result, bail, root, show};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::Stdio;

/// The fields read from one of cargo's `--message-format=json` lines (a `compiler-artifact`
/// message; other messages fail to parse and are skipped).
#[derive(serde::Deserialize)]
struct Artifact {
    reason: String,
    profile: ArtifactProfile,
    executable: Option<String>,
    target: ArtifactTarget,
    manifest_path: String,
}

#[derive(serde::Deserialize)]
struct ArtifactProfile {
    test: bool,
}

#[derive(serde::Deserialize)]
struct ArtifactTarget {
    kind: Vec<String>,
    pub(super) name: String,
}

/// A test binary built for a target.
#[derive(Clone, Debug)]
pub(super) struct TestBin {
    /// `<package dir>/<target>`, e.g. `aio-sys/integration`.
    pub(super) name: String,
    pub(super) path: PathBuf,
    /// The package's directory: cargo runs tests there (user mode does too).
    pub(super) package_dir: PathBuf,
    /// A directory of programs the test runs (`AIO_TEST_PROGRAMS`), built by the xtask.
    pub(super) programs: Option<PathBuf>,
    /// Harness arguments of this binary alone (`--skip` of its [`HOST_ONLY`] tests).
    pub(super) args: Vec<String>,
}

/// Builds the tests of every workspace crate but xtask and aio-libaio for `arch` and lists the binaries.
pub(super) fn build_tests(arch: &Arch, linux_raw: bool) -> Result<Vec<TestBin>> {
    let setup = cargo_setup_with(arch, linux_raw)?;
    let mut cmd = setup.command("test");
    cmd.args([
        "--workspace",
        "--exclude",
        "xtask",
        // The drop-in libaio.so.1: its tests are C programs against the host's libaio (a
        // shared object; the cross builds are static).
        "--exclude",
        "aio-libaio",
        // `--tests` takes every target whose `test` flag is on (libraries, binaries and
        // integration tests by default); `--lib` would force the libraries with `test = false`.
        "--tests",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .stdout(Stdio::piped());
    println!("$ {}", show(&cmd));
    let mut child = cmd.spawn().context("cannot start cargo")?;
    let stdout = child.stdout.take().expect("piped");
    let mut bins: Vec<TestBin> = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        let Ok(msg) = serde_json::from_str::<Artifact>(&line) else {
            continue;
        };
        if msg.reason != "compiler-artifact" || !msg.profile.test {
            continue;
        }
        let Some(exe) = msg.executable else {
            continue;
        };
        let target = msg.target;
        let kind = target.kind.first().map(String::as_str);
        let target_name = target.name;
        let manifest = PathBuf::from(msg.manifest_path);
        let package_dir = manifest.parent().map(PathBuf::from).unwrap_or_else(root);
        let package = package_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match kind {
            Some("lib") => format!("{package}/lib"),
            _ => format!("{package}/{target_name}"),
        };
        if !bins.iter().any(|b| b.path.as_os_str() == exe.as_str()) {
            bins.push(TestBin {
                name,
                path: PathBuf::from(exe),
                package_dir,
                programs: None,
                args: Vec::new(),
            });
        }
    }
    let status = child.wait().context("cargo")?;
    if !status.success() {
        bail!("building the tests for {} failed ({status})", arch.triple);
    }
    bins.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(bins)
}

/// Tests that are host-only: the binary, the module of its tests (a libtest `--skip` filter),
/// the modes they are left out of, and why. They run in the host's `cargo test`; a cross run
/// lists them as not run.
pub(super) const HOST_ONLY: &[(&str, &str, &[Mode], &str)] = &[(
    "aio-abi/integration",
    "c_layout::",
    &[Mode::System],
    "compiles and runs a C program against the host's kernel headers: the guest has no C \
         compiler (under qemu-user it runs and says why it skips)",
)];

/// `bin` with the `--skip` arguments of its tests that do not run in `mode`.
pub(super) fn without_host_only(mut bin: TestBin, mode: Mode) -> TestBin {
    for (name, filter, modes, _) in HOST_ONLY {
        if bin.name == *name && modes.contains(&mode) {
            bin.args.extend(["--skip".to_string(), filter.to_string()]);
        }
    }
    bin
}
