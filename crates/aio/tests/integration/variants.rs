//! One suite for both backends, and one lock, shared by the `aio` crate's integration tests and
//! the workspace's `tests` crate (whose `main.rs` includes this file by path): both binaries
//! declare it as `mod variants` at their root, which `each_backend!` names.
//!
//! - [`each_backend!`]`(name, ...)` declares, for each plain `fn name()`, the tests
//!   `kernel::name` and `emulated::name`, which run it with [`Backend::Kernel`] and
//!   [`Backend::Emulated`] on the test's thread ([`backend`]); `each_backend!(alone: ...)` runs
//!   them with no other test of the binary beside them ([`exclusive`]).
//! - [`shared`] / [`exclusive`]: one lock for a binary whose modules were binaries of their
//!   own. Most tests hold it shared and run side by side, as libtest runs them; a test that
//!   checks what belongs to the whole process holds it alone.
//! - [`test_path`] / [`variant_path`]: libtest's names, for re-running one test in a child.
#![allow(dead_code)]

use aio::Backend;
use std::cell::Cell;

thread_local! {
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Kernel) };
}

/// The backend the running test uses: set by `each_backend!` for the test's thread, else
/// [`Backend::Kernel`]. Threads a test spawns start with `Kernel`: pass them the parent's.
pub fn backend() -> Backend {
    BACKEND.with(Cell::get)
}

/// Whether the running test uses the kernel's AIO (rather than the emulation).
pub fn on_kernel() -> bool {
    backend() == Backend::Kernel
}

/// Sets the backend of the tests running on this thread.
pub fn set_backend(backend: Backend) {
    BACKEND.with(|b| b.set(backend));
}

/// The `each_backend!` module of `backend`: the prefix of the variant's test name.
pub fn backend_module(backend: Backend) -> &'static str {
    match backend {
        Backend::Kernel => "kernel",
        Backend::Emulated => "emulated",
        other => panic!("no test variant runs with {other:?}"),
    }
}

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

/// Runs `test` with `backend` on this thread (restored afterwards, also on a panic), beside
/// other tests ([`shared`]).
pub fn with_backend(backend: Backend, test: fn()) {
    let _shared = shared();
    run_with(backend, test);
}

/// Runs `test` with `backend` on this thread, alone ([`exclusive`]).
pub fn with_backend_alone(backend: Backend, test: fn()) {
    let _alone = exclusive();
    run_with(backend, test);
}

fn run_with(backend: Backend, test: fn()) {
    struct Restore(Backend);
    impl Drop for Restore {
        fn drop(&mut self) {
            BACKEND.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(BACKEND.with(|b| b.replace(backend)));
    test();
}

/// Declares, for each `fn name()` listed, the tests `kernel::name` and `emulated::name`;
/// `each_backend!(alone: name, ...)` runs them alone ([`exclusive`]).
// Unused in the modules whose tests are all about the kernel.
#[allow(unused_macros)]
macro_rules! each_backend {
    (alone: $($test:ident),+ $(,)?) => {
        $crate::variants::each_backend!(@with_backend_alone $($test),+);
    };
    (@$run:ident $($test:ident),+) => {
        mod kernel {
            $(
                #[test]
                fn $test() {
                    $crate::variants::$run(aio::Backend::Kernel, super::$test)
                }
            )+
        }
        mod emulated {
            $(
                #[test]
                fn $test() {
                    $crate::variants::$run(aio::Backend::Emulated, super::$test)
                }
            )+
        }
    };
    ($($test:ident),+ $(,)?) => {
        $crate::variants::each_backend!(@with_backend $($test),+);
    };
}
#[allow(unused_imports)]
pub(crate) use each_backend;

/// libtest's name of the test `test` of the module whose `module_path!()` is `module`: the
/// module path without the crate's own name, then the test (`model::kernel::test`).
pub fn test_path(module: &str, test: &str) -> String {
    let module = module.split_once("::").map_or("", |(_, m)| m);
    format!("{module}::{test}")
}

/// libtest's name of the variant, for this thread's [`backend`], of the test `test` that
/// `each_backend!` declares in the module whose `module_path!()` is `module`
/// (`polls::kernel::test`).
pub fn variant_path(module: &str, test: &str) -> String {
    test_path(module, &format!("{}::{test}", backend_module(backend())))
}
