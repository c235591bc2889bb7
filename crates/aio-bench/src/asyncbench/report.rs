//! Medians, paired ratios, the markdown tables, the JSON object and the project's targets.

use super::args::FileKind;
use super::{Engine, Run, per_op_us};
use std::fmt::Write;
use std::time::Duration;

/// Every round of one file at one depth.
#[derive(Debug)]
pub struct Cell {
    pub kind: FileKind,
    pub path: String,
    pub fs: String,
    pub direct: bool,
    pub size: u64,
    pub depth: usize,
    pub tasks: usize,
    /// Tokio worker threads.
    pub workers: usize,
    /// `rounds[r][engine.index()]`.
    pub rounds: Vec<[Option<Run>; 3]>,
}

/// A paired ratio: which engine and metric over which.
#[derive(Clone, Copy, Debug)]
pub struct RatioKind {
    pub key: &'static str,
    pub label: &'static str,
    pub num: Engine,
    pub den: Engine,
    pub cpu: bool,
}

/// The ratios every table shows.
pub const RATIOS: [RatioKind; 3] = [
    RatioKind {
        key: "async_over_sync_iops",
        label: "async/sync IOPS",
        num: Engine::Async,
        den: Engine::Sync,
        cpu: false,
    },
    RatioKind {
        key: "async_over_tokio_fs_iops",
        label: "async/tokio-fs IOPS",
        num: Engine::Async,
        den: Engine::TokioFs,
        cpu: false,
    },
    RatioKind {
        key: "async_over_tokio_fs_cpu_per_op",
        label: "async/tokio-fs CPU per op",
        num: Engine::Async,
        den: Engine::TokioFs,
        cpu: true,
    },
];

/// Median, smallest and largest of some values, and the values.
#[derive(Clone, Debug)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub values: Vec<f64>,
}

/// `None` for no values; the mean of the middle two for an even count.
pub fn summarize(mut values: Vec<f64>) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    values.shrink_to_fit();
    Some(Summary {
        median,
        min: sorted[0],
        max: sorted[n - 1],
        values,
    })
}

impl Cell {
    fn runs(&self, engine: Engine) -> impl Iterator<Item = &Run> {
        self.rounds
            .iter()
            .filter_map(move |r| r[engine.index()].as_ref())
    }

    /// Median IOPS of `engine` over the rounds.
    pub fn iops(&self, engine: Engine) -> Option<Summary> {
        summarize(self.runs(engine).map(Run::iops).collect())
    }

    /// Median CPU µs per op of `engine`.
    pub fn cpu(&self, engine: Engine) -> Option<Summary> {
        summarize(self.runs(engine).map(Run::cpu_us_per_op).collect())
    }

    fn split(&self, engine: Engine, pick: fn(&Run) -> Duration) -> Option<Summary> {
        summarize(
            self.runs(engine)
                .map(|r| per_op_us(pick(r), r.ops))
                .collect(),
        )
    }

    /// The median of the rounds' paired ratios (rounds where both engines ran).
    pub fn ratio(&self, kind: &RatioKind) -> Option<Summary> {
        let values = self
            .rounds
            .iter()
            .filter_map(|r| {
                let (num, den) = (r[kind.num.index()]?, r[kind.den.index()]?);
                let (num, den) = if kind.cpu {
                    (num.cpu_us_per_op(), den.cpu_us_per_op())
                } else {
                    (num.iops(), den.iops())
                };
                (den > 0.0).then(|| num / den)
            })
            .collect();
        summarize(values)
    }

    fn title(&self) -> String {
        format!(
            "{} ({}, {}, {}), depth {}, {} task{}, {} tokio worker{}",
            self.kind.name(),
            self.fs,
            crate::target::human_bytes(self.size),
            if self.direct { "O_DIRECT" } else { "buffered" },
            self.depth,
            self.tasks,
            if self.tasks == 1 { "" } else { "s" },
            self.workers,
            if self.workers == 1 { "" } else { "s" },
        )
    }
}

/// A target of the project: a paired ratio against a bound.
#[derive(Debug)]
pub struct Target {
    pub what: String,
    pub value: Option<f64>,
    pub bound: f64,
    /// The value must be at least the bound (else at most).
    pub at_least: bool,
}

impl Target {
    pub fn met(&self) -> Option<bool> {
        self.value.map(|v| {
            if self.at_least {
                v >= self.bound
            } else {
                v <= self.bound
            }
        })
    }
}

/// The project's targets that the cells measured: at depth 32 on tmpfs, async ≥ 0.85× sync
/// and ≥ 3× tokio-fs IOPS; on the dir file (ext4) at every depth, async IOPS ≥ tokio-fs and
/// async CPU/op ≤ 0.5× tokio-fs.
pub fn targets(cells: &[Cell]) -> Vec<Target> {
    let mut out = Vec::new();
    for cell in cells {
        let mut check = |ratio: &RatioKind, bound: f64, at_least: bool| {
            if let Some(s) = cell.ratio(ratio) {
                out.push(Target {
                    what: format!(
                        "{} ({}) depth {}, tasks {}: {}",
                        cell.kind.name(),
                        cell.fs,
                        cell.depth,
                        cell.tasks,
                        ratio.label
                    ),
                    value: Some(s.median),
                    bound,
                    at_least,
                });
            }
        };
        match cell.kind {
            FileKind::Tmpfs if cell.depth == 32 => {
                check(&RATIOS[0], 0.85, true);
                check(&RATIOS[1], 3.0, true);
            }
            FileKind::Dir => {
                check(&RATIOS[1], 1.0, true);
                check(&RATIOS[2], 0.5, false);
            }
            FileKind::Tmpfs => {}
        }
    }
    out
}

fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn range(s: &Summary, fmt: fn(f64) -> String) -> String {
    format!("{} ({}–{})", fmt(s.median), fmt(s.min), fmt(s.max))
}

/// The markdown report: a table per cell, then the targets.
pub fn markdown(cells: &[Cell], runtime: Duration, rounds: usize, notes: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# aio-async-bench: 4 KiB random reads, {rounds} rounds × {:.1} s per engine\n",
        runtime.as_secs_f64()
    );
    out += "Medians over the rounds (min–max in parentheses); ratios are the median of each \
            round's paired ratio. CPU: the whole process (user + system, every thread); \
            user/sys from /proc/self/stat (10 ms ticks).\n";
    for note in notes {
        let _ = writeln!(out, "\nNote: {note}");
    }
    for cell in cells {
        let _ = writeln!(out, "\n## {}\n", cell.title());
        out += "| engine | IOPS | CPU µs/op | user / sys µs/op | io_submit/op |\n\
                |---|---:|---:|---:|---:|\n";
        for engine in Engine::ALL {
            let (Some(iops), Some(cpu)) = (cell.iops(engine), cell.cpu(engine)) else {
                continue;
            };
            let user = cell.split(engine, |r| r.user).map_or(0.0, |s| s.median);
            let sys = cell.split(engine, |r| r.sys).map_or(0.0, |s| s.median);
            let submits = summarize(cell.runs(engine).filter_map(Run::submits_per_op).collect())
                .map_or("–".into(), |s| format!("{:.3}", s.median));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {user:.2} / {sys:.2} | {submits} |",
                engine.name(),
                range(&iops, thousands),
                range(&cpu, |v| format!("{v:.2}")),
            );
        }
        let ratios: Vec<_> = RATIOS
            .iter()
            .filter_map(|k| cell.ratio(k).map(|s| (k, s)))
            .collect();
        if !ratios.is_empty() {
            out += "\n| ratio | median (min–max) |\n|---|---:|\n";
            for (kind, s) in ratios {
                let _ = writeln!(
                    out,
                    "| {} | {} |",
                    kind.label,
                    range(&s, |v| format!("{v:.2}"))
                );
            }
        }
    }
    let targets = targets(cells);
    if !targets.is_empty() {
        out += "\n## Targets\n\n";
        for t in &targets {
            let (mark, value) = match (t.met(), t.value) {
                (Some(true), Some(v)) => ("ok", v),
                (Some(false), Some(v)) => ("MISS", v),
                _ => continue,
            };
            let _ = writeln!(
                out,
                "- [{mark}] {}: {value:.2} (target {} {})",
                t.what,
                if t.at_least { "≥" } else { "≤" },
                t.bound
            );
        }
    }
    out
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

fn json_summary(s: &Option<Summary>) -> String {
    match s {
        None => "null".into(),
        Some(s) => format!(
            "{{\"median\":{},\"min\":{},\"max\":{},\"rounds\":[{}]}}",
            json_num(s.median),
            json_num(s.min),
            json_num(s.max),
            s.values
                .iter()
                .map(|&v| json_num(v))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// The JSON object: options, every run of every cell, the summaries and the targets.
pub fn json(cells: &[Cell], runtime: Duration, rounds: usize, notes: &[String]) -> String {
    let mut out = format!(
        "{{\"bench\":\"aio-async-bench\",\"block_size\":{},\"runtime_s\":{},\"rounds\":{rounds},\
         \"notes\":[{}],\"cells\":[",
        super::BS,
        json_num(runtime.as_secs_f64()),
        notes
            .iter()
            .map(|n| json_str(n))
            .collect::<Vec<_>>()
            .join(","),
    );
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"file\":{},\"path\":{},\"fs\":{},\"direct\":{},\"size\":{},\"depth\":{},\
             \"tasks\":{},\"workers\":{},\"engines\":{{",
            json_str(cell.kind.name()),
            json_str(&cell.path),
            json_str(&cell.fs),
            cell.direct,
            cell.size,
            cell.depth,
            cell.tasks,
            cell.workers
        );
        let mut first = true;
        for engine in Engine::ALL {
            if cell.runs(engine).next().is_none() {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            let runs: Vec<String> = cell
                .runs(engine)
                .map(|r| {
                    format!(
                        "{{\"ops\":{},\"wall_s\":{},\"cpu_s\":{},\"user_s\":{},\"sys_s\":{},\
                         \"iops\":{},\"cpu_us_per_op\":{},\"io_submit_calls\":{}}}",
                        r.ops,
                        json_num(r.wall.as_secs_f64()),
                        json_num(r.cpu.as_secs_f64()),
                        json_num(r.user.as_secs_f64()),
                        json_num(r.sys.as_secs_f64()),
                        json_num(r.iops()),
                        json_num(r.cpu_us_per_op()),
                        r.submit_calls.map_or("null".into(), |n| n.to_string())
                    )
                })
                .collect();
            let _ = write!(
                out,
                "{}:{{\"iops\":{},\"cpu_us_per_op\":{},\"runs\":[{}]}}",
                json_str(engine.name()),
                json_summary(&cell.iops(engine)),
                json_summary(&cell.cpu(engine)),
                runs.join(",")
            );
        }
        out += "},\"ratios\":{";
        let ratios: Vec<String> = RATIOS
            .iter()
            .map(|k| format!("{}:{}", json_str(k.key), json_summary(&cell.ratio(k))))
            .collect();
        out += &ratios.join(",");
        out += "}}";
    }
    out += "],\"targets\":[";
    let targets: Vec<String> = targets(cells)
        .iter()
        .map(|t| {
            format!(
                "{{\"what\":{},\"value\":{},\"bound\":{},\"at_least\":{},\"met\":{}}}",
                json_str(&t.what),
                t.value.map_or("null".into(), json_num),
                json_num(t.bound),
                t.at_least,
                t.met().map_or("null".into(), |m| m.to_string())
            )
        })
        .collect();
    out += &targets.join(",");
    out += "]}";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ops: u64, cpu_ms: u64) -> Option<Run> {
        Some(Run {
            ops,
            wall: Duration::from_secs(1),
            cpu: Duration::from_millis(cpu_ms),
            user: Duration::ZERO,
            sys: Duration::ZERO,
            submit_calls: Some(ops / 2),
        })
    }

    #[test]
    fn medians_and_paired_ratios() {
        assert_eq!(summarize(vec![3.0, 1.0, 2.0]).unwrap().median, 2.0);
        assert_eq!(summarize(vec![4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert!(summarize(Vec::new()).is_none());
        let cell = Cell {
            kind: FileKind::Tmpfs,
            path: "/dev/shm/x\"y".into(),
            fs: "tmpfs".into(),
            direct: true,
            size: 1 << 20,
            depth: 32,
            tasks: 32,
            workers: 2,
            rounds: vec![
                [run(100, 100), run(90, 100), run(10, 100)],
                [run(200, 100), run(100, 100), run(50, 200)],
                [run(100, 100), run(80, 100), run(20, 100)],
            ],
        };
        // Paired: 0.9, 0.5, 0.8 → 0.8 (the ratio of medians would be 90/100 = 0.9).
        assert_eq!(cell.ratio(&RATIOS[0]).unwrap().median, 0.8);
        assert_eq!(cell.ratio(&RATIOS[1]).unwrap().median, 4.0);
        let t = targets(std::slice::from_ref(&cell));
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].met(), Some(false));
        assert_eq!(t[1].met(), Some(true));
        let md = markdown(std::slice::from_ref(&cell), Duration::from_secs(2), 3, &[]);
        assert!(
            md.contains("| async/sync IOPS | 0.80 (0.50–0.90) |"),
            "{md}"
        );
        assert!(md.contains("[MISS]"));
        let js = json(&[cell], Duration::from_secs(2), 3, &["a\nb".into()]);
        assert!(js.contains("\"path\":\"/dev/shm/x\\\"y\""));
        assert!(js.contains("\"a\\u000ab\""));
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }
}
