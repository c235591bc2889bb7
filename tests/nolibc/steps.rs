//! What the exit statuses of the no-libc program mean: status N is step N of `Step` in
//! `src/main.rs` failing, 0 every step passing. Shared by `tests/tests/integration/nolibc.rs` (the host's
//! run and each guest's) and `cargo xtask cross` (the ABIs where the program is the guest's
//! `/init`), which include this file by path.

/// The steps in order: exit status `i + 1` means `STEPS[i]` failed.
pub const STEPS: [&str; 20] = [
    "io_setup failed",
    "the ring header forbids user-space reaping (magic, incompatible features)",
    "pipe failed",
    "io_submit did not queue the pipe write",
    "the pipe write's event did not appear in the ring",
    "the ring event's data/obj/res/res2 are not the pipe write's",
    "reading the pipe failed",
    "the pipe does not hold the message",
    "io_submit did not queue the poll",
    "io_cancel of the poll did not answer EINPROGRESS",
    "io_getevents did not return the cancelled poll's event",
    "the cancelled poll's event is not its own, or res/res2 are not 0",
    "io_pgetevents with a signal mask did not time out with 0 events",
    "memfd_create failed",
    "the AIO write of AAAA to the memfd failed",
    "io_submit rejected the RWF_APPEND write",
    "the RWF_APPEND write's event is not its own, or res is not 4",
    "the AIO read-back of the memfd failed",
    "the memfd is not AAAABBBB: RWF_APPEND did not reach the kernel (byte order?)",
    "io_destroy failed",
];

/// What exit status `status` of the program says.
pub fn describe(status: i32) -> &'static str {
    match status {
        0 => "success",
        101 => "panicked",
        s if s >= 1 && s as usize <= STEPS.len() => STEPS[s as usize - 1],
        _ => "unknown status",
    }
}
