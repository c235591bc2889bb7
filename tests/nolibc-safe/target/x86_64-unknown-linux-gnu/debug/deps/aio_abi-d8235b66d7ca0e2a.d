/work/main/tests/nolibc-safe/target/x86_64-unknown-linux-gnu/debug/deps/aio_abi-d8235b66d7ca0e2a.d: /work/main/crates/aio-abi/src/lib.rs /work/main/crates/aio-abi/src/arch/mod.rs /work/main/crates/aio-abi/src/arch/x86_64.rs /work/main/crates/aio-abi/src/event.rs /work/main/crates/aio-abi/src/flags.rs /work/main/crates/aio-abi/src/ioprio.rs /work/main/crates/aio-abi/src/layout.rs /work/main/crates/aio-abi/src/poll.rs /work/main/crates/aio-abi/src/request.rs /work/main/crates/aio-abi/src/ring.rs /work/main/crates/aio-abi/src/signal.rs /work/main/crates/aio-abi/src/time.rs

/work/main/tests/nolibc-safe/target/x86_64-unknown-linux-gnu/debug/deps/libaio_abi-d8235b66d7ca0e2a.rmeta: /work/main/crates/aio-abi/src/lib.rs /work/main/crates/aio-abi/src/arch/mod.rs /work/main/crates/aio-abi/src/arch/x86_64.rs /work/main/crates/aio-abi/src/event.rs /work/main/crates/aio-abi/src/flags.rs /work/main/crates/aio-abi/src/ioprio.rs /work/main/crates/aio-abi/src/layout.rs /work/main/crates/aio-abi/src/poll.rs /work/main/crates/aio-abi/src/request.rs /work/main/crates/aio-abi/src/ring.rs /work/main/crates/aio-abi/src/signal.rs /work/main/crates/aio-abi/src/time.rs

/work/main/crates/aio-abi/src/lib.rs:
/work/main/crates/aio-abi/src/arch/mod.rs:
/work/main/crates/aio-abi/src/arch/x86_64.rs:
/work/main/crates/aio-abi/src/event.rs:
/work/main/crates/aio-abi/src/flags.rs:
/work/main/crates/aio-abi/src/ioprio.rs:
/work/main/crates/aio-abi/src/layout.rs:
/work/main/crates/aio-abi/src/poll.rs:
/work/main/crates/aio-abi/src/request.rs:
/work/main/crates/aio-abi/src/ring.rs:
/work/main/crates/aio-abi/src/signal.rs:
/work/main/crates/aio-abi/src/time.rs:
