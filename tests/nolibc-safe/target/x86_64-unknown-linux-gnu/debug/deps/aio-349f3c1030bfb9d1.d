/work/main/tests/nolibc-safe/target/x86_64-unknown-linux-gnu/debug/deps/aio-349f3c1030bfb9d1.d: /work/main/crates/aio/src/lib.rs /work/main/crates/aio/src/buf.rs /work/main/crates/aio/src/completion.rs /work/main/crates/aio/src/context/mod.rs /work/main/crates/aio/src/context/builder.rs /work/main/crates/aio/src/context/cancel.rs /work/main/crates/aio/src/context/emulated.rs /work/main/crates/aio/src/context/files.rs /work/main/crates/aio/src/context/queue.rs /work/main/crates/aio/src/context/reap.rs /work/main/crates/aio/src/context/slots.rs /work/main/crates/aio/src/direct.rs /work/main/crates/aio/src/error.rs /work/main/crates/aio/src/fd.rs /work/main/crates/aio/src/fork.rs /work/main/crates/aio/src/op.rs /work/main/crates/aio/src/ring.rs

/work/main/tests/nolibc-safe/target/x86_64-unknown-linux-gnu/debug/deps/libaio-349f3c1030bfb9d1.rmeta: /work/main/crates/aio/src/lib.rs /work/main/crates/aio/src/buf.rs /work/main/crates/aio/src/completion.rs /work/main/crates/aio/src/context/mod.rs /work/main/crates/aio/src/context/builder.rs /work/main/crates/aio/src/context/cancel.rs /work/main/crates/aio/src/context/emulated.rs /work/main/crates/aio/src/context/files.rs /work/main/crates/aio/src/context/queue.rs /work/main/crates/aio/src/context/reap.rs /work/main/crates/aio/src/context/slots.rs /work/main/crates/aio/src/direct.rs /work/main/crates/aio/src/error.rs /work/main/crates/aio/src/fd.rs /work/main/crates/aio/src/fork.rs /work/main/crates/aio/src/op.rs /work/main/crates/aio/src/ring.rs

/work/main/crates/aio/src/lib.rs:
/work/main/crates/aio/src/buf.rs:
/work/main/crates/aio/src/completion.rs:
/work/main/crates/aio/src/context/mod.rs:
/work/main/crates/aio/src/context/builder.rs:
/work/main/crates/aio/src/context/cancel.rs:
/work/main/crates/aio/src/context/emulated.rs:
/work/main/crates/aio/src/context/files.rs:
/work/main/crates/aio/src/context/queue.rs:
/work/main/crates/aio/src/context/reap.rs:
/work/main/crates/aio/src/context/slots.rs:
/work/main/crates/aio/src/direct.rs:
/work/main/crates/aio/src/error.rs:
/work/main/crates/aio/src/fd.rs:
/work/main/crates/aio/src/fork.rs:
/work/main/crates/aio/src/op.rs:
/work/main/crates/aio/src/ring.rs:
