//! One lock for a test binary whose modules were binaries of their own: most tests hold it
//! shared and run side by side, as libtest runs them; a test that checks what belongs to the
//! whole process holds it alone. (Included by path from the `aio` crate's and the workspace's
//! `tests` crate's integration tests.)

/// Held shared by every test of the binary but those that take [`exclusive`].
static EXCLUSIVE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Taken by every test that may run beside others (the `each_backend!` variants take it
/// themselves): it waits while an [`exclusive`] test runs.
pub fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner())
}

/// Taken by a test that checks what belongs to the whole process (its descriptor count, its
/// AIO rings, `aio-nr`) or loads every core for long: no other test of the binary runs
/// meanwhile. The modules were binaries of their own, which cargo runs one after the other.
pub fn exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner())
}
