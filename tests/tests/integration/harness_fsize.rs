//! After libaio's harness case 7.t: writes against `RLIMIT_FSIZE`. A write that crosses the limit
//! is cut short at it; a write at the limit fails with `EFBIG` in its result (and the process,
//! which ignores `SIGXFSZ`, lives on). The limit and the signal disposition belong to the whole
//! process, so the scenario runs in a re-executed copy of this test binary.
//!
//! On both backends: the emulation's `pwrite`/`pwritev` meet the same limit in the same kernel
//! code (`generic_write_check_limits`), with the same results.

use crate::common;

use aio::{Completion, Context, Errno, Op};
use common::{TempFile, each_backend};
use rustix::process::{Resource, Rlimit, setrlimit};
use std::time::Duration;

const TEST: &str = "fsize_limit_short_write_then_efbig";
const SCENARIO: &str = "fsize";

each_backend!(fsize_limit_short_write_then_efbig);

fn fsize_limit_short_write_then_efbig() {
    common::scenario_test(module_path!(), TEST, SCENARIO, fsize_scenario);
}

fn run_one(ctx: &mut Context, op: Op<Vec<u8>>) -> Completion<Vec<u8>> {
    ctx.push(op).expect("room for one operation");
    ctx.submit().expect("submit");
    assert_eq!(ctx.wait(1, Some(Duration::from_secs(5))), Ok(1));
    ctx.completions().next().expect("one completion")
}

fn fsize_scenario() {
    const LIMIT: u64 = 8192;
    const SIZE: usize = 4096;
    // The signal number from rustix: libc 0.2.191 has generic (wrong) numbers on mips64.
    let sigxfsz = rustix::process::Signal::XFSZ.as_raw();
    // SAFETY: sets SIGXFSZ to be ignored, no handler runs; this process exists only for this
    // scenario, so changing a process-wide disposition affects nothing else.
    let previous = unsafe { libc::signal(sigxfsz, libc::SIG_IGN) };
    assert_ne!(previous, libc::SIG_ERR, "ignoring SIGXFSZ");

    let mut ctx: Context =
        common::context_or_skip(TEST, Context::builder().depth(4)).expect("context");
    let temp = TempFile::new("fsize");
    let file = ctx.register(temp.create_rw()).expect("register");
    setrlimit(
        Resource::Fsize,
        Rlimit {
            current: Some(LIMIT),
            maximum: Some(LIMIT),
        },
    )
    .expect("setrlimit(RLIMIT_FSIZE)");

    // Up to the limit: whole.
    let c = run_one(
        &mut ctx,
        Op::write(file, vec![b'a'; SIZE], LIMIT - SIZE as u64),
    );
    assert_eq!(c.result(), Ok(SIZE), "write ending at the limit");
    let c = run_one(&mut ctx, Op::read(file, vec![0; SIZE], LIMIT - SIZE as u64));
    assert_eq!(c.result(), Ok(SIZE));
    assert_eq!(c.into_buf().unwrap(), vec![b'a'; SIZE]);

    // Across the limit: short, cut at the limit.
    let c = run_one(&mut ctx, Op::write(file, vec![b'b'; SIZE], LIMIT - 100));
    assert_eq!(c.result(), Ok(100), "write across the limit is short");
    let c = run_one(
        &mut ctx,
        Op::writev(file, vec![vec![b'c'; 50], vec![b'd'; 200]], LIMIT - 60),
    );
    assert_eq!(c.result(), Ok(60), "writev across the limit is short");

    // At and past the limit: EFBIG, and SIGXFSZ (ignored) did not kill us.
    for offset in [LIMIT, LIMIT + 1, LIMIT * 4] {
        let c = run_one(&mut ctx, Op::write(file, vec![b'e'; SIZE], offset));
        assert_eq!(c.result(), Err(Errno::FBIG), "write at {offset}");
        assert_eq!(c.raw_result(), -i64::from(Errno::FBIG.raw_os_error()));
    }
    // Reads are not limited; nothing is there.
    let c = run_one(&mut ctx, Op::read(file, vec![0; SIZE], LIMIT));
    assert_eq!(c.result(), Ok(0), "read at the limit");
    // A zero-length write at the limit is no write at all.
    let c = run_one(&mut ctx, Op::write(file, Vec::new(), LIMIT));
    assert_eq!(c.result(), Ok(0), "empty write at the limit");

    let data = std::fs::read(temp.path()).unwrap();
    assert_eq!(data.len() as u64, LIMIT, "the file stops at the limit");
    let tail = &data[(LIMIT - SIZE as u64) as usize..];
    assert!(tail[..SIZE - 100].iter().all(|&b| b == b'a'));
    assert!(tail[SIZE - 100..SIZE - 60].iter().all(|&b| b == b'b'));
    assert!(tail[SIZE - 60..SIZE - 10].iter().all(|&b| b == b'c'));
    assert!(tail[SIZE - 10..].iter().all(|&b| b == b'd'));
}
