//! Links the program freestanding: no C runtime start files (`_start` is ours), no libc or
//! libgcc, and static, so that the kernel runs it without a dynamic loader.

fn main() {
    for arg in ["-nostartfiles", "-nostdlib", "-static"] {
        println!("cargo::rustc-link-arg-bins={arg}");
    }
    println!("cargo::rerun-if-changed=build.rs");
}
