//! Links the program freestanding: no C runtime start files (`_start` is ours), no libc or
//! libgcc, and static, so that the kernel runs it without a dynamic loader. The entry point is
//! named explicitly: MIPS linkers default to `__start`, and with `--gc-sections` an entry they
//! do not know of would be collected with everything it calls.

fn main() {
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-Wl,--entry=_start",
    ] {
        println!("cargo::rustc-link-arg-bins={arg}");
    }
    println!("cargo::rerun-if-changed=build.rs");
}
