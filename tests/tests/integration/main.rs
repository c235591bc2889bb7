//! The workspace's integration tests (ports of libaio's harness, fork, seccomp, the no-libc
//! programs), one binary: each module was a test target of its own, and one binary links once
//! per architecture in the cross runs.
//!
//! The modules run concurrently, as libtest runs every test of a binary. The few that check
//! what belongs to the whole process or the system (its AIO rings, `aio-nr`, `aio-max-nr`) take
//! [`common::exclusive`]; every other test holds [`common::shared`] (the `each_backend!`
//! variants take it themselves). Those that change process limits or fork run in a re-executed
//! copy of the binary ([`common::scenario_test`]).

mod common;
// The `aio` crate's suite for both backends and its lock (`each_backend!` names it).
#[path = "../../../crates/aio/tests/integration/variants.rs"]
mod variants;

mod fork_eventfd;
mod harness_args;
mod harness_child_exit;
mod harness_destroy;
mod harness_eventfd;
mod harness_fork;
mod harness_fsize;
mod harness_large;
mod harness_limits;
mod harness_mmap;
mod harness_mremap;
mod harness_pipe;
mod harness_poll_race;
mod harness_ring;
mod harness_rw;
mod nolibc;
mod seccomp;
