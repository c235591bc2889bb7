//! Copies a file with reads and writes kept in flight at queue depth.
//!
//! `cargo run --release -p linux-aio --example copy -- SRC DST [DEPTH] [BLOCK]`
//!
//! Each block is read into an aligned buffer; when the read completes, the same buffer is
//! written at the same offset. With `O_DIRECT` (used when both files accept it) the requests run
//! asynchronously on block-device file systems; the tail block is written whole and the
//! destination truncated to the source's length afterwards.

use aio::{AlignedBuf, Context, Op, dio_alignment};
use rustix::fs::{Mode, OFlags};
use std::error::Error;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, dst, rest @ ..] = args.as_slice() else {
        return Err("usage: copy SRC DST [DEPTH] [BLOCK]".into());
    };
    let depth: u32 = rest.first().map_or(Ok(32), |d| d.parse())?;
    let block: usize = rest.get(1).map_or(Ok(128 * 1024), |b| b.parse())?;

    let open = |path: &str, flags: OFlags| {
        rustix::fs::open(
            path,
            flags | OFlags::DIRECT | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map(|fd| (fd, true))
        .or_else(|_| {
            rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::from_raw_mode(0o644))
                .map(|fd| (fd, false))
        })
    };
    let (input, direct_in) = open(src, OFlags::RDONLY)?;
    let (output, direct_out) = open(dst, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC)?;
    let len = rustix::fs::fstat(&input)?.st_size as u64;
    let align = dio_alignment(&input)
        .map(|a| a.memory as usize)
        .unwrap_or(4096)
        .max(512);
    if block % align != 0 {
        return Err(format!("BLOCK must be a multiple of the direct-I/O alignment {align}").into());
    }

    let mut ctx: Context<AlignedBuf> = Context::builder().buffers().depth(depth).build()?;
    // Operations hold their descriptors: the input is handed to the context (named by a
    // `Fixed`), the output shared with an `Arc` because it is truncated after the copy.
    let input = ctx.register(input)?;
    let output = Arc::new(output);
    let blocks = len.div_ceil(block as u64);
    let (mut next, mut written) = (0u64, 0u64);
    while written < blocks {
        while next < blocks && ctx.queued() + ctx.in_flight() + ctx.ready() < depth as usize {
            let buf = AlignedBuf::new(block, align)?;
            // user_data: the block number, with the top bit set once it is a write.
            ctx.push(Op::read(input, buf, next * block as u64).user_data(next))?;
            next += 1;
        }
        ctx.submit()?;
        ctx.wait(1, None)?;
        let done: Vec<_> = ctx.completions().collect();
        for completion in done {
            let n = completion.result()?;
            let tag = completion.user_data();
            if tag >> 63 == 1 {
                written += 1;
                continue;
            }
            if n == 0 {
                return Err(format!("{src} shrank while copying").into());
            }
            let buf = completion.into_buf().expect("a read hands its buffer back");
            ctx.push(Op::write(output.clone(), buf, tag * block as u64).user_data(tag | 1 << 63))?;
        }
    }
    ctx.submit()?;
    drop(ctx); // waits for anything still in flight
    rustix::fs::ftruncate(&*output, len)?;
    println!(
        "copied {len} bytes in {blocks} blocks of {block} (O_DIRECT: in {direct_in}, out {direct_out})"
    );
    Ok(())
}
