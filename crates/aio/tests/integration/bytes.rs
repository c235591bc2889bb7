//! The `bytes` feature: `BytesMut` read into and written from, `Bytes` written from, on a
//! context and on the tokio handle; an `O_DIRECT` read's aligned block handed on as `Bytes`
//! without a copy and written back from it with `O_DIRECT`; a pool's block back in its pool
//! once the last `Bytes` clone is gone.

use crate::async_tokio::{handle, run};
use crate::support::{self, build_or_enosys, each_backend, temp_file};
use aio::{AlignedBuf, AnyBuf, BufPool, Context, Op, dio_alignment};
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::Duration;

each_backend!(
    bytes_mut_and_bytes_are_buffers,
    aligned_reads_go_on_as_bytes_without_a_copy,
    bytes_mut_on_the_tokio_handle,
);

/// Pushes `op`, submits and waits for its completion.
fn one<B: aio::IoBuf>(ctx: &mut Context<B>, op: Op<B>) -> aio::Completion<B> {
    ctx.push(op).unwrap();
    ctx.submit().unwrap();
    ctx.wait(1, Some(Duration::from_secs(30))).unwrap();
    ctx.completions().next().expect("a completion")
}

fn bytes_mut_and_bytes_are_buffers() {
    let test = "bytes_mut_and_bytes_are_buffers";
    let Some(mut muts) = build_or_enosys::<BytesMut>(test, Context::builder().depth(2)) else {
        return;
    };
    let Some(mut shared) = build_or_enosys::<Bytes>(test, Context::builder().depth(2)) else {
        return;
    };
    let file = Arc::new(temp_file(test));

    // A `Bytes` (static, then shared with a clone the caller keeps) is the source of writes.
    let done = one(
        &mut shared,
        Op::write(file.clone(), Bytes::from_static(b"0123"), 0),
    );
    assert_eq!(done.result(), Ok(4));
    let kept = Bytes::from(b"4567".to_vec());
    let done = one(&mut shared, Op::write(file.clone(), kept.clone(), 4));
    assert_eq!(done.result(), Ok(4));
    assert_eq!(
        done.into_buf().unwrap().as_ptr(),
        kept.as_ptr(),
        "handed back, not copied"
    );

    // A `BytesMut` is written from and read into; the read's buffer freezes without a copy.
    let done = one(
        &mut muts,
        Op::write(file.clone(), BytesMut::from(&b"89"[..]), 8),
    );
    assert_eq!(done.result(), Ok(2));
    let done = one(&mut muts, Op::read(file.clone(), BytesMut::zeroed(16), 0));
    assert_eq!(done.result(), Ok(10));
    let buf = done.into_buf().unwrap();
    let at = buf.as_ptr();
    let frozen = buf.freeze();
    assert_eq!(frozen.as_ptr(), at);
    assert_eq!(&frozen[..10], b"0123456789");

    // And as one variant of `AnyBuf`, beside a `Vec<u8>`.
    let Some(mut any) = build_or_enosys::<AnyBuf>(test, Context::builder().depth(2)) else {
        return;
    };
    any.push(Op::read(file.clone(), AnyBuf::from(BytesMut::zeroed(4)), 0))
        .unwrap();
    any.push(Op::read(file, AnyBuf::from(vec![0u8; 4]), 4))
        .unwrap();
    any.submit().unwrap();
    any.wait(2, Some(Duration::from_secs(30))).unwrap();
    let mut read: Vec<(bool, Vec<u8>)> = any
        .completions()
        .map(|c| {
            assert_eq!(c.result(), Ok(4));
            let buf = c.into_buf().unwrap();
            (matches!(buf, AnyBuf::BytesMut(_)), buf.to_vec())
        })
        .collect();
    read.sort();
    assert_eq!(read, [(false, b"4567".to_vec()), (true, b"0123".to_vec())]);
}

fn aligned_reads_go_on_as_bytes_without_a_copy() {
    let test = "aligned_reads_go_on_as_bytes";
    let Some(mut aligned) = build_or_enosys::<AlignedBuf>(test, Context::builder().depth(1)) else {
        return;
    };
    let Some(mut shared) = build_or_enosys::<Bytes>(test, Context::builder().depth(1)) else {
        return;
    };
    let Some(target) = support::direct_target(test) else {
        return;
    };
    let (fd, path) = target.open();
    let align = dio_alignment(&fd).unwrap();
    let block = (align.memory.max(align.offset).max(512) as usize).max(4096);
    let fd = Arc::new(fd);
    let mut pattern = AlignedBuf::new(block, align.memory as usize).unwrap();
    for (i, b) in pattern.iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    let done = one(&mut aligned, Op::write(fd.clone(), pattern, 0));
    assert_eq!(done.result(), Ok(block), "{}", path.display());

    let done = one(
        &mut aligned,
        Op::read(
            fd.clone(),
            AlignedBuf::new(block, align.memory as usize).unwrap(),
            0,
        ),
    );
    assert_eq!(done.result(), Ok(block));
    let buf = done.into_buf().unwrap();
    let at = buf.as_ptr();
    let bytes = Bytes::from(buf);
    assert_eq!(bytes.as_ptr(), at, "the block itself, not a copy");
    assert!(bytes.iter().enumerate().all(|(i, &b)| b == (i * 7) as u8));

    // Still aligned: the source of an O_DIRECT write as it is.
    let done = one(
        &mut shared,
        Op::write(fd.clone(), bytes.clone(), block as u64),
    );
    assert_eq!(done.result(), Ok(block));
    let done = one(
        &mut aligned,
        Op::read(
            fd,
            AlignedBuf::new(block, align.memory as usize).unwrap(),
            block as u64,
        ),
    );
    assert_eq!(done.result(), Ok(block));
    assert_eq!(&done.into_buf().unwrap()[..], &bytes[..]);
}

fn bytes_mut_on_the_tokio_handle() {
    let test = "bytes_mut_on_the_tokio_handle";
    run(test, async {
        let Some(handle) = handle::<BytesMut>(test, Context::builder().depth(4)) else {
            return;
        };
        let file = Arc::new(temp_file(test));
        let done = handle
            .submit(Op::write(file.clone(), BytesMut::from(&b"async"[..]), 0))
            .await
            .unwrap();
        assert_eq!(done.result(), Ok(5));
        let done = handle
            .submit(Op::read(file, BytesMut::zeroed(5), 0))
            .await
            .unwrap();
        assert_eq!(done.result(), Ok(5));
        assert_eq!(&done.into_buf().unwrap().freeze()[..], b"async");
    });
}

/// Not a kernel test: the block's way back to its pool through `Bytes`.
#[test]
fn a_pooled_block_comes_back_when_the_last_bytes_clone_is_dropped() {
    let pool = BufPool::new(2, 4096, 4096).unwrap();
    let mut block = pool.take().unwrap();
    block[..3].copy_from_slice(b"abc");
    block.truncate(3);
    let at = block.as_ptr();
    let bytes = Bytes::from(block);
    assert_eq!((bytes.as_ptr(), &bytes[..]), (at, &b"abc"[..]));
    let clone = bytes.slice(1..);
    assert_eq!(&clone[..], b"bc");
    drop(bytes);
    assert_eq!(pool.available(), 1, "a clone still holds the block");
    drop(clone);
    assert_eq!(pool.available(), 2, "the block is back");
    // The block comes back whole, whatever length the Bytes covered.
    assert_eq!(pool.take().unwrap().len(), 4096);
}
