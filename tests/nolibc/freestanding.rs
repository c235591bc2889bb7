//! The check that a no-libc program is what it claims: shared by `tests/tests/integration/nolibc.rs` (the
//! host's build) and `cargo xtask cross` (each architecture's build, before it goes into a
//! guest), which include this file by path. It uses binutils: the host's `readelf` and `nm`, or a
//! cross toolchain's (`aarch64-linux-gnu-readelf`, …).

use std::path::Path;
use std::process::Command;

/// Runs binutils' `<prefix><tool>` on `exe` and returns its standard output.
fn binutils(prefix: &str, tool: &str, args: &[&str], exe: &Path) -> Result<String, String> {
    let program = format!("{prefix}{tool}");
    let output = Command::new(&program)
        .args(args)
        .arg(exe)
        .output()
        .map_err(|e| format!("running {program} (binutils): {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{program} {args:?} {} failed: {}",
            exe.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Checks with `readelf` that `exe` is a fixed-address executable with no program interpreter
/// and no dynamic section, and with `nm` that no C library symbol is in it. Returns its size line
/// (bytes, and text/data/bss from `size`) for the log.
pub fn check(exe: &Path, prefix: &str) -> Result<String, String> {
    let name = exe.display();
    let header = binutils(prefix, "readelf", &["--file-header"], exe)?;
    if !header.contains("EXEC (Executable file)") {
        return Err(format!("{name}: not a fixed-address ET_EXEC:\n{header}"));
    }
    let segments = binutils(prefix, "readelf", &["--program-headers", "--wide"], exe)?;
    for (segment, why) in [
        ("INTERP", "no dynamic loader"),
        ("DYNAMIC", "no shared libraries, no relocation at start"),
    ] {
        if segments
            .lines()
            .any(|l| l.trim_start().starts_with(segment))
        {
            return Err(format!(
                "{name}: has a {segment} segment (wanted: {why}):\n{segments}"
            ));
        }
    }
    let dynamic = binutils(prefix, "readelf", &["--dynamic"], exe)?;
    if !dynamic.contains("no dynamic section") {
        return Err(format!("{name}: has a dynamic section:\n{dynamic}"));
    }
    // A static glibc program would pass the checks above; these must hold no C library at all
    // (their symbol tables are kept for this).
    let symbols = binutils(prefix, "nm", &[], exe)?;
    if !symbols.lines().any(|l| l.ends_with(" _start")) {
        return Err(format!("{name}: no _start in the symbol table (stripped?)"));
    }
    for line in symbols.lines() {
        let symbol = line.rsplit(' ').next().unwrap_or(line);
        // Rust's own (mangled) symbols may name anything, `alloc::alloc::exchange_malloc` too.
        if symbol.starts_with("_ZN") || symbol.starts_with("_R") {
            continue;
        }
        for libc_symbol in ["__libc_", "GLIBC", "__errno_location", "malloc", "pthread_"] {
            if symbol.contains(libc_symbol) {
                return Err(format!("{name}: symbol {symbol} is the C library's"));
            }
        }
    }
    let bytes = std::fs::metadata(exe)
        .map_err(|e| format!("{name}: {e}"))?
        .len();
    let sizes = binutils(prefix, "size", &[], exe)?;
    let sizes: Vec<&str> = sizes
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .take(5)
        .collect();
    let sizes = sizes.join(" ");
    Ok(format!(
        "{bytes} bytes (release, symbols kept); text data bss dec hex: {sizes}"
    ))
}
