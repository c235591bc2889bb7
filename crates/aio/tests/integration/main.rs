//! The `aio` crate's integration tests, one binary (each module was a test target of its own:
//! one binary links once per architecture in the cross runs, and shares the monomorphised code).
//!
//! The modules run concurrently, as libtest runs every test of a binary. The few that check
//! what belongs to the whole process (its descriptor count, its AIO rings) or load both cores
//! for seconds take [`variants::exclusive`]; every other test holds [`support::shared`] (the
//! `each_backend!` variants take it themselves).
//!
//! With `--cfg aio_shuttle` (the model check of `aio::rt`, `model_driver`) only that module is
//! built: the shuttle build of the crate runs nowhere but under shuttle's scheduler.

#[cfg(not(aio_shuttle))]
mod support;
mod variants;

#[cfg(not(aio_shuttle))]
mod async_file;
#[cfg(not(aio_shuttle))]
mod async_tokio;
#[cfg(all(not(aio_shuttle), feature = "bytes"))]
mod bytes;
#[cfg(not(aio_shuttle))]
mod cancel;
#[cfg(not(aio_shuttle))]
mod descriptors;
#[cfg(not(aio_shuttle))]
mod direct;
#[cfg(not(aio_shuttle))]
mod file;
#[cfg(not(aio_shuttle))]
mod lifecycle;
#[cfg(not(aio_shuttle))]
mod model;
mod model_driver;
#[cfg(not(aio_shuttle))]
mod no_alloc;
#[cfg(not(aio_shuttle))]
mod polls;
#[cfg(not(aio_shuttle))]
mod shared;
#[cfg(not(aio_shuttle))]
mod soak;
#[cfg(not(aio_shuttle))]
mod stress;
#[cfg(not(aio_shuttle))]
mod submit_queue;
