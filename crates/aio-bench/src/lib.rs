//! `aio-bench`: a fio-style benchmark of Linux native AIO, built on the [`aio`] crate.
//!
//! The binary is the product (`cargo run --release -p aio-bench -- --help`); this library holds
//! its parts so that they can be unit-tested and reused by the micro-benchmark:
//! [`args`] (command line), [`target`] (the file: temporary, existing or a device; O_DIRECT or
//! not), [`job`] (the loop), [`hist`] (the latency histogram), [`report`] (table and JSON),
//! [`sweep`] (`--depths`: the job once per depth) and [`plot`] (a sweep's SVG chart); and
//! [`asyncbench`], the parts of `aio-async-bench`.
#![warn(missing_docs)]

pub mod args;
// The internals of one binary, documented by module; public only for that binary.
#[allow(missing_docs)]
pub mod asyncbench;
pub mod hist;
pub mod job;
pub mod plot;
pub mod report;
pub mod sweep;
pub mod target;
