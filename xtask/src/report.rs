//! Reading libtest's output (counts, skips) and printing the summary table.

/// What one test binary's output says.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Tests libtest counted as passed, less the ones that printed `SKIPPED:`.
    pub passed: u64,
    pub failed: u64,
    /// `#[ignore]`d tests.
    pub ignored: u64,
    /// `SKIPPED:` lines (a test that returned early and said why), one per test that printed
    /// them (its first).
    pub skip_lines: Vec<String>,
    /// `test x ... ignored[, reason]` lines.
    pub ignored_lines: Vec<String>,
    /// Binaries whose output ended with a libtest summary.
    pub results: u64,
    /// Names of failed tests (`test x ... FAILED`).
    pub failed_names: Vec<String>,
    /// Tests of the emulated backend (`test emulated::x ... ok`, or `m::emulated::x`), counted
    /// in `passed` too.
    pub emulated_ok: u64,
}

impl Counts {
    pub fn skipped(&self) -> u64 {
        self.skip_lines.len() as u64 + self.ignored
    }

    pub fn add(&mut self, other: &Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
        self.results += other.results;
        self.skip_lines.extend(other.skip_lines.iter().cloned());
        self.ignored_lines
            .extend(other.ignored_lines.iter().cloned());
        self.failed_names.extend(other.failed_names.iter().cloned());
        self.emulated_ok += other.emulated_ok;
    }

    /// Failed tests of the emulated backend.
    pub fn emulated_failed(&self) -> u64 {
        self.failed_names.iter().filter(|n| is_emulated(n)).count() as u64
    }
}

/// The module the suites put their emulated-backend variants in (`each_backend!`), at the top
/// of the binary or inside a module of it.
pub const EMULATED: &str = "emulated";

/// Whether the test `name` is an emulated-backend variant: one of its path's modules is
/// [`EMULATED`].
fn is_emulated(name: &str) -> bool {
    let mut modules: Vec<&str> = name.split("::").collect();
    modules.pop();
    modules.contains(&EMULATED)
}

/// Reads libtest's `test result: ok. N passed; M failed; K ignored; ...` lines and the
/// `SKIPPED:` lines tests print (anywhere on a line: with `--nocapture` they follow
/// `test x ... `).
pub fn parse(output: &str) -> Counts {
    let mut c = Counts::default();
    // The binary's own summary is its last `test result:` line: a test that re-runs its binary in
    // a child shows the child's summary (with `--show-output`) before it.
    let mut last: Option<&str> = None;
    // The test whose output the lines are: `---- x stdout ----` (libtest's `--show-output`) or
    // `test x ... ` (with `--nocapture` the output follows on the same line). A test that shows
    // a child's output repeats the child's lines (the same test, re-run): each test's skip and
    // each passed variant count once.
    let mut current = String::new();
    let mut skipped_tests: Vec<String> = Vec::new();
    let mut emulated_ok: Vec<String> = Vec::new();
    for raw in output.lines() {
        let line = raw.trim_end_matches('\r');
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|r| r.strip_suffix(" stdout ----"))
        {
            current = name.to_string();
        }
        if let Some(rest) = line.strip_prefix("test result: ") {
            last = Some(rest);
        } else if let Some(rest) = line.strip_prefix("test ") {
            if let Some((name, verdict)) = rest.split_once(" ... ") {
                current = name.to_string();
                let push = |v: &mut Vec<String>, s: String| {
                    if !v.contains(&s) {
                        v.push(s);
                    }
                };
                if verdict.starts_with("ignored") {
                    push(&mut c.ignored_lines, format!("{name}: {verdict}"));
                } else if verdict.starts_with("FAILED") {
                    push(&mut c.failed_names, name.to_string());
                } else if verdict == "ok" && is_emulated(name) {
                    push(&mut emulated_ok, name.to_string());
                }
            }
        }
        if let Some(pos) = line.find("SKIPPED:") {
            if !skipped_tests.contains(&current) {
                skipped_tests.push(current.clone());
                c.skip_lines.push(line[pos..].to_string());
            }
        }
    }
    c.emulated_ok = emulated_ok.len() as u64;
    let mut passed = 0;
    if let Some(rest) = last {
        c.results = 1;
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next(), words.next()) {
                if let Ok(n) = n.parse::<u64>() {
                    match what {
                        "passed" => passed = n,
                        "failed" => c.failed = n,
                        "ignored" => c.ignored = n,
                        _ => {}
                    }
                }
            }
        }
    }
    c.passed = passed.saturating_sub(c.skip_lines.len() as u64);
    c
}

/// Whether a skip names a missing kernel feature (required of every skip on a real kernel),
/// e.g. `SKIPPED: dontcache: kernel 6.1 lacks RWF_DONTCACHE (6.14)`, or what the cross
/// compiler lacks (`rustc 1.85`: the one a program could not be built with).
pub fn justified(skip: &str) -> bool {
    let l = skip.to_lowercase();
    let names_kernel = l.contains("kernel") || l.contains("linux") || l.contains("rustc");
    let says_missing = [
        "lack",
        "missing",
        "without",
        "not supported",
        "unsupported",
        "older",
        "before",
        "requires",
        "needs",
        "no support",
        "not available",
        "absent",
        "predates",
    ]
    .iter()
    .any(|w| l.contains(w));
    names_kernel && says_missing
}

/// One row of the summary table.
pub struct Row {
    pub arch: String,
    /// `little` or `big`.
    pub byte_order: String,
    pub kernel: String,
    pub mode: String,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub seconds: f64,
    pub ok: bool,
}

/// Prints the table in Markdown, so it can be pasted as it is.
pub fn print_table(rows: &[Row]) {
    let header = [
        "arch",
        "byte order",
        "kernel",
        "mode",
        "passed",
        "failed",
        "skipped",
        "seconds",
        "",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.arch.clone(),
                r.byte_order.clone(),
                r.kernel.clone(),
                r.mode.clone(),
                r.passed.to_string(),
                r.failed.to_string(),
                r.skipped.to_string(),
                format!("{:.1}", r.seconds),
                if r.ok { "ok" } else { "FAIL" }.to_string(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |row: &[String]| {
        let mut s = String::from("|");
        for (i, c) in row.iter().enumerate() {
            if (4..8).contains(&i) {
                s.push_str(&format!(" {c:>w$} |", w = width[i]));
            } else {
                s.push_str(&format!(" {c:<w$} |", w = width[i]));
            }
        }
        s
    };
    println!("{}", line(&header.map(String::from)));
    let sep: Vec<String> = width
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if (4..8).contains(&i) {
                format!("{}:", "-".repeat(*w - 1))
            } else {
                "-".repeat(*w)
            }
        })
        .collect();
    let mut s = String::from("|");
    for c in sep {
        s.push_str(&format!(" {c} |"));
    }
    println!("{s}");
    for row in &cells {
        println!("{}", line(row));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_skips() {
        let out = "running 4 tests\n\
                   test a ... ok\n\
                   test b ... SKIPPED: b: kernel 6.1 lacks RWF_ATOMIC\nok\n\
                   test c ... ignored, needs a block device\n\
                   test d ... FAILED\n\r\n\
                   test result: FAILED. 2 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\r\n";
        let c = parse(out);
        assert_eq!((c.passed, c.failed, c.ignored, c.results), (1, 1, 1, 1));
        assert_eq!(c.skip_lines, ["SKIPPED: b: kernel 6.1 lacks RWF_ATOMIC"]);
        assert_eq!(c.failed_names, ["d"]);
        assert_eq!(c.skipped(), 2);
        assert!(justified(&c.skip_lines[0]));
        assert!(!justified("SKIPPED: no block device"));
    }

    #[test]
    fn a_childs_repeated_output_counts_once() {
        let out = "test m::emulated::a ... ok\n\
                   test m::kernel::b ... ok\n\
                   test m::kernel::c ... ok\n\
                   \nsuccesses:\n\n\
                   ---- m::emulated::a stdout ----\n\
                   --- m::emulated::a in a child process ---\n\
                   test m::emulated::a ... ok\n\
                   test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
                   ---- m::kernel::b stdout ----\n\
                   --- m::kernel::b in a child process ---\n\
                   SKIPPED: b: kernel 4.19 lacks IOCB_CMD_POLL\n\
                   test m::kernel::b ... ok\n\
                   SKIPPED: b: kernel 4.19 lacks IOCB_CMD_POLL\n\
                   ---- m::kernel::c stdout ----\n\
                   SKIPPED: b: kernel 4.19 lacks IOCB_CMD_POLL\n\
                   test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        let c = parse(out);
        assert_eq!((c.passed, c.emulated_ok, c.skipped()), (1, 1, 2));
    }

    #[test]
    fn emulated_variants_are_counted_apart() {
        let out = "test kernel::a ... ok\n\
                   test emulated::a ... ok\n\
                   test emulated::b ... FAILED\n\
                   test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        let c = parse(out);
        assert_eq!((c.passed, c.emulated_ok, c.emulated_failed()), (2, 1, 1));
    }
}
