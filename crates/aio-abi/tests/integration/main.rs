//! aio-abi's integration tests, one binary (each module was a test target of its own: one
//! binary links once per architecture in the cross runs).

mod c_layout;
mod constants;
