//! `aio-bench`: measure Linux native AIO on a file or block device. See `--help`.

use aio_bench::args::{self, Options};
use aio_bench::job::Outcome;
use aio_bench::target::Prepared;
use aio_bench::{job, plot, report, sweep, target};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    // Usage errors: clap's message on stderr and status 2; --help and --version on stdout.
    let options = args::parse(std::env::args_os().skip(1)).unwrap_or_else(|e| e.exit());
    // Ctrl-C: the first ends the run (its summary is printed, status 130); a second, with
    // the first not yet honoured, exits at once.
    let flag = job::interrupt_flag();
    let _ = signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        130,
        flag.clone(),
    );
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, flag);
    match run(&options) {
        Ok(()) if job::interrupted() => {
            eprintln!("aio-bench: interrupted (Ctrl-C): the summary covers what ran until then");
            ExitCode::from(130)
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            clear_line(live(&options));
            eprintln!("aio-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Whether to show the progress line: asked for, and stderr is a terminal.
fn live(o: &Options) -> bool {
    o.progress && std::io::stderr().is_terminal()
}

fn clear_line(live: bool) {
    if live {
        eprint!("\r\x1b[K");
    }
}

fn run(o: &Options) -> Result<(), String> {
    let live = live(o);
    // A chart that cannot be written should fail now, not after the sweep.
    if let Some(path) = &o.plot {
        std::fs::File::create(path).map_err(|e| plot_error(path, e))?;
    }
    let prepared = target::prepare(o, |status| {
        if live {
            eprint!("\r\x1b[Kaio-bench: {status} …");
        }
    })?;
    clear_line(live);
    for note in &prepared.notes {
        eprintln!("aio-bench: note: {note}");
    }
    if o.depths.is_empty() {
        return single(o, &prepared, live);
    }
    let result = depth_sweep(o, &prepared, live);
    if let (Err(_), Some(path)) = (&result, &o.plot) {
        // The empty file made above; the chart was never drawn.
        let _ = std::fs::remove_file(path);
    }
    result
}

fn single(o: &Options, prepared: &Prepared, live: bool) -> Result<(), String> {
    if live {
        eprintln!(
            "aio-bench: {}",
            job::describe(o, prepared, o.reap == aio::Reap::Ring)
        );
    }
    let outcome = run_one(o, prepared, live, "")?;
    notes(o, &outcome);
    if o.json {
        println!("{}", report::json(o, prepared, &outcome)?);
    } else {
        print!("{}", report::text(o, prepared, &outcome));
    }
    Ok(())
}

fn depth_sweep(o: &Options, prepared: &Prepared, live: bool) -> Result<(), String> {
    if live {
        eprintln!(
            "aio-bench: {}",
            sweep::describe(o, prepared, o.reap == aio::Reap::Ring)
        );
    }
    let runs = sweep::runs(o);
    let mut results = Vec::with_capacity(runs.len());
    for (i, run) in runs.into_iter().enumerate() {
        let label = format!("depth {} ({}/{})  ", run.depth, i + 1, o.depths.len());
        let outcome = run_one(&run, prepared, live, &label)
            .map_err(|e| format!("at depth {}: {e}", run.depth))?;
        results.push((run, outcome));
        if job::interrupted() {
            // The depths that ran are reported; the others are not started.
            break;
        }
    }
    if let Some((run, outcome)) = results.first() {
        notes(run, outcome);
    }
    if o.json {
        println!("{}", report::sweep_json(o, prepared, &results)?);
    } else {
        print!("{}", sweep::text(o, prepared, &results));
    }
    if let Some(path) = &o.plot {
        let (title, subtitle) = sweep::chart_titles(o, prepared, &results);
        let svg = plot::svg(&title, &subtitle, &sweep::points(&results))?;
        std::fs::write(path, svg).map_err(|e| plot_error(path, e))?;
        if !o.json {
            println!("\n  chart  {}", path.display());
        }
    }
    Ok(())
}

fn plot_error(path: &Path, e: std::io::Error) -> String {
    format!(
        "cannot write the chart to {}: {e} (choose another --plot path)",
        path.display()
    )
}

/// One run of `o`, with the progress line (prefixed by `label`) on a terminal.
fn run_one(o: &Options, prepared: &Prepared, live: bool, label: &str) -> Result<Outcome, String> {
    let total = o.runtime;
    let bs = o.bs as f64;
    let (mut last_t, mut last_ops) = (Duration::ZERO, 0u64);
    let mut progress = |t: Duration, ops: u64| {
        let dt = (t - last_t).as_secs_f64();
        let iops = if dt > 0.0 {
            (ops - last_ops) as f64 / dt
        } else {
            0.0
        };
        (last_t, last_ops) = (t, ops);
        let of = total.map_or(String::new(), |d| format!(" / {:.1} s", d.as_secs_f64()));
        eprint!(
            "\r\x1b[K  {label}{:.1} s{of}  {:>11} IOPS  {:>8.1} MiB/s",
            t.as_secs_f64(),
            report::thousands(iops.round() as u64),
            iops * bs / (1024.0 * 1024.0),
        );
        let _ = std::io::stderr().flush();
    };
    if live && !label.is_empty() {
        eprint!("\r\x1b[K  {label}…");
        let _ = std::io::stderr().flush();
    }
    let outcome = job::run(o, prepared, if live { Some(&mut progress) } else { None })?;
    clear_line(live);
    Ok(outcome)
}

/// What the user should know about how the operations ran.
fn notes(o: &Options, outcome: &Outcome) {
    if o.backend == aio::Backend::KernelOrEmulated && outcome.emulated {
        eprintln!(
            "aio-bench: note: this kernel has no native AIO (or forbids it): the operations ran \
             in the crate's emulation, one pread/pwrite at a time"
        );
    }
    if o.reap == aio::Reap::Ring && !outcome.ring && !outcome.emulated {
        eprintln!(
            "aio-bench: note: the kernel's completion ring is not readable here; reaped with \
             io_getevents"
        );
    }
}
