//! `aio-async-bench`: 4 KiB random reads through `aio`'s async API against the synchronous
//! context and tokio's blocking pool. See `--help`.

use aio_bench::asyncbench;
use asyncbench::args::{self, FileKind, Options};
use asyncbench::engines::{self, Job};
use asyncbench::files;
use asyncbench::report::{self, Cell};
use std::process::ExitCode;

fn main() -> ExitCode {
    let options = args::parse(std::env::args_os().skip(1)).unwrap_or_else(|e| e.exit());
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aio-async-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(o: &Options) -> Result<(), String> {
    if o.files.contains(&FileKind::Dir) && !o.dir.is_dir() {
        return Err(format!(
            "--dir {}: no such directory (build first, or pass --dir)",
            o.dir.display()
        ));
    }
    let mut cells = Vec::new();
    let mut notes = Vec::new();
    if o.heuristics != aio::rt::Heuristics::default() {
        notes.push(format!(
            "the async engine runs without some of the driver's policies: {:?}",
            o.heuristics
        ));
    }
    for &kind in &o.files {
        let size = match kind {
            FileKind::Tmpfs => o.tmpfs_size,
            FileKind::Dir => o.dir_size,
        };
        let path = files::path_for(kind, &o.dir);
        eprintln!(
            "aio-async-bench: writing {} ({}) …",
            path.display(),
            aio_bench::target::human_bytes(size)
        );
        // Removed when it goes out of scope, also on an error or a panic.
        let file = files::create(path, size)?;
        eprintln!(
            "aio-async-bench: {}: {}, {}",
            file.path.display(),
            file.fs,
            if file.direct { "O_DIRECT" } else { "buffered" }
        );
        if let Some(note) = &file.note {
            eprintln!("aio-async-bench: note: {note}");
            notes.push(note.clone());
        }
        for &depth in &o.depths {
            let tasks = o.tasks.unwrap_or(depth).min(depth);
            let mut cell = Cell {
                kind,
                path: file.path.display().to_string(),
                fs: file.fs.clone(),
                direct: file.direct,
                size,
                depth,
                tasks,
                workers: o.workers,
                rounds: Vec::with_capacity(o.rounds),
            };
            for round in 0..o.rounds {
                let mut results = [None; 3];
                let job = Job {
                    file: &file,
                    depth,
                    tasks,
                    workers: o.workers,
                    runtime: o.runtime,
                    seed: o.seed.wrapping_add(round as u64),
                    heuristics: o.heuristics,
                };
                // Rotating order: no engine always runs first (or right after another).
                for i in 0..o.engines.len() {
                    let engine = o.engines[(i + round) % o.engines.len()];
                    let run = engines::run(engine, &job).map_err(|e| {
                        format!(
                            "{} {} depth {depth}: {e}",
                            engine.name(),
                            file.path.display()
                        )
                    })?;
                    eprintln!(
                        "aio-async-bench: {} depth {depth} tasks {tasks} round {}/{}: {:>8} \
                         {:>10.0} IOPS {:>7.2} µs CPU/op",
                        kind.name(),
                        round + 1,
                        o.rounds,
                        engine.name(),
                        run.iops(),
                        run.cpu_us_per_op()
                    );
                    results[engine.index()] = Some(run);
                }
                cell.rounds.push(results);
            }
            cells.push(cell);
        }
    }
    if o.json {
        println!("{}", report::json(&cells, o.runtime, o.rounds, &notes));
    } else {
        print!("{}", report::markdown(&cells, o.runtime, o.rounds, &notes));
    }
    Ok(())
}
