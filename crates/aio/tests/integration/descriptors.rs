//! The descriptor model, on both backends: an operation holds its descriptor from push to
//! completion, so closing "the caller's" file and opening another one (which takes the lowest
//! free number, as `open(2)` promises) can never redirect a queued operation. `&File` does not
//! compile (a `compile_fail` doctest in `src/fd.rs` shows it).

use crate::support;

use aio::{Context, Error, Fd, Op};
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use support::{build_or_enosys, each_backend, temp_file};

each_backend!(
    write_by_value_keeps_the_file_open_until_the_completion,
    write_with_the_callers_arc_dropped_still_lands_in_its_file,
    write_on_an_unregistered_fixed_still_lands_in_its_file,
    unregister_defers_the_close_until_the_last_completion_is_handed_back,
    read_never_returns_another_files_contents,
    a_file_given_by_value_comes_back_open_with_the_completion,
    a_fixed_of_another_context_is_refused_with_the_op_handed_back,
    an_unpushed_op_gives_back_its_descriptor_and_buffers
);

fn context(test: &str) -> Option<Context> {
    build_or_enosys(test, Context::builder().depth(8))
}

/// A file holding `bytes`, and (the test's own view of it) a second descriptor of the same file.
fn file_with(name: &str, bytes: &[u8]) -> (File, File) {
    let file = temp_file(name);
    file.write_all_at(bytes, 0).unwrap();
    let view = file.try_clone().unwrap();
    (file, view)
}

fn contents(view: &File) -> Vec<u8> {
    let mut buf = vec![0; 64];
    let n = view.read_at(&mut buf, 0).unwrap();
    buf.truncate(n);
    buf
}

/// Whether `raw` is open on the same file as `view`.
fn names_file(raw: i32, view: &File) -> bool {
    let link = |n: i32| std::fs::read_link(format!("/proc/self/fd/{n}")).ok();
    link(raw).is_some() && link(raw) == link(view.as_raw_fd())
}

/// The scenario of RFC 3128 for each way of holding a descriptor: push a write on file A,
/// give up every handle the caller has on A, open file B, submit, reap. B must be untouched
/// and A must have the bytes.
fn write_lands_in_its_own_file(
    test: &str,
    closed_with_completion: bool,
    hold: impl FnOnce(&mut Context, File) -> Fd,
) {
    let Some(mut ctx) = context(test) else { return };
    let (a, a_view) = file_with(&format!("{test}-a"), b"........");
    let a_number = a.as_raw_fd();
    let fd = hold(&mut ctx, a); // the caller's `a` is gone after this
    ctx.push(Op::write(fd, b"AAAA".to_vec(), 0).user_data(1))
        .unwrap();

    // `open` takes the lowest free number: had the op not held A's, B would get it.
    let (b, b_view) = file_with(&format!("{test}-b"), b"bbbbbbbb");
    assert_ne!(
        b.as_raw_fd(),
        a_number,
        "{test}: A's number was free while an operation named it"
    );
    assert!(
        names_file(a_number, &a_view),
        "{test}: A was closed under a queued op"
    );

    assert_eq!(ctx.submit().unwrap(), 1);
    ctx.wait(1, None).unwrap();
    let done = ctx.completions().next().unwrap();
    assert_eq!(done.result(), Ok(4), "{test}");
    assert_eq!(contents(&a_view), b"AAAA....", "{test}: A got the write");
    assert_eq!(contents(&b_view), b"bbbbbbbb", "{test}: B untouched");
    drop(done);
    if closed_with_completion {
        // (Tests run in parallel: another test's file may take the number at once.)
        assert!(
            !names_file(a_number, &a_view),
            "{test}: once the completion is gone, nothing keeps A open"
        );
    }
    drop(b);
}

fn write_by_value_keeps_the_file_open_until_the_completion() {
    write_lands_in_its_own_file("by_value", true, |_, a| Fd::from(a));
}

fn write_with_the_callers_arc_dropped_still_lands_in_its_file() {
    write_lands_in_its_own_file("shared", true, |_, a| {
        let a = Arc::new(a);
        let fd = Fd::from(a.clone());
        drop(a);
        fd
    });
}

fn write_on_an_unregistered_fixed_still_lands_in_its_file() {
    write_lands_in_its_own_file("fixed", false, |ctx, a| {
        let fixed = ctx.register(a).unwrap();
        // Unregistered before the op is even pushed: the op is refused...
        let probe = ctx.register(File::open("/dev/null").unwrap()).unwrap();
        ctx.unregister(probe).unwrap().unwrap();
        let refused = ctx.push(Op::<Vec<u8>>::fsync(probe)).unwrap_err();
        assert_eq!(refused.error, Error::NotRegistered);
        Fd::from(fixed)
    });
}

fn unregister_defers_the_close_until_the_last_completion_is_handed_back() {
    let Some(mut ctx) = context("deferred") else {
        return;
    };
    let (a, a_view) = file_with("deferred-a", b"AAAAAAAA");
    let a_number = a.as_raw_fd();
    let fixed = ctx.register(a).unwrap();
    ctx.push(Op::read(fixed, vec![0; 8], 0).user_data(1))
        .unwrap();
    ctx.push(Op::read(fixed, vec![0; 4], 4).user_data(2))
        .unwrap();
    assert!(
        ctx.unregister(fixed).unwrap().is_none(),
        "two operations name it"
    );
    assert_eq!(ctx.registered(), 1, "still held for its operations");
    // New operations may not name it any more.
    let refused = ctx.push(Op::read(fixed, vec![0; 1], 0)).unwrap_err();
    assert_eq!(refused.error, Error::NotRegistered);
    assert_eq!(ctx.unregister(fixed).unwrap_err(), Error::NotRegistered);

    // File B must not take A's number while the reads are queued.
    let (b, _b_view) = file_with("deferred-b", b"BBBBBBBB");
    assert_ne!(b.as_raw_fd(), a_number);
    assert_eq!(ctx.submit().unwrap(), 2);
    ctx.wait(2, None).unwrap();
    let mut done: Vec<_> = ctx.completions().collect();
    done.sort_by_key(|c| c.user_data());
    assert_eq!(done[0].result(), Ok(8));
    assert_eq!(done[1].result(), Ok(4));
    assert_eq!(
        done[0].take_buf_ref(),
        b"AAAAAAAA",
        "A's contents, never B's"
    );
    assert_eq!(done[1].take_buf_ref(), b"AAAA");
    assert_eq!(ctx.registered(), 0, "the last completion closed it");
    // Tests run in parallel: the number may name another test's file by now, never A.
    assert!(!names_file(a_number, &a_view), "A's descriptor was closed");
    drop(a_view);
}

fn read_never_returns_another_files_contents() {
    let Some(mut ctx) = context("read_reuse") else {
        return;
    };
    for round in 0..3 {
        let (a, _) = file_with(&format!("read-a{round}"), b"AAAAAAAA");
        let a = Arc::new(a);
        ctx.push(Op::read(a.clone(), vec![0; 8], 0).user_data(round))
            .unwrap();
        drop(a);
        let (b, _) = file_with(&format!("read-b{round}"), b"BBBBBBBB");
        ctx.submit().unwrap();
        ctx.wait(1, None).unwrap();
        let done = ctx.completions().next().unwrap();
        assert_eq!(done.result(), Ok(8));
        assert_eq!(done.into_buf().unwrap(), b"AAAAAAAA", "round {round}");
        drop(b);
    }
}

fn a_file_given_by_value_comes_back_open_with_the_completion() {
    let Some(mut ctx) = context("take_fd") else {
        return;
    };
    let (a, a_view) = file_with("take-fd", b"........");
    ctx.push(Op::write(a, b"12".to_vec(), 0)).unwrap();
    ctx.submit().unwrap();
    ctx.wait(1, None).unwrap();
    let mut done = ctx.completions().next().unwrap();
    assert_eq!(done.result(), Ok(2));
    let owned: OwnedFd = done.take_fd().unwrap();
    let again = File::from(owned);
    again.write_all_at(b"34", 2).unwrap();
    assert_eq!(contents(&a_view), b"1234....");
    assert!(done.take_fd().is_none(), "taken once");
}

fn a_fixed_of_another_context_is_refused_with_the_op_handed_back() {
    let (Some(mut one), Some(mut two)) = (context("foreign_a"), context("foreign_b")) else {
        return;
    };
    let on_one = one.register(File::open("/dev/zero").unwrap()).unwrap();
    let _on_two = two.register(File::open("/dev/zero").unwrap()).unwrap();
    // Same index in both tables: only the context serial tells them apart.
    let refused = two
        .push(Op::read(on_one, vec![7; 16], 0).user_data(5))
        .unwrap_err();
    assert_eq!(refused.error, Error::NotRegistered);
    assert_eq!(two.owned(), 0, "no slot was taken");
    let (fd, bufs) = refused.into_op().into_parts();
    assert_eq!(fd.as_fixed(), Some(on_one));
    assert!(matches!(bufs, aio::Bufs::One(buf) if buf == vec![7; 16]));
    assert_eq!(two.unregister(on_one).unwrap_err(), Error::NotRegistered);
    one.push(Op::read(on_one, vec![7; 16], 0)).unwrap();
}

fn an_unpushed_op_gives_back_its_descriptor_and_buffers() {
    let file = Arc::new(File::open("/dev/zero").unwrap());
    let op: Op<Vec<u8>> = Op::readv(file.clone(), vec![vec![1; 2], vec![2; 3]], 0);
    let (fd, bufs) = op.into_parts();
    assert_eq!(fd.as_raw_fd(), Some(file.as_fd().as_raw_fd()));
    let shared = fd.into_shared().unwrap();
    assert_eq!(Arc::strong_count(&file), 2);
    drop(shared);
    assert_eq!(Arc::strong_count(&file), 1);
    assert!(matches!(bufs, aio::Bufs::Many(v) if v == vec![vec![1; 2], vec![2; 3]]));
}

/// For assertions: the buffer of a read completion, by reference.
trait BufRef {
    fn take_buf_ref(&mut self) -> Vec<u8>;
}

impl BufRef for aio::Completion<Vec<u8>> {
    fn take_buf_ref(&mut self) -> Vec<u8> {
        let n = self.result().unwrap();
        let mut buf = self.take_buf().unwrap();
        buf.truncate(n);
        buf
    }
}
