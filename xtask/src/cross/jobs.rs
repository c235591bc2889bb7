//! The runs: jobs (one boot, or one architecture under qemu-user), the queue the builds feed
//! and the runners drain, and what each run gives back.

use super::Mode;
use super::build::{TestBin, without_host_only};
use crate::arch::{Arch, Suite};
use crate::qemu::{self, BootOutcome, Entry, EntryOutcome, Limits};
use crate::report::{self, Counts};
use crate::toolchain::Kernel;
use crate::util::{Result, cross_target_dir};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// One unit of work for the runner pool.
pub(super) struct Job {
    pub(super) arch: &'static Arch,
    pub(super) mode: Mode,
    /// The suite whose kernel a system job boots (`None` in user mode).
    pub(super) suite: Option<Suite>,
    pub(super) bins: Vec<TestBin>,
    /// A rough cost for ordering (longest first).
    pub(super) weight: u32,
}

/// The jobs of one architecture's binaries: a job per mode, and in system mode one per kernel
/// and per load of a boot ([`chunk_for_boot`]; one per binary when `batch` is false).
pub(super) fn jobs_for(
    arch: &'static Arch,
    bins: &[TestBin],
    modes: &[Mode],
    suites: &[Suite],
    batch: bool,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for &mode in modes {
        if mode == Mode::User {
            if let Some(why) = arch.no_user_mode {
                println!("    {}: no user mode: {why}", arch.name);
                continue;
            }
        }
        let bins: Vec<TestBin> = bins
            .iter()
            .map(|b| without_host_only(b.clone(), mode))
            .collect();
        let boot_cost = match (mode, arch.name) {
            (Mode::User, _) => 1,
            (Mode::System, "ppc64le") => 12,
            (Mode::System, "riscv64" | "s390x" | "mips64el") => 7,
            (Mode::System, _) => 5,
        };
        if mode == Mode::User {
            jobs.push(Job {
                arch,
                mode,
                suite: None,
                weight: boot_cost * bins.len() as u32,
                bins,
            });
            continue;
        }
        let chunks = if batch {
            chunk_for_boot(arch, bins)
        } else {
            bins.into_iter().map(|b| vec![b]).collect()
        };
        for &suite in suites {
            for chunk in &chunks {
                jobs.push(Job {
                    arch,
                    mode,
                    suite: Some(suite),
                    weight: boot_cost * chunk.len() as u32 + 20,
                    bins: chunk.clone(),
                });
            }
        }
    }
    jobs
}

/// The jobs waiting for a runner. The builds push each architecture's jobs as soon as its
/// binaries are there, so that boots run while the next architecture builds (a build leaves a
/// core idle for much of its time: the last crates and links wait on each other); the runners
/// take the heaviest job first and stop when the queue is closed and empty.
#[derive(Default)]
pub(super) struct Queue {
    /// The waiting jobs, lightest first, and whether more may come.
    state: Mutex<(Vec<Job>, bool)>,
    changed: Condvar,
}

impl Queue {
    pub(super) fn push(&self, jobs: Vec<Job>) {
        let mut state = self.state.lock().expect("queue");
        state.0.extend(jobs);
        state.0.sort_by_key(|j| j.weight);
        self.changed.notify_all();
    }

    /// No more jobs will come.
    pub(super) fn close(&self) {
        self.state.lock().expect("queue").1 = true;
        self.changed.notify_all();
    }

    /// The heaviest waiting job; waits while the queue is empty but open; `None` once it is
    /// closed and empty.
    pub(super) fn pop(&self) -> Option<Job> {
        let mut state = self.state.lock().expect("queue");
        loop {
            if let Some(job) = state.0.pop() {
                return Some(job);
            }
            if state.1 {
                return None;
            }
            state = self.changed.wait(state).expect("queue");
        }
    }
}

/// `bins` split into the loads of as few boots as `arch`'s guest memory allows.
pub(super) fn chunk_for_boot(arch: &Arch, bins: Vec<TestBin>) -> Vec<Vec<TestBin>> {
    let capacity = qemu::boot_capacity(arch);
    let mut chunk: Vec<TestBin> = Vec::new();
    let mut size = 0;
    let mut chunks = Vec::new();
    for b in bins {
        let len = std::fs::metadata(&b.path).map(|m| m.len()).unwrap_or(0);
        if !chunk.is_empty() && size + len > capacity {
            chunks.push(std::mem::take(&mut chunk));
            size = 0;
        }
        size += len;
        chunk.push(b);
    }
    chunks.push(chunk);
    chunks
}

/// The result of one binary in one mode.
#[derive(Debug)]
pub(super) struct BinResult {
    pub(super) name: String,
    pub(super) outcome: EntryOutcome,
    pub(super) counts: Counts,
    pub(super) problem: Option<String>,
}

impl BinResult {
    pub(super) fn ok(&self) -> bool {
        self.outcome.code == Some(0) && self.problem.is_none() && self.counts.results > 0
    }
}

/// The results of one job.
pub(super) struct JobResult {
    pub(super) arch: &'static Arch,
    pub(super) mode: Mode,
    pub(super) suite: Option<Suite>,
    pub(super) kernel: Option<String>,
    pub(super) bins: Vec<BinResult>,
    /// A boot-level problem (timeout, crash) and the console tail.
    pub(super) problems: Vec<(String, String)>,
    pub(super) elapsed: Duration,
}

impl JobResult {
    /// `x86_64 system`, with the suite where the architecture boots more than one kernel.
    pub(super) fn label(&self) -> String {
        match shown_suite(self.arch, self.suite) {
            Some(s) => format!("{} {} ({})", self.arch.name, self.mode.name(), s.name()),
            None => format!("{} {}", self.arch.name, self.mode.name()),
        }
    }
}

/// The suite that names a run of `arch` (in its label and log directory): only where the
/// architecture boots more than one kernel.
pub(super) fn shown_suite(arch: &Arch, suite: Option<Suite>) -> Option<Suite> {
    suite.filter(|_| arch.kernels.len() > 1)
}

pub(super) struct Options {
    pub(super) harness: Vec<String>,
    pub(super) limits: Limits,
}

fn entries(bins: &[TestBin], harness: &[String]) -> Vec<Entry> {
    bins.iter()
        .map(|b| Entry {
            name: b.name.clone(),
            path: b.path.clone(),
            args: harness.iter().chain(&b.args).cloned().collect(),
            programs: b.programs.clone(),
        })
        .collect()
}

fn bin_result(outcome: EntryOutcome, problem: Option<String>) -> BinResult {
    let counts = report::parse(&outcome.output);
    BinResult {
        name: outcome.name.clone(),
        outcome,
        counts,
        problem,
    }
}

pub(super) fn run_job(job: &Job, opts: &Options) -> Result<JobResult> {
    let start = Instant::now();
    let mut result = JobResult {
        arch: job.arch,
        mode: job.mode,
        suite: job.suite,
        kernel: None,
        bins: Vec::new(),
        problems: Vec::new(),
        elapsed: Duration::ZERO,
    };
    match job.mode {
        Mode::System => {
            let suite = job.suite.unwrap_or(job.arch.kernels[0]);
            let kernel = Kernel::load(job.arch, suite)?;
            let init = qemu::init_path(job.arch);
            let entries = entries(&job.bins, &opts.harness);
            let boot: BootOutcome =
                qemu::boot(job.arch, &kernel, &init, &entries, opts.limits, false)?;
            // The guest's `uname -r`, else the package (the guest died before saying it).
            result.kernel = boot
                .kernel
                .clone()
                .or_else(|| Some(format!("{} (pkg)", kernel.package)));
            let first = job.bins.first().map(|b| b.name.as_str()).unwrap_or("none");
            save_log(
                &log_name(job.arch, job.mode, job.suite),
                &format!("console-from-{first}"),
                &boot.console,
            );
            if let Some(p) = &boot.problem {
                result
                    .problems
                    .push((p.clone(), qemu::tail(&boot.console, 40)));
            }
            for e in boot.entries {
                let problem = match (e.code, &boot.problem) {
                    (None, Some(p)) => Some(p.clone()),
                    (None, None) => Some("no exit status on the console".into()),
                    _ => None,
                };
                result.bins.push(bin_result(e, problem));
            }
        }
        Mode::User => {
            for (b, e) in job.bins.iter().zip(entries(&job.bins, &opts.harness)) {
                let (outcome, problem, _) =
                    qemu::run_user(job.arch, &e, &b.package_dir, opts.limits)?;
                result.bins.push(bin_result(outcome, problem));
            }
        }
    }
    for b in &result.bins {
        save_log(
            &log_name(job.arch, job.mode, job.suite),
            &b.name,
            &b.outcome.output,
        );
    }
    result.elapsed = start.elapsed();
    Ok(result)
}

pub(super) fn log_dir() -> PathBuf {
    cross_target_dir().join("logs")
}

/// `<arch>-<mode>`, and `-<suite>` as in [`shown_suite`].
fn log_name(arch: &Arch, mode: Mode, suite: Option<Suite>) -> String {
    match shown_suite(arch, suite) {
        Some(s) => format!("{}-{}-{}", arch.name, mode.name(), s.name()),
        None => format!("{}-{}", arch.name, mode.name()),
    }
}

fn save_log(dir_name: &str, name: &str, text: &str) {
    let dir = log_dir().join(dir_name);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{}.log", name.replace('/', "__"))), text);
}
