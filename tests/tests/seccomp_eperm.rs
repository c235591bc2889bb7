//! `io_setup` answering `EPERM`, as it does under a seccomp policy that forbids native AIO:
//! the safe crate reports [`Error::NotPermitted`], whose message names the likely cause.
//!
//! The filter is installed on one thread only (no `SECCOMP_FILTER_FLAG_TSYNC`), which ends
//! with the test, so the rest of the process keeps AIO.

mod common;

use aio::{Context, Error};

/// Installs, on the calling thread, a seccomp filter that answers `EPERM` to `io_setup`.
fn forbid_io_setup(nr: u32) -> std::io::Result<()> {
    use libc::{
        BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, SECCOMP_RET_ALLOW,
        SECCOMP_RET_ERRNO, sock_filter, sock_fprog,
    };
    let stmt = |code: u32, k: u32| sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let mut program = [
        // Load seccomp_data.nr (offset 0).
        stmt(BPF_LD | BPF_W | BPF_ABS, 0),
        jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
        stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | libc::EPERM as u32),
        stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    ];
    let prog = sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `prog` points to a valid filter program that outlives the call (the kernel
    // copies it).
    if unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const sock_fprog,
        )
    } != 0
    {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[test]
fn io_setup_under_a_seccomp_filter_is_not_permitted() {
    const TEST: &str = "io_setup_under_a_seccomp_filter_is_not_permitted";
    if !common::aio_or_skip(TEST) {
        return;
    }
    let nr = aio_sys::NR
        .io_setup
        .expect("io_setup exists where AIO works") as u32;
    let outcome = std::thread::spawn(move || {
        if let Err(e) = forbid_io_setup(nr) {
            return Err(format!("seccomp filter refused: {e}"));
        }
        Ok(Context::<Vec<u8>>::new(4).map(drop))
    })
    .join()
    .unwrap();
    let built = match outcome {
        Ok(built) => built,
        Err(why) => {
            println!(
                "SKIPPED: {TEST}: the kernel has no seccomp filters (CONFIG_SECCOMP_FILTER): {why}"
            );
            return;
        }
    };
    let err = built.expect_err("io_setup must fail under the filter");
    assert_eq!(err, Error::NotPermitted { call: "io_setup" });
    assert_eq!(err.errno(), Some(aio::Errno::PERM));
    let message = err.to_string();
    assert!(
        message.contains("EPERM") && message.contains("seccomp"),
        "{message}"
    );
    // The rest of the process is not filtered.
    assert!(Context::<Vec<u8>>::new(4).is_ok());
}
