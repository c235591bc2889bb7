/work/main/tests/nolibc-safe/target/x86_64-unknown-linux-gnu/debug/deps/aio_nolibc_safe-ef0ab173909ae874.d: src/main.rs src/heap.rs src/../../nolibc/src/mem.rs src/../../nolibc/src/start.rs Cargo.toml

/work/main/tests/nolibc-safe/target/x86_64-unknown-linux-gnu/debug/deps/libaio_nolibc_safe-ef0ab173909ae874.rmeta: src/main.rs src/heap.rs src/../../nolibc/src/mem.rs src/../../nolibc/src/start.rs Cargo.toml

src/main.rs:
src/heap.rs:
src/../../nolibc/src/mem.rs:
src/../../nolibc/src/start.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# env-dep:CLIPPY_CONF_DIR
