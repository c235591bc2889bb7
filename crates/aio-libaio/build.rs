//! Links the shared object as libaio's: its version nodes (`libaio.map`) and SONAME.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=libaio.map");
    // LLD: rustc gives the linker an anonymous version script of its own (`{ local: *; }`),
    // which GNU ld refuses to combine with named versions; LLD merges them. (Rust >= 1.90
    // links with its own LLD on x86_64 already; elsewhere, and with older compilers, `ld.lld`
    // must be installed: Debian's `lld`.)
    println!("cargo:rustc-cdylib-link-arg=-fuse-ld=lld");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libaio.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libaio.so.1");
}
