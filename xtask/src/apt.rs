//! Debian's archive, two ways: the system's apt for native packages (qemu, cross gcc,
//! rustc-web), and a private apt state per foreign architecture for downloads only (target std,
//! kernels), which never touches the system's dpkg architectures, sources or lists.

use crate::util::{Context, Result, bail, output, output_any, run, show};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The archive's address; `XTASK_DEBIAN_MIRROR` overrides it.
fn mirror() -> String {
    std::env::var("XTASK_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into())
}

const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// A private apt state for downloading one architecture's packages from some suites.
pub struct PrivateApt {
    pub deb_arch: String,
    dir: PathBuf,
}

impl PrivateApt {
    /// A state under `<cache>/apt/<name>` listing `suites` (`main` only; never the security
    /// suite, whose foreign indexes were seen failing while mirrors sync, and which holds nothing
    /// needed here).
    pub fn new(cache: &Path, name: &str, deb_arch: &str, suites: &[&str]) -> Result<Self> {
        let dir = cache.join("apt").join(name);
        for sub in ["lists/partial", "cache/archives/partial"] {
            std::fs::create_dir_all(dir.join(sub)).context(dir.display())?;
        }
        let mut sources = String::new();
        for suite in suites {
            sources.push_str(&format!(
                "deb [arch={deb_arch} signed-by={KEYRING}] {} {suite} main\n",
                mirror()
            ));
        }
        std::fs::write(dir.join("sources.list"), sources).context(dir.display())?;
        Ok(PrivateApt {
            deb_arch: deb_arch.into(),
            dir,
        })
    }

    fn options(&self) -> Vec<String> {
        let d = self.dir.display();
        vec![
            format!("-oAPT::Architecture={}", self.deb_arch),
            format!("-oAPT::Architectures={}", self.deb_arch),
            format!("-oDir::State::Lists={d}/lists"),
            format!("-oDir::Cache={d}/cache"),
            "-oDir::State::status=/dev/null".into(),
            format!("-oDir::Etc::SourceList={d}/sources.list"),
            "-oDir::Etc::SourceParts=/dev/null".into(),
            "-oDir::Etc::Preferences=/dev/null".into(),
            "-oDir::Etc::PreferencesParts=/dev/null".into(),
            "-oAcquire::Retries=3".into(),
            "-oDebug::NoLocking=1".into(),
        ]
    }

    fn apt_get(&self) -> Command {
        let mut c = Command::new("apt-get");
        c.args(self.options()).arg("-q");
        c
    }

    fn apt_cache(&self) -> Command {
        let mut c = Command::new("apt-cache");
        c.args(self.options());
        c
    }

    /// `apt-get update` with retries; reports which indexes failed instead of dying on them.
    pub fn update(&self) -> Result<()> {
        update_with_retries(&mut self.apt_get(), &format!("private {}", self.deb_arch))
    }

    /// Whether the lists were fetched at least once.
    pub fn has_lists(&self) -> bool {
        std::fs::read_dir(self.dir.join("lists"))
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().contains("Packages"))
            })
            .unwrap_or(false)
    }

    /// Every version of `package` the lists offer, newest first.
    pub fn versions(&self, package: &str) -> Result<Vec<String>> {
        madison(&mut self.apt_cache(), package)
    }

    /// The `Depends` field of the newest `package`.
    pub fn depends(&self, package: &str) -> Result<String> {
        let text = output(
            self.apt_cache()
                .args(["show", "--no-all-versions", package]),
        )?;
        text.lines()
            .find_map(|l| l.strip_prefix("Depends:"))
            .map(|d| d.trim().to_string())
            .ok_or_else(|| format!("{package} has no Depends field"))
    }

    /// Downloads `package=version` into `dest` and returns the .deb's path.
    pub fn download(&self, package: &str, version: &str, dest: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dest).context(dest.display())?;
        let mut cmd = self.apt_get();
        cmd.current_dir(dest)
            .arg("download")
            .arg(format!("{package}:{}={version}", self.deb_arch));
        let mut last = String::new();
        for attempt in 1..=3 {
            match output(&mut cmd) {
                Ok(_) => {
                    last.clear();
                    break;
                }
                Err(e) => {
                    eprintln!("  download attempt {attempt} failed: {e}");
                    last = e;
                    std::thread::sleep(Duration::from_secs(3));
                }
            }
        }
        if !last.is_empty() {
            bail!("cannot download {package}={version}: {last}");
        }
        // `<package>_<version without epoch, ':' as %3a>_<arch>.deb`; the newest such file if an
        // interrupted run left another one behind.
        let prefix = format!("{package}_");
        debs_in(dest)
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            })
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .ok_or_else(|| {
                format!(
                    "apt-get download left no {package}_*.deb in {}",
                    dest.display()
                )
            })
    }
}

fn debs_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "deb"))
                .collect()
        })
        .unwrap_or_default()
}

/// `apt-cache madison` versions, newest first as apt orders them.
fn madison(cmd: &mut Command, package: &str) -> Result<Vec<String>> {
    let text = output(cmd.args(["madison", package]))?;
    let mut versions: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split('|').map(str::trim);
        if fields.next() != Some(package) {
            continue;
        }
        if let Some(v) = fields.next() {
            if !versions.iter().any(|x| x == v) {
                versions.push(v.to_string());
            }
        }
    }
    Ok(versions)
}

/// Runs an `apt-get update` up to three times; on repeated failure lists the failed indexes
/// and carries on with what was fetched.
fn update_with_retries(cmd: &mut Command, what: &str) -> Result<()> {
    cmd.arg("update");
    println!("$ {}", show(cmd));
    let mut failed = Vec::new();
    for attempt in 1..=3 {
        let out = output_any(cmd)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        failed = stderr
            .lines()
            .filter(|l| l.starts_with("E:") || l.starts_with("W: Failed") || l.contains("Err:"))
            .map(str::to_string)
            .collect();
        let stdout = String::from_utf8_lossy(&out.stdout);
        failed.extend(
            stdout
                .lines()
                .filter(|l| l.starts_with("Err:"))
                .map(str::to_string),
        );
        if out.status.success() && failed.is_empty() {
            return Ok(());
        }
        eprintln!("  apt-get update ({what}) attempt {attempt} had failures:");
        for l in &failed {
            eprintln!("    {l}");
        }
        std::thread::sleep(Duration::from_secs(5 * attempt));
    }
    eprintln!(
        "  apt-get update ({what}) kept failing on the indexes above; continuing with the lists \
         that were fetched"
    );
    let _ = failed;
    Ok(())
}

/// The system's apt.
pub mod system {
    use super::*;

    /// `apt-get update` of the system's lists, with retries.
    pub fn update() -> Result<()> {
        let mut cmd = Command::new("apt-get");
        cmd.arg("-q");
        update_with_retries(&mut cmd, "system")
    }

    /// Every version of `package` in the system's lists, newest first.
    pub fn versions(package: &str) -> Result<Vec<String>> {
        madison(&mut Command::new("apt-cache"), package)
    }

    /// The installed version of `package`, if installed.
    pub fn installed(package: &str) -> Option<String> {
        let out = output_any(Command::new("dpkg-query").args([
            "-W",
            "-f",
            "${Status}\t${Version}",
            package,
        ]))
        .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let (status, version) = text.split_once('\t')?;
        (status.ends_with(" installed") && !version.is_empty()).then(|| version.to_string())
    }

    /// Installs `specs` (`name` or `name=version`) without recommends.
    pub fn install(specs: &[String]) -> Result<()> {
        if specs.is_empty() {
            return Ok(());
        }
        run(Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args([
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "--allow-downgrades",
                "--allow-change-held-packages",
            ])
            .args(specs))
    }

    /// Packages currently on hold.
    pub fn held() -> Vec<String> {
        output(Command::new("apt-mark").arg("showhold"))
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Holds `packages` so that an upgrade cannot split the rustc/std pair.
    pub fn hold(packages: &[String]) -> Result<()> {
        let held = held();
        let missing: Vec<&String> = packages.iter().filter(|p| !held.contains(p)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        run(Command::new("apt-mark").arg("hold").args(missing))
    }
}

/// Extracts the members of a .deb matching `patterns` (tar wildcards) into `dest`.
pub fn extract(deb: &Path, dest: &Path, patterns: &[&str]) -> Result<()> {
    std::fs::create_dir_all(dest).context(dest.display())?;
    let cmd = format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -x -C '{}' --wildcards {}",
        deb.display(),
        dest.display(),
        patterns
            .iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    output(Command::new("sh").args(["-c", &cmd]))
        .map(|_| ())
        .context(format!("extracting {}", deb.display()))
}
