//! Choosing, creating and opening the file a job runs on.

use crate::args::{DEFAULT_TEMP_SIZE, IoMode, Options, Target};
use aio::{DioAlignment, Errno, dio_alignment};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The file a job runs on, open and checked.
#[derive(Debug)]
pub struct Prepared {
    /// The open file (O_DIRECT if `direct`).
    pub file: File,
    /// Its path (already unlinked for a temporary file).
    pub path: PathBuf,
    /// A temporary file made by this run.
    pub temp: bool,
    /// A block device.
    pub device: bool,
    /// Bytes used: whole blocks from offset 0.
    pub size: u64,
    /// Opened with O_DIRECT.
    pub direct: bool,
    /// The buffer alignment to allocate with.
    pub align: usize,
    /// The direct-I/O alignment, when O_DIRECT.
    pub dio: Option<DioAlignment>,
    /// The file system's name (from `fstatfs`), or its magic number in hex.
    pub fs: String,
    /// Things the user should know (printed to stderr).
    pub notes: Vec<String>,
}

/// Where the temporary file goes by default: the cargo target directory the executable was
/// built into (found by its `CACHEDIR.TAG`), else the system's temporary directory.
pub fn default_temp_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(4) {
            if dir.join("CACHEDIR.TAG").is_file() {
                return dir.to_path_buf();
            }
        }
    }
    std::env::temp_dir()
}

/// Names a file system by its `statfs` magic.
pub fn fs_name(magic: u64) -> String {
    let name = match magic {
        0x0102_1994 => "tmpfs",
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x2FC1_2FC1 => "zfs",
        0xF2F5_2010 => "f2fs",
        0x6969 => "nfs",
        0x5346_544E => "ntfs",
        0x4D44 => "vfat",
        0x2011_BAB0 => "exfat",
        0x6573_5546 => "fuse",
        0x794C_7630 => "overlayfs",
        0x0102_1997 => "9p",
        0x6264_6576 => "devtmpfs",
        0x8584_58F6 => "ramfs",
        0xCA45_1A4E => "bcachefs",
        0x7461_636F => "ocfs2",
        0xFF53_4D42 => "cifs",
        0x0BAD_1DEA => "futexfs",
        0x6462_6720 => "debugfs",
        _ => return format!("fs magic {magic:#x}"),
    };
    name.to_string()
}

// `f_type`'s type differs between architectures.
#[allow(clippy::unnecessary_cast)]
fn fs_of(file: &File) -> String {
    match rustix::fs::fstatfs(file) {
        Ok(st) => fs_name(st.f_type as u64),
        Err(_) => "unknown fs".into(),
    }
}

fn open(path: &Path, write: bool, direct: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(write);
    if direct {
        options.custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32);
    }
    options.open(path)
}

fn is_einval(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(Errno::INVAL.raw_os_error())
}

/// Fills `file` with `size` bytes of pseudo-random data (real pages: a sparse file would make
/// reads of holes unrealistically cheap) and syncs it, so that direct reads do not start with
/// write-back.
fn fill(file: &mut File, size: u64, seed: u64) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let mut chunk = vec![0u8; CHUNK];
    let mut x = seed | 1;
    for word in chunk.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes());
    }
    let mut left = size;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        file.write_all(&chunk[..n])?;
        chunk.rotate_left(8);
        left -= n as u64;
    }
    file.sync_all()
}

/// Creates the temporary file or checks the given one, then opens it for the job.
pub fn prepare(o: &Options, mut status: impl FnMut(&str)) -> Result<Prepared, String> {
    let mut notes = Vec::new();
    let writes = o.rw.writes();
    let (path, temp, device, size) = match &o.target {
        Target::Temp { dir } => {
            let dir = dir.clone().unwrap_or_else(default_temp_dir);
            let size = match o.size {
                Some(size) => size,
                None => (DEFAULT_TEMP_SIZE / o.bs).max(1) * o.bs,
            };
            let path = dir.join(format!("aio-bench-{}.tmp", std::process::id()));
            status(&format!(
                "creating a {} temporary file {}",
                human_bytes(size),
                path.display()
            ));
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| format!("cannot create the temporary file {}: {e}", path.display()))?;
            let filled = fill(&mut file, size, o.seed);
            if let Err(e) = filled {
                let _ = std::fs::remove_file(&path);
                return Err(format!(
                    "cannot write the {} temporary file {}: {e}",
                    human_bytes(size),
                    path.display()
                ));
            }
            (path, true, false, size)
        }
        Target::File(path) | Target::Device(path) => {
            let as_device = matches!(o.target, Target::Device(_));
            let option = if as_device { "--device" } else { "--file" };
            let meta = std::fs::metadata(path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "{option} {}: no such file; give an existing {}, or use --dir DIR to \
                         benchmark a temporary file created there",
                        path.display(),
                        if as_device { "block device" } else { "file" }
                    )
                } else {
                    format!("{option} {}: {e}", path.display())
                }
            })?;
            let block = meta.file_type().is_block_device();
            if as_device && !block {
                return Err(format!(
                    "--device {}: not a block device (use --file for a regular file)",
                    path.display()
                ));
            }
            if !block && !meta.is_file() {
                return Err(format!(
                    "--file {}: not a regular file or block device",
                    path.display()
                ));
            }
            if writes && !o.write_ok {
                return Err(format!(
                    "--rw {} would overwrite data in {}; add --write-ok if that is what you want",
                    o.rw.name(),
                    path.display()
                ));
            }
            let len = if block {
                let mut device = File::open(path)
                    .map_err(|e| format!("{option} {}: cannot open: {e}", path.display()))?;
                device
                    .seek(SeekFrom::End(0))
                    .map_err(|e| format!("{option} {}: cannot get its size: {e}", path.display()))?
            } else {
                meta.len()
            };
            let size = match o.size {
                Some(size) if size > len => {
                    return Err(format!(
                        "--size {} is larger than {} ({})",
                        human_bytes(size),
                        path.display(),
                        human_bytes(len)
                    ));
                }
                Some(size) => size,
                None => {
                    let whole = len / o.bs * o.bs;
                    if whole == 0 {
                        return Err(format!(
                            "{} ({} bytes) is smaller than one block of --bs {}",
                            path.display(),
                            len,
                            o.bs
                        ));
                    }
                    if whole != len {
                        notes.push(format!(
                            "using the first {whole} bytes of {}: its size is not a multiple of \
                             --bs {}",
                            path.display(),
                            o.bs
                        ));
                    }
                    whole
                }
            };
            (path.clone(), false, block, size)
        }
    };

    let result = open_for_job(o, &path, writes, &mut notes);
    if temp {
        // Open (or failed): the name is no longer needed, and an interrupted run leaves nothing.
        let _ = std::fs::remove_file(&path);
    }
    let (file, direct, dio) = result?;
    let fs = if device {
        "block device".to_string()
    } else {
        fs_of(&file)
    };
    let align = dio.map_or(4096, |d| (d.memory as usize).max(4096));
    Ok(Prepared {
        file,
        path,
        temp,
        device,
        size,
        direct,
        align,
        dio,
        fs,
        notes,
    })
}

type Opened = (File, bool, Option<DioAlignment>);

fn open_for_job(
    o: &Options,
    path: &Path,
    writes: bool,
    notes: &mut Vec<String>,
) -> Result<Opened, String> {
    let open_error = |e: std::io::Error| format!("cannot open {}: {e}", path.display());
    let buffered = |notes: &mut Vec<String>, why: String| -> Result<Opened, String> {
        notes.push(format!(
            "{why}; running buffered (page cache): completions happen inside io_submit"
        ));
        Ok((open(path, writes, false).map_err(open_error)?, false, None))
    };
    if o.io_mode == IoMode::Buffered {
        return Ok((open(path, writes, false).map_err(open_error)?, false, None));
    }
    let file = match open(path, writes, true) {
        Ok(file) => file,
        Err(e) if is_einval(&e) => {
            let fs = open(path, false, false)
                .map(|f| fs_of(&f))
                .unwrap_or_else(|_| "the file system".into());
            let why = format!(
                "{fs} refuses O_DIRECT for {} (open: EINVAL)",
                path.display()
            );
            return if o.io_mode == IoMode::Direct {
                Err(format!("{why}; use --buffered"))
            } else {
                buffered(notes, why)
            };
        }
        Err(e) => return Err(open_error(e)),
    };
    let dio = match dio_alignment(&file) {
        Ok(dio) => dio,
        Err(aio::Error::InvalidInput(_)) => {
            let why = format!(
                "{} does not support O_DIRECT on {} (statx reports no direct-I/O alignment)",
                fs_of(&file),
                path.display()
            );
            return if o.io_mode == IoMode::Direct {
                Err(format!("{why}; use --buffered"))
            } else {
                buffered(notes, why)
            };
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if o.bs % u64::from(dio.offset) != 0 || o.bs % u64::from(dio.memory) != 0 {
        let need = dio.offset.max(dio.memory);
        let why = format!(
            "O_DIRECT on {} needs the block size and offsets aligned to {} bytes and buffers to \
             {} bytes ({}); --bs {} is not a multiple of {need}",
            path.display(),
            dio.offset,
            dio.memory,
            dio_source(&dio),
            o.bs,
        );
        return if o.io_mode == IoMode::Direct {
            Err(format!(
                "{why}: use --bs {} (or a multiple), or --buffered",
                need.max(512)
            ))
        } else {
            buffered(notes, why)
        };
    }
    Ok((file, true, Some(dio)))
}

/// Where an alignment came from, for messages.
pub fn dio_source(dio: &DioAlignment) -> &'static str {
    match dio.source {
        aio::DioSource::Statx => "statx STATX_DIOALIGN",
        aio::DioSource::BlockDevice => "the device's logical block size",
        aio::DioSource::Default => "assumed: the kernel did not say",
    }
}

/// `256 MiB`, `4 KiB`, `1.5 GiB`, `100 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human() {
        assert_eq!(human_bytes(100), "100 B");
        assert_eq!(human_bytes(4096), "4 KiB");
        assert_eq!(human_bytes(256 << 20), "256 MiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }

    #[test]
    fn names() {
        assert_eq!(fs_name(0x0102_1994), "tmpfs");
        assert_eq!(fs_name(0xEF53), "ext4");
        assert_eq!(fs_name(0x1234), "fs magic 0x1234");
    }
}
