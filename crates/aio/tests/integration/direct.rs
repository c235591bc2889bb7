//! `O_DIRECT` round trips at queue depth, on a file system or raw device that accepts it.

use crate::support;

use aio::{AlignedBuf, Context, Errno, Op, dio_alignment};

use std::time::Duration;
use support::{build_or_enosys, direct_target, each_backend};

each_backend!(direct_write_then_read_at_depth);

const BLOCKS: u64 = 64;

fn pattern(block: u64, len: usize) -> impl Iterator<Item = u8> {
    (0..len).map(move |i| (block as usize * 31 + i * 7) as u8)
}

fn direct_write_then_read_at_depth() {
    let Some(mut ctx) =
        build_or_enosys::<AlignedBuf>("direct_round_trip", Context::builder().depth(16))
    else {
        return;
    };
    let Some(target) = direct_target("direct_round_trip") else {
        return;
    };
    let (fd, path) = target.open();
    let align = dio_alignment(&fd).unwrap();
    println!("{}: {align:?}", path.display());
    let block = (align.memory.max(align.offset).max(512) as usize).max(4096);
    // Every operation below is on this one context: it owns the descriptor from here on.
    let fd = ctx.register(fd).unwrap();

    // Write every block at depth 16, then read every block back.
    for writing in [true, false] {
        let mut next = 0;
        let mut done = 0;
        while done < BLOCKS {
            while next < BLOCKS
                && ctx.queued() + ctx.in_flight() + ctx.ready() < ctx.depth() as usize
            {
                let mut buf = AlignedBuf::new(block, align.memory as usize).unwrap();
                let offset = next * block as u64;
                let op = if writing {
                    buf.iter_mut()
                        .zip(pattern(next, block))
                        .for_each(|(b, p)| *b = p);
                    Op::write(fd, buf, offset)
                } else {
                    Op::read(fd, buf, offset)
                };
                ctx.push(op.user_data(next)).unwrap();
                next += 1;
            }
            ctx.submit().unwrap();
            ctx.wait(1, Some(Duration::from_secs(30))).unwrap();
            for c in ctx.completions() {
                assert_eq!(
                    c.result(),
                    Ok(block),
                    "block {} ({})",
                    c.user_data(),
                    if writing { "write" } else { "read" }
                );
                let block_no = c.user_data();
                let buf = c.into_buf().unwrap();
                if !writing {
                    assert!(
                        buf.iter().copied().eq(pattern(block_no, block)),
                        "block {block_no} read back wrong"
                    );
                }
                done += 1;
            }
        }
    }

    // A misaligned offset is the operation's error, not the submit's, where the file system
    // enforces an alignment (tmpfs accepts O_DIRECT but, being memory, any alignment).
    if align.source == aio::DioSource::Default {
        println!(
            "note: {} reports no DIO alignment; misaligned-offset check not applicable",
            path.display()
        );
        return;
    }
    let buf = AlignedBuf::new(block, align.memory as usize).unwrap();
    ctx.push(Op::read(fd, buf, 1)).unwrap();
    ctx.submit().unwrap();
    ctx.wait(1, Some(Duration::from_secs(30))).unwrap();
    let c = ctx.completions().next().unwrap();
    assert_eq!(c.result(), Err(Errno::INVAL), "misaligned O_DIRECT offset");
}
