//! Native AIO refused by a seccomp filter, as container profiles and sandboxes do:
//! - `io_setup` answering `EPERM`: [`Backend::Kernel`] reports [`Error::NotPermitted`], whose
//!   message names the likely cause; and `statx` answering `EPERM` (older container profiles):
//!   `dio_alignment` still answers, from `fstat`.
//! - every AIO call answering `ENOSYS` (no `CONFIG_AIO`, as qemu-user does) or `EPERM`:
//!   [`Backend::Kernel`] reports the typed error, [`Backend::KernelOrEmulated`] falls back to
//!   the emulation, which then does real I/O without a single AIO call.
//!
//! - `io_uring_setup`, `io_uring_enter` and `io_uring_register` answering `EPERM`, the effect
//!   of Docker's (≥ 25) and containerd 2.0's default seccomp profiles on them (the AIO family
//!   stays allowed there): io_uring is refused, and `O_DIRECT` reads and writes through the
//!   tokio handle run on kernel AIO all the same.
//!
//! The filter is installed on one thread only (no `SECCOMP_FILTER_FLAG_TSYNC`), which ends
//! with the test, so the rest of the process keeps AIO. Under qemu-user (which refuses seccomp
//! filters, and answers `ENOSYS` to every AIO call anyway) the fallback is checked unfiltered.

use crate::common;

use aio::{Backend, Context, Errno, Error, Op, PollFlags};
use std::time::Duration;

/// Installs, on the calling thread, a seccomp filter that answers `errno` to the system calls
/// numbered `forbidden` (at most 254).
fn forbid(forbidden: &[u32], errno: Errno) -> std::io::Result<()> {
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
        SECCOMP_RET_ERRNO | errno.raw_os_error() as u32,
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
    let _shared = common::shared();
    const TEST: &str = "io_setup_under_a_seccomp_filter_is_not_permitted";
    if !common::aio_or_skip(TEST) {
        return;
    }
    let io_setup = aio_sys::NR
        .io_setup
        .expect("io_setup exists where AIO works") as u32;
    let statx = linux_raw_sys::general::__NR_statx;
    let outcome = std::thread::spawn(move || {
        if let Err(e) = forbid(&[io_setup, statx], Errno::PERM) {
            return Err(format!("seccomp filter refused: {e}"));
        }
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let alignment = aio::dio_alignment(&file);
        // Whether fstat itself survives the filter: glibc implements it with statx on 32-bit
        // ABIs whose stat64 has 32-bit times (mips o32), so there nothing can stat a file.
        let fstat = rustix::fs::fstat(&file).map(drop);
        Ok((Context::<Vec<u8>>::new(4).map(drop), alignment, fstat))
    })
    .join()
    .unwrap();
    let (built, alignment, fstat) = match outcome {
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
    match fstat {
        // statx forbidden: the alignment comes from fstat and the default.
        Ok(()) => {
            let alignment = alignment.expect("dio_alignment without statx");
            assert_eq!(alignment.source, aio::DioSource::Default, "{alignment:?}");
            assert_eq!(alignment.memory, aio::DEFAULT_DIO_ALIGN);
        }
        // The C library's fstat is statx here: dio_alignment reports the filter's error.
        Err(e) => {
            assert_eq!(e, rustix::io::Errno::PERM, "fstat under the filter");
            let err = alignment.expect_err("dio_alignment with neither statx nor fstat");
            assert_eq!(err.errno(), Some(Errno::PERM), "{err}");
            println!(
                "note: {TEST}: fstat is statx in this C library (glibc on a 32-bit ABI with \
                 32-bit stat64 times), so dio_alignment answers the filter's EPERM"
            );
        }
    }
    // The rest of the process is not filtered.
    assert!(Context::<Vec<u8>>::new(4).is_ok());
}

/// Every AIO system call number of this ABI.
fn aio_calls() -> Vec<u32> {
    let nr = aio_sys::NR;
    [
        nr.io_setup,
        nr.io_destroy,
        nr.io_submit,
        nr.io_cancel,
        nr.io_getevents,
        nr.io_pgetevents,
        nr.io_pgetevents_time64,
    ]
    .into_iter()
    .flatten()
    .map(|n| n as u32)
    .collect()
}

/// What a thread without native AIO sees: `Kernel` fails with `expected`, `KernelOrEmulated`
/// builds an emulated context that writes, reads back and polls.
fn without_aio(expected: &Error) {
    let err = Context::builder()
        .backend(Backend::Kernel)
        .build()
        .expect_err("Backend::Kernel without AIO");
    assert_eq!(&err, expected);
    let message = err.to_string();
    assert!(
        message.contains("Backend::KernelOrEmulated"),
        "says what to do: {message}"
    );

    let mut ctx: Context = Context::builder()
        .depth(4)
        .eventfd(true)
        .backend(Backend::KernelOrEmulated)
        .build()
        .expect("KernelOrEmulated falls back");
    assert_eq!(ctx.backend(), Backend::Emulated);
    assert_eq!(ctx.as_raw(), None);
    let file = common::TempFile::new("seccomp-fallback");
    let file = ctx.register(file.create_rw()).unwrap();
    let (rx, tx) = rustix::pipe::pipe().unwrap();
    rustix::io::write(&tx, b"!").unwrap();
    ctx.push(Op::write(file, b"emulated".to_vec(), 0).user_data(1))
        .unwrap();
    ctx.push(Op::read(file, vec![0; 8], 0).user_data(2))
        .unwrap();
    ctx.push(Op::poll(rx, PollFlags::IN).user_data(3)).unwrap();
    assert_eq!(ctx.submit(), Ok(3));
    assert_eq!(ctx.wait(3, Some(Duration::from_secs(5))), Ok(3));
    let mut done: Vec<_> = ctx.completions().collect();
    done.sort_by_key(|c| c.user_data());
    assert_eq!(done[0].result(), Ok(8));
    assert_eq!(done[1].result(), Ok(8));
    assert_eq!(done[1].take_buf().unwrap(), b"emulated");
    assert!(done[2].poll_flags().contains(PollFlags::IN));
    assert_eq!(
        ctx.take_eventfd_count(),
        Ok(3),
        "one eventfd count per completion"
    );
    assert_eq!(ctx.stats().emulated, 3);
}

/// Runs [`without_aio`] on a thread whose AIO calls answer `errno`.
fn falls_back_when_aio_answers(errno: Errno, expected: Error) {
    let test = format!("falls_back_when_aio_answers({errno:?})");
    if common::expect_enosys() {
        // qemu-user: no filter possible, and none needed for ENOSYS.
        if errno == Errno::NOSYS {
            without_aio(&expected);
            println!("ENOSYS path: {test}: checked without a filter (every AIO call is ENOSYS)");
        } else {
            println!("ENOSYS path: {test}: qemu-user refuses seccomp filters; EPERM not checked");
        }
        return;
    }
    let calls = aio_calls();
    let outcome = std::thread::spawn(move || {
        forbid(&calls, errno).map_err(|e| format!("seccomp filter refused: {e}"))?;
        without_aio(&expected);
        Ok::<(), String>(())
    })
    .join()
    .expect("the checks passed in the filtered thread");
    if let Err(why) = outcome {
        println!(
            "SKIPPED: {test}: the kernel has no seccomp filters (CONFIG_SECCOMP_FILTER): {why}"
        );
        return;
    }
    // The rest of the process is not filtered.
    let ctx = Context::builder()
        .backend(Backend::KernelOrEmulated)
        .build()
        .unwrap();
    assert_eq!(ctx.backend(), Backend::Kernel);
}

#[test]
fn kernel_or_emulated_falls_back_when_aio_is_enosys() {
    let _shared = common::shared();
    falls_back_when_aio_answers(Errno::NOSYS, Error::Unsupported { call: "io_setup" });
}

#[test]
fn kernel_or_emulated_falls_back_when_aio_is_eperm() {
    let _shared = common::shared();
    falls_back_when_aio_answers(Errno::PERM, Error::NotPermitted { call: "io_setup" });
}

/// A context dropped with a poll in flight where `io_cancel` is forbidden (`EPERM`, as a
/// sandbox may answer): the drop must not wait for the poll, which may never complete (it
/// once did, for good); `io_destroy` cancels it. The drop runs on a filtered thread and must
/// end within 10 s.
#[test]
fn dropping_a_context_with_a_poll_when_io_cancel_is_forbidden() {
    let _shared = common::shared();
    const TEST: &str = "dropping_a_context_with_a_poll_when_io_cancel_is_forbidden";
    if !common::aio_or_skip(TEST) {
        return;
    }
    let io_cancel = aio_sys::NR
        .io_cancel
        .expect("io_cancel exists where AIO works") as u32;
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let (sent, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut ctx: Context = Context::new(4).unwrap();
        ctx.push(Op::poll(reader, PollFlags::IN)).unwrap();
        assert_eq!(ctx.submit(), Ok(1));
        if let Err(e) = forbid(&[io_cancel], Errno::PERM) {
            sent.send(Err(format!("seccomp filter refused: {e}")))
                .unwrap();
            return;
        }
        drop(ctx);
        sent.send(Ok(())).unwrap();
    });
    match outcome.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => {}
        Ok(Err(why)) => println!(
            "SKIPPED: {TEST}: the kernel has no seccomp filters (CONFIG_SECCOMP_FILTER): {why}"
        ),
        Err(_) => {
            panic!("{TEST}: dropping the context blocked for 10 s on a poll it could not cancel")
        }
    }
    drop(writer);
}

/// The io_uring calls: what Docker's and containerd's default profiles answer with `EPERM`.
fn io_uring_calls() -> [u32; 3] {
    use linux_raw_sys::general::{
        __NR_io_uring_enter, __NR_io_uring_register, __NR_io_uring_setup,
    };
    [
        __NR_io_uring_setup,
        __NR_io_uring_enter,
        __NR_io_uring_register,
    ]
}

/// `io_uring_setup(8, params)`: its errno, or `None` if it made a ring (closed again).
fn io_uring_setup_errno() -> Option<Errno> {
    let mut params = [0u8; 120]; // struct io_uring_params
    // SAFETY: io_uring_setup writes at most sizeof(struct io_uring_params) = 120 bytes.
    let fd = unsafe {
        libc::syscall(
            linux_raw_sys::general::__NR_io_uring_setup as libc::c_long,
            8,
            params.as_mut_ptr(),
        )
    };
    if fd >= 0 {
        // SAFETY: the ring's descriptor, just made and owned here.
        unsafe { libc::close(fd as i32) };
        return None;
    }
    Errno::from_io_error(&std::io::Error::last_os_error())
}

/// Docker's default profile, in effect: io_uring refused (`EPERM`) while the AIO family is
/// allowed. The tokio handle's `O_DIRECT` writes and reads run there, through kernel AIO.
#[test]
fn where_a_container_profile_blocks_io_uring_async_direct_io_runs() {
    let _shared = common::shared();
    const TEST: &str = "where_a_container_profile_blocks_io_uring_async_direct_io_runs";
    if common::expect_enosys() {
        // qemu-user refuses seccomp filters, and has no AIO to run on.
        println!("ENOSYS path: {TEST}: no kernel AIO here, as expected");
        return;
    }
    if !common::aio_or_skip(TEST) {
        return;
    }
    const BLOCK: usize = 4096;
    const BLOCKS: usize = 64;
    let Some(direct) = common::direct_or_skip(TEST, (BLOCK * BLOCKS) as u64, true) else {
        return;
    };
    let block = BLOCK.max(direct.align);
    std::thread::spawn(move || {
        // The filter holds for this thread and every thread it starts from now on: the
        // runtime's workers and blocking threads, as in a container.
        forbid(&io_uring_calls(), Errno::PERM).expect("install the seccomp filter");
        assert_eq!(
            io_uring_setup_errno(),
            Some(Errno::PERM),
            "io_uring is refused"
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async move {
            let on_worker = tokio::spawn(async { io_uring_setup_errno() })
                .await
                .unwrap();
            assert_eq!(
                on_worker,
                Some(Errno::PERM),
                "io_uring is refused on the workers too"
            );
            let aio: aio::rt::tokio::Handle<aio::AlignedBuf> =
                aio::rt::tokio::Handle::new(Context::builder().buffers().depth(32))
                    .expect("kernel AIO is allowed where io_uring is not");
            assert_eq!(aio.backend(), Backend::Kernel);
            let what = direct.what.clone();
            let file = aio
                .register(direct.file)
                .expect("register the O_DIRECT file");
            let base = direct.base;
            let offset = move |i: usize| base + (i * block) as u64;
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..BLOCKS {
                let (aio, mut buf) = (
                    aio.clone(),
                    aio::AlignedBuf::new(block, direct.align).unwrap(),
                );
                buf.fill(i as u8 ^ 0x5a);
                tasks.spawn(async move { aio.write_at(file, buf, offset(i)).await.0 });
            }
            while let Some(written) = tasks.join_next().await {
                assert_eq!(written.unwrap().expect("O_DIRECT write"), block);
            }
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..BLOCKS {
                let (aio, buf) = (
                    aio.clone(),
                    aio::AlignedBuf::new(block, direct.align).unwrap(),
                );
                tasks.spawn(async move {
                    let (read, buf) = aio.read_at(file, buf, offset(i)).await;
                    assert_eq!(read.expect("O_DIRECT read"), block);
                    assert!(
                        buf.iter().all(|&b| b == i as u8 ^ 0x5a),
                        "block {i} read back"
                    );
                    block
                });
            }
            while let Some(read) = tasks.join_next().await {
                read.unwrap();
            }
            let stats = aio.stats();
            assert!(stats.submitted >= (2 * BLOCKS) as u64, "{stats:?}");
            assert_eq!(stats.offloaded, 0, "O_DIRECT goes to the kernel: {stats:?}");
            println!(
                "{TEST}: io_uring_setup answered EPERM; {} O_DIRECT writes and reads on {} \
                 through kernel AIO ({} submitted)",
                2 * BLOCKS,
                what,
                stats.submitted
            );
        });
    })
    .join()
    .unwrap();
}
