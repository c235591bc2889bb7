//! The summary: a table for people, one JSON object for programs.

use crate::args::Options;
use crate::hist::Histogram;
use crate::job::{Latencies, Outcome, describe};
use crate::target::{Prepared, human_bytes};
use serde::Serialize;
use std::fmt::Write;

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A latency in nanoseconds, in the unit that suits it: `850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s`.
pub fn duration_ns(ns: u64) -> String {
    let v = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 100_000 {
        format!("{:.1} µs", v / 1e3)
    } else if ns < 1_000_000 {
        format!("{:.0} µs", v / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

/// MiB per second of `n` of the run's operations (all of them: `r.ops`).
pub(crate) fn mib_s(o: &Options, r: &Outcome, n: u64) -> f64 {
    r.rate(n) * o.bs as f64 / (1024.0 * 1024.0)
}

/// The summary's line about the file: `file  PATH (temporary, 256 MiB, tmpfs)`.
pub fn file_line(p: &Prepared) -> String {
    let what = if p.temp {
        format!("temporary, {}, {}", human_bytes(p.size), p.fs)
    } else {
        format!("{} used, {}", human_bytes(p.size), p.fs)
    };
    format!("file  {} ({what})", p.path.display())
}

/// Which of a kind's histograms: every operation's, or one direction's.
type Pick = fn(&Latencies) -> &Histogram;

/// The table printed after a run.
pub fn text(o: &Options, p: &Prepared, r: &Outcome) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "aio-bench: {}", describe(o, p, r.ring));
    let _ = writeln!(s, "  {}", file_line(p));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  {:<14}{:>12}{:>12}{:>10}",
        "ops", "IOPS", "MiB/s", "time"
    );
    let _ = writeln!(
        s,
        "  {:<14}{:>12}{:>12.1}{:>10}",
        thousands(r.ops),
        thousands(r.iops().round() as u64),
        mib_s(o, r, r.ops),
        format!("{:.2} s", r.elapsed.as_secs_f64()),
    );
    // Both directions (randrw): each on its own line, as fio reports them.
    let both = r.reads > 0 && r.writes > 0;
    if both {
        for (name, n) in [("read", r.reads), ("write", r.writes)] {
            let _ = writeln!(
                s,
                "  {:<14}{:>12}{:>12.1}",
                format!("{name} {}", thousands(n)),
                thousands(r.rate(n).round() as u64),
                mib_s(o, r, n),
            );
        }
    }
    if r.eagain > 0 {
        let _ = writeln!(
            s,
            "  {:<14}{} operations failed with EAGAIN (RWF_NOWAIT), not counted",
            "",
            thousands(r.eagain)
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  {:<12}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "latency", "min", "p50", "p90", "p99", "p99.9", "max", "mean", "stdev"
    );
    let directions: &[(&str, Pick)] = if both {
        &[
            ("", |l| &l.all),
            ("read ", |l| &l.read),
            ("write ", |l| &l.write),
        ]
    } else {
        &[("", |l| &l.all)]
    };
    for (direction, pick) in directions {
        for (kind, latencies) in [("lat", &r.lat), ("clat", &r.clat), ("slat", &r.slat)] {
            let h = pick(latencies);
            let _ = writeln!(
                s,
                "  {:<12}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
                format!("{direction}{kind}"),
                duration_ns(h.min()),
                duration_ns(h.percentile(0.50)),
                duration_ns(h.percentile(0.90)),
                duration_ns(h.percentile(0.99)),
                duration_ns(h.percentile(0.999)),
                duration_ns(h.max()),
                duration_ns(h.mean().round() as u64),
                duration_ns(h.stddev().round() as u64),
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  {:<10}{:>12}{:>15}{:>12}{:>15}",
        "per op", "io_submit", "io_getevents", "syscalls", "ring-reaped"
    );
    let _ = writeln!(
        s,
        "  {:<10}{:>12.3}{:>15.3}{:>12.3}{:>14.1}%",
        "",
        r.submit_per_op(),
        r.getevents_per_op(),
        r.syscalls_per_op(),
        100.0 * r.ring_fraction(),
    );
    s
}

/// The job's fields of the JSON report: what ran, on what.
#[derive(Clone, Debug, Serialize)]
pub struct JobJson {
    /// Always `"aio-bench"`.
    pub tool: &'static str,
    /// The program's version.
    pub version: &'static str,
    /// The file's path (already removed for a temporary file).
    pub file: String,
    /// A temporary file made by this run.
    pub temporary: bool,
    /// The file system's name.
    pub fs: String,
    /// Bytes used.
    pub size: u64,
    /// `--rw`.
    pub rw: &'static str,
    /// `--rwmix`.
    pub rwmix: u8,
    /// `--bs`.
    pub bs: u64,
    /// `--depth` (absent in a sweep's common fields: each run has its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// `--batch`: a number, or `"auto"`.
    pub batch: BatchJson,
    /// Opened with O_DIRECT.
    pub direct: bool,
    /// `"kernel"` or `"emulated"`: what ran the operations.
    pub backend: &'static str,
    /// `"ring"` or `"syscall"`: how completions were reaped.
    pub reap: &'static str,
    /// `--nowait`.
    pub nowait: bool,
    /// The xorshift seed.
    pub seed: u64,
}

/// `--batch` in the JSON report: the number of operations per `io_submit`, or `"auto"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum BatchJson {
    /// `--batch N`.
    Fixed(u32),
    /// `--batch auto`: the string `"auto"`.
    Auto(&'static str),
}

impl BatchJson {
    /// From [`Options::batch`].
    pub fn new(batch: Option<u32>) -> Self {
        batch.map_or(Self::Auto("auto"), Self::Fixed)
    }
}

/// fio's default latency percentiles (its `percentile_list`), the keys of
/// [`LatencyJson::percentile`].
pub const FIO_PERCENTILES: [f64; 17] = [
    1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95,
    99.99,
];

/// A latency's statistics in the JSON report, nanoseconds; `N`, `stddev` and `percentile`
/// under fio's names (its percentile keys are `"%f"` of the percent: `"99.900000"`).
#[derive(Clone, Debug, Serialize)]
pub struct LatencyJson {
    /// The operations counted.
    #[serde(rename = "N")]
    pub n: u64,
    /// The fastest operation.
    pub min: u64,
    /// The mean.
    pub mean: f64,
    /// The population standard deviation.
    pub stddev: f64,
    /// fio's default percentiles ([`FIO_PERCENTILES`]), keyed as fio keys them.
    pub percentile: std::collections::BTreeMap<String, u64>,
    /// The median.
    pub p50: u64,
    /// The 90th percentile.
    pub p90: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The 99.9th percentile.
    pub p99_9: u64,
    /// The slowest operation.
    pub max: u64,
}

/// A run's results in the JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct RunJson {
    /// Operations completed successfully.
    pub ops: u64,
    /// Of which reads.
    pub reads: u64,
    /// Of which writes.
    pub writes: u64,
    /// `EAGAIN` failures under `--nowait` (not in `ops`).
    pub eagain: u64,
    /// The run's length.
    pub seconds: f64,
    /// Operations per second.
    pub iops: f64,
    /// MiB per second.
    pub mib_s: f64,
    /// Total latency: from push to reap.
    pub lat_ns: LatencyJson,
    /// Completion latency: from the return of the `io_submit` that carried the operation to
    /// the reap.
    pub clat_ns: LatencyJson,
    /// Submission latency: from push to the return of the `io_submit` that carried it.
    pub slat_ns: LatencyJson,
    /// The reads alone (when the job made any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<DirectionJson>,
    /// The writes alone (when the job made any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<DirectionJson>,
    /// `io_submit` calls.
    pub submit_calls: u64,
    /// Operations the kernel accepted.
    pub submitted: u64,
    /// `io_getevents` calls.
    pub getevents_calls: u64,
    /// `io_submit` calls per operation.
    pub submit_per_op: f64,
    /// `io_getevents` calls per operation.
    pub getevents_per_op: f64,
    /// System calls per operation.
    pub syscalls_per_op: f64,
    /// Completions read from the ring.
    pub ring_reaped: u64,
    /// Completions returned by `io_getevents`.
    pub syscall_reaped: u64,
    /// The fraction of completions read from the ring.
    pub ring_fraction: f64,
}

/// One direction's results (`read` or `write` of a run).
#[derive(Clone, Debug, Serialize)]
pub struct DirectionJson {
    /// Operations of this direction completed successfully.
    pub ops: u64,
    /// Of those, per second of the run.
    pub iops: f64,
    /// MiB per second.
    pub mib_s: f64,
    /// Their total latency: from push to reap.
    pub lat_ns: LatencyJson,
    /// Their completion latency.
    pub clat_ns: LatencyJson,
    /// Their submission latency.
    pub slat_ns: LatencyJson,
}

impl LatencyJson {
    fn of(h: &Histogram) -> Self {
        Self {
            n: h.count(),
            min: h.min(),
            mean: round(h.mean(), 1),
            stddev: round(h.stddev(), 1),
            percentile: FIO_PERCENTILES
                .iter()
                .map(|&p| (format!("{p:.6}"), h.percentile(p / 100.0)))
                .collect(),
            p50: h.percentile(0.50),
            p90: h.percentile(0.90),
            p99: h.percentile(0.99),
            p99_9: h.percentile(0.999),
            max: h.max(),
        }
    }
}

/// The JSON report of one run: the job's fields, then the results, in one flat object.
#[derive(Clone, Debug, Serialize)]
pub struct SingleJson {
    /// What ran.
    #[serde(flatten)]
    pub job: JobJson,
    /// What it measured.
    #[serde(flatten)]
    pub run: RunJson,
}

/// One run of a sweep in its JSON report: the depth, then the fields of a single run's results.
#[derive(Clone, Debug, Serialize)]
pub struct SweepRunJson {
    /// The run's depth.
    pub depth: u32,
    /// What it measured.
    #[serde(flatten)]
    pub run: RunJson,
}

/// The JSON report of a sweep: the job's fields (without `depth`), then `"sweep"`, one object
/// per depth in the order they ran.
#[derive(Clone, Debug, Serialize)]
pub struct SweepJson {
    /// What ran.
    #[serde(flatten)]
    pub job: JobJson,
    /// One object per depth.
    pub sweep: Vec<SweepRunJson>,
}

/// One JSON object (one line) for the sweep `o` on `p`: `results` are each run's options and
/// outcome. An error if there is no run.
pub fn sweep_json(
    o: &Options,
    p: &Prepared,
    results: &[(Options, Outcome)],
) -> Result<String, String> {
    let (_, first) = results
        .first()
        .ok_or("a sweep without runs has no report")?;
    let mut job = JobJson::new(o, p, first);
    job.depth = None;
    let report = SweepJson {
        job,
        sweep: results
            .iter()
            .map(|(run, r)| SweepRunJson {
                depth: run.depth,
                run: RunJson::new(run, r),
            })
            .collect(),
    };
    serde_json::to_string(&report).map_err(|e| format!("cannot write the JSON report: {e}"))
}

/// `x` rounded to `decimals` places, so that the report does not print the noise digits of a
/// measurement (`412345.6`, not `412345.61279182`).
fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

impl JobJson {
    /// The job `o` on `p`, as run (`r` tells the backend and the reaping that were used).
    pub fn new(o: &Options, p: &Prepared, r: &Outcome) -> Self {
        Self {
            tool: "aio-bench",
            version: env!("CARGO_PKG_VERSION"),
            file: p.path.to_string_lossy().into_owned(),
            temporary: p.temp,
            fs: p.fs.clone(),
            size: p.size,
            rw: o.rw.name(),
            rwmix: o.rwmix,
            bs: o.bs,
            depth: Some(o.depth),
            batch: BatchJson::new(o.batch),
            direct: p.direct,
            backend: if r.emulated { "emulated" } else { "kernel" },
            reap: if r.ring { "ring" } else { "syscall" },
            nowait: o.nowait,
            seed: o.seed,
        }
    }
}

impl RunJson {
    /// The results `r` of a job with block size `o.bs`.
    pub fn new(o: &Options, r: &Outcome) -> Self {
        let st = &r.stats;
        Self {
            ops: r.ops,
            reads: r.reads,
            writes: r.writes,
            eagain: r.eagain,
            seconds: round(r.elapsed.as_secs_f64(), 6),
            iops: round(r.iops(), 1),
            mib_s: round(mib_s(o, r, r.ops), 2),
            lat_ns: LatencyJson::of(&r.lat.all),
            clat_ns: LatencyJson::of(&r.clat.all),
            slat_ns: LatencyJson::of(&r.slat.all),
            read: direction(o, r, r.reads, |l| &l.read),
            write: direction(o, r, r.writes, |l| &l.write),
            submit_calls: st.submit_calls,
            submitted: st.submitted,
            getevents_calls: st.getevents_calls,
            submit_per_op: round(r.submit_per_op(), 4),
            getevents_per_op: round(r.getevents_per_op(), 4),
            syscalls_per_op: round(r.syscalls_per_op(), 4),
            ring_reaped: st.ring_reaped,
            syscall_reaped: st.syscall_reaped,
            ring_fraction: round(r.ring_fraction(), 4),
        }
    }
}

/// One direction's part of a run's results, if it made any operation.
fn direction(o: &Options, r: &Outcome, n: u64, pick: Pick) -> Option<DirectionJson> {
    (n > 0).then(|| DirectionJson {
        ops: n,
        iops: round(r.rate(n), 1),
        mib_s: round(mib_s(o, r, n), 2),
        lat_ns: LatencyJson::of(pick(&r.lat)),
        clat_ns: LatencyJson::of(pick(&r.clat)),
        slat_ns: LatencyJson::of(pick(&r.slat)),
    })
}

/// One JSON object (one line) for the run `r` of `o` on `p`.
pub fn json(o: &Options, p: &Prepared, r: &Outcome) -> Result<String, String> {
    let report = SingleJson {
        job: JobJson::new(o, p, r),
        run: RunJson::new(o, r),
    };
    serde_json::to_string(&report).map_err(|e| format!("cannot write the JSON report: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(duration_ns(850), "850 ns");
        assert_eq!(duration_ns(12_345), "12.3 µs");
        assert_eq!(duration_ns(456_000), "456 µs");
        assert_eq!(duration_ns(4_560_000), "4.56 ms");
        assert_eq!(duration_ns(1_200_000_000), "1.20 s");
    }

    /// A run of `ops` operations of `latency_ns` each in 0.5 s, with `submits` io_submit
    /// calls, on a file whose path needs escaping.
    fn sample(latency_ns: &[u64], submits: u64) -> (Prepared, Outcome) {
        let prepared = Prepared {
            file: std::fs::File::open("/dev/null").unwrap(),
            path: "/tmp/a \"quoted\"\nname".into(),
            temp: true,
            device: false,
            size: 256 << 20,
            direct: true,
            align: 4096,
            dio: None,
            fs: "tmpfs".into(),
            notes: Vec::new(),
        };
        let ops = latency_ns.len() as u64;
        let outcome = Outcome {
            ops,
            reads: ops,
            writes: 0,
            eagain: 0,
            elapsed: std::time::Duration::from_millis(500),
            lat: Latencies::default(),
            slat: Latencies::default(),
            clat: Latencies::default(),
            stats: aio::Stats {
                submit_calls: submits,
                submitted: ops,
                ring_reaped: ops,
                ..aio::Stats::default()
            },
            ring: true,
            emulated: false,
            interrupted: false,
        };
        let mut outcome = outcome;
        for &ns in latency_ns {
            record(&mut outcome, false, ns);
        }
        (prepared, outcome)
    }

    /// One operation of `ns` in all: 100 ns of it until its `io_submit` returned.
    fn record(r: &mut Outcome, write: bool, ns: u64) {
        for (latencies, ns) in [
            (&mut r.lat, ns),
            (&mut r.slat, 100),
            (&mut r.clat, ns - 100),
        ] {
            latencies.record(write, ns);
            *latencies = std::mem::take(latencies).finish();
        }
    }

    /// randrw: reads and writes each get their own line and their own latency, as in fio.
    #[test]
    fn both_directions_are_reported_apart() {
        let (p, mut r) = sample(&[1000, 2000, 3000, 4000], 3);
        (r.reads, r.writes, r.ops) = (4, 1, 5);
        record(&mut r, true, 9_000_000);
        let o = Options {
            rw: crate::args::Rw::RandRw,
            ..Options::default()
        };
        let table = text(&o, &p, &r);
        let line = |start: &str| {
            table
                .lines()
                .find(|l| l.trim_start().starts_with(start))
                .unwrap_or_else(|| panic!("no {start:?} line in:\n{table}"))
                .to_string()
        };
        // The ops table: operations and IOPS per direction (0.5 s).
        assert!(line("read 4").contains(" 8 "), "{table}");
        assert!(line("write 1").contains(" 2 "), "{table}");
        // The latency table's rows, three kinds per direction: the writes' alone reach 9 ms,
        // in their completion latency, not in their submission latency.
        assert!(line("write lat ").contains("9.00 ms"), "{table}");
        assert!(line("write clat ").contains("9.00 ms"), "{table}");
        assert!(!line("write slat ").contains("ms"), "{table}");
        assert!(!line("read lat ").contains("ms"), "{table}");
        assert!(line("lat ").contains("9.00 ms"), "{table}");
        assert!(line("slat ").contains("100 ns"), "{table}");
        let v: serde_json::Value = serde_json::from_str(&json(&o, &p, &r).unwrap()).unwrap();
        assert_eq!(v["read"]["ops"].as_u64(), Some(4));
        assert_eq!(v["read"]["iops"].as_f64(), Some(8.0));
        assert_eq!(v["write"]["ops"].as_u64(), Some(1));
        assert_eq!(v["write"]["lat_ns"]["max"], v["lat_ns"]["max"]);
        assert_eq!(v["write"]["clat_ns"]["max"].as_u64(), Some(9_000_000 - 100));
        assert_eq!(v["read"]["slat_ns"]["N"].as_u64(), Some(4));
        // A read-only job has no write part.
        let (p, r) = sample(&[1000], 1);
        let v: serde_json::Value =
            serde_json::from_str(&json(&Options::default(), &p, &r).unwrap()).unwrap();
        assert!(v["write"].is_null() && v["read"]["ops"] == 1);
    }

    #[test]
    fn json_has_the_fields_programs_read() {
        let (p, r) = sample(&[1000, 2000, 3000, 4000], 3);
        let o = Options::default();
        let text = json(&o, &p, &r).unwrap();
        assert!(!text.contains('\n'), "one line: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["tool"], "aio-bench");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["file"], "/tmp/a \"quoted\"\nname");
        assert_eq!(v["batch"], "auto");
        assert_eq!(
            (v["depth"].as_u64(), v["bs"].as_u64()),
            (Some(32), Some(4096))
        );
        assert_eq!(
            (v["rw"].as_str(), v["reap"].as_str()),
            (Some("randread"), Some("ring"))
        );
        assert_eq!(v["backend"], "kernel");
        assert_eq!(v["ops"].as_u64(), Some(4));
        assert_eq!(v["iops"].as_f64(), Some(8.0));
        assert_eq!(v["submit_per_op"].as_f64(), Some(0.75));
        assert_eq!(v["getevents_per_op"].as_f64(), Some(0.0));
        assert_eq!(v["syscalls_per_op"].as_f64(), Some(0.75));
        assert_eq!(v["ring_fraction"].as_f64(), Some(1.0));
        let lat = &v["lat_ns"];
        let (p50, p99) = (r.lat.all.percentile(0.5), r.lat.all.percentile(0.99));
        assert_eq!(
            (lat["p50"].as_u64(), lat["p99"].as_u64()),
            (Some(p50), Some(p99))
        );
        assert!(lat["mean"].is_f64() && lat["p99_9"].is_u64() && lat["max"].is_u64());
        // fio's names: N, stddev, and its 17 default percentiles keyed as fio keys them.
        assert_eq!(lat["N"].as_u64(), Some(4));
        assert_eq!(lat["stddev"].as_f64(), Some(r.lat.all.stddev().round()));
        let percentiles = lat["percentile"].as_object().unwrap();
        assert_eq!(percentiles.len(), 17);
        assert_eq!(
            percentiles["1.000000"].as_u64(),
            Some(r.lat.all.percentile(0.01))
        );
        assert_eq!(percentiles["50.000000"].as_u64(), Some(p50));
        assert_eq!(percentiles["99.990000"].as_u64(), Some(4000));
        assert_eq!(v["slat_ns"]["max"].as_u64(), Some(100));
        assert_eq!(v["clat_ns"]["min"].as_u64(), Some(900));
        // The order and the names of the fields are those of the hand-written JSON before.
        let keys = [
            "tool",
            "version",
            "file",
            "temporary",
            "fs",
            "size",
            "rw",
            "rwmix",
            "bs",
            "depth",
            "batch",
            "direct",
            "backend",
            "reap",
            "nowait",
            "seed",
            "ops",
            "reads",
            "writes",
            "eagain",
            "seconds",
            "iops",
            "mib_s",
            "lat_ns",
            "N",
            "min",
            "mean",
            "stddev",
            "percentile",
            "p50",
            "p90",
            "p99",
            "p99_9",
            "max",
            "clat_ns",
            "slat_ns",
            "read",
            "submit_calls",
            "submitted",
            "getevents_calls",
            "submit_per_op",
            "getevents_per_op",
            "syscalls_per_op",
            "ring_reaped",
            "syscall_reaped",
            "ring_fraction",
        ];
        let at: Vec<usize> = keys
            .iter()
            .map(|k| {
                text.find(&format!("\"{k}\":"))
                    .unwrap_or_else(|| panic!("{k} missing"))
            })
            .collect();
        assert!(at.is_sorted(), "field order: {text}");
        assert_eq!(
            v.as_object().unwrap().len(),
            keys.len() - 10,
            "no other field"
        );
        // A fixed batch is a number.
        let o = Options {
            batch: Some(8),
            ..Options::default()
        };
        let v: serde_json::Value = serde_json::from_str(&json(&o, &p, &r).unwrap()).unwrap();
        assert_eq!(v["batch"].as_u64(), Some(8));
    }

    #[test]
    fn sweep_json_has_the_job_then_one_run_per_depth() {
        let o = Options {
            depths: vec![1, 4],
            ..Options::default()
        };
        let (p, r1) = sample(&[1000, 1000], 2);
        let (_, r4) = sample(&[4000, 4000, 4000, 4000], 1);
        let results = [
            (
                Options {
                    depth: 1,
                    ..o.clone()
                },
                r1,
            ),
            (
                Options {
                    depth: 4,
                    ..o.clone()
                },
                r4,
            ),
        ];
        let text = sweep_json(&o, &p, &results).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (v["tool"].as_str(), v["batch"].as_str()),
            (Some("aio-bench"), Some("auto"))
        );
        assert!(v.get("depth").is_none(), "each run has its depth: {text}");
        assert!(v.get("iops").is_none(), "results are per run: {text}");
        let sweep = v["sweep"].as_array().unwrap();
        assert_eq!(sweep.len(), 2);
        assert_eq!(sweep[0]["depth"].as_u64(), Some(1));
        assert_eq!(sweep[1]["depth"].as_u64(), Some(4));
        assert_eq!(sweep[0]["iops"].as_f64(), Some(4.0));
        assert_eq!(sweep[1]["syscalls_per_op"].as_f64(), Some(0.25));
        assert_eq!(
            sweep[1]["lat_ns"]["p50"].as_u64(),
            Some(results[1].1.lat.all.percentile(0.5))
        );
        assert!(sweep_json(&o, &p, &[]).is_err());
    }
}
