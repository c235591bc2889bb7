//! PID 1 of a cross-test guest.
//!
//! Mounts proc, sysfs, devtmpfs on /dev and tmpfs on /tmp, loads the modules the plan names
//! (`brd` for the O_DIRECT tests on /dev/ram0), runs each test binary of the plan in turn with
//! its arguments and environment, prints machine-readable markers on the console, and powers off.
//!
//! The plan, `/xtask/plan`, has one tab-separated directive a line:
//! `env KEY=VALUE`, `module PATH PARAMS`, `wait PATH`, `run NAME PATH ARG...`.
//!
//! Markers, each on a line of its own: `AIO-XTASK-KERNEL=<release>`, `AIO-XTASK-BEGIN=<name>`,
//! `AIO-XTASK-EXIT=<code> <name>` (128 + signal for a killed test), `AIO-XTASK-DONE`.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let outcome = std::panic::catch_unwind(run_plan);
    if outcome.is_err() {
        println!("\nAIO-XTASK-ERROR=init panicked");
    }
    power_off();
}

fn mount(source: &str, target: &str, fstype: &str, data: &str) {
    let _ = std::fs::create_dir_all(target);
    let c = |s: &str| CString::new(s).expect("no NUL in mount arguments");
    let (source_c, target_c, fstype_c, data_c) = (c(source), c(target), c(fstype), c(data));
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            source_c.as_ptr(),
            target_c.as_ptr(),
            fstype_c.as_ptr(),
            0,
            data_c.as_ptr().cast(),
        )
    };
    if rc != 0 {
        println!(
            "AIO-XTASK-WARN=mount {fstype} on {target}: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn load_module(path: &str, params: &str) {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            println!("AIO-XTASK-WARN=open {path}: {e}");
            return;
        }
    };
    let params_c = CString::new(params).expect("no NUL in module parameters");
    use std::os::fd::AsRawFd;
    // SAFETY: finit_module(fd, params, flags): `file` is open for the whole call and `params_c`
    // is a NUL-terminated string.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_finit_module,
            file.as_raw_fd(),
            params_c.as_ptr(),
            0,
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            println!("AIO-XTASK-WARN=finit_module {path}: {e}");
        }
    }
}

fn run_plan() {
    mount("proc", "/proc", "proc", "");
    mount("sysfs", "/sys", "sysfs", "");
    mount("devtmpfs", "/dev", "devtmpfs", "");
    mount("tmpfs", "/tmp", "tmpfs", "mode=1777");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("\nAIO-XTASK-KERNEL={}", release.trim());

    let plan = std::fs::read_to_string("/xtask/plan").unwrap_or_else(|e| {
        println!("AIO-XTASK-ERROR=cannot read /xtask/plan: {e}");
        String::new()
    });
    let mut env: Vec<(String, String)> = Vec::new();
    for line in plan.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["env", kv] => {
                if let Some((k, v)) = kv.split_once('=') {
                    env.push((k.to_string(), v.to_string()));
                }
            }
            ["module", path, params] => load_module(path, params),
            ["wait", path] => {
                let start = Instant::now();
                while !std::path::Path::new(path).exists() {
                    if start.elapsed() > Duration::from_secs(10) {
                        println!("AIO-XTASK-WARN={path} did not appear");
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            ["run", name, path, args @ ..] => {
                println!("\nAIO-XTASK-BEGIN={name}");
                let _ = std::io::stdout().flush();
                let status = Command::new(path)
                    .args(args)
                    .env_clear()
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .current_dir("/tmp")
                    .status();
                let code = match status {
                    Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
                    Err(e) => {
                        println!("AIO-XTASK-WARN=cannot start {path}: {e}");
                        127
                    }
                };
                println!("\nAIO-XTASK-EXIT={code} {name}");
            }
            [""] | [] => {}
            _ => println!("AIO-XTASK-WARN=bad plan line: {line}"),
        }
    }
}

fn power_off() -> ! {
    println!("\nAIO-XTASK-DONE");
    let _ = std::io::stdout().flush();
    // SAFETY: sync() has no preconditions.
    unsafe { libc::sync() };
    // SAFETY: reboot(RB_POWER_OFF) has no memory preconditions; as PID 1 with CAP_SYS_BOOT it
    // powers the machine off and does not return on success.
    unsafe { libc::reboot(libc::RB_POWER_OFF) };
    println!(
        "AIO-XTASK-WARN=power off failed: {}",
        std::io::Error::last_os_error()
    );
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
