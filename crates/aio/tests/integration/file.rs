//! `aio::File` (and the helpers of `async_file`, the same scenarios for `aio::rt::tokio::File`): `O_DIRECT` where the file
//! system takes it, misaligned offsets and lengths refused (with the alignment required) before
//! the kernel, writes and reads (plain and vectored) that round-trip, syncs, the length, a
//! short read at the end of the file shortening the buffer, and the buffered fallback where
//! `O_DIRECT` is refused (`/dev/zero`).

use crate::support::{self, DirectTarget, each_backend, expect_enosys};
use crate::variants::{backend, on_kernel};
use aio::{AlignedBuf, Errno, Error, File, FileOptions};
use std::path::PathBuf;

each_backend!(
    direct_file_round_trips_and_refuses_misalignment,
    buffered_fallback_where_o_direct_is_refused,
);

/// Blocks written one by one, then four more in one vectored write.
pub const BLOCKS: usize = 8;

/// Block `block`'s contents, `len` bytes, in an aligned buffer.
pub fn pattern(block: usize, len: usize) -> AlignedBuf {
    let mut buf = AlignedBuf::new(len, 4096).unwrap();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (block * 37 + i * 11) as u8;
    }
    buf
}

/// The path to open for the test's O_DIRECT file (`None`: skipped, and why was printed), and
/// whether it is a raw device (no length, no end of file).
pub fn target(test: &str) -> Option<(PathBuf, bool)> {
    match support::direct_target(test)? {
        DirectTarget::Device(dev) => Some((dev, true)),
        DirectTarget::File(path) => Some((path, false)),
    }
}

/// Read-write, created, on the test's backend.
pub fn options() -> FileOptions {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .backend(backend())
}

/// Opens with `options`, or proves the ENOSYS path (kernel backend under qemu-user).
fn open_or_enosys(test: &str, options: &FileOptions, path: &PathBuf) -> Option<File> {
    match options.open(path) {
        Ok(file) => {
            assert_eq!(file.backend(), backend());
            Some(file)
        }
        Err(Error::Unsupported { call }) if on_kernel() && expect_enosys() => {
            assert_eq!(call, "io_setup");
            println!("ENOSYS path: {test} got Error::Unsupported as expected");
            None
        }
        Err(e) => panic!("{test}: opening {}: {e}", path.display()),
    }
}

/// The block size the scenario uses: the file's offset alignment, at least 512.
pub fn block_of(align: aio::DioAlignment) -> usize {
    (align.offset.max(align.memory).max(512)) as usize
}

/// The misalignments a direct file must refuse before the kernel, as `(offset, length)` and
/// the error expected; none where the file needs no alignment.
pub fn misalignments(align: aio::DioAlignment, block: usize) -> Vec<(u64, usize, Error)> {
    if align.offset <= 1 {
        println!("offset alignment {}: nothing to misalign", align.offset);
        return Vec::new();
    }
    vec![
        (
            1,
            block,
            Error::Misaligned {
                what: "offset",
                value: 1,
                required: align.offset,
            },
        ),
        (
            0,
            block + 1,
            Error::Misaligned {
                what: "length",
                value: block as u64 + 1,
                required: align.offset,
            },
        ),
    ]
}

fn direct_file_round_trips_and_refuses_misalignment() {
    const TEST: &str = "direct_file_round_trips_and_refuses_misalignment";
    let Some((path, device)) = target(TEST) else {
        return;
    };
    let Some(mut file) = open_or_enosys(TEST, &options(), &path) else {
        return;
    };
    if !device {
        std::fs::remove_file(&path).unwrap();
    }
    assert!(file.is_direct(), "{}: accepts O_DIRECT", path.display());
    let align = file.alignment();
    let block = block_of(align);
    println!("{}: {align:?}, blocks of {block}", path.display());

    for (offset, len, expected) in misalignments(align, block) {
        let (res, back) = file.write_at(AlignedBuf::new(len, 4096).unwrap(), offset);
        assert_eq!(res, Err(expected.clone()), "write at {offset}, {len} bytes");
        assert_eq!(
            back.len(),
            len,
            "the refused write's buffer comes back whole"
        );
        let read = file.read_at(len, offset).map(drop);
        assert_eq!(read, Err(expected), "read at {offset}, {len} bytes");
    }

    for i in 0..BLOCKS {
        let (res, back) = file.write_at(pattern(i, block), (i * block) as u64);
        assert_eq!(res, Ok(block), "write of block {i}");
        assert_eq!(
            *back,
            *pattern(i, block),
            "the written buffer comes back as it was"
        );
    }
    let bufs: Vec<AlignedBuf> = (BLOCKS..BLOCKS + 4).map(|i| pattern(i, block)).collect();
    let (res, bufs) = file.write_vectored_at(bufs, (BLOCKS * block) as u64);
    assert_eq!((res, bufs.len()), (Ok(4 * block), 4), "vectored write");
    file.sync_data().unwrap();
    file.sync_all().unwrap();

    for i in 0..BLOCKS + 4 {
        let read = file.read_at(block, (i * block) as u64).unwrap();
        assert!(*read == *pattern(i, block), "block {i} read back");
    }
    let bufs: Vec<AlignedBuf> = (0..4)
        .map(|_| AlignedBuf::new(block, 4096).unwrap())
        .collect();
    let (res, bufs) = file.read_vectored_at(bufs, (BLOCKS * block) as u64);
    assert_eq!(res, Ok(4 * block), "vectored read");
    for (k, buf) in bufs.iter().enumerate() {
        assert!(**buf == *pattern(BLOCKS + k, block), "vectored block {k}");
    }

    if !device {
        assert_eq!(file.len().unwrap(), ((BLOCKS + 4) * block) as u64);
        // Two blocks asked at the last one: one comes back, the buffer shortened to it.
        let last = ((BLOCKS + 3) * block) as u64;
        let read = file.read_at(2 * block, last).unwrap();
        assert_eq!((read.len(), read.capacity()), (block, 2 * block));
        assert!(*read == *pattern(BLOCKS + 3, block));
    }
}

fn buffered_fallback_where_o_direct_is_refused() {
    const TEST: &str = "buffered_fallback_where_o_direct_is_refused";
    let zero = PathBuf::from("/dev/zero");
    let required = File::options()
        .require_direct(true)
        .backend(backend())
        .open(&zero);
    assert_eq!(
        required.map(drop),
        Err(Error::Os {
            call: "open (O_DIRECT)",
            errno: Errno::INVAL
        }),
        "with require_direct, /dev/zero's refusal of O_DIRECT is the answer"
    );
    let options = File::options().backend(backend());
    let Some(mut file) = open_or_enosys(TEST, &options, &zero) else {
        return;
    };
    assert!(!file.is_direct(), "/dev/zero was opened buffered");
    assert_eq!(file.alignment().offset, 1);
    // Nothing is misaligned on a buffered file.
    let read = file.read_at(100, 3).unwrap();
    assert_eq!(read.len(), 100);
    assert!(read.iter().all(|&b| b == 0));
}
