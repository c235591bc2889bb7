//! Compares the Rust types with the C ones the host's kernel headers define.
//!
//! A tiny C program is compiled against `<linux/aio_abi.h>` and `<linux/time_types.h>` (Debian
//! package `linux-libc-dev`) with `cc` (or `$CC`), run, and its `sizeof`/`_Alignof`/`offsetof`
//! of every field, plus the header constants, are compared with `size_of`/`align_of`/
//! `offset_of!` and the crate's constants. If no C compiler can be started the test prints
//! `SKIPPED: no C compiler (cc) found` and returns; every other failure fails the test.

use aio_abi::{__kernel_timespec, aio_context_t, io_event, iocb};
use core::mem::{align_of, offset_of, size_of};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::Command;

/// The C side: every line is `<key> <value>`.
const PROGRAM: &str = r#"
#include <stddef.h>
#include <stdio.h>
#include <linux/aio_abi.h>
#include <linux/time_types.h>
#include <linux/fs.h>

#define TYPE(t) \
    printf("sizeof(" #t ") %zu\n", sizeof(t)); \
    printf("alignof(" #t ") %zu\n", (size_t)_Alignof(t));
#define FIELD(t, f) \
    printf("offsetof(" #t ", " #f ") %zu\n", offsetof(t, f)); \
    printf("sizeof(" #t "." #f ") %zu\n", sizeof(((t *)0)->f));
#define CONST(c) printf(#c " %lld\n", (long long)(c));

int main(void) {
#if defined(__x86_64__) && defined(__ILP32__)
    printf("target_arch x86_64-x32\n");
#elif defined(__x86_64__)
    printf("target_arch x86_64\n");
#elif defined(__i386__)
    printf("target_arch x86\n");
#elif defined(__aarch64__)
    printf("target_arch aarch64\n");
#elif defined(__arm__)
    printf("target_arch arm\n");
#elif defined(__riscv) && __riscv_xlen == 64
    printf("target_arch riscv64\n");
#elif defined(__riscv)
    printf("target_arch riscv32\n");
#elif defined(__loongarch64)
    printf("target_arch loongarch64\n");
#elif defined(__powerpc64__)
    printf("target_arch powerpc64\n");
#elif defined(__s390x__)
    printf("target_arch s390x\n");
#elif defined(__mips64)
    printf("target_arch mips64\n");
#elif defined(__mips__)
    printf("target_arch mips\n");
#else
    printf("target_arch unknown\n");
#endif
    printf("sizeof(void *) %zu\n", sizeof(void *));

    TYPE(aio_context_t)

    TYPE(struct iocb)
    FIELD(struct iocb, aio_data)
    FIELD(struct iocb, aio_key)
    FIELD(struct iocb, aio_rw_flags)
    FIELD(struct iocb, aio_lio_opcode)
    FIELD(struct iocb, aio_reqprio)
    FIELD(struct iocb, aio_fildes)
    FIELD(struct iocb, aio_buf)
    FIELD(struct iocb, aio_nbytes)
    FIELD(struct iocb, aio_offset)
    FIELD(struct iocb, aio_reserved2)
    FIELD(struct iocb, aio_flags)
    FIELD(struct iocb, aio_resfd)

    TYPE(struct io_event)
    FIELD(struct io_event, data)
    FIELD(struct io_event, obj)
    FIELD(struct io_event, res)
    FIELD(struct io_event, res2)

    TYPE(struct __kernel_timespec)
    FIELD(struct __kernel_timespec, tv_sec)
    FIELD(struct __kernel_timespec, tv_nsec)

    CONST(IOCB_CMD_PREAD)
    CONST(IOCB_CMD_PWRITE)
    CONST(IOCB_CMD_FSYNC)
    CONST(IOCB_CMD_FDSYNC)
    CONST(IOCB_CMD_POLL)
    CONST(IOCB_CMD_NOOP)
    CONST(IOCB_CMD_PREADV)
    CONST(IOCB_CMD_PWRITEV)
    CONST(IOCB_FLAG_RESFD)
#ifdef IOCB_FLAG_IOPRIO
    CONST(IOCB_FLAG_IOPRIO)
#endif
    CONST(RWF_HIPRI)
    CONST(RWF_DSYNC)
    CONST(RWF_SYNC)
    CONST(RWF_NOWAIT)
    CONST(RWF_APPEND)
#ifdef RWF_NOAPPEND
    CONST(RWF_NOAPPEND)
#endif
#ifdef RWF_ATOMIC
    CONST(RWF_ATOMIC)
#endif
#ifdef RWF_DONTCACHE
    CONST(RWF_DONTCACHE)
#endif
#ifdef RWF_NOSIGNAL
    CONST(RWF_NOSIGNAL)
#endif
    return 0;
}
"#;

/// This build's `target_arch`, spelled as the C program prints it.
fn rust_target_arch() -> String {
    if cfg!(all(target_arch = "x86_64", target_pointer_width = "32")) {
        "x86_64-x32".into()
    } else {
        std::env::consts::ARCH.into()
    }
}

/// What the Rust side says, under the same keys the C program prints.
fn rust_values() -> BTreeMap<String, i64> {
    let mut map = BTreeMap::new();
    let mut put = |key: &str, value: usize| {
        map.insert(key.to_owned(), value as i64);
    };
    macro_rules! ty {
        ($c:literal, $t:ty) => {
            put(concat!("sizeof(", $c, ")"), size_of::<$t>());
            put(concat!("alignof(", $c, ")"), align_of::<$t>());
        };
    }
    macro_rules! field {
        ($c:literal, $t:ty, $f:ident) => {
            put(
                concat!("offsetof(", $c, ", ", stringify!($f), ")"),
                offset_of!($t, $f),
            );
            put(
                concat!("sizeof(", $c, ".", stringify!($f), ")"),
                core::mem::size_of_val(&<$t>::default().$f),
            );
        };
    }

    put("sizeof(void *)", size_of::<*const u8>());

    ty!("aio_context_t", aio_context_t);

    ty!("struct iocb", iocb);
    field!("struct iocb", iocb, aio_data);
    field!("struct iocb", iocb, aio_key);
    field!("struct iocb", iocb, aio_rw_flags);
    field!("struct iocb", iocb, aio_lio_opcode);
    field!("struct iocb", iocb, aio_reqprio);
    field!("struct iocb", iocb, aio_fildes);
    field!("struct iocb", iocb, aio_buf);
    field!("struct iocb", iocb, aio_nbytes);
    field!("struct iocb", iocb, aio_offset);
    field!("struct iocb", iocb, aio_reserved2);
    field!("struct iocb", iocb, aio_flags);
    field!("struct iocb", iocb, aio_resfd);

    ty!("struct io_event", io_event);
    field!("struct io_event", io_event, data);
    field!("struct io_event", io_event, obj);
    field!("struct io_event", io_event, res);
    field!("struct io_event", io_event, res2);

    ty!("struct __kernel_timespec", __kernel_timespec);
    field!("struct __kernel_timespec", __kernel_timespec, tv_sec);
    field!("struct __kernel_timespec", __kernel_timespec, tv_nsec);

    let mut put = |key: &str, value: i64| {
        map.insert(key.to_owned(), value);
    };
    put("IOCB_CMD_PREAD", aio_abi::IOCB_CMD_PREAD.into());
    put("IOCB_CMD_PWRITE", aio_abi::IOCB_CMD_PWRITE.into());
    put("IOCB_CMD_FSYNC", aio_abi::IOCB_CMD_FSYNC.into());
    put("IOCB_CMD_FDSYNC", aio_abi::IOCB_CMD_FDSYNC.into());
    put("IOCB_CMD_POLL", aio_abi::IOCB_CMD_POLL.into());
    put("IOCB_CMD_NOOP", aio_abi::IOCB_CMD_NOOP.into());
    put("IOCB_CMD_PREADV", aio_abi::IOCB_CMD_PREADV.into());
    put("IOCB_CMD_PWRITEV", aio_abi::IOCB_CMD_PWRITEV.into());
    put("IOCB_FLAG_RESFD", aio_abi::IOCB_FLAG_RESFD.into());
    put("IOCB_FLAG_IOPRIO", aio_abi::IOCB_FLAG_IOPRIO.into());
    use aio_abi::RwFlags;
    put("RWF_HIPRI", RwFlags::HIPRI.bits().into());
    put("RWF_DSYNC", RwFlags::DSYNC.bits().into());
    put("RWF_SYNC", RwFlags::SYNC.bits().into());
    put("RWF_NOWAIT", RwFlags::NOWAIT.bits().into());
    put("RWF_APPEND", RwFlags::APPEND.bits().into());
    put("RWF_NOAPPEND", RwFlags::NOAPPEND.bits().into());
    put("RWF_ATOMIC", RwFlags::ATOMIC.bits().into());
    put("RWF_DONTCACHE", RwFlags::DONTCACHE.bits().into());
    put("RWF_NOSIGNAL", RwFlags::NOSIGNAL.bits().into());
    map
}

/// Keys that older headers may lack (checked when present): the header's `#ifdef`s.
const OPTIONAL: &[&str] = &[
    "IOCB_FLAG_IOPRIO",
    "RWF_NOAPPEND",
    "RWF_ATOMIC",
    "RWF_DONTCACHE",
    "RWF_NOSIGNAL",
];

#[test]
fn layout_matches_host_c_headers() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("aio-abi-c-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&source, PROGRAM).unwrap();

    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let compiled = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(&source)
        .output();
    let compiled = match compiled {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            println!("SKIPPED: no C compiler (cc) found ({cc:?}: {e})");
            std::fs::remove_dir_all(&dir).ok();
            return;
        }
        Err(e) => panic!("could not run the C compiler {cc:?}: {e}"),
    };
    assert!(
        compiled.status.success(),
        "{cc:?} failed ({}); the kernel headers come from Debian's linux-libc-dev:\n{}",
        compiled.status,
        String::from_utf8_lossy(&compiled.stderr)
    );

    let run = Command::new(&exe)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    std::fs::remove_dir_all(&dir).ok();
    assert!(run.status.success(), "{}: {}", exe.display(), run.status);
    let stdout = String::from_utf8(run.stdout).unwrap();

    let mut c_arch = None;
    let mut c = BTreeMap::new();
    for line in stdout.lines() {
        let (key, value) = line.rsplit_once(' ').expect("`key value` lines");
        if key == "target_arch" {
            c_arch = Some(value.to_owned());
        } else {
            c.insert(key.to_owned(), value.parse::<i64>().unwrap());
        }
    }
    let c_arch = c_arch.expect("the program prints its target_arch");
    if c_arch != rust_target_arch() {
        // A host compiler while testing a cross target (under qemu-user): no C compiler for the
        // target, the same situation as no compiler at all.
        println!(
            "SKIPPED: no C compiler (cc) found for target_arch {}: {cc:?} builds for {c_arch}; \
             set CC to a cross compiler",
            rust_target_arch()
        );
        return;
    }

    let rust = rust_values();
    let mut mismatches = Vec::new();
    for (key, &ours) in &rust {
        match c.get(key) {
            Some(&theirs) if theirs == ours => {}
            Some(&theirs) => mismatches.push(format!("{key}: C {theirs}, Rust {ours}")),
            None if OPTIONAL.contains(&key.as_str()) => {
                println!("note: the host header lacks {key} (older linux-libc-dev); not compared");
            }
            None => mismatches.push(format!("{key}: not printed by the C program")),
        }
    }
    for key in c.keys() {
        if !rust.contains_key(key) {
            mismatches.push(format!("{key}: printed by C but not compared"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "layout differences:\n{}",
        mismatches.join("\n")
    );
    println!("compared {} values with the host C headers", rust.len());
}
