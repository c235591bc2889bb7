//! Model-based test: random sequences of push, submit, reap, wait, cancel, drain and drop over
//! reads, writes and polls, at random depths, in both reaping modes, with and without an
//! eventfd, checked step by step against a simple model of what the context owns.
//!
//! The invariants: every pushed operation completes exactly once, with its own `user_data` and
//! its own buffers and the kernel's result for it; `push` fails exactly when every slot is
//! owned; the context's counters agree with the model; a cancel answers what the operation's
//! state allows; the eventfd counts every completion; dropping a context gives back every
//! descriptor and buffer. The same model holds for both backends (`kernel::` and `emulated::`).

use crate::support;

use aio::{
    Backend, CancelOutcome, Context, Errno, Error, Fixed, Op, OpId, OpKind, PollFlags, Reap,
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;
use support::{build_or_enosys, expect_enosys, open_fds, set_backend, temp_file};

const FILE_LEN: u64 = 4096;
const PIPES: usize = 2;

fn pattern(offset: u64) -> u8 {
    (offset.wrapping_mul(131) >> 3) as u8 ^ 0x5a
}

#[derive(Clone, Debug)]
enum Action {
    Read {
        offset: u64,
        len: usize,
        fixed: bool,
    },
    Write {
        len: usize,
        fixed: bool,
    },
    Poll {
        pipe: usize,
    },
    Submit,
    Reap,
    Wait,
    Feed {
        pipe: usize,
    },
    Empty {
        pipe: usize,
    },
    Cancel {
        pick: usize,
    },
    Take {
        max: usize,
    },
    Drain,
    Rebuild {
        depth: u32,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..FILE_LEN, 1usize..64, any::<bool>())
            .prop_map(|(offset, len, fixed)| Action::Read { offset, len, fixed }),
        3 => (1usize..64, any::<bool>()).prop_map(|(len, fixed)| Action::Write { len, fixed }),
        3 => (0..PIPES).prop_map(|pipe| Action::Poll { pipe }),
        4 => Just(Action::Submit),
        2 => Just(Action::Reap),
        2 => Just(Action::Wait),
        2 => (0..PIPES).prop_map(|pipe| Action::Feed { pipe }),
        1 => (0..PIPES).prop_map(|pipe| Action::Empty { pipe }),
        3 => any::<usize>().prop_map(|pick| Action::Cancel { pick }),
        3 => (0usize..8).prop_map(|max| Action::Take { max }),
        1 => Just(Action::Drain),
        1 => (1u32..10).prop_map(|depth| Action::Rebuild { depth }),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Queued,
    Submitted,
}

#[derive(Debug)]
struct Expected {
    kind: OpKind,
    phase: Phase,
    /// What a read must return, or the bytes a write must hand back.
    bytes: Vec<u8>,
    /// The expected result of a read or write; the pipe of a poll.
    arg: usize,
    cancel_requested: bool,
}

struct Harness {
    ctx: Context,
    data: Arc<File>,
    sink: Arc<File>,
    data_fixed: Fixed,
    sink_fixed: Fixed,
    pipes: Vec<(Arc<rustix::fd::OwnedFd>, rustix::fd::OwnedFd)>,
    /// Bytes written into each pipe and not yet read back.
    fed: [usize; PIPES],
    model: BTreeMap<u64, Expected>,
    /// Every id handed out, live or long gone, for cancels of stale ids.
    ids: Vec<(u64, OpId)>,
    next_tag: u64,
    completed: u64,
    eventfd_count: u64,
    eventfd: bool,
    reap: Reap,
}

impl Harness {
    fn context(depth: u32, reap: Reap, eventfd: bool) -> Context {
        build_or_enosys(
            "model",
            Context::builder().depth(depth).reap(reap).eventfd(eventfd),
        )
        .expect("checked by the caller")
    }

    fn new(depth: u32, reap: Reap, eventfd: bool) -> Self {
        let data = temp_file("model-data");
        let bytes: Vec<u8> = (0..FILE_LEN).map(pattern).collect();
        data.write_all_at(&bytes, 0).unwrap();
        let mut ctx = Self::context(depth, reap, eventfd);
        let data = Arc::new(data);
        let sink = Arc::new(temp_file("model-sink"));
        let data_fixed = ctx.register(data.clone()).unwrap();
        let sink_fixed = ctx.register(sink.clone()).unwrap();
        let pipes = (0..PIPES)
            .map(|_| {
                let (r, w) = rustix::pipe::pipe().unwrap();
                (Arc::new(r), w)
            })
            .collect();
        Self {
            ctx,
            data,
            sink,
            data_fixed,
            sink_fixed,
            pipes,
            fed: [0; PIPES],
            model: BTreeMap::new(),
            ids: Vec::new(),
            next_tag: 1,
            completed: 0,
            eventfd_count: 0,
            eventfd,
            reap,
        }
    }

    fn check_counters(&self) {
        let queued = self
            .model
            .values()
            .filter(|e| e.phase == Phase::Queued)
            .count();
        assert_eq!(self.ctx.owned(), self.model.len(), "owned");
        assert_eq!(self.ctx.queued(), queued, "queued");
        assert_eq!(
            self.ctx.in_flight() + self.ctx.ready(),
            self.model.len() - queued,
            "in flight + ready"
        );
    }

    fn push(&mut self, op: Op<Vec<u8>>, kind: OpKind, bytes: Vec<u8>, arg: usize) {
        let tag = self.next_tag;
        self.next_tag += 1;
        let full = self.model.len() == self.ctx.depth() as usize;
        match self.ctx.push(op.user_data(tag)) {
            Ok(id) => {
                assert!(!full, "push succeeded with every slot owned");
                self.ids.push((tag, id));
                self.model.insert(
                    tag,
                    Expected {
                        kind,
                        phase: Phase::Queued,
                        bytes,
                        arg,
                        cancel_requested: false,
                    },
                );
            }
            Err(e) => {
                assert!(full, "push failed with a free slot: {e}");
                assert_eq!(
                    e.error,
                    Error::QueueFull {
                        depth: self.ctx.depth()
                    }
                );
                assert_eq!(e.op.get_user_data(), tag, "the refused op comes back");
            }
        }
    }

    fn submit(&mut self) {
        let queued: Vec<u64> = self
            .model
            .iter()
            .filter(|(_, e)| e.phase == Phase::Queued)
            .map(|(&t, _)| t)
            .collect();
        let accepted = self.ctx.submit().unwrap();
        // Depths stay far below the kernel ring's room: everything is accepted.
        assert_eq!(accepted, queued.len(), "io_submit took every queued op");
        for tag in queued {
            self.model.get_mut(&tag).unwrap().phase = Phase::Submitted;
        }
    }

    /// Completions the kernel must already have made: buffered reads and writes complete
    /// inside io_submit, and a poll on a pipe holding data completes at once.
    fn certain(&self) -> usize {
        self.model
            .values()
            .filter(|e| {
                e.phase == Phase::Submitted
                    && (e.kind != OpKind::Poll || self.fed[e.arg] > 0 || e.cancel_requested)
            })
            .count()
    }

    fn take(&mut self, max: usize) {
        let done: Vec<_> = self.ctx.completions().take(max).collect();
        for c in done {
            self.check_completion(c);
        }
    }

    fn check_completion(&mut self, mut c: aio::Completion<Vec<u8>>) {
        let tag = c.user_data();
        let expected = self
            .model
            .remove(&tag)
            .unwrap_or_else(|| panic!("completion for unknown or already completed tag {tag}"));
        self.completed += 1;
        assert_eq!(c.kind(), expected.kind);
        let canceled = -i64::from(Errno::CANCELED.raw_os_error());
        if c.raw_result() == canceled {
            assert!(c.is_cancelled(), "ECANCELED only for cancelled ops");
            assert!(expected.cancel_requested, "tag {tag} cancelled unasked");
        } else {
            match expected.kind {
                OpKind::Read => {
                    assert_eq!(c.result(), Ok(expected.arg), "tag {tag}");
                    assert_eq!(c.take_buf().unwrap(), expected.bytes, "tag {tag}");
                }
                OpKind::Write => {
                    assert_eq!(c.result(), Ok(expected.bytes.len()), "tag {tag}");
                    assert_eq!(c.take_buf().unwrap(), expected.bytes, "tag {tag}");
                }
                OpKind::Poll => {
                    if c.is_cancelled() {
                        assert!(expected.cancel_requested);
                        assert_eq!(c.raw_result(), 0, "a cancelled poll has res 0");
                    } else {
                        assert!(
                            c.poll_flags().contains(PollFlags::IN),
                            "tag {tag}: {c:?} without data"
                        );
                    }
                }
                other => unreachable!("{other:?}"),
            }
        }
        assert!(
            c.take_fd().is_none(),
            "only a descriptor given by value comes back"
        );
    }

    fn cancel(&mut self, pick: usize) {
        if self.ids.is_empty() {
            return;
        }
        let (tag, id) = self.ids[pick % self.ids.len()];
        let outcome = self.ctx.cancel(id).unwrap();
        let Some(expected) = self.model.get_mut(&tag) else {
            assert_eq!(
                outcome,
                CancelOutcome::NotFound,
                "tag {tag} already handed back"
            );
            return;
        };
        match (expected.phase, expected.kind) {
            (Phase::Queued, _) => {
                assert_eq!(outcome, CancelOutcome::Unsubmitted);
                expected.cancel_requested = true;
                expected.phase = Phase::Submitted; // completed locally, ready
            }
            (Phase::Submitted, OpKind::Poll) => {
                assert!(
                    matches!(
                        outcome,
                        CancelOutcome::InProgress | CancelOutcome::NotCancellable
                    ),
                    "{outcome:?}"
                );
                if outcome == CancelOutcome::InProgress {
                    expected.cancel_requested = true;
                }
            }
            (Phase::Submitted, _) => {
                assert_eq!(outcome, CancelOutcome::NotCancellable, "tag {tag}");
            }
        }
    }

    fn drain(&mut self) {
        let done: Vec<_> = self.ctx.drain().unwrap().collect();
        for c in done {
            self.model
                .get_mut(&c.user_data())
                .expect("drained an unknown op")
                .cancel_requested = true;
            self.check_completion(c);
        }
        assert!(self.model.is_empty(), "drain left {:?}", self.model);
        self.check_eventfd();
    }

    fn check_eventfd(&mut self) {
        if self.eventfd {
            self.eventfd_count += self.ctx.take_eventfd_count().unwrap();
            assert_eq!(
                self.eventfd_count, self.completed,
                "the eventfd counts every completion"
            );
        }
    }

    fn run(&mut self, action: Action) {
        match action {
            Action::Read { offset, len, fixed } => {
                // A read past the end returns fewer bytes; the rest of the buffer is untouched.
                let end = (offset + len as u64).min(FILE_LEN);
                let mut expected: Vec<u8> = (offset..end).map(pattern).collect();
                let res = expected.len();
                expected.resize(len, 0xee);
                let buf = vec![0xee; len];
                let op = if fixed {
                    Op::read(self.data_fixed, buf, offset)
                } else {
                    Op::read(self.data.clone(), buf, offset)
                };
                self.push(op, OpKind::Read, expected, res);
            }
            Action::Write { len, fixed } => {
                let bytes = vec![(self.next_tag % 251) as u8; len];
                let op = if fixed {
                    Op::write(self.sink_fixed, bytes.clone(), self.next_tag * 64)
                } else {
                    Op::write(self.sink.clone(), bytes.clone(), self.next_tag * 64)
                };
                let len = bytes.len();
                self.push(op, OpKind::Write, bytes, len);
            }
            Action::Poll { pipe } => {
                let op = Op::poll(self.pipes[pipe].0.clone(), PollFlags::IN);
                self.push(op, OpKind::Poll, Vec::new(), pipe);
            }
            Action::Submit => self.submit(),
            Action::Reap => {
                let ready = self.ctx.reap().unwrap();
                assert!(ready <= self.model.len());
            }
            Action::Wait => {
                let min = self.certain();
                let ready = self.ctx.wait(min, Some(Duration::from_secs(5))).unwrap();
                assert!(ready >= min, "wait({min}) returned {ready} within 5 s");
            }
            Action::Feed { pipe } => {
                rustix::io::write(&self.pipes[pipe].1, b"x").unwrap();
                self.fed[pipe] += 1;
            }
            Action::Empty { pipe } => {
                if self.fed[pipe] > 0 {
                    let mut buf = [0u8; 64];
                    let n = rustix::io::read(&*self.pipes[pipe].0, &mut buf).unwrap();
                    self.fed[pipe] -= n;
                }
            }
            Action::Cancel { pick } => self.cancel(pick),
            Action::Take { max } => self.take(max),
            Action::Drain => self.drain(),
            Action::Rebuild { depth } => {
                // Drop with whatever is owned: every descriptor hold and buffer is released.
                let ctx =
                    std::mem::replace(&mut self.ctx, Self::context(depth, self.reap, self.eventfd));
                drop(ctx);
                assert_eq!(Arc::strong_count(&self.data), 1, "data file holds released");
                assert_eq!(Arc::strong_count(&self.sink), 1, "sink file holds released");
                for (reader, _) in &self.pipes {
                    assert_eq!(Arc::strong_count(reader), 1, "pipe holds released");
                }
                self.model.clear();
                self.completed = 0;
                self.eventfd_count = 0;
                self.data_fixed = self.ctx.register(self.data.clone()).unwrap();
                self.sink_fixed = self.ctx.register(self.sink.clone()).unwrap();
                self.ids.clear();
            }
        }
        self.check_counters();
    }
}

/// Whether the kernel variant can run: false (after proving the ENOSYS path) under qemu-user.
fn backend_available(backend: Backend) -> bool {
    if backend == Backend::Kernel && expect_enosys() {
        assert!(matches!(
            Context::<Vec<u8>>::new(1).map(drop),
            Err(Error::Unsupported { .. })
        ));
        println!("ENOSYS path: model test needs kernel AIO; Context::new answered Unsupported");
        return false;
    }
    true
}

/// The generator's seed: `AIO_TEST_MODEL_SEED`, else the clock. Never the OS's randomness:
/// `getrandom` blocks in a freshly booted test kernel without an entropy source (x86 guests
/// under qemu), which would hang the test. Printed, so that a failure can be replayed.
fn seed() -> u64 {
    let seed = std::env::var("AIO_TEST_MODEL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("model: AIO_TEST_MODEL_SEED={seed}");
    seed
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("AIO_TEST_MODEL_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed()),
        max_shrink_iters: 2000,
        // Shrinking re-runs cases that may wait: bound it in time too.
        max_shrink_time: 60_000,
        // Failures print their minimal case; nothing is written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One generated case: a context of `depth` (ring or syscall reaping, with or without an
/// eventfd) on `backend`, driven through `actions`, then drained and dropped.
fn model_case(
    backend: Backend,
    depth: u32,
    ring: bool,
    eventfd: bool,
    actions: Vec<Action>,
) -> Result<(), TestCaseError> {
    set_backend(backend);
    if !backend_available(backend) {
        return Ok(());
    }
    let fds = open_fds();
    let reap = if ring { Reap::Ring } else { Reap::Syscall };
    let mut h = Harness::new(depth, reap, eventfd);
    for action in actions {
        h.run(action);
    }
    h.drain();
    drop(h);
    prop_assert_eq!(open_fds(), fds, "every descriptor was closed");
    Ok(())
}

/// `kernel::the_context_agrees_with_the_model` and `emulated::…`, as `each_backend!` names them.
/// Each case ends by counting the process's descriptors, which the other tests of this binary
/// open and close meanwhile: the cases run in a child process of their own.
macro_rules! model_test {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn the_context_agrees_with_the_model() {
                let path = support::test_path(module_path!(), "the_context_agrees_with_the_model");
                if !support::in_child(&path) {
                    return;
                }
                proptest!(config(), |(
                    depth in 1u32..12,
                    ring in any::<bool>(),
                    eventfd in any::<bool>(),
                    actions in proptest::collection::vec(action(), 1..120),
                )| {
                    model_case($backend, depth, ring, eventfd, actions)?;
                });
            }
        }
    };
}

model_test!(kernel, Backend::Kernel);
model_test!(emulated, Backend::Emulated);
