//! The test files: created and filled with the block pattern, checked for `O_DIRECT`, removed
//! when dropped (on success, on error and when a panic unwinds).

use super::BS;
use super::args::FileKind;
use aio::{AlignedBuf, Errno};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A patterned test file; removed on drop.
#[derive(Debug)]
pub struct TestFile {
    pub path: PathBuf,
    pub size: u64,
    /// Opened with `O_DIRECT` by every engine.
    pub direct: bool,
    /// The file system's name.
    pub fs: String,
    /// Why it is not `O_DIRECT`, if it is not.
    pub note: Option<String>,
}

impl TestFile {
    /// Number of 4 KiB blocks.
    pub fn blocks(&self) -> u64 {
        self.size / BS as u64
    }

    /// Opens the file for reading as every engine does (`O_DIRECT` if [`direct`](Self::direct)).
    pub fn open(&self) -> Result<File, String> {
        open(&self.path, self.direct)
            .map_err(|e| format!("cannot open {}: {e}", self.path.display()))
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Where the file of `kind` goes.
pub fn path_for(kind: FileKind, dir: &Path) -> PathBuf {
    let pid = std::process::id();
    match kind {
        FileKind::Tmpfs => PathBuf::from(format!("/dev/shm/aio-async-bench-{pid}")),
        FileKind::Dir => dir.join(format!("aio-async-bench-{pid}.tmp")),
    }
}

/// Creates the file at `path` (which must not exist), `size` bytes of the pattern, synced;
/// then finds out whether it can be read with `O_DIRECT`.
pub fn create(path: PathBuf, size: u64) -> Result<TestFile, String> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    // From here on the guard removes the file whatever happens.
    let mut test = TestFile {
        path,
        size,
        direct: false,
        fs: fs_of(&file),
        note: None,
    };
    let fail = |what: &str, e: io::Error| format!("{what} {}: {e}", test.path.display());
    fill(&file, size).map_err(|e| fail("cannot write", e))?;
    file.sync_all().map_err(|e| fail("cannot sync", e))?;
    // The pages are clean now; drop them so that the direct reads start from the same state
    // whatever came before (buffered fallback reads keep using the cache).
    let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed);
    drop(file);
    match probe_direct(&test.path, test.blocks()) {
        Ok(()) => test.direct = true,
        Err(e) if e.raw_os_error() == Some(Errno::INVAL.raw_os_error()) => {
            test.note = Some(format!(
                "{} ({}) refuses O_DIRECT ({e}): buffered reads instead",
                test.path.display(),
                test.fs
            ));
        }
        Err(e) => return Err(fail("cannot read back", e)),
    }
    Ok(test)
}

fn open(path: &Path, direct: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    if direct {
        options.custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32);
    }
    options.open(path)
}

/// Opens with `O_DIRECT` and reads the last block: `EINVAL` if the file system refuses.
fn probe_direct(path: &Path, blocks: u64) -> io::Result<()> {
    let file = open(path, true)?;
    let mut buf =
        AlignedBuf::new(BS, BS).map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, e))?;
    let last = blocks - 1;
    file.read_exact_at(&mut buf, last * BS as u64)?;
    if !matches(&buf, last) {
        return Err(io::Error::other("the pattern read back is wrong"));
    }
    Ok(())
}

/// Whether `block`'s data starts with its number.
#[inline]
pub fn matches(data: &[u8], block: u64) -> bool {
    data.len() >= 8 && data[..8] == block.to_le_bytes()
}

/// Every 4 KiB block: its number (u64 LE), then words derived from it (real data, no holes).
fn fill(file: &File, size: u64) -> io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let mut chunk = vec![0u8; CHUNK];
    let mut offset = 0u64;
    while offset < size {
        let n = (size - offset).min(CHUNK as u64) as usize;
        let first = offset / BS as u64;
        for (i, block) in chunk[..n].chunks_exact_mut(BS).enumerate() {
            let number = first + i as u64;
            let mut x = number.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for (j, word) in block.chunks_exact_mut(8).enumerate() {
                let value = if j == 0 {
                    number
                } else {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                };
                word.copy_from_slice(&value.to_le_bytes());
            }
        }
        file.write_all_at(&chunk[..n], offset)?;
        offset += n as u64;
    }
    Ok(())
}

// `f_type`'s type differs between architectures.
#[allow(clippy::unnecessary_cast)]
fn fs_of(file: &File) -> String {
    match rustix::fs::fstatfs(file) {
        Ok(st) => crate::target::fs_name(st.f_type as u64),
        Err(_) => "unknown fs".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_round_trips_and_file_is_removed() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("aio-async-bench-test-{}", std::process::id()));
        let test = create(path.clone(), 3 * (1 << 20) + 8192).unwrap();
        assert_eq!(test.blocks(), 770);
        let file = test.open().unwrap();
        let mut buf = AlignedBuf::new(BS, BS).unwrap();
        for block in [0, 1, 255, 256, 769] {
            file.read_exact_at(&mut buf, block * BS as u64).unwrap();
            assert!(matches(&buf, block), "block {block}");
            assert!(!matches(&buf, block + 1));
        }
        drop(file);
        drop(test);
        assert!(!path.exists());
    }
}
