//! aio-sys's integration tests, one binary (each module was a test target of its own: one
//! binary links once per architecture in the cross runs).

mod errno;
mod kernel;
mod numbers;
mod ppoll;
mod raw;
