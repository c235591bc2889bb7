//! The summary: a table for people, one JSON object for programs.

use crate::args::Options;
use crate::job::{Outcome, describe};
use crate::target::{Prepared, human_bytes};
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

fn mib_s(o: &Options, r: &Outcome) -> f64 {
    r.iops() * o.bs as f64 / (1024.0 * 1024.0)
}

/// The table printed after a run.
pub fn text(o: &Options, p: &Prepared, r: &Outcome) -> String {
    let mut s = String::new();
    let what = if p.temp {
        format!("temporary, {}, {}", human_bytes(p.size), p.fs)
    } else {
        format!("{} used, {}", human_bytes(p.size), p.fs)
    };
    let _ = writeln!(s, "aio-bench: {}", describe(o, p, r.ring));
    let _ = writeln!(s, "  file  {} ({what})", p.path.display());
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
        mib_s(o, r),
        format!("{:.2} s", r.elapsed.as_secs_f64()),
    );
    if r.reads > 0 && r.writes > 0 {
        let _ = writeln!(
            s,
            "  {:<14}reads {} / writes {}",
            "",
            thousands(r.reads),
            thousands(r.writes)
        );
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
    let h = &r.latency;
    let _ = writeln!(
        s,
        "  {:<10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "latency", "min", "p50", "p90", "p99", "p99.9", "max", "mean"
    );
    let _ = writeln!(
        s,
        "  {:<10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "",
        duration_ns(h.min()),
        duration_ns(h.percentile(0.50)),
        duration_ns(h.percentile(0.90)),
        duration_ns(h.percentile(0.99)),
        duration_ns(h.percentile(0.999)),
        duration_ns(h.max()),
        duration_ns(h.mean().round() as u64),
    );
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

/// Escapes a string for JSON.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One JSON object (one line).
pub fn json(o: &Options, p: &Prepared, r: &Outcome) -> String {
    let h = &r.latency;
    let st = &r.stats;
    format!(
        concat!(
            "{{\"tool\":\"aio-bench\",\"version\":{},\"file\":{},\"temporary\":{},\"fs\":{},",
            "\"size\":{},\"rw\":\"{}\",\"rwmix\":{},\"bs\":{},\"depth\":{},\"batch\":{},",
            "\"direct\":{},\"backend\":\"{}\",\"reap\":\"{}\",\"nowait\":{},\"seed\":{},",
            "\"ops\":{},\"reads\":{},\"writes\":{},\"eagain\":{},\"seconds\":{:.6},",
            "\"iops\":{:.1},\"mib_s\":{:.2},",
            "\"lat_ns\":{{\"min\":{},\"mean\":{:.1},\"p50\":{},\"p90\":{},\"p99\":{},",
            "\"p99_9\":{},\"max\":{}}},",
            "\"submit_calls\":{},\"submitted\":{},\"getevents_calls\":{},",
            "\"submit_per_op\":{:.4},\"getevents_per_op\":{:.4},\"syscalls_per_op\":{:.4},",
            "\"ring_reaped\":{},\"syscall_reaped\":{},\"ring_fraction\":{:.4}}}"
        ),
        json_str(env!("CARGO_PKG_VERSION")),
        json_str(&p.path.to_string_lossy()),
        p.temp,
        json_str(&p.fs),
        p.size,
        o.rw.name(),
        o.rwmix,
        o.bs,
        o.depth,
        o.batch.map_or("\"auto\"".to_string(), |b| b.to_string()),
        p.direct,
        if r.emulated { "emulated" } else { "kernel" },
        if r.ring { "ring" } else { "syscall" },
        o.nowait,
        o.seed,
        r.ops,
        r.reads,
        r.writes,
        r.eagain,
        r.elapsed.as_secs_f64(),
        r.iops(),
        mib_s(o, r),
        h.min(),
        h.mean(),
        h.percentile(0.50),
        h.percentile(0.90),
        h.percentile(0.99),
        h.percentile(0.999),
        h.max(),
        st.submit_calls,
        st.submitted,
        st.getevents_calls,
        r.submit_per_op(),
        r.getevents_per_op(),
        r.syscalls_per_op(),
        st.ring_reaped,
        st.syscall_reaped,
        r.ring_fraction(),
    )
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
        assert_eq!(json_str("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
