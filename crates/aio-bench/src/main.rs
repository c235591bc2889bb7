//! `aio-bench`: measure Linux native AIO on a file or block device. See `--help`.

use aio_bench::args::{self, Options};
use aio_bench::{job, report, target};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    // Usage errors: clap's message on stderr and status 2; --help and --version on stdout.
    let options = args::parse(std::env::args_os().skip(1)).unwrap_or_else(|e| e.exit());
    match run(&options) {
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
    let prepared = target::prepare(o, |status| {
        if live {
            eprint!("\r\x1b[Kaio-bench: {status} …");
        }
    })?;
    clear_line(live);
    for note in &prepared.notes {
        eprintln!("aio-bench: note: {note}");
    }
    if live {
        eprintln!(
            "aio-bench: {}",
            job::describe(o, &prepared, o.reap == aio::Reap::Ring)
        );
    }
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
            "\r\x1b[K  {:.1} s{of}  {:>11} IOPS  {:>8.1} MiB/s",
            t.as_secs_f64(),
            report::thousands(iops.round() as u64),
            iops * bs / (1024.0 * 1024.0),
        );
        let _ = std::io::stderr().flush();
    };
    let outcome = job::run(o, &prepared, if live { Some(&mut progress) } else { None })?;
    clear_line(live);
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
    if o.json {
        println!("{}", report::json(o, &prepared, &outcome)?);
    } else {
        print!("{}", report::text(o, &prepared, &outcome));
    }
    Ok(())
}
