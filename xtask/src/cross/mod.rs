//! `cargo xtask cross`: builds every crate's unit and integration tests statically for each
//! target and runs them in real kernels (system mode) and under qemu-user (user mode), then
//! prints a summary table. Also `cargo xtask cross-env`, the environment for running
//! `cargo test --target <triple>` through the runner by hand.

mod build;
mod jobs;

use crate::arch::{self, Arch, Suite};
use crate::bare;
use crate::nolibc;
use crate::qemu::{self, Limits};
use crate::report::{self, Counts, Row};
use crate::toolchain::{Kernel, cargo_setup, cargo_setup_with};
use crate::util::{Args, Context, Result, bail, on_path, secs};
use build::{HOST_ONLY, build_tests};
use jobs::{JobResult, Options, Queue, jobs_for, log_dir, run_job};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    System,
    User,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::System => "system",
            Mode::User => "user",
        }
    }
}

fn parse_modes(mode: Option<String>) -> Result<Vec<Mode>> {
    Ok(match mode.as_deref().unwrap_or("all") {
        "all" => vec![Mode::System, Mode::User],
        "system" => vec![Mode::System],
        "user" => vec![Mode::User],
        other => bail!("--mode must be system, user or all, not {other}"),
    })
}

/// Checks that what the runs need is in place before building anything.
fn preflight(
    arches: &[&'static Arch],
    modes: &[Mode],
    kernels: Kernels,
    everything: bool,
) -> Result<()> {
    let mut missing = Vec::new();
    if let Err(e) = crate::toolchain::Manifest::load()?.rustc_version() {
        missing.push(e);
    }
    for a in arches {
        if let Err(e) = cargo_setup(a) {
            missing.push(e);
        }
        if let Some(gcc) = a.gcc {
            if !on_path(gcc) {
                missing.push(format!("{gcc} is not installed"));
            }
        }
        if modes.contains(&Mode::System) {
            for &suite in kernels.of(a) {
                if let Err(e) = Kernel::load(a, suite) {
                    missing.push(e);
                }
            }
            if let Err(e) = qemu::system_binary(a) {
                missing.push(e);
            }
        }
        if modes.contains(&Mode::User) && a.no_user_mode.is_none() && !on_path(a.qemu_user) {
            missing.push(format!("{} is not installed", a.qemu_user));
        }
    }
    if !missing.is_empty() {
        let names: Vec<&str> = arches.iter().map(|a| a.name).collect();
        let fix = if everything {
            "cargo xtask cross-setup --all".to_string()
        } else {
            format!("cargo xtask cross-setup --arch {}", names.join(","))
        };
        bail!("not set up (run `{fix}`):\n  {}", missing.join("\n  "));
    }
    Ok(())
}

/// Which of an architecture's kernels the system mode boots (`--kernels`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernels {
    /// Every suite of [`Arch::kernels`]: the kernel-version matrix.
    All,
    /// The architecture's own kernel only.
    First,
}

impl Kernels {
    fn parse(value: Option<String>) -> Result<Self> {
        Ok(match value.as_deref().unwrap_or("all") {
            "all" => Kernels::All,
            "first" => Kernels::First,
            other => bail!("--kernels must be all or first, not {other}"),
        })
    }

    fn of(self, arch: &'static Arch) -> &'static [Suite] {
        match self {
            Kernels::All => arch.kernels,
            Kernels::First => &arch.kernels[..1],
        }
    }
}

pub fn main(args: &[String]) -> Result<ExitCode> {
    let mut args = Args::new(args);
    let everything = args.flag("--all");
    let names = args.list("--arch")?;
    let modes = parse_modes(args.value("--mode")?)?;
    let mut kernels = Kernels::parse(args.value("--kernels")?)?;
    // The architectures whose whole suite runs, and the ABIs booted with the no-libc program
    // only (`bare`).
    let (arches, mut bare_abis) = bare::select(&names, everything)?;
    if everything {
        kernels = Kernels::All;
    }
    if !modes.contains(&Mode::System) && !bare_abis.is_empty() {
        println!(
            "    not run without --mode system: {} (their only run is a boot)",
            bare_abis
                .iter()
                .map(|a| a.name)
                .collect::<Vec<_>>()
                .join(" ")
        );
        bare_abis.clear();
    }
    let jobs = args.number("--jobs")?.unwrap_or(2).max(1) as usize;
    let batch = !args.flag("--boot-per-binary");
    let linux_raw = args.flag("--rustix-linux-raw");
    // `cargo xtask check-targets` too, once every architecture is built, while the runs go on
    // (they leave a core idle at their end).
    let check_targets = args.flag("--check-targets");
    let limits = Limits {
        total: Duration::from_secs(args.number("--timeout")?.unwrap_or(900)),
        idle: Duration::from_secs(args.number("--idle-timeout")?.unwrap_or(180)),
    };
    let mut harness = args.finish()?;
    // Serial tests under TCG, and the output of passing tests shown so that their `SKIPPED:`
    // lines are seen.
    if !harness.iter().any(|a| a.starts_with("--test-threads")) {
        harness.push("--test-threads=1".into());
    }
    if !harness
        .iter()
        .any(|a| a == "--nocapture" || a == "--show-output")
    {
        harness.push("--show-output".into());
    }
    let opts = Options { harness, limits };
    preflight(&arches, &modes, kernels, everything)?;
    let total = Instant::now();
    for (name, filter, skipped_modes, why) in HOST_ONLY {
        let skipped: Vec<&str> = skipped_modes
            .iter()
            .filter(|m| modes.contains(m))
            .map(|m| m.name())
            .collect();
        if !skipped.is_empty() {
            println!(
                "    not run in {} (host-only): {name} {filter}: {why}",
                skipped.join("/")
            );
        }
    }
    let _ = std::fs::remove_dir_all(log_dir());

    // The runners, `jobs` at a time, the heaviest job first, from the first architecture's
    // build on (logs in `log_dir`).
    let queue = Arc::new(Queue::default());
    let results: Arc<Mutex<Vec<Result<JobResult>>>> = Arc::new(Mutex::new(Vec::new()));
    let opts = Arc::new(opts);
    let workers: Vec<_> = (0..jobs)
        .map(|_| {
            let queue = queue.clone();
            let results = results.clone();
            let opts = opts.clone();
            std::thread::spawn(move || {
                while let Some(job) = queue.pop() {
                    let r = run_job(&job, &opts);
                    match &r {
                        Ok(r) => {
                            let ok = r.bins.iter().filter(|b| b.ok()).count();
                            println!(
                                "    {:<28} {}/{} binaries ok in {} s{}",
                                r.label(),
                                ok,
                                r.bins.len(),
                                secs(r.elapsed),
                                r.problems
                                    .first()
                                    .map(|(p, _)| format!(" ({p})"))
                                    .unwrap_or_default()
                            );
                        }
                        Err(e) => println!("    {} {}: error: {e}", job.arch.name, job.mode.name()),
                    }
                    results.lock().expect("results").push(r);
                }
            })
        })
        .collect();

    // The builds, one after the other (each cargo uses every core), each architecture's jobs
    // queued as soon as it is built.
    let mut phases: Vec<(String, Duration)> = Vec::new();
    let mut build_failures: Vec<(&'static Arch, String)> = Vec::new();
    let mut njobs = 0;
    for a in &arches {
        let t = Instant::now();
        println!("\n==> build {} ({})", a.name, a.triple);
        let bins = if modes.contains(&Mode::System) {
            qemu::build_init(a, linux_raw).and_then(|_| build_tests(a, linux_raw))
        } else {
            build_tests(a, linux_raw)
        };
        // The no-libc programs that `tests/integration` runs (its `nolibc` module).
        let bins = bins.and_then(|mut bins| {
            if let Some(b) = bins.iter_mut().find(|b| b.name == "tests/integration") {
                b.programs = Some(nolibc::build(a)?);
            }
            Ok(bins)
        });
        let bins = match bins {
            Ok(bins) => bins,
            Err(e) => {
                println!("    {e}");
                build_failures.push((*a, e));
                phases.push((format!("build {} (failed)", a.name), t.elapsed()));
                continue;
            }
        };
        println!(
            "    {} test binaries: {}",
            bins.len(),
            bins.iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        phases.push((format!("build {}", a.name), t.elapsed()));
        let arch_jobs = jobs_for(a, &bins, &modes, kernels.of(a), batch);
        njobs += arch_jobs.len();
        println!("    {} jobs queued", arch_jobs.len());
        queue.push(arch_jobs);
    }
    let build_time = total.elapsed();
    queue.close();
    println!("\n==> builds done; runs: {njobs} jobs, {jobs} at a time");
    let checked = check_targets.then(|| {
        println!("\n==> check-targets, while the runs go on");
        let targets: Vec<_> = crate::check_targets::TARGETS.iter().collect();
        crate::check_targets::check(&targets)
    });
    for w in workers {
        let _ = w.join();
    }
    let run_time = total.elapsed();
    let results = std::mem::take(&mut *results.lock().expect("results"));

    // 3. Report.
    let mut errors = Vec::new();
    let mut merged: Vec<JobResult> = Vec::new();
    for r in results {
        match r {
            Ok(r) => match merged
                .iter_mut()
                .find(|m| m.arch.name == r.arch.name && m.mode == r.mode && m.suite == r.suite)
            {
                Some(m) => {
                    m.kernel = m.kernel.take().or(r.kernel);
                    m.bins.extend(r.bins);
                    m.problems.extend(r.problems);
                    m.elapsed += r.elapsed;
                }
                None => merged.push(r),
            },
            Err(e) => errors.push(e),
        }
    }
    let order = |a: &Arch| {
        arch::ALL
            .iter()
            .chain(arch::EXTRA)
            .position(|b| b.name == a.name)
            .unwrap_or(0)
    };
    let suite_order = |m: &JobResult| {
        m.suite
            .and_then(|s| m.arch.kernels.iter().position(|k| *k == s))
            .unwrap_or(0)
    };
    merged.sort_by_key(|m| (order(m.arch), m.mode, suite_order(m)));

    let mut rows = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for m in &merged {
        let mut total = Counts::default();
        let mut row_ok = true;
        for b in &m.bins {
            total.add(&b.counts);
            if !b.ok() {
                row_ok = false;
                let why = match (&b.problem, b.outcome.code) {
                    (Some(p), _) => p.clone(),
                    (None, Some(c)) if c != 0 => format!("exit status {c}"),
                    _ => "no libtest summary in its output".into(),
                };
                let names = if b.counts.failed_names.is_empty() {
                    String::new()
                } else {
                    format!("; failed: {}", b.counts.failed_names.join(", "))
                };
                failures.push(format!(
                    "{} {}: {why}{names}\n{}",
                    m.label(),
                    b.name,
                    indent(&qemu::tail(&b.outcome.output, 25))
                ));
            }
        }
        let unjustified: Vec<String> = if m.mode == Mode::System {
            total
                .skip_lines
                .iter()
                .chain(total.ignored_lines.iter())
                .filter(|s| !report::justified(s))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        if !unjustified.is_empty() {
            row_ok = false;
            failures.push(format!(
                "{}: skips on a real kernel that name no missing kernel feature:\n{}",
                m.label(),
                indent(&unjustified.join("\n"))
            ));
        }
        for (p, console) in &m.problems {
            failures.push(format!(
                "{}: {p}; console tail:\n{}",
                m.label(),
                indent(console)
            ));
        }
        let crashed = m
            .bins
            .iter()
            .filter(|b| !b.ok() && b.counts.failed == 0)
            .count() as u64;
        let kernel = match m.mode {
            Mode::System => m.kernel.clone().unwrap_or_else(|| "?".into()),
            Mode::User => format!("qemu-user {} (ENOSYS)", qemu_user_version(m.arch)),
        };
        // The emulated backend's variants get a row of their own: under qemu-user they are the
        // tests that run the whole API, where the kernel variants prove the ENOSYS path.
        let emulated_failed = total.emulated_failed();
        rows.push(Row {
            arch: m.arch.name.into(),
            byte_order: m.arch.byte_order().into(),
            kernel: kernel.clone(),
            mode: m.mode.name().into(),
            passed: total.passed.saturating_sub(total.emulated_ok),
            failed: (total.failed + crashed).saturating_sub(emulated_failed),
            skipped: total.skipped(),
            seconds: m.elapsed.as_secs_f64(),
            ok: row_ok,
        });
        rows.push(Row {
            arch: m.arch.name.into(),
            byte_order: m.arch.byte_order().into(),
            kernel,
            mode: format!("{} emulated", m.mode.name()),
            passed: total.emulated_ok,
            failed: emulated_failed,
            skipped: 0,
            seconds: 0.0,
            ok: row_ok && emulated_failed == 0 && total.emulated_ok > 0,
        });
    }
    for (a, e) in &build_failures {
        failures.push(format!("{}: the build failed: {e}", a.name));
        for &mode in &modes {
            rows.push(Row {
                arch: a.name.into(),
                byte_order: a.byte_order().into(),
                kernel: "(build failed)".into(),
                mode: mode.name().into(),
                passed: 0,
                failed: 0,
                skipped: 0,
                seconds: 0.0,
                ok: false,
            });
        }
    }
    match &checked {
        Some(Ok(report)) => {
            for t in &report.failed {
                failures.push(format!("check-targets: the build for {t} failed (above)"));
            }
        }
        Some(Err(e)) => failures.push(format!("check-targets: {e}")),
        None => {}
    }
    let mut bare_time = None;
    // 4. The ABIs booted with the no-libc program, after the rest (their kernel builds use
    // every core).
    if !bare_abis.is_empty() {
        bare_abis.sort_by_key(|a| bare::ABIS.iter().position(|b| b.name == a.name));
        let t = Instant::now();
        let outcomes = bare::boot_all(&bare_abis, opts.limits);
        bare_time = Some(t.elapsed());
        let (bare_rows, bare_failures) = bare::rows(&outcomes);
        rows.extend(bare_rows);
        failures.extend(bare_failures);
    }
    if !failures.is_empty() {
        println!("\n==> failures");
        for f in &failures {
            println!("\n{f}");
        }
    }
    for e in &errors {
        println!("error: {e}");
    }
    // Every skip, so that a reader sees what was not proven where.
    let mut skips: Vec<String> = Vec::new();
    for m in &merged {
        for b in &m.bins {
            for s in b
                .counts
                .skip_lines
                .iter()
                .chain(b.counts.ignored_lines.iter())
            {
                skips.push(format!("{} {}: {s}", m.label(), b.name));
            }
        }
    }
    if !skips.is_empty() {
        println!("\n==> skipped");
        for s in &skips {
            println!("  {s}");
        }
    }
    println!("\n==> summary");
    report::print_table(&rows);
    if let Some(Ok(report)) = &checked {
        print!("{report}");
    }
    // The phase times, as a table (the runs overlap the builds: they start with the first
    // architecture's jobs).
    println!("\n==> phase times");
    for (name, d) in &phases {
        println!("  {:>6} s  {name}", secs(*d));
    }
    println!("  {:>6} s  builds, from the start", secs(build_time));
    println!(
        "  {:>6} s  runs, from the start to the last job's end",
        secs(run_time)
    );
    if let Some(Ok(report)) = &checked {
        println!(
            "  {:>6} s  check-targets (during the runs)",
            secs(report.elapsed)
        );
    }
    if let Some(t) = bare_time {
        println!("  {:>6} s  no-libc boots (kernel builds included)", secs(t));
    }
    println!("  {:>6} s  in all", secs(total.elapsed()));
    let ok = errors.is_empty() && failures.is_empty() && rows.iter().all(|r| r.ok);
    let (passed, failed, skipped) = rows.iter().fold((0, 0, 0), |(p, f, s), r| {
        (p + r.passed, f + r.failed, s + r.skipped)
    });
    // The plain closing line CI reads.
    println!("cross: {passed} passed, {failed} failed, {skipped} skipped");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `7.2.22` from `qemu-aarch64 --version`.
fn qemu_user_version(arch: &Arch) -> String {
    std::process::Command::new(arch.qemu_user)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .skip_while(|w| *w != "version")
                .nth(1)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `cargo xtask cross-env --arch A [--mode system|user]`: builds the guest init and prints the
/// environment that makes `cargo test --target <triple>` run each test binary through the runner.
pub fn env_main(args: &[String]) -> Result<ExitCode> {
    let mut args = Args::new(args);
    let names = args.list("--arch")?;
    let mode = args.value("--mode")?.unwrap_or_else(|| "system".into());
    let linux_raw = args.flag("--rustix-linux-raw");
    args.finish()?;
    let [name] = names.as_slice() else {
        bail!("cross-env needs exactly one --arch");
    };
    let a = arch::by_name(name)?;
    let setup = cargo_setup_with(a, linux_raw)?;
    if mode == "system" {
        qemu::build_init(a, linux_raw)?;
    }
    let exe = std::env::current_exe().context("current_exe")?;
    let mut vars = setup.env.clone();
    vars.push((
        a.cargo_env("RUNNER"),
        format!(
            "{} qemu-runner --arch {} --mode {mode}",
            exe.display(),
            a.name
        ),
    ));
    for v in &setup.env_remove {
        println!("unset {v}");
    }
    for (k, v) in vars {
        println!("export {k}='{v}'");
    }
    println!(
        "# then: cargo test --workspace --exclude xtask --tests {} -- --test-threads=1",
        setup.args.join(" ")
    );
    Ok(ExitCode::SUCCESS)
}
