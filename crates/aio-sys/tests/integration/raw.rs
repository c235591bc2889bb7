//! `aio_sys::raw`: the bare instruction issues other calls with the AIO wrappers' conventions
//! (results as words, `-errno` as [`Errno`]), in both call shapes.

use aio_sys::Errno;
use aio_sys::raw::{Word, syscall3, syscall6};
use linux_raw_sys::general::{__NR_close, __NR_pipe2, __NR_read, __NR_write, O_CLOEXEC};

#[test]
fn pipe_write_read_close() {
    let mut fds = [-1i32; 2];
    // SAFETY: pipe2 writes two ints into `fds`, which lives across the call.
    let r = unsafe {
        syscall3(
            __NR_pipe2 as usize,
            [fds.as_mut_ptr() as usize as Word, O_CLOEXEC as Word, 0],
        )
    };
    assert_eq!(r, Ok(0));
    let [reader, writer] = fds.map(|fd| fd as Word);
    assert!(fds[0] >= 0 && fds[1] >= 0, "{fds:?}");

    let message = b"through aio_sys::raw";
    // SAFETY: `message` is valid for its length; `writer` is the pipe's write end. The six-argument
    // shape (on MIPS o32 the last two go on the stack) with zeros for what write does not take.
    let wrote = unsafe {
        syscall6(
            __NR_write as usize,
            [
                writer,
                message.as_ptr() as usize as Word,
                message.len() as Word,
                0,
                0,
                0,
            ],
        )
    };
    assert_eq!(wrote, Ok(message.len() as Word));

    let mut back = [0u8; 64];
    // SAFETY: `back` is valid for writes of its length; `reader` is the pipe's read end.
    let read = unsafe {
        syscall3(
            __NR_read as usize,
            [
                reader,
                back.as_mut_ptr() as usize as Word,
                back.len() as Word,
            ],
        )
    };
    assert_eq!(read, Ok(message.len() as Word));
    assert_eq!(&back[..message.len()], message);

    for fd in [reader, writer] {
        // SAFETY: closes a descriptor this test made and uses no more.
        assert_eq!(unsafe { syscall3(__NR_close as usize, [fd, 0, 0]) }, Ok(0));
    }
}

#[test]
fn errors_are_errnos() {
    // SAFETY: close(-1) touches no descriptor: the kernel answers EBADF.
    let r = unsafe { syscall3(__NR_close as usize, [-1i64 as Word, 0, 0]) };
    assert_eq!(r, Err(Errno::BADF));
    // SAFETY: as above, in the six-argument shape.
    let r = unsafe { syscall6(__NR_close as usize, [-1i64 as Word, 0, 0, 0, 0, 0]) };
    assert_eq!(r, Err(Errno::BADF));
}
