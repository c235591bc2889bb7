//! A newc (`070701`) cpio writer: initramfs images without the `cpio` tool. The kernel accepts an
//! uncompressed archive, which also saves the guest the time of decompressing it under TCG.

use crate::util::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Builds one archive, entry by entry.
pub struct Cpio {
    out: BufWriter<File>,
    ino: u32,
}

enum Kind<'a> {
    Dir,
    File(&'a [u8]),
    CharDev(u32, u32),
}

impl Cpio {
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).context(path.display())?;
        Ok(Cpio {
            out: BufWriter::with_capacity(1 << 20, file),
            ino: 1,
        })
    }

    pub fn dir(&mut self, name: &str) -> Result<()> {
        self.entry(name, 0o040755, Kind::Dir)
    }

    /// A regular file with `data`; `mode` is the permission bits.
    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> Result<()> {
        self.entry(name, 0o100000 | mode, Kind::File(data))
    }

    /// A regular file copied from the host.
    pub fn copy(&mut self, name: &str, mode: u32, from: &Path) -> Result<()> {
        let data = std::fs::read(from).context(from.display())?;
        self.file(name, mode, &data)
    }

    pub fn char_dev(&mut self, name: &str, major: u32, minor: u32) -> Result<()> {
        self.entry(name, 0o020600, Kind::CharDev(major, minor))
    }

    fn entry(&mut self, name: &str, mode: u32, kind: Kind) -> Result<()> {
        let (size, rdev) = match kind {
            Kind::Dir => (0, (0, 0)),
            Kind::File(d) => (d.len(), (0, 0)),
            Kind::CharDev(ma, mi) => (0, (ma, mi)),
        };
        let nlink = if matches!(kind, Kind::Dir) { 2 } else { 1 };
        self.ino += 1;
        let header = format!(
            "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            self.ino,
            mode,
            0,
            0,
            nlink,
            0,
            size,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() + 1,
            0
        );
        let w = &mut self.out;
        w.write_all(header.as_bytes()).context("cpio")?;
        w.write_all(name.as_bytes()).context("cpio")?;
        w.write_all(&[0]).context("cpio")?;
        pad(w, header.len() + name.len() + 1)?;
        if let Kind::File(data) = kind {
            w.write_all(data).context("cpio")?;
            pad(w, data.len())?;
        }
        Ok(())
    }

    /// Writes the trailer and flushes.
    pub fn finish(mut self) -> Result<()> {
        self.ino = 0;
        self.entry("TRAILER!!!", 0, Kind::Dir)?;
        self.out.flush().context("cpio")
    }
}

fn pad(w: &mut impl Write, len: usize) -> Result<()> {
    let n = (4 - len % 4) % 4;
    w.write_all(&[0; 3][..n]).context("cpio")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_layout() {
        let path = std::env::temp_dir().join(format!("xtask-cpio-{}", std::process::id()));
        let mut c = Cpio::create(&path).unwrap();
        c.dir("dev").unwrap();
        c.file("init", 0o755, b"abcde").unwrap();
        c.finish().unwrap();
        let data = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(data.starts_with(b"070701"));
        assert_eq!(data.len() % 4, 0);
        // header 110 + "dev\0" = 114 → padded to 116
        assert_eq!(&data[110..113], b"dev");
        assert_eq!(&data[116..122], b"070701");
        let second_name = 116 + 110;
        assert_eq!(&data[second_name..second_name + 4], b"init");
        // 110 + "init\0" = 115 → 116, data at 116+116
        assert_eq!(&data[232..237], b"abcde");
        let trailer = 240;
        assert_eq!(&data[trailer + 110..trailer + 120], b"TRAILER!!!");
    }
}
