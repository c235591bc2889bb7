// Kernel only: about /proc/sys/fs/aio-max-nr, which the emulation is never charged against.
//! After libaio's harness case 20.t: creating contexts until `/proc/sys/fs/aio-max-nr` is
//! reached. The refusal is [`Error::ContextLimit`], with the numbers and the sysctl to raise in
//! its message; everything goes back to `aio-nr` once the contexts are dropped.
//!
//! Bounded: one large context takes all but a few of the remaining events, then depth-1
//! contexts take the rest. The limit is system-wide and held only for a moment; this binary
//! holds this one test, so that no other test of the process is refused a context meanwhile.

use crate::common;

use aio::{Context, Errno, Error, Op};
use common::TempFile;
use std::time::Duration;

const TEST: &str = "contexts_up_to_aio_max_nr";
/// Events left for depth-1 contexts after the large one.
const ROOM: u64 = 10;
/// Beyond this many free events the test does not try to use them all (kernel memory).
const MAX_TO_EXHAUST: u64 = 1 << 20;

#[test]
fn contexts_up_to_aio_max_nr() {
    // Alone: it takes every event aio-max-nr allows: any other context would fail.
    let _alone = common::exclusive();
    if !common::aio_or_skip(TEST) {
        return;
    }
    let max = common::proc_fs_number("aio-max-nr");
    let before = common::proc_fs_number("aio-nr");
    let remaining = max.saturating_sub(before);
    println!("aio-nr {before} of aio-max-nr {max}");
    if remaining > MAX_TO_EXHAUST {
        println!(
            "{TEST}: {remaining} free events is more than this bounded test exhausts \
             ({MAX_TO_EXHAUST}); the limit itself is covered by a depth above aio-max-nr in \
             harness_args"
        );
        return;
    }

    let mut held: Vec<Context> = Vec::new();
    // Approach the limit with one large kernel ring (a depth-1 context: little user memory).
    let mut large = remaining.saturating_sub(ROOM);
    for _ in 0..5 {
        if large == 0 {
            break;
        }
        match Context::builder()
            .depth(1)
            .kernel_events(large as u32)
            .build()
        {
            Ok(ctx) => {
                held.push(ctx);
                break;
            }
            // Another process took some events meanwhile: try again with what is left.
            Err(Error::ContextLimit { .. }) => {
                let now = common::proc_fs_number("aio-nr");
                large = max.saturating_sub(now).saturating_sub(ROOM);
            }
            Err(e) => panic!("{TEST}: large context of {large} events: {e}"),
        }
    }

    // Then depth-1 contexts until the kernel says no.
    let mut small = 0u64;
    let error = loop {
        match Context::builder().depth(1).build() {
            Ok(ctx) => {
                held.push(ctx);
                small += 1;
                assert!(small <= 10 * ROOM + 1000, "{TEST}: the limit never came");
            }
            Err(e) => break e,
        }
    };
    let at_limit = common::proc_fs_number("aio-nr");
    println!("{small} depth-1 contexts after one of {large} events; aio-nr {at_limit}: {error}");
    match &error {
        Error::ContextLimit {
            requested,
            aio_nr,
            aio_max_nr,
        } => {
            assert_eq!(*requested, 1);
            assert_eq!(*aio_max_nr, Some(max));
            let aio_nr = aio_nr.expect("aio-nr readable");
            assert!(
                aio_nr + 1 > max,
                "refused although aio-nr {aio_nr} + 1 fits in {max}"
            );
        }
        other => panic!("{TEST}: expected ContextLimit, got {other:?}"),
    }
    assert_eq!(error.errno(), Some(Errno::AGAIN));
    let message = error.to_string();
    assert!(message.contains("/proc/sys/fs/aio-max-nr"), "{message}");
    assert!(
        message.contains(&format!("aio-max-nr = {max}")),
        "{message}"
    );
    assert_eq!(
        std::io::Error::from(error).kind(),
        std::io::ErrorKind::WouldBlock
    );
    // At the limit, the contexts that exist still work.
    let temp = TempFile::new("limit");
    let file = temp.create_rw();
    let ctx = held.last_mut().expect("at least one context");
    ctx.push(Op::write(file, b"still works".to_vec(), 0))
        .unwrap();
    assert_eq!(ctx.submit(), Ok(1));
    assert_eq!(ctx.wait(1, Some(Duration::from_secs(5))), Ok(1));
    assert_eq!(ctx.completions().next().unwrap().result(), Ok(11));

    drop(held);
    common::assert_aio_nr_restored(before, TEST);
    Context::<Vec<u8>>::new(1).expect("a context again once the others are gone");
}
