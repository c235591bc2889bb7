//! `cargo xtask`: project automation.
//!
//! Each subcommand lives in its own module; `main` only dispatches. Run `cargo xtask help`.

mod apt;
mod arch;
mod bare;
mod bench;
mod check_targets;
mod cross;
mod initramfs;
mod libc_graph;
mod nolibc;
mod qemu;
mod report;
mod setup;
mod toolchain;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  cross-setup [--all | --arch A,..] [--refresh]
        install (from Debian's archive only) and cache everything the cross runs need:
        qemu, cross gcc + libc, a pinned rustc-web with its target std, rust-web-src, kernels;
        --all: what `cross --all` needs (x32, mipsel, every no-libc ABI and its kernel)
  cross [--all | --arch A,..] [--mode system|user|all] [--kernels all|first] [--jobs N]
        [--timeout S] [--idle-timeout S] [--boot-per-binary] [--rustix-linux-raw]
        [-- <test harness args>]
        build every crate's unit and integration tests statically for each target and run them
        in real kernels under qemu-system (system) and under qemu-user, where AIO is ENOSYS (user);
        system mode boots each of an arch's kernels (x86_64: bookworm 6.1, bullseye 5.10,
        trixie 6.12, sid; aarch64: bookworm, trixie), or its first only with --kernels first;
        one boot runs all binaries of an arch unless --boot-per-binary; --rustix-linux-raw builds
        rustix with its inline-asm backend on ppc64le and s390x too (always on mips64el);
        the ABIs without a Debian userland boot the no-libc program of tests/nolibc as /init
        on Debian's kernel (loongarch64, run by default) or on Linux 6.1 built here from
        linux-source-6.1 (the others: minutes per kernel, cached; run when named);
        --all runs every architecture, ABI and kernel
  check-targets [--target T,..]
        build aio-abi, aio-sys and aio (no std) with -Zbuild-std=core,alloc for the ABIs
        without a runnable kernel
  libc-graph
        per ABI of the README's table: is libc in the dependency graph of aio-sys (with and
        without default features) and of aio without std? Fails if aio-sys without default
        features has it anywhere
  cross-env --arch A [--mode system|user] [--rustix-linux-raw]
        print the environment that makes `cargo test --target <triple>` run through the runner
  bench [options]
        aio-bench against the programs a user would pick instead (fio's libaio and io_uring
        engines, a loop on the io-uring crate, a plain C libaio loop), alternating rounds on
        tmpfs and the target dir's file system; IOPS, ratios to aio-bench, syscalls/op and
        latency per runner, then the targets (`--help` lists the options)
  bench-async [aio-async-bench options]
        the async handle (aio::rt::tokio) against the synchronous Context and tokio::fs
        (spawn_blocking pread), alternating rounds on tmpfs and the target dir's file system;
        IOPS, CPU per operation and paired ratios (`--help` lists the options)
  help  this text

architectures (whole suite): x86_64 aarch64 armv7 i686 riscv64 s390x ppc64le mips64el,
  and x32 mipsel (with --all or when named)
ABIs booted with the no-libc program: loongarch64 (by default), riscv32 ppc64 mips mips64
  aarch64_be armeb (with --all or when named)";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match command.as_str() {
        "bench" => bench::main(&rest),
        "bench-async" => bench::async_main(&rest),
        "cross-setup" => setup::main(&rest),
        "cross" => cross::main(&rest),
        "check-targets" => check_targets::main(&rest),
        "libc-graph" => libc_graph::main(&rest),
        "cross-env" => cross::env_main(&rest),
        // Hidden: the CARGO_TARGET_<TRIPLE>_RUNNER entry point (see `cross-env`).
        "qemu-runner" => qemu::runner_main(&rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("{USAGE}");
            Ok(ExitCode::from(2))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask {command}: error: {e}");
            ExitCode::FAILURE
        }
    }
}
