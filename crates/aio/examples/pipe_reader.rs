//! Reads a pipe with `IOCB_CMD_POLL`, woken by the context's eventfd.
//!
//! `cargo run -p linux-aio --example pipe_reader`
//!
//! A thread writes a few messages with pauses; the main thread waits on the context's eventfd
//! with `poll(2)` (as an event loop or async runtime would), collects the poll completion, reads
//! what the pipe holds, and arms the next poll, until the writer hangs up.

use aio::{Context, Op, PollFlags};
use rustix::event::{PollFd, poll};
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (reader, writer) = rustix::pipe::pipe()?;
    // Shared: each poll holds a reference, and this thread reads the pipe too.
    let reader = Arc::new(reader);
    let producer = std::thread::spawn(move || {
        for i in 0..5 {
            std::thread::sleep(Duration::from_millis(50));
            rustix::io::write(&writer, format!("message {i}\n").as_bytes()).unwrap();
        }
        // Dropping the write end makes the next poll report POLLHUP.
    });

    let mut ctx: Context = Context::builder().depth(4).eventfd(true).build()?;
    ctx.push(Op::poll(reader.clone(), PollFlags::IN))?;
    ctx.submit()?;
    let mut received = Vec::new();
    'outer: loop {
        let eventfd = ctx.eventfd().expect("built with an eventfd");
        poll(&mut [PollFd::new(&eventfd, PollFlags::IN)], None)?;
        ctx.take_eventfd_count()?;
        let ready: Vec<_> = ctx.completions().collect();
        for completion in ready {
            let events = completion.poll_flags();
            if events.contains(PollFlags::IN) {
                let mut chunk = [0u8; 256];
                let n = rustix::io::read(&*reader, &mut chunk)?;
                received.extend_from_slice(&chunk[..n]);
                print!("{}", String::from_utf8_lossy(&chunk[..n]));
                if n == 0 {
                    break 'outer;
                }
            } else if events.contains(PollFlags::HUP) {
                break 'outer;
            }
            ctx.push(Op::poll(reader.clone(), PollFlags::IN))?;
            ctx.submit()?;
        }
    }
    producer.join().unwrap();
    println!(
        "read {} bytes with {} polls",
        received.len(),
        ctx.stats().submitted
    );
    Ok(())
}
