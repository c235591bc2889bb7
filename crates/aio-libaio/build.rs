//! Links the shared object as libaio's: its version nodes (`libaio.map`) and SONAME.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=libaio.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libaio.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libaio.so.1");
}
