/work/main/tests/nolibc-safe/target/x86_64-unknown-linux-gnu/debug/deps/aio_sys-c2ae2de3dad84bd5.d: /work/main/crates/aio-sys/src/lib.rs /work/main/crates/aio-sys/src/arch/mod.rs /work/main/crates/aio-sys/src/context.rs /work/main/crates/aio-sys/src/errno.rs /work/main/crates/aio-sys/src/poll.rs /work/main/crates/aio-sys/src/raw.rs /work/main/crates/aio-sys/src/submit.rs /work/main/crates/aio-sys/src/wait.rs /work/main/crates/aio-sys/src/arch/x86_64.rs

/work/main/tests/nolibc-safe/target/x86_64-unknown-linux-gnu/debug/deps/libaio_sys-c2ae2de3dad84bd5.rmeta: /work/main/crates/aio-sys/src/lib.rs /work/main/crates/aio-sys/src/arch/mod.rs /work/main/crates/aio-sys/src/context.rs /work/main/crates/aio-sys/src/errno.rs /work/main/crates/aio-sys/src/poll.rs /work/main/crates/aio-sys/src/raw.rs /work/main/crates/aio-sys/src/submit.rs /work/main/crates/aio-sys/src/wait.rs /work/main/crates/aio-sys/src/arch/x86_64.rs

/work/main/crates/aio-sys/src/lib.rs:
/work/main/crates/aio-sys/src/arch/mod.rs:
/work/main/crates/aio-sys/src/context.rs:
/work/main/crates/aio-sys/src/errno.rs:
/work/main/crates/aio-sys/src/poll.rs:
/work/main/crates/aio-sys/src/raw.rs:
/work/main/crates/aio-sys/src/submit.rs:
/work/main/crates/aio-sys/src/wait.rs:
/work/main/crates/aio-sys/src/arch/x86_64.rs:
