//! `aio::rt::tokio::File`: the scenarios of `file` (O_DIRECT round trips, misalignment refused
//! with the alignment required, vectored forms, syncs, short reads, the buffered fallback)
//! through a tokio handle, with operations in flight together.
#![cfg(feature = "tokio")]

use crate::async_tokio::{handle, run};
use crate::file::{BLOCKS, block_of, misalignments, options, pattern, target};
use crate::support::each_backend;
use aio::rt::tokio::File as AsyncFile;
use aio::{AlignedBuf, Context, Errno, Error, File};

each_backend!(
    async_direct_file_round_trips_and_refuses_misalignment,
    async_buffered_fallback_where_o_direct_is_refused,
);

/// The `aio::Error` inside an `io::Error` the async file answered.
fn inner(error: &std::io::Error) -> Option<&Error> {
    error.get_ref()?.downcast_ref::<Error>()
}

fn async_direct_file_round_trips_and_refuses_misalignment() {
    const TEST: &str = "async_direct_file_round_trips_and_refuses_misalignment";
    run(TEST, async {
        let Some((path, device)) = target(TEST) else {
            return;
        };
        let Some(aio) = handle::<AlignedBuf>(TEST, Context::builder().depth(16)) else {
            return;
        };
        let file = AsyncFile::open_with(&aio, options(), &path).await.unwrap();
        if !device {
            std::fs::remove_file(&path).unwrap();
        }
        assert!(file.is_direct(), "{}: accepts O_DIRECT", path.display());
        let align = file.alignment();
        let block = block_of(align);

        for (offset, len, expected) in misalignments(align, block) {
            let (res, back) = file
                .write_at(AlignedBuf::new(len, 4096).unwrap(), offset)
                .await;
            let error = res.unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
            assert_eq!(inner(&error), Some(&expected), "write at {offset}, {len}");
            assert_eq!(back.len(), len);
            let error = file.read_at(len, offset).await.unwrap_err();
            assert_eq!(inner(&error), Some(&expected), "read at {offset}, {len}");
        }

        // Every block written at once, then read back at once.
        let writes: Vec<_> = (0..BLOCKS)
            .map(|i| tokio::spawn(file.write_at(pattern(i, block), (i * block) as u64)))
            .collect();
        for (i, write) in writes.into_iter().enumerate() {
            let (res, _) = write.await.unwrap();
            assert_eq!(res.unwrap(), block, "write of block {i}");
        }
        let bufs: Vec<AlignedBuf> = (BLOCKS..BLOCKS + 4).map(|i| pattern(i, block)).collect();
        let (res, _) = file.write_vectored_at(bufs, (BLOCKS * block) as u64).await;
        assert_eq!(res.unwrap(), 4 * block);
        file.sync_data().await.unwrap();
        file.sync_all().await.unwrap();

        let reads: Vec<_> = (0..BLOCKS + 4)
            .map(|i| tokio::spawn(file.read_at(block, (i * block) as u64)))
            .collect();
        for (i, read) in reads.into_iter().enumerate() {
            let read = read.await.unwrap().unwrap();
            assert!(*read == *pattern(i, block), "block {i} read back");
        }
        let bufs: Vec<AlignedBuf> = (0..4)
            .map(|_| AlignedBuf::new(block, 4096).unwrap())
            .collect();
        let (res, bufs) = file.read_vectored_at(bufs, (BLOCKS * block) as u64).await;
        assert_eq!(res.unwrap(), 4 * block);
        for (k, buf) in bufs.iter().enumerate() {
            assert!(**buf == *pattern(BLOCKS + k, block), "vectored block {k}");
        }
        let (res, reused) = file
            .read_into_at(AlignedBuf::new(block, 4096).unwrap(), 0)
            .await;
        assert_eq!(res.unwrap(), block);
        assert!(*reused == *pattern(0, block));

        if !device {
            assert_eq!(file.len().unwrap(), ((BLOCKS + 4) * block) as u64);
            let last = ((BLOCKS + 3) * block) as u64;
            let read = file.read_at(2 * block, last).await.unwrap();
            assert_eq!((read.len(), read.capacity()), (block, 2 * block));
        }
        assert_eq!(aio.outstanding(), 0);
    });
}

fn async_buffered_fallback_where_o_direct_is_refused() {
    const TEST: &str = "async_buffered_fallback_where_o_direct_is_refused";
    run(TEST, async {
        let Some(aio) = handle::<AlignedBuf>(TEST, Context::builder().depth(16)) else {
            return;
        };
        let required =
            AsyncFile::open_with(&aio, File::options().require_direct(true), "/dev/zero")
                .await
                .unwrap_err();
        assert_eq!(required.raw_os_error(), Some(Errno::INVAL.raw_os_error()));
        let file = AsyncFile::open(&aio, "/dev/zero").await.unwrap();
        assert!(!file.is_direct());
        let read = file.read_at(100, 3).await.unwrap();
        assert_eq!(read.len(), 100);
        assert!(read.iter().all(|&b| b == 0));
        let missing = AsyncFile::open(&aio, "/nonexistent/aio-file")
            .await
            .unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    });
}
