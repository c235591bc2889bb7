//! Running test binaries: in a real kernel under qemu-system (system mode), or under qemu-user
//! (user mode, where every AIO call is ENOSYS). Also the hidden `qemu-runner` subcommand, the
//! `CARGO_TARGET_<TRIPLE>_RUNNER` that `cargo xtask cross-env` sets up.

use crate::arch::{self, Arch, QemuFrom};
use crate::initramfs::Cpio;
use crate::toolchain::{Kernel, cargo_setup_with};
use crate::util::{Context, Result, bail, cross_target_dir, on_path, show};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Console markers printed by the guest's init (`xtask/init`).
const KERNEL: &str = "AIO-XTASK-KERNEL=";
const BEGIN: &str = "AIO-XTASK-BEGIN=";
const EXIT: &str = "AIO-XTASK-EXIT=";
const DONE: &str = "AIO-XTASK-DONE";
const ERROR: &str = "AIO-XTASK-ERROR=";

/// The block device the init provides with `brd`.
pub const BLOCK_DEV: &str = "/dev/ram0";

/// The variable that tells a test binary where its [`Entry::programs`] are.
const PROGRAMS_VAR: &str = "AIO_TEST_PROGRAMS";

/// `brd` parameters: one 32 MiB ramdisk.
const BRD_PARAMS: &str = "rd_nr=1 rd_size=32768";

/// One test binary to run, with its harness arguments.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub args: Vec<String>,
    /// A directory of programs the binary runs: copied into the guest (or used in place under
    /// qemu-user) and named by `AIO_TEST_PROGRAMS`.
    pub programs: Option<PathBuf>,
}

/// How long a run may take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The whole boot (or user-mode run).
    pub total: Duration,
    /// Without any console output (system mode).
    pub idle: Duration,
}

/// What became of one binary.
#[derive(Clone, Debug)]
pub struct EntryOutcome {
    pub name: String,
    /// The exit status, `None` if it never finished.
    pub code: Option<i32>,
    pub output: String,
}

/// What became of one boot.
#[derive(Debug)]
pub struct BootOutcome {
    /// `uname -r` of the guest.
    pub kernel: Option<String>,
    pub entries: Vec<EntryOutcome>,
    /// The whole console.
    pub console: String,
    /// Why the boot did not end normally (timeout, no power-off, qemu error).
    pub problem: Option<String>,
    pub elapsed: Duration,
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// How many bytes of test binaries one boot of `arch` may carry: a quarter of the guest's RAM
/// (the initramfs is in memory twice while it is unpacked, and the tests need room to run).
pub fn boot_capacity(arch: &Arch) -> u64 {
    u64::from(arch.memory) * 1024 * 1024 / 4
}

/// The path of the init program built for `arch`.
pub fn init_path(arch: &Arch) -> PathBuf {
    cross_target_dir()
        .join(arch.triple)
        .join("debug")
        .join("aio-xtask-init")
}

/// Builds the guest init for `arch` (`xtask/init`).
pub fn build_init(arch: &Arch, linux_raw: bool) -> Result<PathBuf> {
    let setup = cargo_setup_with(arch, linux_raw)?;
    let mut cmd = setup.command("build");
    cmd.arg("--manifest-path")
        .arg(crate::util::root().join("xtask/init/Cargo.toml"))
        .arg("--quiet");
    crate::util::run(&mut cmd)?;
    let path = init_path(arch);
    if !path.is_file() {
        bail!("the init build left no {}", path.display());
    }
    Ok(path)
}

/// The environment of the tests inside a guest: the block device, /tmp, and whatever `AIO_TEST_*`
/// and `RUST_*` the host has (never `AIO_TEST_EXPECT_ENOSYS`: a real kernel has AIO).
pub fn guest_env(has_block_dev: bool) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), "/".into()),
        ("HOME".into(), "/tmp".into()),
        ("TMPDIR".into(), "/tmp".into()),
        ("RUST_BACKTRACE".into(), "1".into()),
    ];
    for (k, v) in std::env::vars() {
        let forwarded = k.starts_with("AIO_TEST_") || k.starts_with("RUST_");
        let excluded = matches!(
            k.as_str(),
            "AIO_TEST_EXPECT_ENOSYS" | "AIO_TEST_DIRECT_DIR" | "AIO_TEST_BLOCK_DEV"
        ) || k.starts_with("RUSTUP_")
            || k.starts_with("RUSTC")
            || k.starts_with("RUSTDOC");
        if forwarded && !excluded && !v.contains(['\t', '\n']) {
            env.retain(|(e, _)| *e != k);
            env.push((k, v));
        }
    }
    if has_block_dev {
        env.push(("AIO_TEST_BLOCK_DEV".into(), BLOCK_DEV.into()));
    }
    env.extend(scaled_down());
    env
}

/// The long tests' sizes under emulation, where each runs in every boot and qemu-user run and
/// TCG does a fraction of the host's work in the same time: the async soak 5 s per backend
/// (`AIO_SOAK_SECS`; 15 s on the host) and the stress test 50 000 operations per backend
/// (`AIO_STRESS_OPS`; 200 000 on the host). The host's values, where it sets them, win.
fn scaled_down() -> [(String, String); 2] {
    let var = |name: &str, default: &str| {
        (
            name.to_string(),
            std::env::var(name).unwrap_or_else(|_| default.into()),
        )
    };
    [var("AIO_SOAK_SECS", "5"), var("AIO_STRESS_OPS", "50000")]
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

/// Packs `/init`, the plan, `brd.ko` and the test binaries into an initramfs at `path`.
fn pack(path: &Path, init: &Path, kernel: &Kernel, entries: &[Entry]) -> Result<()> {
    let mut c = Cpio::create(path)?;
    for d in [
        "dev",
        "proc",
        "sys",
        "tmp",
        "xtask",
        "xtask/bin",
        "xtask/programs",
    ] {
        c.dir(d)?;
    }
    c.char_dev("dev/console", 5, 1)?;
    c.copy("init", 0o755, init)?;
    let mut plan = String::new();
    for (k, v) in guest_env(kernel.brd.is_some()) {
        plan.push_str(&format!("env\t{k}={v}\n"));
    }
    if let Some(brd) = &kernel.brd {
        c.copy("xtask/brd.ko", 0o644, brd)?;
        plan.push_str(&format!(
            "module\t/xtask/brd.ko\t{BRD_PARAMS}\nwait\t{BLOCK_DEV}\n"
        ));
    }
    for (i, e) in entries.iter().enumerate() {
        if let Some(dir) = &e.programs {
            let guest = format!("xtask/programs/{i}");
            c.dir(&guest)?;
            let listing = std::fs::read_dir(dir).context(dir.display())?;
            for file in listing {
                let file = file.context(dir.display())?.path();
                let name = file.file_name().unwrap_or_default().to_string_lossy();
                c.copy(&format!("{guest}/{name}"), 0o755, &file)?;
            }
            plan.push_str(&format!("env\t{PROGRAMS_VAR}=/{guest}\n"));
        }
        c.copy(&format!("xtask/bin/{i}"), 0o755, &e.path)?;
        let mut line = format!("run\t{}\t/xtask/bin/{i}", e.name.replace(['\t', ' '], "_"));
        for a in &e.args {
            if a.contains(['\t', '\n']) {
                bail!("harness argument {a:?} contains a tab or newline");
            }
            line.push('\t');
            line.push_str(a);
        }
        plan.push_str(&line);
        plan.push('\n');
    }
    c.file("xtask/plan", 0o644, plan.as_bytes())?;
    c.finish()
}

/// `arch`'s `qemu-system-<x>`: bookworm's on the `PATH`, or the one of bookworm-backports
/// that `cross-setup` extracted into the cache (fetched now if it did not).
pub fn system_binary(arch: &Arch) -> Result<PathBuf> {
    match arch.qemu {
        QemuFrom::Bookworm(package) => {
            if !on_path(arch.qemu_system) {
                bail!("{} is not installed (package {package})", arch.qemu_system);
            }
            Ok(PathBuf::from(arch.qemu_system))
        }
        QemuFrom::Backports(package) => crate::bare::backports_qemu(package, arch.qemu_system),
    }
}

/// The qemu-system command line that boots `arch`'s kernel with the initramfs `rd`.
pub fn system_command(arch: &Arch, kernel: &Kernel, rd: &Path) -> Result<Command> {
    let mut cmd = Command::new(system_binary(arch)?);
    cmd.args(arch.machine)
        .args(["-m", &arch.memory.to_string()])
        .arg("-no-reboot");
    if arch.nographic {
        cmd.args(["-nographic", "-monitor", "none"]);
    }
    cmd.arg("-kernel")
        .arg(&kernel.image)
        .arg("-initrd")
        .arg(rd)
        // rootfs as ramfs, not tmpfs: tmpfs would cap the unpacked test binaries at half the RAM.
        .args([
            "-append",
            &format!("{} rdinit=/init rootfstype=ramfs", arch.append),
        ]);
    Ok(cmd)
}

/// Reads a child's stream into a shared buffer, noting the time of the last output.
fn pump(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<(String, Instant)>>,
    echo: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buf[..n]).replace('\r', "");
            if echo {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            let mut g = into.lock().expect("pump lock");
            g.0.push_str(&text);
            g.1 = Instant::now();
        }
    })
}

/// Waits for `child`, killing it on a limit. Returns why it was killed, if it was.
fn supervise(
    child: &mut Child,
    console: &Arc<Mutex<(String, Instant)>>,
    limits: Limits,
    done_marker: Option<&str>,
) -> Option<String> {
    let start = Instant::now();
    let mut done_at: Option<Instant> = None;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        let (idle, done) = {
            let g = console.lock().expect("console lock");
            (g.1.elapsed(), done_marker.is_some_and(|m| g.0.contains(m)))
        };
        if done && done_at.is_none() {
            done_at = Some(Instant::now());
        }
        let problem = if done_at.is_some_and(|t| t.elapsed() > Duration::from_secs(20)) {
            Some("the guest did not power off after its last test".to_string())
        } else if start.elapsed() > limits.total {
            Some(format!("timed out after {} s", limits.total.as_secs()))
        } else if done_marker.is_some() && idle > limits.idle {
            Some(format!("no console output for {} s", limits.idle.as_secs()))
        } else {
            None
        };
        if let Some(p) = problem {
            let _ = child.kill();
            let _ = child.wait();
            return Some(p);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a supervised qemu printed, and why it was killed, if it was.
pub struct Console {
    pub console: String,
    pub stderr: String,
    pub killed: Option<String>,
}

/// Runs `cmd` (a qemu-system) to its end or to a limit of [`supervise`]: its standard output
/// is the console (echoed if `echo`), its standard error kept apart.
pub fn run_supervised(
    cmd: &mut Command,
    limits: Limits,
    done_marker: Option<&str>,
    echo: bool,
) -> Result<Console> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context(format!("cannot start {}", show(cmd)))?;
    // Keep stdin open (and silent): a closed stdin can end qemu's stdio console.
    let stdin = child.stdin.take();
    let console = Arc::new(Mutex::new((String::new(), Instant::now())));
    let errors = Arc::new(Mutex::new((String::new(), Instant::now())));
    let t_out = pump(child.stdout.take().expect("piped"), console.clone(), echo);
    let t_err = pump(child.stderr.take().expect("piped"), errors.clone(), false);
    let killed = supervise(&mut child, &console, limits, done_marker);
    drop(stdin);
    let _ = t_out.join();
    let _ = t_err.join();
    let console = std::mem::take(&mut console.lock().expect("console lock").0);
    let stderr = std::mem::take(&mut errors.lock().expect("stderr lock").0);
    Ok(Console {
        console,
        stderr,
        killed,
    })
}

/// Boots `arch`'s kernel with `init` as PID 1 running `entries` in turn.
pub fn boot(
    arch: &Arch,
    kernel: &Kernel,
    init: &Path,
    entries: &[Entry],
    limits: Limits,
    echo: bool,
) -> Result<BootOutcome> {
    let start = Instant::now();
    let work = cross_target_dir().join("xtask-boot");
    std::fs::create_dir_all(&work).context(work.display())?;
    let rd = work.join(format!(
        "{}-{}-{}.cpio",
        arch.name,
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    ));
    pack(&rd, init, kernel, entries)?;
    let mut qemu = system_command(arch, kernel, &rd)?;
    let run = run_supervised(&mut qemu, limits, Some(DONE), echo);
    let _ = std::fs::remove_file(&rd);
    let Console {
        console,
        stderr,
        killed: mut problem,
    } = run?;
    let mut outcome = parse_console(&console, entries);
    // What the kernel or the init said went wrong, if anything.
    let said = console
        .lines()
        .filter(|l| l.starts_with(ERROR) || l.contains("Initramfs unpacking failed"))
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join("; ");
    if problem.is_none() && !said.is_empty() {
        problem = Some(said);
    } else if problem.is_none() && !console.contains(DONE) {
        problem = Some(if stderr.trim().is_empty() {
            "the guest stopped before its init finished (kernel panic or crash?)".to_string()
        } else {
            format!("qemu: {}", stderr.trim())
        });
    }
    outcome.problem = problem;
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}

/// Splits a console log into each entry's output by the init's markers.
fn parse_console(console: &str, entries: &[Entry]) -> BootOutcome {
    let mut kernel = None;
    let mut results: Vec<EntryOutcome> = Vec::new();
    let mut current: Option<EntryOutcome> = None;
    for line in console.lines() {
        if let Some(k) = line.strip_prefix(KERNEL) {
            kernel = Some(k.trim().to_string());
        } else if let Some(name) = line.strip_prefix(BEGIN) {
            if let Some(c) = current.take() {
                results.push(c);
            }
            current = Some(EntryOutcome {
                name: name.trim().to_string(),
                code: None,
                output: String::new(),
            });
        } else if let Some(rest) = line.strip_prefix(EXIT) {
            let code = rest.split_whitespace().next().and_then(|c| c.parse().ok());
            if let Some(mut c) = current.take() {
                c.code = code;
                results.push(c);
            }
        } else if let Some(c) = current.as_mut() {
            c.output.push_str(line);
            c.output.push('\n');
        }
    }
    if let Some(c) = current.take() {
        results.push(c);
    }
    // One outcome per entry, in order, whether it ran or not.
    let entries = entries
        .iter()
        .map(|e| {
            let safe = e.name.replace(['\t', ' '], "_");
            results
                .iter()
                .find(|r| r.name == safe)
                .cloned()
                .map(|mut r| {
                    r.name = e.name.clone();
                    r
                })
                .unwrap_or(EntryOutcome {
                    name: e.name.clone(),
                    code: None,
                    output: String::new(),
                })
        })
        .collect();
    BootOutcome {
        kernel,
        entries,
        console: console.to_string(),
        problem: None,
        elapsed: Duration::ZERO,
    }
}

/// The environment changes of user mode: the tests must expect ENOSYS, host paths for O_DIRECT
/// targets mean nothing there, and a test that re-executes its own binary (a foreign one, which
/// the host cannot run without binfmt_misc) does it through `AIO_TEST_QEMU_USER`.
pub fn user_env(cmd: &mut Command, arch: &Arch) {
    cmd.env("AIO_TEST_EXPECT_ENOSYS", "1")
        .env("AIO_TEST_QEMU_USER", arch.qemu_user)
        .envs(scaled_down())
        .env_remove("AIO_TEST_BLOCK_DEV")
        .env_remove("AIO_TEST_DIRECT_DIR");
}

/// Runs one binary under qemu-user, its stdout and stderr interleaved into one log.
pub fn run_user(
    arch: &Arch,
    entry: &Entry,
    cwd: &Path,
    limits: Limits,
) -> Result<(EntryOutcome, Option<String>, Duration)> {
    let start = Instant::now();
    let work = cross_target_dir().join("xtask-boot");
    std::fs::create_dir_all(&work).context(work.display())?;
    let log = work.join(format!(
        "{}-user-{}-{}.log",
        arch.name,
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::File::create(&log).context(log.display())?;
    let mut cmd = Command::new(arch.qemu_user);
    cmd.arg(&entry.path)
        .args(&entry.args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(file.try_clone().context("log")?)
        .stderr(file);
    user_env(&mut cmd, arch);
    if let Some(dir) = &entry.programs {
        cmd.env(PROGRAMS_VAR, dir);
    }
    let mut child = cmd
        .spawn()
        .context(format!("cannot start {}", show(&cmd)))?;
    let dummy = Arc::new(Mutex::new((String::new(), Instant::now())));
    let problem = supervise(&mut child, &dummy, limits, None);
    let status = child.wait().context("qemu-user")?;
    let output = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    let _ = std::fs::remove_file(&log);
    let code = if problem.is_some() {
        None
    } else {
        use std::os::unix::process::ExitStatusExt;
        Some(
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        )
    };
    Ok((
        EntryOutcome {
            name: entry.name.clone(),
            code,
            output,
        },
        problem,
        start.elapsed(),
    ))
}

/// `xtask qemu-runner --arch A [--mode system|user] [--timeout S] [--idle-timeout S] BIN ARGS...`:
/// runs one test binary as cargo's target runner and exits with its status.
pub fn runner_main(args: &[String]) -> Result<ExitCode> {
    let mut arch_name = None;
    let mut mode = "system".to_string();
    let mut limits = Limits {
        total: Duration::from_secs(900),
        idle: Duration::from_secs(180),
    };
    let mut it = args.iter();
    let binary = loop {
        let Some(a) = it.next() else {
            bail!("qemu-runner: no test binary given");
        };
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("qemu-runner: {a} needs a value"))
        };
        match a.as_str() {
            "--arch" => arch_name = Some(value()?),
            "--mode" => mode = value()?,
            "--timeout" => {
                limits.total = Duration::from_secs(value()?.parse().context("--timeout")?)
            }
            "--idle-timeout" => {
                limits.idle = Duration::from_secs(value()?.parse().context("--idle-timeout")?)
            }
            _ => break PathBuf::from(a),
        }
    };
    let harness_args: Vec<String> = it.cloned().collect();
    let arch = arch::by_name(&arch_name.ok_or("qemu-runner: --arch is required")?)?;
    if mode == "user" {
        let mut cmd = Command::new(arch.qemu_user);
        cmd.arg(&binary).args(&harness_args);
        user_env(&mut cmd, arch);
        let status = cmd
            .status()
            .context(format!("cannot start {}", show(&cmd)))?;
        return Ok(ExitCode::from(
            status.code().unwrap_or(101).clamp(0, 255) as u8
        ));
    }
    if mode != "system" {
        bail!("qemu-runner: --mode must be system or user");
    }
    let kernel = Kernel::load(arch, arch.kernels[0])?;
    let init = init_path(arch);
    if !init.is_file() {
        bail!(
            "no guest init at {}: run `cargo xtask cross-env --arch {}` (it builds it)",
            init.display(),
            arch.name
        );
    }
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "test".into());
    let entry = Entry {
        name,
        path: binary,
        args: harness_args,
        programs: None,
    };
    let outcome = boot(
        arch,
        &kernel,
        &init,
        std::slice::from_ref(&entry),
        limits,
        true,
    )?;
    let code = outcome.entries.first().and_then(|e| e.code);
    if let Some(p) = &outcome.problem {
        eprintln!("\nqemu-runner ({}): {p}", arch.name);
        eprintln!("console tail:\n{}", tail(&outcome.console, 30));
    }
    Ok(match (code, &outcome.problem) {
        (Some(c), None) => ExitCode::from(c.clamp(0, 255) as u8),
        (Some(c), Some(_)) if c != 0 => ExitCode::from(c.clamp(0, 255) as u8),
        _ => ExitCode::from(101),
    })
}
