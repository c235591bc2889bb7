//! A depth sweep (`--depths 1,2,4,…`): the same job once per queue depth on the same file
//! (prepared once), then one table, one JSON object or an SVG chart ([`crate::plot`]).
//!
//! Each run is an ordinary [`crate::job::run`] of the options with `depth` set to one of the
//! depths ([`runs`]); `--runtime` and `--ops` apply to each run.

use crate::args::Options;
use crate::job::{Outcome, describe as describe_job};
use crate::plot::Point;
use crate::report::{duration_ns, file_line, thousands};
use crate::target::Prepared;
use std::fmt::Write;

/// The options of each run of the sweep `o`: `o` with `depth` set to each of `o.depths`, in
/// their order (and no sweep of their own).
pub fn runs(o: &Options) -> Vec<Options> {
    o.depths
        .iter()
        .map(|&depth| Options {
            depth,
            depths: Vec::new(),
            plot: None,
            ..o.clone()
        })
        .collect()
}

/// The depths of `o` as the job description names them: `depths 1–256` for three or more in
/// increasing order, else the list (`depths 32,1`).
pub fn depths_label(o: &Options) -> String {
    let d = &o.depths;
    match (d.first(), d.last()) {
        (Some(first), Some(last)) if d.len() >= 3 && d.is_sorted() => {
            format!("depths {first}–{last}")
        }
        _ => {
            let list: Vec<String> = d.iter().map(u32::to_string).collect();
            format!("depths {}", list.join(","))
        }
    }
}

/// The one-line description of the sweep `o` on `p` ([`crate::job::describe`] with the
/// depths in place of the depth).
pub fn describe(o: &Options, p: &Prepared, ring: bool) -> String {
    let one = describe_job(o, p, ring);
    let depth = format!("depth {}", o.depth);
    if one.contains(&depth) {
        one.replacen(&depth, &depths_label(o), 1)
    } else {
        format!("{one} ({})", depths_label(o))
    }
}

/// The table printed after a sweep: one line per run, in the order they ran.
pub fn text(o: &Options, p: &Prepared, results: &[(Options, Outcome)]) -> String {
    let mut s = String::new();
    let ring = results.iter().all(|(_, r)| r.ring);
    let _ = writeln!(s, "aio-bench: {}", describe(o, p, ring));
    let _ = writeln!(s, "  {}", file_line(p));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  {:>6}{:>12}{:>11}{:>10}{:>10}{:>10}{:>14}",
        "depth", "IOPS", "MiB/s", "p50", "p99", "p99.9", "syscalls/op"
    );
    for (run, r) in results {
        let h = &r.lat.all;
        let _ = writeln!(
            s,
            "  {:>6}{:>12}{:>11.1}{:>10}{:>10}{:>10}{:>14.3}",
            run.depth,
            thousands(r.iops().round() as u64),
            crate::report::mib_s(run, r, r.ops),
            duration_ns(h.percentile(0.50)),
            duration_ns(h.percentile(0.99)),
            duration_ns(h.percentile(0.999)),
            r.syscalls_per_op(),
        );
    }
    let eagain: u64 = results.iter().map(|(_, r)| r.eagain).sum();
    if eagain > 0 {
        let _ = writeln!(
            s,
            "  ({} operations failed with EAGAIN (RWF_NOWAIT), not counted)",
            thousands(eagain)
        );
    }
    s
}

/// The chart's points: IOPS and p99 latency (µs) per depth.
pub fn points(results: &[(Options, Outcome)]) -> Vec<Point> {
    results
        .iter()
        .map(|(run, r)| Point {
            depth: run.depth,
            iops: r.iops(),
            p99_us: r.lat.all.percentile(0.99) as f64 / 1e3,
        })
        .collect()
}

/// The chart's title and subtitle: what is measured, and the job on its file.
pub fn chart_titles(o: &Options, p: &Prepared, results: &[(Options, Outcome)]) -> (String, String) {
    let ring = results.iter().all(|(_, r)| r.ring);
    let title = "aio-bench: IOPS and p99 latency against queue depth".to_string();
    let size = crate::target::human_bytes(p.size);
    let on = if p.device {
        format!("{size} of {}", p.path.display())
    } else {
        format!("{size} file on {}", p.fs)
    };
    let subtitle = format!("{}; {on}", describe(o, p, ring));
    (title, subtitle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_run_has_one_depth() {
        let o = Options {
            depths: vec![1, 8, 64],
            plot: Some("x.svg".into()),
            batch: Some(1),
            ..Options::default()
        };
        let runs = runs(&o);
        assert_eq!(
            runs.iter().map(|r| r.depth).collect::<Vec<_>>(),
            vec![1, 8, 64]
        );
        for r in &runs {
            assert!(r.depths.is_empty() && r.plot.is_none());
            assert_eq!((r.batch, r.bs, r.runtime), (o.batch, o.bs, o.runtime));
        }
        assert_eq!(depths_label(&o), "depths 1–64");
        let o = Options {
            depths: vec![32, 1],
            ..Options::default()
        };
        assert_eq!(depths_label(&o), "depths 32,1");
    }
}
