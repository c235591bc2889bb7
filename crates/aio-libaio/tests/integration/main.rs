//! The drop-in `libaio.so.1` (its release build), judged from C: its symbol table against
//! libaio 0.3.113's and its empty `NEEDED`, and
//! `tests/c/every_function.c` (every exported function, the compatibility versions, threads
//! sharing a context, a forked child) compiled against the system's `<libaio.h>` and run on
//! it. Needs `gcc` and the header (Debian: `gcc libaio-dev`). Debian's own harness runs on
//! the release build in `.ci/run`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The release build of the library (what ships: `#![no_std]`, no libc), made once per run
/// with cargo into a target directory of its own (cargo builds no `cdylib` for an integration
/// test, and the one running this test holds the lock of its own), copied under its SONAME into
/// a directory of its own.
fn library() -> (PathBuf, tempdir::Dir) {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        // target/<profile>/deps/integration-<hash>
        let target = exe
            .ancestors()
            .nth(3)
            .expect("the test runs from a cargo target directory")
            .join("aio-libaio-test");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        run(Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "aio-libaio",
                "--target-dir",
            ])
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"));
        target.join("release").join("libaio.so")
    });
    let dir = tempdir::Dir::new("aio-libaio-test");
    std::fs::copy(built, dir.path().join("libaio.so.1")).expect("copy the library");
    (dir.path().join("libaio.so.1"), dir)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (Debian: apt-get install gcc binutils libaio-dev)")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

/// libaio 0.3.113's exports: each symbol with its version, `@@` the default.
const SYMBOLS: &[(&str, &str, bool)] = &[
    ("io_setup", "LIBAIO_0.4", true),
    ("io_destroy", "LIBAIO_0.4", true),
    ("io_getevents", "LIBAIO_0.4", true),
    ("io_getevents", "LIBAIO_0.1", false),
    ("io_cancel", "LIBAIO_0.4", true),
    ("io_cancel", "LIBAIO_0.1", false),
    ("io_queue_wait", "LIBAIO_0.4", true),
    ("io_queue_wait", "LIBAIO_0.1", false),
    ("io_submit", "LIBAIO_0.1", true),
    ("io_queue_init", "LIBAIO_0.1", true),
    ("io_queue_release", "LIBAIO_0.1", true),
    ("io_queue_run", "LIBAIO_0.1", true),
    ("io_pgetevents", "LIBAIO_0.5", true),
];

#[test]
fn exports_libaios_symbols_with_their_versions_and_soname() {
    let (lib, _dir) = library();
    let table = run(Command::new("objdump").arg("-T").arg(&lib));
    let mut exported: Vec<(String, String, bool)> = table
        .lines()
        .filter(|l| l.contains(" .text"))
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let name = (*fields.last()?).to_string();
            let version = fields[fields.len() - 2];
            let hidden = version.starts_with('(');
            Some((name, version.trim_matches(['(', ')']).to_string(), !hidden))
        })
        .collect();
    exported.sort();
    let mut expected: Vec<(String, String, bool)> = SYMBOLS
        .iter()
        .map(|&(n, v, d)| (n.to_string(), v.to_string(), d))
        .collect();
    expected.sort();
    assert_eq!(exported, expected, "objdump -T:\n{table}");
    let headers = run(Command::new("objdump").arg("-p").arg(&lib));
    assert!(
        headers
            .lines()
            .any(|l| l.split_whitespace().eq(["SONAME", "libaio.so.1"])),
        "{headers}"
    );
}

#[test]
fn a_c_program_calls_every_function_on_it() {
    let (lib, dir) = library();
    let header = Path::new("/usr/include/libaio.h");
    assert!(
        header.exists(),
        "{} is missing: the C test compiles against the system's header (Debian: apt-get install libaio-dev)",
        header.display()
    );
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/every_function.c");
    let program = dir.path().join("every_function");
    run(Command::new("gcc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&program)
        .arg(&source)
        .arg("-L")
        .arg(dir.path())
        .args(["-l:libaio.so.1", "-lpthread", "-ldl"]));
    let output = Command::new(&program)
        .env("LD_LIBRARY_PATH", dir.path())
        .env("LD_DEBUG", "libs")
        .env("TMPDIR", std::env::temp_dir())
        .output()
        .expect("run the C program");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    // The loader's own words: this library, not the system's, was initialised.
    let ours = format!("calling init: {}", lib.display());
    assert!(
        stderr.contains(&ours),
        "the program did not load {}:\n{stderr}",
        lib.display()
    );
    assert!(
        output.status.success(),
        "{} ({}):\n{stdout}",
        program.display(),
        output.status
    );
    assert!(stdout.contains("\n0 failed"), "{stdout}");
}

/// A temporary directory removed on drop (std has none).
mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(prefix: &str) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path).expect("create a temporary directory");
            Self(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
