//! `io_setup` answering `EPERM`, as it does under a seccomp policy that forbids native AIO:
//! the safe crate reports [`Error::NotPermitted`], whose message names the likely cause. And
//! `statx` answering `EPERM` (older container profiles): `dio_alignment` still answers, from
//! `fstat`.
//!
//! The filter is installed on one thread only (no `SECCOMP_FILTER_FLAG_TSYNC`), which ends
//! with the test, so the rest of the process keeps AIO.

mod common;

use aio::{Context, Error};

/// Installs, on the calling thread, a seccomp filter that answers `EPERM` to the system calls
/// numbered `forbidden`.
fn forbid(forbidden: &[u32]) -> std::io::Result<()> {
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
    // Load seccomp_data.nr (offset 0); each forbidden number jumps to the EPERM return.
    let mut program = vec![stmt(BPF_LD | BPF_W | BPF_ABS, 0)];
    let n = forbidden.len() as u8;
    for (i, &nr) in forbidden.iter().enumerate() {
        program.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr, n - i as u8, 0));
    }
    program.push(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    program.push(stmt(
        BPF_RET | BPF_K,
        SECCOMP_RET_ERRNO | libc::EPERM as u32,
    ));
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
    let io_setup = aio_sys::NR
        .io_setup
        .expect("io_setup exists where AIO works") as u32;
    let statx = linux_raw_sys::general::__NR_statx;
    let outcome = std::thread::spawn(move || {
        if let Err(e) = forbid(&[io_setup, statx]) {
            return Err(format!("seccomp filter refused: {e}"));
        }
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let alignment = aio::dio_alignment(&file);
        Ok((Context::<Vec<u8>>::new(4).map(drop), alignment))
    })
    .join()
    .unwrap();
    let (built, alignment) = match outcome {
        Ok(both) => both,
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
    // statx forbidden: the alignment comes from fstat and the default.
    let alignment = alignment.expect("dio_alignment without statx");
    assert_eq!(alignment.source, aio::DioSource::Default, "{alignment:?}");
    assert_eq!(alignment.memory, aio::DEFAULT_DIO_ALIGN);
    // The rest of the process is not filtered.
    assert!(Context::<Vec<u8>>::new(4).is_ok());
}
