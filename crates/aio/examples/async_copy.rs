//! Copies a file with tokio tasks keeping reads and writes in flight at queue depth.
//!
//! `cargo run --release -p linux-aio --features tokio --example async_copy -- SRC DST [DEPTH] [BLOCK]`
//!
//! DEPTH tasks share one [`aio::rt::tokio::Handle`]: each takes the next block number, reads
//! it into an aligned buffer and writes the same buffer at the same offset. With `O_DIRECT`
//! (used when both files accept it) the requests go straight to the kernel; otherwise they go
//! with `RWF_NOWAIT`, and the ones that would block run on tokio's blocking threads.

use aio::rt::tokio::Handle;
use aio::{AlignedBuf, Context, dio_alignment};
use rustix::fs::{Mode, OFlags};
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, dst, rest @ ..] = args.as_slice() else {
        return Err("usage: async_copy SRC DST [DEPTH] [BLOCK]".into());
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

    let aio: Handle<AlignedBuf> = Handle::new(Context::builder().buffers().depth(depth))?;
    // Both files are owned by the context and named by a `Fixed`; the output comes back
    // (unregister) to be truncated to the source's length at the end.
    let input = aio.register(input)?;
    let output = aio.register(output)?;
    let blocks = len.div_ceil(block as u64);
    // The next block to copy (`AtomicUsize`: 32-bit MIPS and PowerPC have no 64-bit atomics).
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..depth {
        let (aio, next) = (aio.clone(), next.clone());
        tasks.spawn(async move {
            let mut buf = AlignedBuf::new(block, align)?;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed) as u64;
                if n >= blocks {
                    return Ok::<_, Box<dyn Error + Send + Sync>>(());
                }
                let offset = n * block as u64;
                let (read, full) = aio.read_at(input, buf, offset).await;
                if read? == 0 {
                    return Err(format!("the source shrank while copying (block {n})").into());
                }
                // The tail block is written whole; the truncate below trims it.
                let (written, back) = aio.write_at(output, full, offset).await;
                written?;
                buf = back;
            }
        });
    }
    while let Some(task) = tasks.join_next().await {
        task??;
    }
    let output = aio
        .unregister(output)?
        .ok_or("the output is still in use")?;
    let output = output
        .into_owned()
        .map_err(|_| "the output was not owned")?;
    rustix::fs::ftruncate(&output, len)?;
    println!(
        "copied {len} bytes in {blocks} blocks of {block} at depth {depth} (O_DIRECT: in {direct_in}, out {direct_out}); {:?}",
        aio.stats()
    );
    Ok(())
}
